// Demosaic with the colour matrix applied as each pixel is written: a one-channel mosaic in,
// 16-bit linear sRGB out (two words a pixel: r | g << 16, then b). The CUDA twin of
// shaders/demosaic.wgsl and of stages/demosaic/*.rs and stages/color.rs; each method follows
// its CPU reference step by step, in the same floating-point order.
//
// Compiled by NVRTC alone (no headers) and with --fmad=false: the CPU never fuses a multiply
// into an add, so neither may this, and every literal is a float (an unsuffixed one would
// pull the expression into double precision and round differently).
//
// RCD runs on a window: the mosaic mirrored PAD pixels beyond every edge, as the CPU path's
// tiles see it. Each step is one launch over the whole window (`rcd_*` below); steps that
// need no neighbour's result of the same step share a launch.

// p[0] width, p[1] height (of the mosaic), p[2..11] the 3×3 camera-to-sRGB matrix (f32 bits,
// row by row), p[11] and p[12] the CFA pattern's width and height, p[13..] its colours
// (0 red, 1 green, 2 blue), row by row.
//
// The buffers, by their binding in the WGSL (each kernel takes those it uses, in this order):
// 1 mosaic, 2 rg and 3 bl (the output, r | g << 16 and b), then RCD's planes, each the
// size of the window: 4 win, 5 hp_a, 6 hp_b, 7 lpf, 8 vh, 9 pq, 10 green, 11 red, 12 blue.

#define PAD 10u
#define EPS 1e-5f
#define EPSSQ 1e-10f

typedef const unsigned int* __restrict__ Params;
typedef const float* __restrict__ Plane;
typedef float* __restrict__ PlaneOut;

__device__ unsigned int width(Params p) {
    return p[0];
}

__device__ unsigned int height(Params p) {
    return p[1];
}

__device__ unsigned int color_at(Params p, unsigned int x, unsigned int y) {
    return p[13u + (y % p[12]) * p[11] + x % p[11]];
}

__device__ float cam_to_srgb(Params p, unsigned int i) {
    return __uint_as_float(p[2u + i]);
}

__device__ unsigned int quantise(float v) {
    return (unsigned int)(fminf(fmaxf(v, 0.0f), 1.0f) * 65535.0f + 0.5f);
}

// Camera RGB through the matrix to 16 bits, as `ToSrgb16::pixel`.
__device__ void store(Params p, unsigned int* __restrict__ rg, unsigned int* __restrict__ bl, unsigned int i, float r, float g, float b) {
    unsigned int qr = quantise(cam_to_srgb(p, 0u) * r + cam_to_srgb(p, 1u) * g + cam_to_srgb(p, 2u) * b);
    unsigned int qg = quantise(cam_to_srgb(p, 3u) * r + cam_to_srgb(p, 4u) * g + cam_to_srgb(p, 5u) * b);
    unsigned int qb = quantise(cam_to_srgb(p, 6u) * r + cam_to_srgb(p, 7u) * g + cam_to_srgb(p, 8u) * b);
    rg[i] = qr | (qg << 16u);
    bl[i] = qb;
}

__device__ float m(Params p, Plane mosaic, unsigned int x, unsigned int y) {
    return mosaic[y * width(p) + x];
}

__device__ unsigned int thread_x() {
    return blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ unsigned int thread_y() {
    return blockIdx.y * blockDim.y + threadIdx.y;
}

// --- Neighbour: same-colour means over 3×3, else 5×5 (neighbour.rs) -----------------------

__device__ void neighbour_pixel(Params p, Plane mosaic, unsigned int x, unsigned int y, float out[3]) {
    unsigned int own = color_at(p, x, y);
    bool found[3] = {false, false, false};
    out[0] = 0.0f;
    out[1] = 0.0f;
    out[2] = 0.0f;
    out[own] = m(p, mosaic, x, y);
    found[own] = true;
    for (unsigned int radius = 1u; radius <= 2u; radius++) {
        float sum[3] = {0.0f, 0.0f, 0.0f};
        unsigned int count[3] = {0u, 0u, 0u};
        unsigned int y0 = y >= radius ? y - radius : 0u;
        unsigned int x0 = x >= radius ? x - radius : 0u;
        unsigned int y1 = min(y + radius, height(p) - 1u);
        unsigned int x1 = min(x + radius, width(p) - 1u);
        for (unsigned int yy = y0; yy <= y1; yy++) {
            for (unsigned int xx = x0; xx <= x1; xx++) {
                unsigned int c = color_at(p, xx, yy);
                sum[c] += m(p, mosaic, xx, yy);
                count[c] += 1u;
            }
        }
        for (unsigned int c = 0u; c < 3u; c++) {
            if (!found[c] && count[c] > 0u) {
                out[c] = sum[c] / (float)count[c];
                found[c] = true;
            }
        }
        if (found[0] && found[1] && found[2]) {
            break;
        }
    }
}

extern "C" __global__ void demosaic_neighbour(Params p, Plane mosaic, unsigned int* __restrict__ rg, unsigned int* __restrict__ bl) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (x >= width(p) || y >= height(p)) {
        return;
    }
    float v[3];
    neighbour_pixel(p, mosaic, x, y, v);
    store(p, rg, bl, y * width(p) + x, v[0], v[1], v[2]);
}

