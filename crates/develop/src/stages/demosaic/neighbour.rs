//! Same-colour neighbour averaging: each missing colour is the mean of that colour's samples
//! in the 3×3 window (5×5 where the 3×3 lacks it). Works for any CFA; also fills the borders
//! that RCD's wide stencils cannot reach.

use super::{by_bands, Band, Input};
use crate::image::{Cfa, Rgb16};
use crate::stages::color::ToSrgb16;

pub fn demosaic(input: &Input, to_srgb: &ToSrgb16) -> Rgb16 {
    let (h, cfa) = (input.height(), input.cfa());
    // The window reaches two rows either side.
    by_bands(input, 2, |band, y, row| {
        for (x, out) in row.iter_mut().enumerate() {
            let [r, g, b] = pixel(band, cfa, h, x, y);
            *out = to_srgb.pixel(r, g, b);
        }
    })
}

/// The pixel at `x`, `y` of a mosaic `height` rows high, from the rows of `band` (which
/// must hold the two rows either side of `y` that exist).
pub(super) fn pixel(band: &Band, cfa: &Cfa, height: usize, x: usize, y: usize) -> [f32; 3] {
    let width = band.width;
    let own = cfa.color_at(x, y);
    let mut out = [0.0f32; 3];
    out[own] = band.row(y)[x];
    let mut found = [false; 3];
    found[own] = true;
    for radius in [1usize, 2] {
        let mut sum = [0.0f32; 3];
        let mut count = [0u32; 3];
        for yy in y.saturating_sub(radius)..=(y + radius).min(height - 1) {
            let first = x.saturating_sub(radius);
            let row = &band.row(yy)[first..=(x + radius).min(width - 1)];
            for (xx, &v) in (first..).zip(row) {
                let c = cfa.color_at(xx, yy);
                sum[c] += v;
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
