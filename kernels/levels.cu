// Black and white levels, white balance and highlight clipping in one pass: one read of the
// sensor, one write of the mosaic. The CUDA twin of shaders/levels.wgsl and of
// stages/levels.rs and stages/highlights.rs (the CPU reference); the program in
// backend/program.rs lays out the parameters and buffers.
//
// Compiled by NVRTC alone (no headers) and with --fmad=false: a multiply followed by an add
// must round twice, as it does on the CPU, or the outputs drift from the reference.

// p[0] width, p[1] height (of the crop), p[2] samples per sensor row, p[3] the crop's first
// column, p[4] 1 when the samples are f32 (else u16, two to a word), p[5] and p[6] the width
// and height of the level table's tile.
//
// sensor: the sensor rows of the crop, whole.
// level_table: (black, scale) for each position of a tile that repeats both the black-level
// pattern and the CFA: scale is the channel's white-balance gain over (white - black).

__device__ float sensor_value(const unsigned int* __restrict__ p, const unsigned int* __restrict__ sensor,
                              unsigned int i) {
    if (p[4] == 1u) {
        return __uint_as_float(sensor[i]);
    }
    unsigned int word = sensor[i / 2u];
    return (float)((word >> ((i & 1u) * 16u)) & 0xffffu);
}

extern "C" __global__ void levels(const unsigned int* __restrict__ p, const unsigned int* __restrict__ sensor,
                                  const float* __restrict__ level_table, float* __restrict__ mosaic) {
    unsigned int x = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int y = blockIdx.y * blockDim.y + threadIdx.y;
    unsigned int w = p[0];
    if (x >= w || y >= p[1]) {
        return;
    }
    unsigned int t = 2u * ((y % p[6]) * p[5] + x % p[5]);
    float black = level_table[t];
    float scale = level_table[t + 1u];
    float v = fmaxf((sensor_value(p, sensor, y * p[2] + p[3] + x) - black) * scale, 0.0f);
    // Highlights: every channel clips where the least-amplified one does (1.0).
    mosaic[y * w + x] = fminf(v, 1.0f);
}
