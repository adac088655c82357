//! Demosaic: a one-channel mosaic in, 16-bit linear sRGB out. Each method applies the
//! colour matrix ([`ToSrgb16`], the `color` stage) as it writes a pixel, so the
//! floating-point camera image is never stored whole.
//!
//! - [`Demosaic::Rcd`] (Ratio Corrected Demosaicing, Luis Sanz Rodríguez) for full-size output
//!   from Bayer sensors: sharp, and free of the maze artefacts of AHD.
//! - [`Demosaic::Mhc`] (Malvar–He–Cutler) for outputs smaller than the sensor but more than
//!   half its size: a few linear filters, several times cheaper than RCD, and the downscale
//!   that follows averages away what RCD would add.
//! - [`Demosaic::Half`]: one RGB pixel per 2×2 quad, for outputs at or below half the sensor
//!   size, where interpolating full resolution only to throw it away costs time and adds
//!   interpolation error that a good downscale would have averaged out.
//! - [`Demosaic::Neighbour`]: same-colour averaging over the nearest neighbours; correct for
//!   any CFA including Fuji X-Trans (6×6), where RCD and the quad method do not apply.

mod half;
mod mhc;
mod neighbour;
mod rcd;

use std::borrow::Cow;

use crate::image::{Cfa, Mosaic, Rgb16, RgbF32};
use crate::stages::color::ToSrgb16;
use crate::stages::levels::Levels;

/// Where a demosaic reads its mosaic from, a band of rows at a time.
pub enum Input<'a> {
    /// A levelled mosaic held whole (the tests that measure a demosaic on its own).
    Mosaic(&'a Mosaic),
    /// The sensor data, levelled as each band is read: the develop path, which never
    /// stores the whole float mosaic (see `stages::levels`).
    Sensor(&'a Levels<'a>),
}

impl Input<'_> {
    pub fn width(&self) -> usize {
        match self {
            Input::Mosaic(m) => m.width,
            Input::Sensor(l) => l.width,
        }
    }

    pub fn height(&self) -> usize {
        match self {
            Input::Mosaic(m) => m.height,
            Input::Sensor(l) => l.height,
        }
    }

    pub fn cfa(&self) -> &Cfa {
        match self {
            Input::Mosaic(m) => &m.cfa,
            Input::Sensor(l) => &l.cfa,
        }
    }

    /// Rows `y0..y1` (clamped to the image): borrowed from a whole mosaic, levelled from
    /// the sensor data otherwise.
    fn band(&self, y0: usize, y1: usize) -> Band<'_> {
        let (w, y1) = (self.width(), y1.min(self.height()));
        let data = match self {
            Input::Mosaic(m) => Cow::Borrowed(&m.data[y0 * w..y1 * w]),
            Input::Sensor(l) => Cow::Owned(l.rows(y0, y1)),
        };
        Band { y0, width: w, data }
    }
}

/// Some consecutive rows of the mosaic, addressed by their row in the image.
struct Band<'a> {
    y0: usize,
    width: usize,
    data: Cow<'a, [f32]>,
}

impl Band<'_> {
    /// Image row `y`, which must lie in the band.
    #[inline(always)]
    fn row(&self, y: usize) -> &[f32] {
        &self.data[(y - self.y0) * self.width..][..self.width]
    }
}

/// Output rows per band for the methods that read two rows either side of each output
/// row: the apron is then re-levelled for 4 rows in 64.
const BAND_ROWS: usize = 64;

/// The full-size output of `input`, in parallel bands of [`BAND_ROWS`] rows: each band
/// reads its rows and `reach` more either side, and `row(band, y, out)` writes row `y`.
fn by_bands(input: &Input, reach: usize, row: impl Fn(&Band, usize, &mut [[u16; 3]]) + Sync) -> Rgb16 {
    use rayon::prelude::*;
    let (w, h) = (input.width(), input.height());
    let mut data = vec![[0u16; 3]; w * h];
    data.par_chunks_mut(w * BAND_ROWS).enumerate().for_each(|(chunk, rows)| {
        let first = chunk * BAND_ROWS;
        let band = input.band(first.saturating_sub(reach), first + rows.len() / w + reach);
        for (i, out) in rows.chunks_mut(w).enumerate() {
            row(&band, first + i, out);
        }
    });
    Rgb16 { width: w, height: h, data }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demosaic {
    Rcd,
    Mhc,
    Half,
    Neighbour,
}

impl Demosaic {
    pub fn name(self) -> &'static str {
        match self {
            Demosaic::Rcd => "rcd",
            Demosaic::Mhc => "mhc",
            Demosaic::Half => "half",
            Demosaic::Neighbour => "neighbour",
        }
    }

    /// The method for a mosaic of `width`×`height` that will be shown at `long_edge` pixels
    /// on its longer side (None: full size).
    pub fn choose(cfa: &Cfa, width: usize, height: usize, long_edge: Option<usize>) -> Demosaic {
        if !cfa.is_bayer() {
            return Demosaic::Neighbour;
        }
        match long_edge {
            Some(edge) if edge * 2 <= width.max(height) => Demosaic::Half,
            Some(edge) if edge < width.max(height) => Demosaic::Mhc,
            _ => Demosaic::Rcd,
        }
    }
}

