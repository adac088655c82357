//! CIELAB (D65) and the CIEDE2000 colour difference: how far apart two renderings look,
//! which the look's fit (chroma) and its tests (against the camera's JPEG) measure.

use crate::image::Rgb8;
use crate::stages::tone::srgb_decode;

/// CIELAB of an sRGB colour given as encoded values in 0..=1.
pub fn srgb_to_lab(rgb: [f32; 3]) -> [f32; 3] {
    linear_to_lab(rgb.map(srgb_decode))
}

/// CIELAB of a linear sRGB colour.
pub fn linear_to_lab([r, g, b]: [f32; 3]) -> [f32; 3] {
    // Linear sRGB to XYZ, relative to D65's white.
    let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / 0.950_47;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b) / 1.088_83;
    let f = |t: f32| if t > 216.0 / 24389.0 { t.cbrt() } else { (24389.0 / 27.0 * t + 16.0) / 116.0 };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIELAB of each pixel of an 8-bit sRGB image.
pub fn image_lab(image: &Rgb8) -> Vec<[f32; 3]> {
    image.data.chunks_exact(3).map(|p| srgb_to_lab([p[0], p[1], p[2]].map(|v| v as f32 / 255.0))).collect()
}

/// Chroma, C*: how colourful a CIELAB colour is.
pub fn chroma(lab: [f32; 3]) -> f32 {
    lab[1].hypot(lab[2])
}

/// CIEDE2000 (Sharma, Wu and Dalal's formulation, kL = kC = kH = 1).
pub fn ciede2000(lab1: [f32; 3], lab2: [f32; 3]) -> f64 {
    use std::f64::consts::PI;
    let [l1, a1, b1] = lab1.map(f64::from);
    let [l2, a2, b2] = lab2.map(f64::from);
    let c_mean = (a1.hypot(b1) + a2.hypot(b2)) / 2.0;
    let g = 0.5 * (1.0 - (c_mean.powi(7) / (c_mean.powi(7) + 25f64.powi(7))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = (a1p.hypot(b1), a2p.hypot(b2));
    let hue = |b: f64, a: f64| if a == 0.0 && b == 0.0 { 0.0 } else { b.atan2(a).rem_euclid(2.0 * PI) };
    let (h1p, h2p) = (hue(b1, a1p), hue(b2, a2p));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dh = if c1p * c2p == 0.0 {
        0.0
    } else {
        let d = h2p - h1p;
        if d > PI {
            d - 2.0 * PI
        } else if d < -PI {
            d + 2.0 * PI
        } else {
            d
        }
    };
    let dh_big = 2.0 * (c1p * c2p).sqrt() * (dh / 2.0).sin();
    let l_mean = (l1 + l2) / 2.0;
    let c_mean_p = (c1p + c2p) / 2.0;
    let h_mean = if c1p * c2p == 0.0 {
        h1p + h2p
    } else if (h1p - h2p).abs() <= PI {
        (h1p + h2p) / 2.0
    } else if h1p + h2p < 2.0 * PI {
        (h1p + h2p + 2.0 * PI) / 2.0
    } else {
        (h1p + h2p - 2.0 * PI) / 2.0
    };
    let t = 1.0 - 0.17 * (h_mean - PI / 6.0).cos()
        + 0.24 * (2.0 * h_mean).cos()
        + 0.32 * (3.0 * h_mean + PI / 30.0).cos()
        - 0.20 * (4.0 * h_mean - 63.0 * PI / 180.0).cos();
    let d_theta = PI / 6.0 * (-((h_mean * 180.0 / PI - 275.0) / 25.0).powi(2)).exp();
    let rc = 2.0 * (c_mean_p.powi(7) / (c_mean_p.powi(7) + 25f64.powi(7))).sqrt();
    let sl = 1.0 + 0.015 * (l_mean - 50.0).powi(2) / (20.0 + (l_mean - 50.0).powi(2)).sqrt();
    let sc = 1.0 + 0.045 * c_mean_p;
    let sh = 1.0 + 0.015 * c_mean_p * t;
    let rt = -(2.0 * d_theta).sin() * rc;
    ((dl / sl).powi(2) + (dc / sc).powi(2) + (dh_big / sh).powi(2) + rt * (dc / sc) * (dh_big / sh)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciede2000_matches_sharmas_published_pairs() {
        // Pairs 1, 7, 17 and 25 of Sharma, Wu and Dalal (2005), table 1.
        let pairs = [
            ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
            ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
            ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
            ([60.2574, -34.0099, 36.2677], [60.4626, -34.1751, 39.4387], 1.2644),
        ];
        for (a, b, expected) in pairs {
            let d = ciede2000(a, b);
            assert!((d - expected).abs() < 1e-3, "{a:?} {b:?}: {d} (expected {expected})");
        }
    }

    #[test]
    fn white_and_black_are_the_ends_of_lightness() {
        let white = srgb_to_lab([1.0; 3]);
        assert!((white[0] - 100.0).abs() < 0.05 && chroma(white) < 0.05, "{white:?}");
        assert!(srgb_to_lab([0.0; 3])[0].abs() < 1e-3);
    }
}
