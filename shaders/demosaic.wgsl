// Demosaic with the colour matrix applied as each pixel is written: a one-channel mosaic in,
// 16-bit linear sRGB out (in two planes: r | g << 16, and b). The GPU twin of
// stages/demosaic/*.rs and stages/color.rs, and of kernels/demosaic.cu; each method follows
// its CPU reference step by step, in the same floating-point order.
//
// RCD runs on a window: the mosaic mirrored PAD pixels beyond every edge, as the CPU path's
// tiles see it. Each step is one pass over the whole window (`rcd_*` below); steps that
// need no neighbour's result of the same step share a pass.

// p[0] width, p[1] height (of the mosaic), p[2..11] the 3×3 camera-to-sRGB matrix (f32,
// row by row), p[11] and p[12] the CFA pattern's width and height, p[13..] its colours
// (0 red, 1 green, 2 blue), row by row.
@group(0) @binding(0) var<storage, read> p: array<u32>;
@group(0) @binding(1) var<storage, read> mosaic: array<f32>;
// 16-bit linear sRGB in two planes: r | g << 16, and b.
@group(0) @binding(2) var<storage, read_write> rg: array<u32>;
@group(0) @binding(3) var<storage, read_write> bl: array<u32>;
// RCD's planes, each the size of the window.
@group(0) @binding(4) var<storage, read_write> win: array<f32>;
@group(0) @binding(5) var<storage, read_write> hp_a: array<f32>;
@group(0) @binding(6) var<storage, read_write> hp_b: array<f32>;
@group(0) @binding(7) var<storage, read_write> lpf: array<f32>;
@group(0) @binding(8) var<storage, read_write> vh: array<f32>;
@group(0) @binding(9) var<storage, read_write> pq: array<f32>;
@group(0) @binding(10) var<storage, read_write> green: array<f32>;
@group(0) @binding(11) var<storage, read_write> red: array<f32>;
@group(0) @binding(12) var<storage, read_write> blue: array<f32>;

const PAD: u32 = 10u;
const EPS: f32 = 1e-5;
const EPSSQ: f32 = 1e-10;

fn width() -> u32 {
    return p[0];
}

fn height() -> u32 {
    return p[1];
}

fn color_at(x: u32, y: u32) -> u32 {
    return p[13u + (y % p[12]) * p[11] + x % p[11]];
}

fn cam_to_srgb(i: u32) -> f32 {
    return bitcast<f32>(p[2u + i]);
}

fn quantise(v: f32) -> u32 {
    return u32(clamp(v, 0.0, 1.0) * 65535.0 + 0.5);
}

// Camera RGB through the matrix to 16 bits, as `ToSrgb16::pixel`.
fn store(i: u32, r: f32, g: f32, b: f32) {
    let qr = quantise(cam_to_srgb(0u) * r + cam_to_srgb(1u) * g + cam_to_srgb(2u) * b);
    let qg = quantise(cam_to_srgb(3u) * r + cam_to_srgb(4u) * g + cam_to_srgb(5u) * b);
    let qb = quantise(cam_to_srgb(6u) * r + cam_to_srgb(7u) * g + cam_to_srgb(8u) * b);
    rg[i] = qr | (qg << 16u);
    bl[i] = qb;
}

fn m(x: u32, y: u32) -> f32 {
    return mosaic[y * width() + x];
}

// --- Neighbour: same-colour means over 3×3, else 5×5 (neighbour.rs) -----------------------

fn neighbour_pixel(x: u32, y: u32) -> vec3<f32> {
    let own = color_at(x, y);
    var out = vec3<f32>(0.0);
    var found = vec3<bool>(false);
    out[own] = m(x, y);
    found[own] = true;
    for (var radius = 1u; radius <= 2u; radius++) {
        var sum = vec3<f32>(0.0);
        var count = vec3<u32>(0u);
        let y0 = select(0u, y - radius, y >= radius);
        let x0 = select(0u, x - radius, x >= radius);
        let y1 = min(y + radius, height() - 1u);
        let x1 = min(x + radius, width() - 1u);
        for (var yy = y0; yy <= y1; yy++) {
            for (var xx = x0; xx <= x1; xx++) {
                let c = color_at(xx, yy);
                sum[c] += m(xx, yy);
                count[c] += 1u;
            }
        }
        for (var c = 0u; c < 3u; c++) {
            if !found[c] && count[c] > 0u {
                out[c] = sum[c] / f32(count[c]);
                found[c] = true;
            }
        }
        if all(found) {
            break;
        }
    }
    return out;
}

