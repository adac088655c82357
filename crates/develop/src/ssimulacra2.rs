//! SSIMULACRA2 (Jon Sneyers, libjxl): the score the quality search aims at.
//!
//! Computed as the `ssimulacra2` crate computes it — the same XYB colour space, recursive
//! Gaussian, per-scale SSIM and edge features and weights; a test holds the two to within
//! 0.01 — but split in two halves. A search scores one reference against several
//! candidates, so the reference's half (its XYB planes at every scale, their blur and the
//! blur of their squares) is computed once, in [`Reference::new`]; each candidate then costs
//! one colour conversion instead of two and three blurs per scale instead of five.

/// Scales in the pyramid, each half the size of the one before.
const SCALES: usize = 6;

/// The reference image's half of the computation, for scoring any number of candidates.
pub struct Reference {
    width: usize,
    height: usize,
    scales: Vec<ScalePlanes>,
}

/// One scale of the reference: XYB planes, their blur (μ) and the blur of their squares.
struct ScalePlanes {
    width: usize,
    height: usize,
    xyb: [Vec<f32>; 3],
    mu: [Vec<f32>; 3],
    blurred_sq: [Vec<f32>; 3],
}

impl Reference {
    /// `linear` is linear-light RGB, `width`×`height`, at least 8×8.
    pub fn new(linear: Vec<[f32; 3]>, width: usize, height: usize) -> Result<Reference, String> {
        if width < 8 || height < 8 || linear.len() != width * height {
            return Err(format!("ssimulacra2 needs an image of at least 8×8, got {width}×{height}"));
        }
        let mut scales = Vec::with_capacity(SCALES);
        let mut blur = Blur::default();
        for_each_scale(linear, width, height, |xyb, w, h| {
            let mu = xyb.each_ref().map(|p| blur.apply(p, w, h));
            let blurred_sq = xyb.each_ref().map(|p| blur.apply(&multiply(p, p), w, h));
            scales.push(ScalePlanes { width: w, height: h, xyb, mu, blurred_sq });
        });
        Ok(Reference { width, height, scales })
    }

    /// The score of `distorted` (linear-light RGB of the reference's size): 100 for
    /// identical, 90 visually lossless, lower for worse.
    pub fn score(&self, distorted: Vec<[f32; 3]>) -> Result<f64, String> {
        if distorted.len() != self.width * self.height {
            return Err("ssimulacra2: the images differ in size".to_string());
        }
        let mut features = Vec::with_capacity(SCALES);
        let mut blur = Blur::default();
        let mut level = self.scales.iter();
        for_each_scale(distorted, self.width, self.height, |xyb, w, h| {
            let Some(r) = level.next() else { return };
            debug_assert_eq!((r.width, r.height), (w, h));
            let mu = xyb.each_ref().map(|p| blur.apply(p, w, h));
            let blurred_sq = xyb.each_ref().map(|p| blur.apply(&multiply(p, p), w, h));
            let blurred_cross: [Vec<f32>; 3] =
                std::array::from_fn(|c| blur.apply(&multiply(&r.xyb[c], &xyb[c]), w, h));
            let ssim = std::array::from_fn(|c| {
                ssim_features(&r.mu[c], &mu[c], &r.blurred_sq[c], &blurred_sq[c], &blurred_cross[c])
            });
            let edges = std::array::from_fn(|c| edge_features(&r.xyb[c], &r.mu[c], &xyb[c], &mu[c]));
            features.push((ssim, edges));
        });
        Ok(combine(&features))
    }
}

/// Runs `f` on the XYB planes of each scale of `linear`, halving it between scales the way
/// the reference implementation does: a scale is made while the one before is at least 8×8.
fn for_each_scale(
    mut linear: Vec<[f32; 3]>,
    mut width: usize,
    mut height: usize,
    mut f: impl FnMut([Vec<f32>; 3], usize, usize),
) {
    for scale in 0..SCALES {
        if width < 8 || height < 8 {
            break;
        }
        if scale > 0 {
            (linear, width, height) = downscale_by_2(&linear, width, height);
        }
        f(positive_xyb_planes(&linear), width, height);
    }
}

