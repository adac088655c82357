//! Malvar–He–Cutler (2004): linear 5×5 filters that add the local Laplacian of the known
//! channel to bilinear interpolation. A fraction of RCD's cost and far better than bilinear;
//! the cheap full-resolution path when the output is smaller than the sensor but more than
//! half its size, where the downscale that follows averages away the difference from RCD.

use super::{by_bands, neighbour, Band, Input};
use crate::image::{Cfa, Rgb16};
use crate::stages::color::ToSrgb16;

pub fn demosaic(input: &Input, to_srgb: &ToSrgb16) -> Rgb16 {
    let (w, h, cfa) = (input.width(), input.height(), input.cfa());
    // The 5×5 filters reach two rows either side.
    by_bands(input, 2, |band, y, row| {
        let border = |x: usize, px: &mut [u16; 3]| {
            let [r, g, b] = neighbour::pixel(band, cfa, h, x, y);
            *px = to_srgb.pixel(r, g, b);
        };
        if y < 2 || y + 2 >= h {
            row.iter_mut().enumerate().for_each(|(x, px)| border(x, px));
            return;
        }
        interior_row(band, cfa, y, &mut row[2..w - 2], to_srgb);
        for x in [0, 1, w - 2, w - 1] {
            border(x, &mut row[x]);
        }
    })
}

fn interior_row(band: &Band, cfa: &Cfa, y: usize, out: &mut [[u16; 3]], to_srgb: &ToSrgb16) {
    let n = out.len();
    let at = |dx: isize, dy: isize| {
        let start = (2 + dx) as usize;
        &band.row((y as isize + dy) as usize)[start..start + n]
    };
    let centre = at(0, 0);
    let (west, east, north, south) = (at(-1, 0), at(1, 0), at(0, -1), at(0, 1));
    let (west2, east2, north2, south2) = (at(-2, 0), at(2, 0), at(0, -2), at(0, 2));
    let (nw, ne, sw, se) = (at(-1, -1), at(1, -1), at(-1, 1), at(1, 1));
    // Column parity (from x = 2) of this row's green sites, and whether its other colour is red.
    let greens = usize::from(cfa.color_at(2, y) != 1);
    let red_row = cfa.color_at(2, y) == 0 || cfa.color_at(3, y) == 0;
    for (k, px) in out.iter_mut().enumerate() {
        let c = centre[k];
        let (horiz1, vert1) = (west[k] + east[k], north[k] + south[k]);
        let (horiz2, vert2) = (west2[k] + east2[k], north2[k] + south2[k]);
        let diag = nw[k] + ne[k] + sw[k] + se[k];
        // At a red or blue site: green, and the opposite chroma colour.
        let green_here = (4.0 * c + 2.0 * (horiz1 + vert1) - (horiz2 + vert2)) / 8.0;
        let opposite = (6.0 * c + 2.0 * diag - 1.5 * (horiz2 + vert2)) / 8.0;
        // At a green site: the colour of the horizontal neighbours, then of the vertical ones.
        let along_row = (5.0 * c + 4.0 * horiz1 - diag - horiz2 + 0.5 * vert2) / 8.0;
        let along_col = (5.0 * c + 4.0 * vert1 - diag - vert2 + 0.5 * horiz2) / 8.0;
        let (r, g, b) = match (k & 1 == greens, red_row) {
            (true, true) => (along_row, c, along_col),
            (true, false) => (along_col, c, along_row),
            (false, true) => (c, green_here, opposite),
            (false, false) => (opposite, green_here, c),
        };
        *px = to_srgb.pixel(r, g, b);
    }
}
