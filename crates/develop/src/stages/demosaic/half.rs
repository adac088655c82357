//! One RGB pixel per 2×2 Bayer quad: red, the mean of the two greens, blue.

use rayon::prelude::*;

use crate::image::{Mosaic, Rgb16};
use crate::stages::color::ToSrgb16;

pub fn demosaic(m: &Mosaic, to_srgb: &ToSrgb16) -> Rgb16 {
    let (w, h) = (m.width / 2, m.height / 2);
    // Where each colour sits inside a quad, as offsets into the top row and the row below.
    let mut slots: [Vec<usize>; 3] = Default::default();
    for (i, dy) in [0, 1].into_iter().enumerate() {
        for dx in 0..2 {
            slots[m.cfa.color_at(dx, dy)].push(i * m.width + dx);
        }
    }
    let mut data = vec![[0u16; 3]; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let top = 2 * y * m.width;
        for (x, out) in row.iter_mut().enumerate() {
            let base = top + 2 * x;
            let mean = |offsets: &Vec<usize>| {
                offsets.iter().map(|o| m.data[base + o]).sum::<f32>() / offsets.len() as f32
            };
            *out = to_srgb.pixel(mean(&slots[0]), mean(&slots[1]), mean(&slots[2]));
        }
    });
    Rgb16 { width: w, height: h, data }
}