fn downscale_by_2(input: &[[f32; 3]], width: usize, height: usize) -> (Vec<[f32; 3]>, usize, usize) {
    let (out_w, out_h) = (width.div_ceil(2), height.div_ceil(2));
    let mut out = vec![[0.0f32; 3]; out_w * out_h];
    for (oy, row) in out.chunks_exact_mut(out_w).enumerate() {
        let (y0, y1) = (2 * oy, (2 * oy + 1).min(height - 1));
        for (ox, px) in row.iter_mut().enumerate() {
            let (x0, x1) = (2 * ox, (2 * ox + 1).min(width - 1));
            for (c, v) in px.iter_mut().enumerate() {
                let sum = input[y0 * width + x0][c]
                    + input[y0 * width + x1][c]
                    + input[y1 * width + x0][c]
                    + input[y1 * width + x1][c];
                *v = sum * 0.25;
            }
        }
    }
    (out, out_w, out_h)
}

/// Linear RGB to XYB (JPEG XL's opsin absorbance, cube root, opponent channels), shifted
/// into roughly 0..1 as SSIMULACRA2 takes it, as three planes.
fn positive_xyb_planes(linear: &[[f32; 3]]) -> [Vec<f32>; 3] {
    const M: [[f32; 3]; 3] = [
        [0.30, 1.0 - 0.078 - 0.30, 0.078],
        [0.23, 1.0 - 0.078 - 0.23, 0.078],
        [0.243_422_69, 0.204_767_45, 1.0 - 0.243_422_69 - 0.204_767_45],
    ];
    const BIAS: f32 = 0.003_793_073_4;
    let bias_cbrt = BIAS.cbrt();
    let mut planes: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; linear.len()]);
    let [px, py, pb] = &mut planes;
    for (((&[r, g, b], x_out), y_out), b_out) in linear.iter().zip(px).zip(py).zip(pb) {
        let mixed = |m: &[f32; 3]| {
            cube_root((m[0].mul_add(r, m[1].mul_add(g, m[2].mul_add(b, BIAS)))).max(0.0)) - bias_cbrt
        };
        let (l, m, s) = (mixed(&M[0]), mixed(&M[1]), mixed(&M[2]));
        let (x, y) = (0.5 * (l - m), 0.5 * (l + m));
        *x_out = x.mul_add(14.0, 0.42);
        *y_out = y + 0.01;
        *b_out = (s - y) + 0.55;
    }
    planes
}

/// The cube root of `v` ≥ 0, as libm's `cbrtf` gives it (the score at high qualities is
/// that sensitive): a first guess from the exponent (a third of the bits, re-biased), two
/// Newton steps in f32 and a last one in f64. `cbrtf` was a fifth of the quality search's
/// time; this one inlines and vectorises.
#[inline(always)]
fn cube_root(v: f32) -> f32 {
    let mut y = f32::from_bits(v.to_bits() / 3 + 0x2a51_37a0);
    for _ in 0..2 {
        y = (2.0 * y + v / (y * y)) * (1.0 / 3.0);
    }
    let (y, v) = (f64::from(y), f64::from(v));
    ((2.0 * y + v / (y * y)) * (1.0 / 3.0)) as f32
}

fn multiply(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x * y).collect()
}

/// Mean and 4-norm of the SSIM error map of one plane.
fn ssim_features(mu1: &[f32], mu2: &[f32], s11: &[f32], s22: &[f32], s12: &[f32]) -> [f64; 2] {
    const C2: f32 = 0.0009;
    let mut sums = [0.0f64; 2];
    for i in 0..mu1.len() {
        let (m1, m2) = (mu1[i], mu2[i]);
        let diff = m1 - m2;
        let num_m = diff.mul_add(-diff, 1.0);
        let num_s = 2f32.mul_add(s12[i] - m1 * m2, C2);
        let denom_s = (s11[i] - m1 * m1) + (s22[i] - m2 * m2) + C2;
        let d = (1.0 - f64::from((num_m * num_s) / denom_s)).max(0.0);
        sums[0] += d;
        sums[1] += d.powi(4);
    }
    let n = mu1.len() as f64;
    [sums[0] / n, (sums[1] / n).sqrt().sqrt()]
}