// --- Half size: one pixel per 2×2 quad (half.rs); the output is (width / 2) × (height / 2) --

extern "C" __global__ void demosaic_half(Params p, Plane mosaic, unsigned int* __restrict__ rg, unsigned int* __restrict__ bl) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    unsigned int w = width(p) / 2u;
    if (x >= w || y >= height(p) / 2u) {
        return;
    }
    float sum[3] = {0.0f, 0.0f, 0.0f};
    float count[3] = {0.0f, 0.0f, 0.0f};
    for (unsigned int dy = 0u; dy < 2u; dy++) {
        for (unsigned int dx = 0u; dx < 2u; dx++) {
            unsigned int c = color_at(p, dx, dy);
            sum[c] += m(p, mosaic, 2u * x + dx, 2u * y + dy);
            count[c] += 1.0f;
        }
    }
    store(p, rg, bl, y * w + x, sum[0] / count[0], sum[1] / count[1], sum[2] / count[2]);
}

// --- Malvar–He–Cutler (mhc.rs); the two-pixel border takes the neighbour method ------------

extern "C" __global__ void demosaic_mhc(Params p, Plane mosaic, unsigned int* __restrict__ rg, unsigned int* __restrict__ bl) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    unsigned int w = width(p);
    unsigned int h = height(p);
    if (x >= w || y >= h) {
        return;
    }
    if (y < 2u || y + 2u >= h || x < 2u || x + 2u >= w) {
        float v[3];
        neighbour_pixel(p, mosaic, x, y, v);
        store(p, rg, bl, y * w + x, v[0], v[1], v[2]);
        return;
    }
    float c = m(p, mosaic, x, y);
    float horiz1 = m(p, mosaic, x - 1u, y) + m(p, mosaic, x + 1u, y);
    float vert1 = m(p, mosaic, x, y - 1u) + m(p, mosaic, x, y + 1u);
    float horiz2 = m(p, mosaic, x - 2u, y) + m(p, mosaic, x + 2u, y);
    float vert2 = m(p, mosaic, x, y - 2u) + m(p, mosaic, x, y + 2u);
    float diag = m(p, mosaic, x - 1u, y - 1u) + m(p, mosaic, x + 1u, y - 1u) + m(p, mosaic, x - 1u, y + 1u)
                 + m(p, mosaic, x + 1u, y + 1u);
    float green_here = (4.0f * c + 2.0f * (horiz1 + vert1) - (horiz2 + vert2)) / 8.0f;
    float opposite = (6.0f * c + 2.0f * diag - 1.5f * (horiz2 + vert2)) / 8.0f;
    float along_row = (5.0f * c + 4.0f * horiz1 - diag - horiz2 + 0.5f * vert2) / 8.0f;
    float along_col = (5.0f * c + 4.0f * vert1 - diag - vert2 + 0.5f * horiz2) / 8.0f;
    unsigned int own = color_at(p, x, y);
    bool red_row = own == 0u || color_at(p, x + 1u, y) == 0u;
    float r, g, b;
    if (own == 1u) {
        g = c;
        if (red_row) {
            r = along_row;
            b = along_col;
        } else {
            r = along_col;
            b = along_row;
        }
    } else if (red_row) {
        r = c;
        g = green_here;
        b = opposite;
    } else {
        r = opposite;
        g = green_here;
        b = c;
    }
    store(p, rg, bl, y * w + x, r, g, b);
}

// --- RCD (rcd.rs) ------------------------------------------------------------------------
// Window coordinates: (x, y) is mosaic pixel (x - PAD, y - PAD). PAD is even, so the window
// has the mosaic's CFA phase.

__device__ unsigned int ww(Params p) {
    return width(p) + 2u * PAD;
}