@compute @workgroup_size(16, 16)
fn demosaic_neighbour(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= width() || id.y >= height() {
        return;
    }
    let v = neighbour_pixel(id.x, id.y);
    store(id.y * width() + id.x, v.x, v.y, v.z);
}

// --- Half size: one pixel per 2×2 quad (half.rs); the output is (width / 2) × (height / 2) --

@compute @workgroup_size(16, 16)
fn demosaic_half(@builtin(global_invocation_id) id: vec3<u32>) {
    let w = width() / 2u;
    if id.x >= w || id.y >= height() / 2u {
        return;
    }
    var sum = vec3<f32>(0.0);
    var count = vec3<f32>(0.0);
    for (var dy = 0u; dy < 2u; dy++) {
        for (var dx = 0u; dx < 2u; dx++) {
            let c = color_at(dx, dy);
            sum[c] += m(2u * id.x + dx, 2u * id.y + dy);
            count[c] += 1.0;
        }
    }
    let v = sum / count;
    store(id.y * w + id.x, v.x, v.y, v.z);
}

// --- Malvar–He–Cutler (mhc.rs); the two-pixel border takes the neighbour method ------------

@compute @workgroup_size(16, 16)
fn demosaic_mhc(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    let w = width();
    let h = height();
    if x >= w || y >= h {
        return;
    }
    if y < 2u || y + 2u >= h || x < 2u || x + 2u >= w {
        let v = neighbour_pixel(x, y);
        store(y * w + x, v.x, v.y, v.z);
        return;
    }
    let c = m(x, y);
    let horiz1 = m(x - 1u, y) + m(x + 1u, y);
    let vert1 = m(x, y - 1u) + m(x, y + 1u);
    let horiz2 = m(x - 2u, y) + m(x + 2u, y);
    let vert2 = m(x, y - 2u) + m(x, y + 2u);
    let diag = m(x - 1u, y - 1u) + m(x + 1u, y - 1u) + m(x - 1u, y + 1u) + m(x + 1u, y + 1u);
    let green_here = (4.0 * c + 2.0 * (horiz1 + vert1) - (horiz2 + vert2)) / 8.0;
    let opposite = (6.0 * c + 2.0 * diag - 1.5 * (horiz2 + vert2)) / 8.0;
    let along_row = (5.0 * c + 4.0 * horiz1 - diag - horiz2 + 0.5 * vert2) / 8.0;
    let along_col = (5.0 * c + 4.0 * vert1 - diag - vert2 + 0.5 * horiz2) / 8.0;
    let own = color_at(x, y);
    let red_row = own == 0u || color_at(x + 1u, y) == 0u;
    var v: vec3<f32>;
    if own == 1u {
        if red_row {
            v = vec3<f32>(along_row, c, along_col);
        } else {
            v = vec3<f32>(along_col, c, along_row);
        }
    } else if red_row {
        v = vec3<f32>(c, green_here, opposite);
    } else {
        v = vec3<f32>(opposite, green_here, c);
    }
    store(y * w + x, v.x, v.y, v.z);
}

// --- RCD (rcd.rs) ------------------------------------------------------------------------
// Window coordinates: (x, y) is mosaic pixel (x - PAD, y - PAD). PAD is even, so the window
// has the mosaic's CFA phase.

fn ww() -> u32 {
    return width() + 2u * PAD;
}

fn wh() -> u32 {
    return height() + 2u * PAD;
}

// Whether (x, y) is at least `margin` inside the window.
fn inside(x: u32, y: u32, margin: u32) -> bool {
    return x >= margin && y >= margin && x + margin < ww() && y + margin < wh();
}