/// Mean and 4-norm of the ringing/blocking (detail added) and blur (detail lost) maps.
fn edge_features(img1: &[f32], mu1: &[f32], img2: &[f32], mu2: &[f32]) -> [f64; 4] {
    let mut sums = [0.0f64; 4];
    for i in 0..img1.len() {
        let d =
            (1.0 + f64::from((img2[i] - mu2[i]).abs())) / (1.0 + f64::from((img1[i] - mu1[i]).abs())) - 1.0;
        let (artifact, lost) = (d.max(0.0), (-d).max(0.0));
        sums[0] += artifact;
        sums[1] += artifact.powi(4);
        sums[2] += lost;
        sums[3] += lost.powi(4);
    }
    let n = img1.len() as f64;
    [sums[0] / n, (sums[1] / n).sqrt().sqrt(), sums[2] / n, (sums[3] / n).sqrt().sqrt()]
}

/// One scale's features per channel: SSIM (mean, 4-norm) and edges (artefact mean and
/// 4-norm, detail-lost mean and 4-norm).
type ScaleFeatures = ([[f64; 2]; 3], [[f64; 4]; 3]);

/// The weighted sum of every feature of every scale, mapped to the 0–100 score.
fn combine(features: &[ScaleFeatures]) -> f64 {
    let mut sum = 0.0f64;
    let mut weights = WEIGHTS.iter();
    for c in 0..3 {
        for (ssim, edges) in features {
            for n in 0..2 {
                for value in [ssim[c][n], edges[c][n], edges[c][n + 2]] {
                    sum = weights.next().copied().unwrap_or(0.0).mul_add(value.abs(), sum);
                }
            }
        }
    }
    let s = sum * 0.956_238_261_683_484_4;
    let s = (6.248_496_625_763_138e-5 * s * s)
        .mul_add(s, 2.326_765_642_916_932f64.mul_add(s, -0.020_884_521_182_843_837 * s * s));
    if s > 0.0 {
        s.powf(0.627_633_646_783_138_7).mul_add(-10.0, 100.0)
    } else {
        100.0
    }
}

/// A Gaussian blur of σ = 1.5 as a recursive filter (Charalampidis 2016, "Recursive
/// Implementation of the Gaussian Filter Using Truncated Cosine Functions"): three
/// second-order sections over a window of radius 5, each pass linear in the image size.
#[derive(Default)]
struct Blur {
    temp: Vec<f32>,
    turned: Vec<f32>,
}

/// The filter's constants for σ = 1.5, derived as in the paper (equations 33–57).
const RADIUS: usize = 5;
const MUL_IN: [f32; 3] = [0.055_295_236, -0.058_836_687, 0.012_955_819];
const MUL_PREV: [f32; 3] = [1.902_113_1, 1.175_570_5, 0.000_000_000_000_000_122_464_69];

impl Blur {
    /// The filter down the columns, then along the rows as down the columns of the
    /// transposed image: the recursion runs along memory for a whole row of columns at a
    /// time, which vectorises, where a pass along each row is one long dependency chain.
    /// The two passes are linear and pad with zeros alike, so their order does not matter.
    fn apply(&mut self, plane: &[f32], width: usize, height: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; plane.len()];
        self.temp.resize(plane.len(), 0.0);
        self.turned.resize(plane.len(), 0.0);
        transpose(plane, &mut self.turned, width, height);
        vertical(&self.turned, &mut self.temp, height, width);
        transpose(&self.temp, &mut self.turned, height, width);
        vertical(&self.turned, &mut out, width, height);
        out
    }
}

/// `input` (`width`×`height`) transposed into `output` (`height`×`width`), in blocks that
/// stay in cache.
fn transpose(input: &[f32], output: &mut [f32], width: usize, height: usize) {
    const BLOCK: usize = 32;
    for y0 in (0..height).step_by(BLOCK) {
        for x0 in (0..width).step_by(BLOCK) {
            for y in y0..(y0 + BLOCK).min(height) {
                for x in x0..(x0 + BLOCK).min(width) {
                    output[x * height + y] = input[y * width + x];
                }
            }
        }
    }
}