__device__ unsigned int wh(Params p) {
    return height(p) + 2u * PAD;
}

// Whether (x, y) is at least `margin` inside the window.
__device__ bool inside(Params p, unsigned int x, unsigned int y, unsigned int margin) {
    return x >= margin && y >= margin && x + margin < ww(p) && y + margin < wh(p);
}

__device__ unsigned int at(Params p, unsigned int x, int dx, unsigned int y, int dy) {
    return (unsigned int)((int)y + dy) * ww(p) + (unsigned int)((int)x + dx);
}

__device__ unsigned int mirror(int v, unsigned int n) {
    int last = (int)n - 1;
    int r = v;
    if (v < 0) {
        r = -v;
    } else if (v > last) {
        r = 2 * last - v;
    }
    return (unsigned int)min(max(r, 0), last);
}

__device__ float sqr(float v) {
    return v * v;
}

__device__ float intp(float t, float a, float b) {
    return t * (a - b) + b;
}

__device__ float ratio(float a, float b) {
    float a2 = fmaxf(a, EPSSQ);
    float b2 = fmaxf(b, EPSSQ);
    return a2 / (a2 + b2);
}

__device__ float refine(float central, float nw, float ne, float sw, float se) {
    float neighbours = 0.25f * (nw + ne + sw + se);
    if (fabsf(0.5f - central) < fabsf(0.5f - neighbours)) {
        return neighbours;
    }
    return central;
}

__device__ float high_pass(float m3, float m2, float m1, float c, float p1, float p2, float p3) {
    return sqr((m3 - m1 - p1 + p3) - 3.0f * (m2 + p2) + 6.0f * c);
}

// The window's sample `d` steps from (x, y) along (sx, sy).
__device__ float wv(Params p, Plane win, unsigned int x, unsigned int y, int sx, int sy, int d) {
    return win[at(p, x, sx * d, y, sy * d)];
}

// The 7-tap high-pass centred on (x, y) along (sx, sy).
__device__ float high_pass_along(Params p, Plane win, unsigned int x, unsigned int y, int sx, int sy) {
    return high_pass(wv(p, win, x, y, sx, sy, -3), wv(p, win, x, y, sx, sy, -2), wv(p, win, x, y, sx, sy, -1),
                     wv(p, win, x, y, sx, sy, 0), wv(p, win, x, y, sx, sy, 1), wv(p, win, x, y, sx, sy, 2),
                     wv(p, win, x, y, sx, sy, 3));
}

__device__ float ratio_estimate(Params p, Plane win, Plane lpf, unsigned int x, unsigned int y, int sx, int sy) {
    float s[9];
    for (int d = -4; d <= 4; d++) {
        s[d + 4] = wv(p, win, x, y, sx, sy, d);
    }
    float lp0 = lpf[at(p, x, -2 * sx, y, -2 * sy)];
    float lp1 = lpf[at(p, x, 0, y, 0)];
    float lp2 = lpf[at(p, x, 2 * sx, y, 2 * sy)];
    float centre = fabsf(s[3] - s[5]);
    float before = EPS + centre + fabsf(s[4] - s[2]) + fabsf(s[3] - s[1]) + fabsf(s[2] - s[0]);
    float after = EPS + centre + fabsf(s[4] - s[6]) + fabsf(s[5] - s[7]) + fabsf(s[6] - s[8]);
    float l2 = 2.0f * lp1;
    float before_est = s[3] * l2 / (EPS + lp1 + lp0);
    float after_est = s[5] * l2 / (EPS + lp1 + lp2);
    return (after * before_est + before * after_est) / (before + after);
}

// The colour difference along one diagonal: `a` is the side at (-dx, -dy), `b` at (dx, dy).
__device__ float difference_estimate(Params p, Plane win, Plane green, unsigned int x, unsigned int y, int dx,
                                     int dy, float g_here) {
    float a0 = win[at(p, x, -dx, y, -dy)];
    float a1 = win[at(p, x, -3 * dx, y, -3 * dy)];
    float a2 = green[at(p, x, -dx, y, -dy)];
    float a3 = green[at(p, x, -2 * dx, y, -2 * dy)];
    float b0 = win[at(p, x, dx, y, dy)];
    float b1 = win[at(p, x, 3 * dx, y, 3 * dy)];
    float b2 = green[at(p, x, dx, y, dy)];
    float b3 = green[at(p, x, 2 * dx, y, 2 * dy)];
    float a_grad = EPS + fabsf(a0 - b0) + fabsf(a0 - a1) + fabsf(g_here - a3);
    float b_grad = EPS + fabsf(b0 - a0) + fabsf(b0 - b1) + fabsf(g_here - b3);
    float a_est = a0 - a2;
    float b_est = b0 - b2;
    return (a_grad * b_est + b_grad * a_est) / (a_grad + b_grad);
}

