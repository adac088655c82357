//! Same-colour neighbour averaging: each missing colour is the mean of that colour's samples
//! in the 3×3 window (5×5 where the 3×3 lacks it). Works for any CFA; also fills the borders
//! that RCD's wide stencils cannot reach.

use rayon::prelude::*;

use crate::image::{Mosaic, Rgb16};
use crate::stages::color::ToSrgb16;

pub fn demosaic(m: &Mosaic, to_srgb: &ToSrgb16) -> Rgb16 {
    let mut data = vec![[0u16; 3]; m.width * m.height];
    data.par_chunks_mut(m.width).enumerate().for_each(|(y, row)| {
        for (x, out) in row.iter_mut().enumerate() {
            let [r, g, b] = pixel(m, x, y);
            *out = to_srgb.pixel(r, g, b);
        }
    });
    Rgb16 { width: m.width, height: m.height, data }
}

pub(super) fn pixel(m: &Mosaic, x: usize, y: usize) -> [f32; 3] {
    let own = m.cfa.color_at(x, y);
    let mut out = [0.0f32; 3];
    out[own] = m.data[y * m.width + x];
    let mut found = [false; 3];
    found[own] = true;
    for radius in [1usize, 2] {
        let mut sum = [0.0f32; 3];
        let mut count = [0u32; 3];
        for yy in y.saturating_sub(radius)..=(y + radius).min(m.height - 1) {
            for xx in x.saturating_sub(radius)..=(x + radius).min(m.width - 1) {
                let c = m.cfa.color_at(xx, yy);
                sum[c] += m.data[yy * m.width + xx];
                count[c] += 1;
            }
        }
        for c in 0..3 {
            if !found[c] && count[c] > 0 {
                out[c] = sum[c] / count[c] as f32;
                found[c] = true;
            }
        }
        if found.iter().all(|&f| f) {
            break;
        }
    }
    out
}
