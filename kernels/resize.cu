// Lanczos3 resizing in linear light, rows then columns, with the weights that
// fast_image_resize (the CPU path) computes, made on the host (backend/program.rs) and
// rounded to 16 bits between the passes as it does. The CUDA twin of shaders/resize.wgsl
// and of stages/resize.rs.
//
// Compiled by NVRTC alone (no headers) and with --fmad=false, so each weighted sum rounds
// as the WGSL and the CPU path's order of operations say.

// p[0] source width, p[1] source height, p[2] output width, p[3] output height, p[4] the
// most weights an output pixel has.
//
// src_rg/src_b, dst_rg/dst_b: 16-bit RGB in two planes: r | g << 16, and b.
// weights: for each output column (or row) o, its first input and weight count at 2o,
// 2o + 1; then its weights (f32 bits) from 2n + o * p[4], where n is the number of outputs.

struct Rgb {
    float r;
    float g;
    float b;
};

__device__ Rgb unpack(const unsigned int* __restrict__ src_rg, const unsigned int* __restrict__ src_b, unsigned int i) {
    unsigned int rg = src_rg[i];
    Rgb v;
    v.r = (float)(rg & 0xffffu);
    v.g = (float)(rg >> 16u);
    v.b = (float)src_b[i];
    return v;
}

__device__ unsigned int to_u16(float v) {
    return (unsigned int)fminf(fmaxf(floorf(v + 0.5f), 0.0f), 65535.0f);
}

__device__ void store(unsigned int* __restrict__ dst_rg, unsigned int* __restrict__ dst_b, unsigned int i, Rgb v) {
    dst_rg[i] = to_u16(v.r) | (to_u16(v.g) << 16u);
    dst_b[i] = to_u16(v.b);
}

// One output pixel from `count` inputs `step` apart, starting at input `first`.
__device__ Rgb convolve(const unsigned int* __restrict__ p, const unsigned int* __restrict__ src_rg,
                        const unsigned int* __restrict__ src_b, const unsigned int* __restrict__ weights, unsigned int o, unsigned int n,
                        unsigned int first, unsigned int step) {
    unsigned int start = weights[2u * o];
    unsigned int count = weights[2u * o + 1u];
    unsigned int base = 2u * n + o * p[4];
    Rgb sum;
    sum.r = 0.0f;
    sum.g = 0.0f;
    sum.b = 0.0f;
    for (unsigned int i = 0u; i < count; i++) {
        float w = __uint_as_float(weights[base + i]);
        Rgb v = unpack(src_rg, src_b, first + (start + i) * step);
        sum.r += w * v.r;
        sum.g += w * v.g;
        sum.b += w * v.b;
    }
    return sum;
}

// Source (p[0] × p[1]) to (p[2] × p[1]).
extern "C" __global__ void resize_rows(const unsigned int* __restrict__ p, const unsigned int* __restrict__ src_rg,
                                       const unsigned int* __restrict__ src_b, unsigned int* __restrict__ dst_rg,
                                       unsigned int* __restrict__ dst_b, const unsigned int* __restrict__ weights) {
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p[2] || y >= p[1]) {
        return;
    }
    store(dst_rg, dst_b, y * p[2] + x, convolve(p, src_rg, src_b, weights, x, p[2], y * p[0], 1u));
}

// Source (p[0] × p[1]) to (p[0] × p[3]).
extern "C" __global__ void resize_columns(const unsigned int* __restrict__ p, const unsigned int* __restrict__ src_rg,
                                          const unsigned int* __restrict__ src_b, unsigned int* __restrict__ dst_rg,
                                          unsigned int* __restrict__ dst_b, const unsigned int* __restrict__ weights) {
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p[0] || y >= p[3]) {
        return;
    }
    store(dst_rg, dst_b, y * p[0] + x, convolve(p, src_rg, src_b, weights, y, p[3], x, p[0]));
}