fn at(x: u32, dx: i32, y: u32, dy: i32) -> u32 {
    return u32(i32(y) + dy) * ww() + u32(i32(x) + dx);
}

fn mirror(v: i32, n: u32) -> u32 {
    let last = i32(n) - 1;
    var r = v;
    if v < 0 {
        r = -v;
    } else if v > last {
        r = 2 * last - v;
    }
    return u32(clamp(r, 0, last));
}

fn sqr(v: f32) -> f32 {
    return v * v;
}

fn intp(t: f32, a: f32, b: f32) -> f32 {
    return t * (a - b) + b;
}

fn ratio(a: f32, b: f32) -> f32 {
    let a2 = max(a, EPSSQ);
    let b2 = max(b, EPSSQ);
    return a2 / (a2 + b2);
}

fn refine(central: f32, nw: f32, ne: f32, sw: f32, se: f32) -> f32 {
    let neighbours = 0.25 * (nw + ne + sw + se);
    if abs(0.5 - central) < abs(0.5 - neighbours) {
        return neighbours;
    }
    return central;
}

fn high_pass(m3: f32, m2: f32, m1: f32, c: f32, p1: f32, p2: f32, p3: f32) -> f32 {
    return sqr((m3 - m1 - p1 + p3) - 3.0 * (m2 + p2) + 6.0 * c);
}

// The window's sample `d` steps from (x, y) along (sx, sy).
fn wv(x: u32, y: u32, sx: i32, sy: i32, d: i32) -> f32 {
    return win[at(x, sx * d, y, sy * d)];
}

fn ratio_estimate(x: u32, y: u32, sx: i32, sy: i32) -> f32 {
    var s: array<f32, 9>;
    for (var d = -4; d <= 4; d++) {
        s[d + 4] = wv(x, y, sx, sy, d);
    }
    let lp0 = lpf[at(x, -2 * sx, y, -2 * sy)];
    let lp1 = lpf[at(x, 0, y, 0)];
    let lp2 = lpf[at(x, 2 * sx, y, 2 * sy)];
    let centre = abs(s[3] - s[5]);
    let before = EPS + centre + abs(s[4] - s[2]) + abs(s[3] - s[1]) + abs(s[2] - s[0]);
    let after = EPS + centre + abs(s[4] - s[6]) + abs(s[5] - s[7]) + abs(s[6] - s[8]);
    let l2 = 2.0 * lp1;
    let before_est = s[3] * l2 / (EPS + lp1 + lp0);
    let after_est = s[5] * l2 / (EPS + lp1 + lp2);
    return (after * before_est + before * after_est) / (before + after);
}

// The colour difference along one diagonal: `a` is the side at (-dx, -dy), `b` at (dx, dy).
fn difference_estimate(x: u32, y: u32, dx: i32, dy: i32, g_here: f32) -> f32 {
    let a0 = win[at(x, -dx, y, -dy)];
    let a1 = win[at(x, -3 * dx, y, -3 * dy)];
    let a2 = green[at(x, -dx, y, -dy)];
    let a3 = green[at(x, -2 * dx, y, -2 * dy)];
    let b0 = win[at(x, dx, y, dy)];
    let b1 = win[at(x, 3 * dx, y, 3 * dy)];
    let b2 = green[at(x, dx, y, dy)];
    let b3 = green[at(x, 2 * dx, y, 2 * dy)];
    let a_grad = EPS + abs(a0 - b0) + abs(a0 - a1) + abs(g_here - a3);
    let b_grad = EPS + abs(b0 - a0) + abs(b0 - b1) + abs(g_here - b3);
    let a_est = a0 - a2;
    let b_est = b0 - b2;
    return (a_grad * b_est + b_grad * a_est) / (a_grad + b_grad);
}

// Step 0: the mirrored window.
@compute @workgroup_size(16, 16)
fn rcd_window(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= ww() || id.y >= wh() {
        return;
    }
    let sx = mirror(i32(id.x) - i32(PAD), width());
    let sy = mirror(i32(id.y) - i32(PAD), height());
    win[id.y * ww() + id.x] = m(sx, sy);
}

