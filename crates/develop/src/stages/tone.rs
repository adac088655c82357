//! The default tone curve and sRGB encoding: linear sRGB in, 8-bit sRGB out.
//!
//! Linear sensor data encoded straight to sRGB looks dark and flat next to a camera JPEG.
//! Cameras expose with headroom for highlights and then lift the mid-tones in their curve
//! (what DNG calls baseline exposure), and add an S-curve: more contrast in the mid-tones,
//! a soft toe and shoulder. We lift by `exposure_ev` with a shoulder that still maps the
//! clip point to white (extended Reinhard), encode to sRGB, and blend with a smoothstep,
//! which keeps black and white where they are.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use crate::image::{Rgb16, Rgb8, RgbF32};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneParams {
    /// Mid-tone lift in stops; the clip point stays white.
    pub exposure_ev: f32,
    /// 0 = plain sRGB; 1 = full smoothstep. Mid-tone slope is 1 + contrast / 2.
    pub contrast: f32,
}

impl Default for ToneParams {
    fn default() -> Self {
        ToneParams { exposure_ev: 0.7, contrast: 0.25 }
    }
}

impl ToneParams {
    /// Plain sRGB encoding, for images that are already developed (camera JPEGs).
    pub const PLAIN: ToneParams = ToneParams { exposure_ev: 0.0, contrast: 0.0 };
}

/// Linear light to the sRGB transfer function, IEC 61966-2-1.
pub fn srgb_encode(v: f32) -> f32 {
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// The sRGB transfer function back to linear light.
pub fn srgb_decode(v: f32) -> f32 {
    if v <= 0.040_45 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear light of each 8-bit sRGB value.
fn decode_table() -> &'static [f32; 256] {
    static TABLE: OnceLock<[f32; 256]> = OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|v| srgb_decode(v as f32 / 255.0)))
}

/// 8-bit sRGB pixels back to linear light.
pub fn srgb8_to_linear(image: &Rgb8) -> RgbF32 {
    let t = decode_table();
    let data = image.data.chunks_exact(3).map(|p| [t[p[0] as usize], t[p[1] as usize], t[p[2] as usize]]);
    RgbF32 { width: image.width, height: image.height, data: data.collect() }
}

/// 8-bit sRGB pixels back to 16-bit linear light.
pub fn srgb8_to_linear16(image: &Rgb8) -> Rgb16 {
    let t = decode_table().map(|v| (v * 65535.0 + 0.5) as u16);
    let data = image.data.chunks_exact(3).map(|p| [t[p[0] as usize], t[p[1] as usize], t[p[2] as usize]]);
    Rgb16 { width: image.width, height: image.height, data: data.collect() }
}

pub fn curve(params: &ToneParams, linear: f32) -> f32 {
    let gain = params.exposure_ev.exp2();
    let v = gain * linear.clamp(0.0, 1.0);
    let lifted = v * (1.0 + v / (gain * gain)) / (1.0 + v);
    let y = srgb_encode(if params.exposure_ev == 0.0 { linear.clamp(0.0, 1.0) } else { lifted });
    let s = y * y * (3.0 - 2.0 * y);
    (1.0 - params.contrast) * y + params.contrast * s
}

/// One entry per 16-bit linear value: the steepest part of sRGB (slope 12.92 near black)
/// then moves less than 0.06 of an 8-bit step per entry.
pub const LUT_SIZE: usize = 1 << 16;

fn lut(params: &ToneParams) -> Vec<u8> {
    (0..LUT_SIZE)
        .map(|i| {
            let v = curve(params, i as f32 / (LUT_SIZE - 1) as f32);
            (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// The tone stage's table: the 8-bit sRGB value of each 16-bit linear value, for R, G and B
/// in turn (3 × [`LUT_SIZE`]; a look may tint the channels apart). The GPU backends upload
/// this very table, so both paths round alike.
pub type Table = Arc<[u8]>;

/// The table of `params`, the same on every channel; the default and plain curves' are
/// made once.
pub fn table(params: &ToneParams) -> Table {
    static DEFAULT: OnceLock<Table> = OnceLock::new();
    static PLAIN: OnceLock<Table> = OnceLock::new();
    let made = || -> Table { lut(params).repeat(3).into() };
    match *params {
        p if p == ToneParams::default() => DEFAULT.get_or_init(made).clone(),
        p if p == ToneParams::PLAIN => PLAIN.get_or_init(made).clone(),
        _ => made(),
    }
}

/// The tone stage: `table` (see [`Table`]) on every channel.
pub fn apply(image: &Rgb16, table: &[u8]) -> Rgb8 {
    let mut data = vec![0u8; image.width * image.height * 3];
    data.par_chunks_mut(3 * 4096).zip(image.data.par_chunks(4096)).for_each(|(out, px)| {
        for (o, p) in out.chunks_exact_mut(3).zip(px) {
            for c in 0..3 {
                o[c] = table[c * LUT_SIZE + p[c] as usize];
            }
        }
    });
    Rgb8 { width: image.width, height: image.height, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_keeps_endpoints_and_is_monotonic() {
        let p = ToneParams::default();
        assert_eq!(curve(&p, 0.0), 0.0);
        assert!((curve(&p, 1.0) - 1.0).abs() < 1e-6);
        let table = lut(&p);
        assert!(table.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(table[0], 0);
        assert_eq!(table[LUT_SIZE - 1], 255);
    }

    #[test]
    fn srgb_round_trips() {
        for i in 0..=100 {
            let v = i as f32 / 100.0;
            assert!((srgb_decode(srgb_encode(v)) - v).abs() < 1e-5);
        }
    }
}
