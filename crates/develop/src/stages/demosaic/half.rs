//! One RGB pixel per 2×2 Bayer quad: red, the mean of the two greens, blue.

use rayon::prelude::*;

use super::{Input, BAND_ROWS};
use crate::image::Rgb16;
use crate::stages::color::ToSrgb16;

pub fn demosaic(input: &Input, to_srgb: &ToSrgb16) -> Rgb16 {
    let (w, h, cfa) = (input.width() / 2, input.height() / 2, input.cfa());
    // Where each colour sits inside a quad: (row in the quad, column).
    let mut slots: [Vec<(usize, usize)>; 3] = Default::default();
    for dy in 0..2 {
        for dx in 0..2 {
            slots[cfa.color_at(dx, dy)].push((dy, dx));
        }
    }
    let mut data = vec![[0u16; 3]; w * h];
    data.par_chunks_mut(w * BAND_ROWS).enumerate().for_each(|(chunk, rows)| {
        let first = chunk * BAND_ROWS;
        let band = input.band(2 * first, 2 * (first + rows.len() / w));
        for (i, row) in rows.chunks_mut(w).enumerate() {
            let quad = [band.row(2 * (first + i)), band.row(2 * (first + i) + 1)];
            for (x, out) in row.iter_mut().enumerate() {
                let mean = |at: &Vec<(usize, usize)>| {
                    at.iter().map(|&(dy, dx)| quad[dy][2 * x + dx]).sum::<f32>() / at.len() as f32
                };
                *out = to_srgb.pixel(mean(&slots[0]), mean(&slots[1]), mean(&slots[2]));
            }
        }
    });
    Rgb16 { width: w, height: h, data }
}
