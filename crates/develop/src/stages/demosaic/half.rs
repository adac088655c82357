//! One RGB pixel per 2×2 Bayer quad: red, the mean of the two greens, blue.

use rayon::prelude::*;

use crate::image::{Mosaic, RgbF32};

pub fn demosaic(m: &Mosaic) -> RgbF32 {
    let (w, h) = (m.width / 2, m.height / 2);
    // Where each colour sits inside a quad, as offsets into the top row and the row below.
    let mut slots: [Vec<usize>; 3] = Default::default();
    for (i, dy) in [0, 1].into_iter().enumerate() {
        for dx in 0..2 {
            slots[m.cfa.color_at(dx, dy)].push(i * m.width + dx);
        }
    }
    let mut data = vec![[0.0f32; 3]; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let top = 2 * y * m.width;
        for (x, out) in row.iter_mut().enumerate() {
            let base = top + 2 * x;
            for (c, offsets) in slots.iter().enumerate() {
                let sum: f32 = offsets.iter().map(|o| m.data[base + o]).sum();
                out[c] = sum / offsets.len() as f32;
            }
        }
    });
    RgbF32 { width: w, height: h, data }
}
