// Lanczos3 resizing in linear light, rows then columns, with the weights that
// fast_image_resize (the CPU path) computes, made on the host (backend/program.rs) and
// rounded to 16 bits between the passes as it does. The GPU twin of stages/resize.rs and
// kernels/resize.cu.

// p[0] source width, p[1] source height, p[2] output width, p[3] output height, p[4] the
// most weights an output pixel has.
@group(0) @binding(0) var<storage, read> p: array<u32>;
// 16-bit RGB in two planes: r | g << 16, and b.
@group(0) @binding(1) var<storage, read> src_rg: array<u32>;
@group(0) @binding(2) var<storage, read> src_b: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst_rg: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst_b: array<u32>;
// For each output column (or row) o: its first input and weight count at 2o, 2o + 1; then
// its weights (f32) from 2n + o * p[4], where n is the number of outputs.
@group(0) @binding(5) var<storage, read> weights: array<u32>;

fn unpack(i: u32) -> vec3<f32> {
    let rg = src_rg[i];
    return vec3<f32>(f32(rg & 0xffffu), f32(rg >> 16u), f32(src_b[i]));
}

fn store(i: u32, v: vec3<f32>) {
    let q = vec3<u32>(clamp(floor(v + 0.5), vec3<f32>(0.0), vec3<f32>(65535.0)));
    dst_rg[i] = q.x | (q.y << 16u);
    dst_b[i] = q.z;
}

// One output pixel from `count` inputs `step` apart, starting at input `first`.
fn convolve(o: u32, n: u32, first: u32, step: u32) -> vec3<f32> {
    let start = weights[2u * o];
    let count = weights[2u * o + 1u];
    let base = 2u * n + o * p[4];
    var sum = vec3<f32>(0.0);
    for (var i = 0u; i < count; i++) {
        sum += bitcast<f32>(weights[base + i]) * unpack(first + (start + i) * step);
    }
    return sum;
}

// Source (p[0] × p[1]) to (p[2] × p[1]).
@compute @workgroup_size(16, 16)
fn resize_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p[2] || id.y >= p[1] {
        return;
    }
    store(id.y * p[2] + id.x, convolve(id.x, p[2], id.y * p[0], 1u));
}

// Source (p[0] × p[1]) to (p[0] × p[3]).
@compute @workgroup_size(16, 16)
fn resize_columns(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= p[0] || id.y >= p[3] {
        return;
    }
    store(id.y * p[0] + id.x, convolve(id.y, p[3], id.x, p[0]));
}