// Step 1a: vertical and horizontal high-pass; step 2: the low-pass.
@compute @workgroup_size(16, 16)
fn rcd_gradients(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if inside(x, y, 3u) {
        hp_a[at(x, 0, y, 0)] = high_pass(
            wv(x, y, 0, 1, -3), wv(x, y, 0, 1, -2), wv(x, y, 0, 1, -1), wv(x, y, 0, 1, 0),
            wv(x, y, 0, 1, 1), wv(x, y, 0, 1, 2), wv(x, y, 0, 1, 3));
        hp_b[at(x, 0, y, 0)] = high_pass(
            wv(x, y, 1, 0, -3), wv(x, y, 1, 0, -2), wv(x, y, 1, 0, -1), wv(x, y, 1, 0, 0),
            wv(x, y, 1, 0, 1), wv(x, y, 1, 0, 2), wv(x, y, 1, 0, 3));
    }
    if inside(x, y, 1u) {
        let n = win[at(x, 0, y, -1)];
        let s = win[at(x, 0, y, 1)];
        let w = win[at(x, -1, y, 0)];
        let e = win[at(x, 1, y, 0)];
        let nw = win[at(x, -1, y, -1)];
        let ne = win[at(x, 1, y, -1)];
        let sw = win[at(x, -1, y, 1)];
        let se = win[at(x, 1, y, 1)];
        lpf[at(x, 0, y, 0)] = win[at(x, 0, y, 0)] + 0.5 * (n + s + w + e) + 0.25 * (nw + ne + sw + se);
    }
}

// Step 1b: the vertical/horizontal discrimination.
@compute @workgroup_size(16, 16)
fn rcd_vh(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if !inside(x, y, 4u) {
        return;
    }
    let v = hp_a[at(x, 0, y, -1)] + hp_a[at(x, 0, y, 0)] + hp_a[at(x, 0, y, 1)];
    let h = hp_b[at(x, -1, y, 0)] + hp_b[at(x, 0, y, 0)] + hp_b[at(x, 1, y, 0)];
    vh[at(x, 0, y, 0)] = ratio(v, h);
}

// Step 3: green at red and blue sites.
@compute @workgroup_size(16, 16)
fn rcd_green(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if !inside(x, y, 5u) {
        return;
    }
    let i = at(x, 0, y, 0);
    if color_at(x, y) == 1u {
        green[i] = win[i];
        return;
    }
    let v_est = ratio_estimate(x, y, 0, 1);
    let h_est = ratio_estimate(x, y, 1, 0);
    let disc = refine(vh[i], vh[at(x, -1, y, -1)], vh[at(x, 1, y, -1)], vh[at(x, -1, y, 1)], vh[at(x, 1, y, 1)]);
    green[i] = clamp(intp(disc, h_est, v_est), 0.0, 1.0);
}

// Step 4a: diagonal high-pass (into the planes of step 1a, which are done with).
@compute @workgroup_size(16, 16)
fn rcd_diagonals(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if !inside(x, y, 3u) {
        return;
    }
    hp_a[at(x, 0, y, 0)] = high_pass(
        wv(x, y, 1, 1, -3), wv(x, y, 1, 1, -2), wv(x, y, 1, 1, -1), wv(x, y, 1, 1, 0),
        wv(x, y, 1, 1, 1), wv(x, y, 1, 1, 2), wv(x, y, 1, 1, 3));
    hp_b[at(x, 0, y, 0)] = high_pass(
        wv(x, y, -1, 1, -3), wv(x, y, -1, 1, -2), wv(x, y, -1, 1, -1), wv(x, y, -1, 1, 0),
        wv(x, y, -1, 1, 1), wv(x, y, -1, 1, 2), wv(x, y, -1, 1, 3));
}

// Step 4b: the diagonal discrimination.
@compute @workgroup_size(16, 16)
fn rcd_pq(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if !inside(x, y, 4u) {
        return;
    }
    let a = hp_a[at(x, -1, y, -1)] + hp_a[at(x, 0, y, 0)] + hp_a[at(x, 1, y, 1)];
    let b = hp_b[at(x, 1, y, -1)] + hp_b[at(x, 0, y, 0)] + hp_b[at(x, -1, y, 1)];
    pq[at(x, 0, y, 0)] = ratio(a, b);
}

