// The tone curve and sRGB encoding through the CPU path's own 65,536-entry table, so both
// paths give the same byte for the same 16-bit value. The GPU twin of stages/tone.rs and
// kernels/tone.cu.

// p[0] pixels, p[1] output words per dispatch row.
@group(0) @binding(0) var<storage, read> p: array<u32>;
// 16-bit linear sRGB in two planes: r | g << 16, and b.
@group(0) @binding(1) var<storage, read> rg: array<u32>;
@group(0) @binding(2) var<storage, read> bl: array<u32>;
// The table, four bytes to a word: 65,536 bytes for R, then G, then B.
@group(0) @binding(3) var<storage, read> lut: array<u32>;
// 8-bit sRGB, three bytes a pixel, packed four bytes to a word.
@group(0) @binding(4) var<storage, read_write> srgb8: array<u32>;

fn channel(pixel: u32, c: u32) -> u32 {
    if c == 2u {
        return bl[pixel];
    }
    return (rg[pixel] >> (16u * c)) & 0xffffu;
}

@compute @workgroup_size(16, 16)
fn tone(@builtin(global_invocation_id) id: vec3<u32>) {
    let word = id.y * p[1] + id.x;
    if id.x >= p[1] || word * 4u >= p[0] * 3u {
        return;
    }
    var packed = 0u;
    for (var j = 0u; j < 4u; j++) {
        let k = word * 4u + j;
        if k < p[0] * 3u {
            let v = channel(k / 3u, k % 3u);
            let byte = (lut[(k % 3u) * 16384u + v / 4u] >> (8u * (v % 4u))) & 0xffu;
            packed |= byte << (8u * j);
        }
    }
    srgb8[word] = packed;
}