/// The same filter down the columns, a whole row of columns at a time so the inner loop
/// runs along memory and vectorises.
fn vertical(input: &[f32], output: &mut [f32], width: usize, height: usize) {
    let n_rad = RADIUS as isize;
    let zeros = vec![0.0f32; width];
    let mut prev: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; width]);
    let mut prev2: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; width]);
    let mut sum = vec![0.0f32; width];
    let row = |y: isize| {
        if y >= 0 && y < height as isize {
            &input[y as usize * width..][..width]
        } else {
            &zeros[..]
        }
    };
    for n in (1 - n_rad)..height as isize {
        let (top, bottom) = (row(n - n_rad - 1), row(n + n_rad - 1));
        for ((s, t), b) in sum.iter_mut().zip(top).zip(bottom) {
            *s = t + b;
        }
        let mut out_row = if n >= 0 { Some(&mut output[n as usize * width..][..width]) } else { None };
        if let Some(out) = out_row.as_deref_mut() {
            out.fill(0.0);
        }
        for k in 0..3 {
            let (p, p2) = (&mut prev[k], &mut prev2[k]);
            for x in 0..width {
                let out = sum[x].mul_add(MUL_IN[k], -(-MUL_PREV[k]).mul_add(p[x], p2[x]));
                p2[x] = p[x];
                p[x] = out;
            }
            if let Some(out) = out_row.as_deref_mut() {
                for (o, v) in out.iter_mut().zip(p.iter()) {
                    *o += v;
                }
            }
        }
    }
}