// `refine` of a discrimination plane at (x, y) and its four diagonal neighbours.
__device__ float refined(Params p, Plane disc, unsigned int x, unsigned int y) {
    return refine(disc[at(p, x, 0, y, 0)], disc[at(p, x, -1, y, -1)], disc[at(p, x, 1, y, -1)],
                  disc[at(p, x, -1, y, 1)], disc[at(p, x, 1, y, 1)]);
}

// Step 0: the mirrored window.
extern "C" __global__ void rcd_window(Params p, Plane mosaic, PlaneOut win) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (x >= ww(p) || y >= wh(p)) {
        return;
    }
    unsigned int sx = mirror((int)x - (int)PAD, width(p));
    unsigned int sy = mirror((int)y - (int)PAD, height(p));
    win[y * ww(p) + x] = m(p, mosaic, sx, sy);
}

// Step 1a: vertical and horizontal high-pass; step 2: the low-pass.
extern "C" __global__ void rcd_gradients(Params p, Plane win, PlaneOut hp_a, PlaneOut hp_b, PlaneOut lpf) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (inside(p, x, y, 3u)) {
        hp_a[at(p, x, 0, y, 0)] = high_pass_along(p, win, x, y, 0, 1);
        hp_b[at(p, x, 0, y, 0)] = high_pass_along(p, win, x, y, 1, 0);
    }
    if (inside(p, x, y, 1u)) {
        float n = win[at(p, x, 0, y, -1)];
        float s = win[at(p, x, 0, y, 1)];
        float w = win[at(p, x, -1, y, 0)];
        float e = win[at(p, x, 1, y, 0)];
        float nw = win[at(p, x, -1, y, -1)];
        float ne = win[at(p, x, 1, y, -1)];
        float sw = win[at(p, x, -1, y, 1)];
        float se = win[at(p, x, 1, y, 1)];
        lpf[at(p, x, 0, y, 0)] = win[at(p, x, 0, y, 0)] + 0.5f * (n + s + w + e) + 0.25f * (nw + ne + sw + se);
    }
}

// Step 1b: the vertical/horizontal discrimination.
extern "C" __global__ void rcd_vh(Params p, Plane hp_a, Plane hp_b, PlaneOut vh) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (!inside(p, x, y, 4u)) {
        return;
    }
    float v = hp_a[at(p, x, 0, y, -1)] + hp_a[at(p, x, 0, y, 0)] + hp_a[at(p, x, 0, y, 1)];
    float h = hp_b[at(p, x, -1, y, 0)] + hp_b[at(p, x, 0, y, 0)] + hp_b[at(p, x, 1, y, 0)];
    vh[at(p, x, 0, y, 0)] = ratio(v, h);
}

// Step 3: green at red and blue sites.
extern "C" __global__ void rcd_green(Params p, Plane win, Plane lpf, Plane vh, PlaneOut green) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (!inside(p, x, y, 5u)) {
        return;
    }
    unsigned int i = at(p, x, 0, y, 0);
    if (color_at(p, x, y) == 1u) {
        green[i] = win[i];
        return;
    }
    float v_est = ratio_estimate(p, win, lpf, x, y, 0, 1);
    float h_est = ratio_estimate(p, win, lpf, x, y, 1, 0);
    float disc = refined(p, vh, x, y);
    green[i] = fminf(fmaxf(intp(disc, h_est, v_est), 0.0f), 1.0f);
}

// Step 4a: diagonal high-pass (into the planes of step 1a, which are done with).
extern "C" __global__ void rcd_diagonals(Params p, Plane win, PlaneOut hp_a, PlaneOut hp_b) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (!inside(p, x, y, 3u)) {
        return;
    }
    hp_a[at(p, x, 0, y, 0)] = high_pass_along(p, win, x, y, 1, 1);
    hp_b[at(p, x, 0, y, 0)] = high_pass_along(p, win, x, y, -1, 1);
}

