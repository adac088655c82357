//! Malvar–He–Cutler (2004): linear 5×5 filters that add the local Laplacian of the known
//! channel to bilinear interpolation. A fraction of RCD's cost and far better than bilinear;
//! the cheap full-resolution path when the output is smaller than the sensor but more than
//! half its size, where the downscale that follows averages away the difference from RCD.

use rayon::prelude::*;

use super::neighbour;
use crate::image::{Mosaic, RgbF32};

pub fn demosaic(m: &Mosaic) -> RgbF32 {
    let (w, h) = (m.width, m.height);
    let pattern = [m.cfa.color_at(0, 0), m.cfa.color_at(1, 0), m.cfa.color_at(0, 1), m.cfa.color_at(1, 1)];
    let colour = |x: usize, y: usize| pattern[(y & 1) * 2 + (x & 1)];
    let c = &m.data[..];
    let mut data = vec![[0.0f32; 3]; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        if y < 2 || y + 2 >= h {
            for (x, px) in row.iter_mut().enumerate() {
                *px = neighbour::pixel(m, x, y);
            }
            return;
        }
        for (x, px) in row.iter_mut().enumerate() {
            if x < 2 || x + 2 >= w {
                *px = neighbour::pixel(m, x, y);
                continue;
            }
            let i = y * w + x;
            let at = |dx: isize, dy: isize| c[(i as isize + dy * w as isize + dx) as usize];
            let centre = at(0, 0);
            let cross1 = at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1);
            let cross2 = at(-2, 0) + at(2, 0) + at(0, -2) + at(0, 2);
            let diag = at(-1, -1) + at(1, -1) + at(-1, 1) + at(1, 1);
            let (horiz1, vert1) = (at(-1, 0) + at(1, 0), at(0, -1) + at(0, 1));
            let (horiz2, vert2) = (at(-2, 0) + at(2, 0), at(0, -2) + at(0, 2));
            let own = colour(x, y);
            let mut out = [0.0f32; 3];
            out[own] = centre;
            if own == 1 {
                // Green site: the colour of the horizontal neighbours, then of the vertical ones.
                let along_row = (5.0 * centre + 4.0 * horiz1 - diag - horiz2 + 0.5 * vert2) / 8.0;
                let along_col = (5.0 * centre + 4.0 * vert1 - diag - vert2 + 0.5 * horiz2) / 8.0;
                out[colour(x + 1, y)] = along_row;
                out[colour(x, y + 1)] = along_col;
            } else {
                out[1] = (4.0 * centre + 2.0 * cross1 - cross2) / 8.0;
                out[2 - own] = (6.0 * centre + 2.0 * diag - 1.5 * cross2) / 8.0;
            }
            *px = out.map(|v| v.clamp(0.0, 1.0));
        }
    });
    RgbF32 { width: w, height: h, data }
}
