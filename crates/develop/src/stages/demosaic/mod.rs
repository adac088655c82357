//! Demosaic: a one-channel mosaic in, linear camera RGB out.
//!
//! - [`Demosaic::Rcd`] (Ratio Corrected Demosaicing, Luis Sanz Rodríguez) for full-size output
//!   from Bayer sensors: sharp, and free of the maze artefacts of AHD.
//! - [`Demosaic::Half`]: one RGB pixel per 2×2 quad, for outputs at or below half the sensor
//!   size, where interpolating full resolution only to throw it away costs time and adds
//!   interpolation error that a good downscale would have averaged out.
//! - [`Demosaic::Neighbour`]: same-colour averaging over the nearest neighbours; correct for
//!   any CFA including Fuji X-Trans (6×6), where RCD and the quad method do not apply.

mod half;
mod neighbour;
mod rcd;

use crate::image::{Cfa, Mosaic, RgbF32};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demosaic {
    Rcd,
    Half,
    Neighbour,
}

impl Demosaic {
    pub fn name(self) -> &'static str {
        match self {
            Demosaic::Rcd => "rcd",
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
            _ => Demosaic::Rcd,
        }
    }
}

/// Runs `method` on `mosaic`. RCD and the quad method need a Bayer pattern; for any other
/// CFA they fall back to the neighbour method rather than produce wrong colours.
pub fn apply(mosaic: &Mosaic, method: Demosaic) -> RgbF32 {
    let bayer = mosaic.cfa.is_bayer() && mosaic.width >= 16 && mosaic.height >= 16;
    match method {
        Demosaic::Rcd if bayer => rcd::demosaic(mosaic),
        Demosaic::Half if bayer => half::demosaic(mosaic),
        _ => neighbour::demosaic(mosaic),
    }
}