// Step 4c: red at blue sites and blue at red sites; each keeps its own colour too.
@compute @workgroup_size(16, 16)
fn rcd_chroma(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if !inside(x, y, 7u) {
        return;
    }
    let own = color_at(x, y);
    if own == 1u {
        return;
    }
    let i = at(x, 0, y, 0);
    let g_here = green[i];
    // The diagonal (-1,-1)..(1,1) and the anti-diagonal (1,-1)..(-1,1).
    let p_est = difference_estimate(x, y, 1, 1, g_here);
    let q_est = difference_estimate(x, y, -1, 1, g_here);
    let disc = refine(pq[i], pq[at(x, -1, y, -1)], pq[at(x, 1, y, -1)], pq[at(x, -1, y, 1)], pq[at(x, 1, y, 1)]);
    let other = clamp(g_here + intp(disc, q_est, p_est), 0.0, 1.0);
    if own == 0u {
        red[i] = win[i];
        blue[i] = other;
    } else {
        blue[i] = win[i];
        red[i] = other;
    }
}

// Red or blue at a green site from the cardinal neighbours of `plane` (0 red, 2 blue).
fn chroma_at(plane: u32, x: u32, y: u32, d: i32, axis_x: i32, axis_y: i32) -> f32 {
    let i = at(x, d * axis_x, y, d * axis_y);
    if plane == 0u {
        return red[i];
    }
    return blue[i];
}

fn at_green(plane: u32, x: u32, y: u32, disc: f32) -> f32 {
    let n = chroma_at(plane, x, y, -1, 0, 1);
    let s = chroma_at(plane, x, y, 1, 0, 1);
    let w = chroma_at(plane, x, y, -1, 1, 0);
    let e = chroma_at(plane, x, y, 1, 1, 0);
    let n3 = chroma_at(plane, x, y, -3, 0, 1);
    let s3 = chroma_at(plane, x, y, 3, 0, 1);
    let w3 = chroma_at(plane, x, y, -3, 1, 0);
    let e3 = chroma_at(plane, x, y, 3, 1, 0);
    let gc = green[at(x, 0, y, 0)];
    let gn = green[at(x, 0, y, -1)];
    let gs = green[at(x, 0, y, 1)];
    let gw = green[at(x, -1, y, 0)];
    let ge = green[at(x, 1, y, 0)];
    let gn2 = green[at(x, 0, y, -2)];
    let gs2 = green[at(x, 0, y, 2)];
    let gw2 = green[at(x, -2, y, 0)];
    let ge2 = green[at(x, 2, y, 0)];
    let sn = abs(n - s);
    let ew = abs(w - e);
    let n_grad = EPS + abs(gc - gn2) + sn + abs(n - n3);
    let s_grad = EPS + abs(gc - gs2) + sn + abs(s - s3);
    let w_grad = EPS + abs(gc - gw2) + ew + abs(w - w3);
    let e_grad = EPS + abs(gc - ge2) + ew + abs(e - e3);
    let v_est = (n_grad * (s - gs) + s_grad * (n - gn)) / (n_grad + s_grad);
    let h_est = (e_grad * (w - gw) + w_grad * (e - ge)) / (e_grad + w_grad);
    return clamp(gc + intp(disc, h_est, v_est), 0.0, 1.0);
}

// Step 5: red and blue at green sites, then the matrix, for every pixel of the mosaic.
@compute @workgroup_size(16, 16)
fn rcd_finish(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= width() || id.y >= height() {
        return;
    }
    let x = id.x + PAD;
    let y = id.y + PAD;
    let i = at(x, 0, y, 0);
    var r = red[i];
    var b = blue[i];
    if color_at(x, y) == 1u {
        let disc = refine(vh[i], vh[at(x, -1, y, -1)], vh[at(x, 1, y, -1)], vh[at(x, -1, y, 1)], vh[at(x, 1, y, 1)]);
        r = at_green(0u, x, y, disc);
        b = at_green(2u, x, y, disc);
    }
    store(id.y * width() + id.x, r, green[i], b);
}
