//! The default tone curve and sRGB encoding: linear sRGB in, 8-bit sRGB out.
//!
//! Linear sensor data encoded straight to sRGB looks flat next to a camera JPEG. Cameras
//! add an S-curve: more contrast in the mid-tones, a soft toe and shoulder so shadows and
//! highlights roll off instead of clipping hard. We blend the sRGB-encoded value with a
//! smoothstep, which keeps black, mid-grey and white where they are.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::image::{Rgb8, RgbF32};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneParams {
    /// 0 = plain sRGB; 1 = full smoothstep. Mid-tone slope is 1 + contrast / 2.
    pub contrast: f32,
}

impl Default for ToneParams {
    fn default() -> Self {
        ToneParams { contrast: 0.3 }
    }
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

/// 8-bit sRGB pixels back to linear light.
pub fn srgb8_to_linear(image: &Rgb8) -> RgbF32 {
    static TABLE: OnceLock<[f32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| std::array::from_fn(|v| srgb_decode(v as f32 / 255.0)));
    let data = image.data.chunks_exact(3);
    let data = data
        .map(|p| {
            [
                table[p[0] as usize],
                table[p[1] as usize],
                table[p[2] as usize],
            ]
        })
        .collect();
    RgbF32 {
        width: image.width,
        height: image.height,
        data,
    }
}

pub fn curve(params: &ToneParams, linear: f32) -> f32 {
    let y = srgb_encode(linear.clamp(0.0, 1.0));
    let s = y * y * (3.0 - 2.0 * y);
    (1.0 - params.contrast) * y + params.contrast * s
}

/// Linear values are looked up at 16-bit precision: the steepest part of sRGB (slope 12.92
/// near black) then moves less than 0.06 of an 8-bit step per entry.
const LUT_SIZE: usize = 1 << 16;

fn lut(params: &ToneParams) -> Vec<u8> {
    (0..LUT_SIZE)
        .map(|i| {
            let v = curve(params, i as f32 / (LUT_SIZE - 1) as f32);
            (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8
        })
        .collect()
}

fn default_lut() -> &'static [u8] {
    static LUT: OnceLock<Vec<u8>> = OnceLock::new();
    LUT.get_or_init(|| lut(&ToneParams::default()))
}

pub fn apply(image: &RgbF32, params: &ToneParams) -> Rgb8 {
    let owned;
    let table = if *params == ToneParams::default() {
        default_lut()
    } else {
        owned = lut(params);
        &owned
    };
    let scale = (LUT_SIZE - 1) as f32;
    let mut data = vec![0u8; image.width * image.height * 3];
    data.par_chunks_mut(3 * 4096)
        .zip(image.data.par_chunks(4096))
        .for_each(|(out, px)| {
            for (o, p) in out.chunks_exact_mut(3).zip(px) {
                for c in 0..3 {
                    // NaN and negatives (colour-matrix overshoot) land on black.
                    let i = (p[c].clamp(0.0, 1.0) * scale + 0.5) as usize;
                    o[c] = table[i];
                }
            }
        });
    Rgb8 {
        width: image.width,
        height: image.height,
        data,
    }
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