// Step 4b: the diagonal discrimination.
extern "C" __global__ void rcd_pq(Params p, Plane hp_a, Plane hp_b, PlaneOut pq) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (!inside(p, x, y, 4u)) {
        return;
    }
    float a = hp_a[at(p, x, -1, y, -1)] + hp_a[at(p, x, 0, y, 0)] + hp_a[at(p, x, 1, y, 1)];
    float b = hp_b[at(p, x, 1, y, -1)] + hp_b[at(p, x, 0, y, 0)] + hp_b[at(p, x, -1, y, 1)];
    pq[at(p, x, 0, y, 0)] = ratio(a, b);
}

// Step 4c: red at blue sites and blue at red sites; each keeps its own colour too.
extern "C" __global__ void rcd_chroma(Params p, Plane win, Plane pq, Plane green, PlaneOut red, PlaneOut blue) {
    unsigned int x = thread_x();
    unsigned int y = thread_y();
    if (!inside(p, x, y, 7u)) {
        return;
    }
    unsigned int own = color_at(p, x, y);
    if (own == 1u) {
        return;
    }
    unsigned int i = at(p, x, 0, y, 0);
    float g_here = green[i];
    // The diagonal (-1,-1)..(1,1) and the anti-diagonal (1,-1)..(-1,1).
    float p_est = difference_estimate(p, win, green, x, y, 1, 1, g_here);
    float q_est = difference_estimate(p, win, green, x, y, -1, 1, g_here);
    float disc = refined(p, pq, x, y);
    float other = fminf(fmaxf(g_here + intp(disc, q_est, p_est), 0.0f), 1.0f);
    if (own == 0u) {
        red[i] = win[i];
        blue[i] = other;
    } else {
        blue[i] = win[i];
        red[i] = other;
    }
}

// Red or blue (`plane`) at a green site, from the colour differences of its cardinal
// neighbours.
__device__ float at_green(Params p, Plane plane, Plane green, unsigned int x, unsigned int y, float disc) {
    float n = plane[at(p, x, 0, y, -1)];
    float s = plane[at(p, x, 0, y, 1)];
    float w = plane[at(p, x, -1, y, 0)];
    float e = plane[at(p, x, 1, y, 0)];
    float n3 = plane[at(p, x, 0, y, -3)];
    float s3 = plane[at(p, x, 0, y, 3)];
    float w3 = plane[at(p, x, -3, y, 0)];
    float e3 = plane[at(p, x, 3, y, 0)];
    float gc = green[at(p, x, 0, y, 0)];
    float gn = green[at(p, x, 0, y, -1)];
    float gs = green[at(p, x, 0, y, 1)];
    float gw = green[at(p, x, -1, y, 0)];
    float ge = green[at(p, x, 1, y, 0)];
    float gn2 = green[at(p, x, 0, y, -2)];
    float gs2 = green[at(p, x, 0, y, 2)];
    float gw2 = green[at(p, x, -2, y, 0)];
    float ge2 = green[at(p, x, 2, y, 0)];
    float sn = fabsf(n - s);
    float ew = fabsf(w - e);
    float n_grad = EPS + fabsf(gc - gn2) + sn + fabsf(n - n3);
    float s_grad = EPS + fabsf(gc - gs2) + sn + fabsf(s - s3);
    float w_grad = EPS + fabsf(gc - gw2) + ew + fabsf(w - w3);
    float e_grad = EPS + fabsf(gc - ge2) + ew + fabsf(e - e3);
    float v_est = (n_grad * (s - gs) + s_grad * (n - gn)) / (n_grad + s_grad);
    float h_est = (e_grad * (w - gw) + w_grad * (e - ge)) / (e_grad + w_grad);
    return fminf(fmaxf(gc + intp(disc, h_est, v_est), 0.0f), 1.0f);
}

// Step 5: red and blue at green sites, then the matrix, for every pixel of the mosaic.
extern "C" __global__ void rcd_finish(Params p, unsigned int* __restrict__ rg, unsigned int* __restrict__ bl, Plane vh, Plane green, Plane red,
                                      Plane blue) {
    unsigned int ox = thread_x();
    unsigned int oy = thread_y();
    if (ox >= width(p) || oy >= height(p)) {
        return;
    }
    unsigned int x = ox + PAD;
    unsigned int y = oy + PAD;
    unsigned int i = at(p, x, 0, y, 0);
    float r = red[i];
    float b = blue[i];
    if (color_at(p, x, y) == 1u) {
        float disc = refined(p, vh, x, y);
        r = at_green(p, red, green, x, y, disc);
        b = at_green(p, blue, green, x, y, disc);
    }
    store(p, rg, bl, oy * width(p) + ox, r, green[i], b);
}
