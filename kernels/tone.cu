// The tone curve and sRGB encoding through the CPU path's own 65,536-entry table, so both
// paths give the same byte for the same 16-bit value. The CUDA twin of shaders/tone.wgsl
// and of stages/tone.rs. Integer work only: no floating point to keep in step.

// p[0] pixels, p[1] output words per grid row.
//
// rg, bl: 16-bit linear sRGB in two planes: r | g << 16, and b.
// lut: the table, four bytes to a word: 65,536 bytes for R, then G, then B.
// srgb8: 8-bit sRGB, three bytes a pixel, packed four bytes to a word.

__device__ unsigned int channel(const unsigned int* __restrict__ rg, const unsigned int* __restrict__ bl,
                                unsigned int pixel, unsigned int c) {
    if (c == 2u) {
        return bl[pixel];
    }
    return (rg[pixel] >> (16u * c)) & 0xffffu;
}

extern "C" __global__ void tone(const unsigned int* __restrict__ p, const unsigned int* __restrict__ rg,
                                const unsigned int* __restrict__ bl, const unsigned int* __restrict__ lut, unsigned int* __restrict__ srgb8) {
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned int word = y * p[1] + x;
    if (x >= p[1] || word * 4u >= p[0] * 3u) {
        return;
    }
    unsigned int packed = 0u;
    for (unsigned int j = 0u; j < 4u; j++) {
        unsigned int k = word * 4u + j;
        if (k < p[0] * 3u) {
            unsigned int v = channel(rg, bl, k / 3u, k % 3u);
            unsigned int byte = (lut[(k % 3u) * 16384u + v / 4u] >> (8u * (v % 4u))) & 0xffu;
            packed |= byte << (8u * j);
        }
    }
    srgb8[word] = packed;
}