/// libjxl's weights for the 108 features: 3 channels × 6 scales × 2 norms × (SSIM, artefact,
/// detail lost).
const WEIGHTS: [f64; 108] = [
    0.0,
    0.000_737_660_670_740_658_6,
    0.0,
    0.0,
    0.000_779_348_168_286_730_9,
    0.0,
    0.0,
    0.000_437_115_573_010_737_9,
    0.0,
    1.104_172_642_665_734_6,
    0.000_662_848_341_292_71,
    0.000_152_316_327_837_187_52,
    0.0,
    0.001_640_643_745_659_975_4,
    0.0,
    1.842_245_552_053_929_8,
    11.441_172_603_757_666,
    0.0,
    0.000_798_910_943_601_516_3,
    0.000_176_816_438_078_653,
    0.0,
    1.878_759_497_954_638_7,
    10.949_069_906_051_42,
    0.0,
    0.000_728_934_699_150_807_2,
    0.967_793_708_062_683_3,
    0.0,
    0.000_140_034_242_854_358_84,
    0.998_176_697_785_496_7,
    0.000_319_497_559_344_350_53,
    0.000_455_099_211_379_206_3,
    0.0,
    0.0,
    0.001_364_876_616_324_339_8,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    7.466_890_328_078_848,
    0.0,
    17.445_833_984_131_262,
    0.000_623_560_163_404_146_6,
    0.0,
    0.0,
    6.683_678_146_179_332,
    0.000_377_244_079_796_112_96,
    1.027_889_937_768_264,
    225.205_153_008_492_74,
    0.0,
    0.0,
    19.213_238_186_143_016,
    0.001_140_152_458_661_836_1,
    0.001_237_755_635_509_985,
    176.393_175_984_506_94,
    0.0,
    0.0,
    24.433_009_998_704_76,
    0.285_208_026_121_177_57,
    0.000_448_543_692_383_340_8,
    0.0,
    0.0,
    0.0,
    34.779_063_444_837_72,
    44.835_625_328_877_896,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.000_868_055_657_329_169_8,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.000_531_319_187_435_874_7,
    0.0,
    0.000_165_338_141_613_791_12,
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    0.000_417_917_180_325_133_6,
    0.001_729_082_823_472_283_3,
    0.0,
    0.002_082_700_584_663_643_7,
    0.0,
    0.0,
    8.826_982_764_996_862,
    23.192_433_439_989_26,
    0.0,
    95.108_049_881_108_6,
    0.986_397_803_440_068_2,
    0.983_438_279_246_535_3,
    0.001_228_640_504_827_849_3,
    171.266_725_589_730_7,
    0.980_785_887_243_537_9,
    0.0,
    0.0,
    0.0,
    0.000_513_006_458_899_067_9,
    0.0,
    0.000_108_540_578_584_115_37,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{decode_jpeg, encode_jpeg, EncodeSettings};
    use crate::image::Rgb8;
    use crate::preset::{Effort, Subsampling};
    use crate::stages::tone::srgb8_to_linear;

    /// Texture at several frequencies and colours, odd-sized so every scale has a ragged edge.
    fn textured(width: usize, height: usize) -> Rgb8 {
        let mut data = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                let (fx, fy) = (x as f32, y as f32);
                let fine = ((fx * 0.9).sin() * (fy * 1.3).cos() * 40.0) as i32;
                let coarse = ((fx * 0.05).sin() * 60.0 + (fy * 0.08).cos() * 50.0) as i32;
                let hash = ((x * 7919 + y * 104_729) % 23) as i32 - 11;
                for (c, base) in [120, 90, 150].into_iter().enumerate() {
                    let v = base + coarse * (c as i32 + 1) / 2 + fine * (3 - c as i32) / 2 + hash;
                    data.push(v.clamp(0, 255) as u8);
                }
            }
        }
        Rgb8 { width, height, data }
    }

    fn reference_crate(a: &Rgb8, b: &Rgb8) -> f64 {
        let lin = |i: &Rgb8| {
            ssimulacra2::LinearRgb::new(srgb8_to_linear(i).data, i.width, i.height).expect("linear image")
        };
        ssimulacra2::compute_frame_ssimulacra2(lin(a), lin(b)).expect("crate score")
    }

    #[test]
    fn agrees_with_the_ssimulacra2_crate() {
        let image = textured(203, 157);
        let reference = Reference::new(srgb8_to_linear(&image).data, image.width, image.height).expect("ref");
        let mut scores = Vec::new();
        for quality in [20, 50, 80, 95] {
            let settings = EncodeSettings { quality, subsampling: Subsampling::S420, effort: Effort::Fast };
            let jpeg = encode_jpeg(&image, &settings, None, None).expect("encode");
            let distorted = decode_jpeg(&jpeg).expect("decode");
            let ours = reference.score(srgb8_to_linear(&distorted).data).expect("score");
            let theirs = reference_crate(&image, &distorted);
            assert!((ours - theirs).abs() < 0.01, "q{quality}: ours {ours}, crate {theirs}");
            scores.push(ours);
        }
        // And the scores mean something: better JPEGs score higher, identity scores 100.
        assert!(scores.windows(2).all(|w| w[0] < w[1]), "{scores:?}");
        let same = reference.score(srgb8_to_linear(&image).data).expect("score");
        assert!((same - 100.0).abs() < 1e-6, "{same}");
    }

    #[test]
    fn cube_root_matches_libm() {
        // The range XYB feeds it: 0 and the bias up to several times white.
        let worst = (0..=200_000)
            .map(|i| (i + 1) as f32 * 2e-5)
            .map(|v| ((cube_root(v) - v.cbrt()).abs() / v.cbrt().max(1e-30), v))
            .fold((0.0f32, 0.0f32), |a, b| if b.0 > a.0 { b } else { a });
        assert!(worst.0 <= 2.0 * f32::EPSILON, "relative error {} at {}", worst.0, worst.1);
        assert!(cube_root(0.0) < 1e-12);
    }

    #[test]
    fn tiny_or_mismatched_images_are_errors() {
        assert!(Reference::new(vec![[0.5; 3]; 49], 7, 7).is_err());
        let reference = Reference::new(vec![[0.5; 3]; 64], 8, 8).expect("8×8 is enough");
        assert!(reference.score(vec![[0.5; 3]; 63]).is_err());
    }
}