/// The method that runs when `method` is asked for on a `width`×`height` mosaic of `cfa`:
/// RCD, MHC and the quad method need a Bayer pattern (and room for their stencils); for
/// any other CFA the neighbour method runs rather than produce wrong colours.
pub fn effective(method: Demosaic, cfa: &Cfa, width: usize, height: usize) -> Demosaic {
    let bayer = cfa.is_bayer() && width >= 16 && height >= 16;
    if bayer {
        method
    } else {
        Demosaic::Neighbour
    }
}

/// Runs `method` (or the one that applies, see [`effective`]) on `input`.
pub fn apply(input: &Input, method: Demosaic, to_srgb: &ToSrgb16) -> Rgb16 {
    match effective(method, input.cfa(), input.width(), input.height()) {
        Demosaic::Rcd => rcd::demosaic(input, to_srgb),
        Demosaic::Mhc => mhc::demosaic(input, to_srgb),
        Demosaic::Half => half::demosaic(input, to_srgb),
        Demosaic::Neighbour => neighbour::demosaic(input, to_srgb),
    }
}

/// `method` on `mosaic` without the colour matrix: camera RGB, for measuring the demosaic.
pub fn camera_rgb(mosaic: &Mosaic, method: Demosaic) -> RgbF32 {
    apply(&Input::Mosaic(mosaic), method, &ToSrgb16::IDENTITY).to_f32()
}

/// Helpers for the demosaic tests: a smooth image, its mosaic, and the worst error.
#[cfg(test)]
pub(crate) mod testing {
    use crate::image::{Cfa, Mosaic, RgbF32};

    /// A smooth colour gradient, where every method should come back nearly exact.
    pub fn gradient(w: usize, h: usize) -> Vec<[f32; 3]> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 / w as f32, (i / w) as f32 / h as f32);
                [0.2 + 0.5 * x, 0.3 + 0.3 * y, 0.6 - 0.4 * x * y]
            })
            .collect()
    }

    pub fn mosaic_of(truth: &[[f32; 3]], w: usize, h: usize, cfa: Cfa) -> Mosaic {
        let data = (0..w * h).map(|i| truth[i][cfa.color_at(i % w, i / w)]).collect();
        Mosaic { width: w, height: h, data, cfa }
    }

    pub fn errors(out: &RgbF32, truth: &[[f32; 3]]) -> Vec<f32> {
        out.data.iter().zip(truth).flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).abs())).collect()
    }

    pub fn worst(out: &RgbF32, truth: &[[f32; 3]]) -> f32 {
        errors(out, truth).into_iter().fold(0.0, f32::max)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{errors, gradient, mosaic_of, worst};
    use super::*;

    /// Fuji X-Trans: 6×6, 20 greens, 8 reds, 8 blues.
    fn xtrans() -> Cfa {
        let rows = ["GBGGRG", "RGRBGB", "GBGGRG", "GRGGBG", "BGBRGR", "GRGGBG"];
        let colors = rows
            .iter()
            .flat_map(|r| {
                r.bytes().map(|b| match b {
                    b'R' => 0,
                    b'G' => 1,
                    _ => 2,
                })
            })
            .collect();
        Cfa { width: 6, height: 6, colors }
    }

    #[test]
    fn xtrans_takes_the_neighbour_method_and_gets_the_colours_right() {
        let cfa = xtrans();
        assert_eq!(Demosaic::choose(&cfa, 6000, 4000, None), Demosaic::Neighbour);
        assert_eq!(Demosaic::choose(&cfa, 6000, 4000, Some(1000)), Demosaic::Neighbour);
        let (w, h) = (60, 42);
        let truth = gradient(w, h);
        // RCD is asked for, but it cannot read an X-Trans mosaic: the neighbour method runs.
        let out = camera_rgb(&mosaic_of(&truth, w, h, cfa), Demosaic::Rcd);
        let errors = errors(&out, &truth);
        let mean = errors.iter().sum::<f32>() / errors.len() as f32;
        let worst = errors.iter().copied().fold(0.0, f32::max);
        assert!(mean < 0.005 && worst < 0.03, "mean {mean}, worst {worst}");
    }

    #[test]
    fn every_bayer_method_reconstructs_a_smooth_image() {
        let (w, h) = (50, 34);
        let truth = gradient(w, h);
        let mosaic = mosaic_of(&truth, w, h, Cfa::rggb().shifted(1, 0));
        for method in [Demosaic::Rcd, Demosaic::Mhc, Demosaic::Neighbour] {
            let worst = worst(&camera_rgb(&mosaic, method), &truth);
            assert!(worst < 0.03, "{}: worst error {worst}", method.name());
        }
        let half = camera_rgb(&mosaic, Demosaic::Half);
        assert_eq!((half.width, half.height), (w / 2, h / 2));
    }

    #[test]
    fn each_method_is_chosen_for_its_output_size() {
        let bayer = Cfa::rggb();
        assert_eq!(Demosaic::choose(&bayer, 6000, 4000, Some(3000)), Demosaic::Half);
        assert_eq!(Demosaic::choose(&bayer, 6000, 4000, Some(3001)), Demosaic::Mhc);
        assert_eq!(Demosaic::choose(&bayer, 6000, 4000, Some(6000)), Demosaic::Rcd);
        assert_eq!(Demosaic::choose(&bayer, 6000, 4000, None), Demosaic::Rcd);
    }
}
