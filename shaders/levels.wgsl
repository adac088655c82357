// Black and white levels, white balance and highlight clipping in one pass: one read of the
// sensor, one write of the mosaic. The GPU twin of stages/levels.rs and
// stages/highlights.rs, and of kernels/levels.cu; the program in backend/program.rs lays
// out the parameters and buffers.

// p[0] width, p[1] height (of the crop), p[2] samples per sensor row, p[3] the crop's first
// column, p[4] 1 when the samples are f32 (else u16, two to a word), p[5] and p[6] the width
// and height of the level table's tile.
@group(0) @binding(0) var<storage, read> p: array<u32>;
// The sensor rows of the crop, whole.
@group(0) @binding(1) var<storage, read> sensor: array<u32>;
// (black, scale) for each position of a tile that repeats both the black-level pattern and
// the CFA: scale is the channel's white-balance gain over (white - black).
@group(0) @binding(2) var<storage, read> level_table: array<f32>;
@group(0) @binding(3) var<storage, read_write> mosaic: array<f32>;

fn sensor_value(i: u32) -> f32 {
    if p[4] == 1u {
        return bitcast<f32>(sensor[i]);
    }
    let word = sensor[i / 2u];
    return f32((word >> ((i & 1u) * 16u)) & 0xffffu);
}

@compute @workgroup_size(16, 16)
fn levels(@builtin(global_invocation_id) id: vec3<u32>) {
    let w = p[0];
    if id.x >= w || id.y >= p[1] {
        return;
    }
    let t = 2u * ((id.y % p[6]) * p[5] + id.x % p[5]);
    let black = level_table[t];
    let scale = level_table[t + 1u];
    let v = max((sensor_value(id.y * p[2] + p[3] + id.x) - black) * scale, 0.0);
    // Highlights: every channel clips where the least-amplified one does (1.0).
    mosaic[id.y * w + id.x] = min(v, 1.0);
}
