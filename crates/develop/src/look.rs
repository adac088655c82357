//! The look: how developed linear light becomes the picture a couple sees.
//!
//! Colour out of the camera matrix is accurate but flat: a camera, Lightroom's
//! camera-matching profiles, darktable's base curves all add a rendering — a tone curve
//! and more colour. Most RAW files carry the camera's own rendering of the same frame, its
//! JPEG preview. So, per file, we develop the RAW very small (a few CFA cells averaged per
//! pixel, in linear sRGB) and fit what maps ours onto the preview:
//! - a monotone tone curve by matching the two luminance histograms (their CDFs), which
//!   needs no pixel alignment and shrugs off the preview's slightly different crop, its
//!   JPEG artefacts and clipped highlights;
//! - a saturation factor, from the ratio of mean CIELAB chroma once the curve is applied.
//!
//! The curve becomes the tone table every backend already applies (the GPU uploads it), and
//! the saturation folds into the camera-to-sRGB matrix the demosaic applies, so CPU and GPU
//! stay alike. Files without a usable preview get [`Look::fallback`]: a curve and saturation
//! fitted once on the corpus. `neutral` keeps the plain rendering, for those who grade later.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::encode::decode_jpeg_scaled;
use crate::image::Rgb8;
use crate::source::{RawFrame, SensorData};
use crate::stages::tone::{self, srgb_decode, srgb_encode, ToneParams};

/// What a preset asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LookChoice {
    /// Matched to the camera's own JPEG of the frame (or the fallback without one).
    #[default]
    Camera,
    /// Accurate colour with a gentle default curve: for photographers who grade later.
    Neutral,
}

/// How a file's look came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookKind {
    Matched,
    Fallback,
    Neutral,
}

/// A file's look: a tone curve and a saturation, and how they were chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    pub kind: LookKind,
    /// What `wedsync develop` prints: "matched to the camera's 1728×1152 preview", or the
    /// fallback and why.
    pub said: String,
    /// sRGB-encoded output at `KNOTS` evenly spaced sRGB-encoded inputs.
    curve: Arc<Vec<f32>>,
    /// Linear sRGB to linear sRGB after the camera matrix, each row summing to 1: the
    /// camera's colour rendering (a saturation, a hue twist).
    pub colour: [[f32; 3]; 3],
    /// Per channel, an offset to the curve's output at `TINT_KNOTS` output levels: the
    /// camera's colour at each tone (greener shadows, warmer highlights), zero on average.
    tint: Arc<[Vec<f32>; 3]>,
}

/// Levels at which the tint is fitted, 0..=1.
const TINT_KNOTS: usize = 33;
/// The most a tint moves a channel (of 1).
const TINT_LIMIT: f32 = 0.05;

fn no_tint() -> Arc<[Vec<f32>; 3]> {
    Arc::new(std::array::from_fn(|_| vec![0.0; TINT_KNOTS]))
}

/// `knots` evenly spaced over 0..=1, at `x`.
fn interpolate(knots: &[f32], x: f32) -> f32 {
    let last = knots.len() - 1;
    let pos = x.clamp(0.0, 1.0) * last as f32;
    let i = (pos as usize).min(last - 1);
    knots[i] + (knots[i + 1] - knots[i]) * (pos - i as f32)
}

const IDENTITY: [[f32; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// Chroma scaled by `s` about each pixel's luminance, in linear light.
fn saturation(s: f32) -> [[f32; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (1.0 - s) * LUMA[j] + if i == j { s } else { 0.0 }))
}

/// Points of the curve, over encoded input 0..=1.
const KNOTS: usize = 1024;
/// Bins of the luminance histograms.
const BINS: usize = 1024;
/// The long edge, at least, of the preview as decoded, and so of our small development.
const SAMPLE_EDGE: usize = 200;
/// A preview smaller than this is a thumbnail: too little to match (a CR2's is 160×120).
pub const MIN_PREVIEW_EDGE: usize = 640;
/// Linear sRGB's luminance weights.
const LUMA: [f32; 3] = [0.212_672_9, 0.715_152_2, 0.072_175];

/// The fallback, fitted once on the corpus's camera files (the EOS 30D's CR2 and its DNG;
/// `the_fallback_is_what_the_corpus_fits` in the develop tests prints the fit): of the
/// curves [`ToneParams`] makes, this comes closest to their matched curves (a stop and a
/// third of mid-tone lift, a full S), and their colour matrices amount to this saturation
/// (a little less than the matrix's own: the S-curve, applied per channel, already adds).
const FALLBACK_TONE: ToneParams = ToneParams { exposure_ev: 1.3, contrast: 1.0 };
const FALLBACK_SATURATION: f32 = 0.88;

impl Look {
    /// Today's rendering: the default curve, the matrix's colour.
    pub fn neutral() -> Look {
        Look::from_params(LookKind::Neutral, "neutral, as asked".into(), &ToneParams::default(), IDENTITY)
    }

    /// The look of files without a usable preview; `why` says what was wrong with it.
    pub fn fallback(why: &str) -> Look {
        Look::from_params(
            LookKind::Fallback,
            format!("camera-like default ({why})"),
            &FALLBACK_TONE,
            saturation(FALLBACK_SATURATION),
        )
    }

    fn from_params(kind: LookKind, said: String, params: &ToneParams, colour: [[f32; 3]; 3]) -> Look {
        let curve = (0..KNOTS).map(|k| tone::curve(params, srgb_decode(k as f32 / (KNOTS - 1) as f32)));
        Look { kind, said, curve: Arc::new(curve.collect()), colour, tint: no_tint() }
    }

    /// The camera's look for `frame`, or the fallback with the reason.
    pub fn for_frame(frame: &RawFrame) -> Look {
        let found = match Found::in_frame(frame) {
            Ok(found) => found,
            Err(why) => return Look::fallback(&why),
        };
        // Our small development needs only the preview's size: it is made while the
        // preview decodes.
        let (w, h) = found.grid(frame);
        let (decoded, ours) = rayon::join(|| found.decode(), || ((w, h), sample(frame, w, h)));
        let fitted = decoded.and_then(|preview| fit(frame, &preview, (found.width, found.height), ours));
        fitted.unwrap_or_else(|why| {
            Look::fallback(&format!("the {}×{} preview {why}", found.width, found.height))
        })
    }

    /// The encoded output of an encoded input, before the tint.
    fn at(&self, encoded: f32) -> f32 {
        interpolate(&self.curve, encoded)
    }

    /// Channel `c`'s encoded output of an encoded input.
    fn channel(&self, c: usize, encoded: f32) -> f32 {
        let y = self.at(encoded);
        (y + interpolate(&self.tint[c], y)).clamp(0.0, 1.0)
    }

    /// The tone stage's table (every backend applies it) after `exposure_ev` stops of
    /// exposure.
    pub fn table(&self, exposure_ev: f32) -> tone::Table {
        let gain = exposure_ev.exp2();
        let mut table = vec![0u8; 3 * tone::LUT_SIZE];
        for i in 0..tone::LUT_SIZE {
            let x = encoded((i as f32 / (tone::LUT_SIZE - 1) as f32 * gain).min(1.0));
            for c in 0..3 {
                table[c * tone::LUT_SIZE + i] = (self.channel(c, x) * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        table.into()
    }

    /// `cam_to_srgb` with this look's colour folded in (the demosaic applies it for free;
    /// rows still sum to 1, so neutrals stay neutral).
    pub fn matrix(&self, cam_to_srgb: [[f32; 3]; 3]) -> [[f32; 3]; 3] {
        let c = &self.colour;
        std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| c[i][k] * cam_to_srgb[k][j]).sum()))
    }

    /// The curve at `n` evenly spaced encoded inputs (for the fallback's fit and tests).
    pub fn knots(&self, n: usize) -> Vec<f32> {
        (0..n).map(|k| self.at(k as f32 / (n - 1) as f32)).collect()
    }

    /// The saturation the colour amounts to: mean CIELAB chroma with it over without it,
    /// on colours of every hue at three levels (for the fallback's fit and tests).
    pub fn chroma_gain(&self) -> f32 {
        let levels = [0.05f32, 0.2, 0.5];
        let colours = (0..27)
            .map(|i| [levels[i % 3], levels[i / 3 % 3], levels[i / 9]])
            .filter(|c| c[0] != c[1] || c[1] != c[2]);
        let (with, without) = colours.fold((0.0, 0.0), |(w, wo), c| {
            let chroma = |p: [f32; 3]| crate::lab::chroma(crate::lab::linear_to_lab(clip(p)));
            (w + chroma(apply(&self.colour, &c)), wo + chroma(c))
        });
        with / without
    }

    /// The default curve with `params`, for the fallback's fit.
    pub fn with_params(params: &ToneParams) -> Look {
        Look::from_params(LookKind::Fallback, String::new(), params, IDENTITY)
    }
}

/// The camera's rendering a file carries: the largest colour JPEG inside it (previews are
/// baseline or progressive JPEGs; the sensor data of a CR2 or DNG is lossless JPEG, which
/// is skipped).
struct Found<'a> {
    jpeg: &'a [u8],
    width: usize,
    height: usize,
    /// The decoder's own scaling, in eighths: the smallest that keeps [`SAMPLE_EDGE`]. A
    /// 1728×1152 preview is decoded at 216×144 from its DC coefficients alone.
    eighths: usize,
}

impl<'a> Found<'a> {
    fn in_frame(frame: &'a RawFrame) -> Result<Found<'a>, String> {
        let bytes = frame.file.as_deref().ok_or("no file to find a preview in")?;
        let (jpeg, width, height) = embedded_jpeg(bytes).ok_or("the file carries no preview")?;
        if width.max(height) < MIN_PREVIEW_EDGE {
            return Err(format!("its only preview is {width}×{height}, too small to match"));
        }
        let eighths = (1..=8).find(|&n| width.max(height) * n / 8 >= SAMPLE_EDGE).unwrap_or(8);
        Ok(Found { jpeg, width, height, eighths })
    }

    /// The decoded preview's size, turned as the frame's sensor data is.
    fn grid(&self, frame: &RawFrame) -> (usize, usize) {
        let (w, h) = ((self.width * self.eighths).div_ceil(8), (self.height * self.eighths).div_ceil(8));
        let (_, _, fw, fh) = frame.crop;
        if (w > h) == (fw > fh) {
            (w, h)
        } else {
            (h, w)
        }
    }

    fn decode(&self) -> Result<Rgb8, String> {
        decode_jpeg_scaled(self.jpeg, self.eighths as u8).map_err(|e| format!("cannot be decoded ({e})"))
    }
}

/// The largest colour JPEG inside `bytes` (from its start to the end of `bytes`: a
/// decoder stops at its end marker), and its size.
pub fn embedded_jpeg(bytes: &[u8]) -> Option<(&[u8], usize, usize)> {
    memchr::memmem::find_iter(bytes, &[0xFF, 0xD8, 0xFF])
        .filter_map(|at| jpeg_size(&bytes[at..]).map(|(w, h)| (&bytes[at..], w, h)))
        .max_by_key(|&(_, w, h)| w * h)
}

/// The size of a baseline or progressive JPEG with three components, from its frame
/// header; None for anything else (lossless JPEG, a stray marker).
fn jpeg_size(jpeg: &[u8]) -> Option<(usize, usize)> {
    let mut at = 2;
    // Markers before the frame header: a handful of segments, each with its length.
    for _ in 0..64 {
        if *jpeg.get(at)? != 0xFF {
            return None;
        }
        let marker = *jpeg.get(at + 1)?;
        let length = u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]) as usize;
        match marker {
            0xC0..=0xC2 => {
                let h = u16::from_be_bytes([*jpeg.get(at + 5)?, *jpeg.get(at + 6)?]) as usize;
                let w = u16::from_be_bytes([*jpeg.get(at + 7)?, *jpeg.get(at + 8)?]) as usize;
                let components = *jpeg.get(at + 9)?;
                return (components == 3 && w > 0 && h > 0).then_some((w, h));
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xD8..=0xDA => return None,
            _ if length < 2 => return None,
            _ => at += 2 + length,
        }
    }
    None
}

/// The frame developed very small, on the preview's own pixel grid: for each preview pixel,
/// the part of the crop it shows, as the average of one whole CFA cell at each of its
/// corners, white-balanced and clipped as the pipeline does, in linear camera RGB.
fn sample(frame: &RawFrame, width: usize, height: usize) -> Vec<[f32; 3]> {
    match &frame.data {
        SensorData::U16(v) => sample_from(frame, v, width, height),
        SensorData::F32(v) => sample_from(frame, v, width, height),
    }
}

fn sample_from<T: Copy + Into<f32>>(
    frame: &RawFrame,
    data: &[T],
    width: usize,
    height: usize,
) -> Vec<[f32; 3]> {
    let (x0, y0, crop_w, crop_h) = frame.crop;
    let cfa = frame.cfa.shifted(x0, y0);
    let (cw, ch) = (cfa.width, cfa.height);
    // Each photosite of a cell: its colour, and its black level and scale (the black-level
    // pattern's period divides the cell's for every camera we read; else its first level).
    let (black_w, black_h, ref blacks) = frame.black;
    let site: Vec<(usize, f32, f32)> = (0..cw * ch)
        .map(|i| {
            let (x, y) = (i % cw, i / cw);
            let c = cfa.color_at(x, y);
            let black = if cw % black_w == 0 && ch % black_h == 0 {
                blacks[((y + y0) % black_h) * black_w + (x + x0) % black_w]
            } else {
                blacks[0]
            };
            // The camera's own balance: its preview was made with it (a sidecar's is applied
            // to the development, not to the match).
            (c, black, frame.shot_wb[c] / (frame.white - black))
        })
        .collect();
    let mut count = [0u32; 3];
    site.iter().for_each(|s| count[s.0] += 4);
    // The first whole cell at or after a position, kept inside the crop.
    let cell_at = |v: usize, period: usize, limit: usize| (v / period * period).min(limit - period);
    let mut pixels = Vec::with_capacity(width * height);
    for py in 0..height {
        let top = cell_at(py * crop_h / height, ch, crop_h);
        let bottom = cell_at(((py + 1) * crop_h / height).saturating_sub(ch), ch, crop_h);
        for px in 0..width {
            let left = cell_at(px * crop_w / width, cw, crop_w);
            let right = cell_at(((px + 1) * crop_w / width).saturating_sub(cw), cw, crop_w);
            let mut sum = [0.0f32; 3];
            for (cx, cy) in [(left, top), (right, top), (left, bottom), (right, bottom)] {
                for y in 0..ch {
                    let row = (cy + y + y0) * frame.sensor_width + cx + x0;
                    for (x, &(c, black, scale)) in site[y * cw..(y + 1) * cw].iter().enumerate() {
                        sum[c] += ((data[row + x].into() - black) * scale).clamp(0.0, 1.0);
                    }
                }
            }
            pixels.push(std::array::from_fn(|c| sum[c] / count[c].max(1) as f32));
        }
    }
    pixels
}

/// The aspect ratios of frame and preview may differ this much (either way up) before the
/// preview is taken for another picture (an in-camera 1:1 or 16:9 crop, letterboxing).
const ASPECT_TOLERANCE: f32 = 0.03;

/// Fits the look that maps `frame`, developed small (`ours`: the grid it was made on, see
/// [`Found::grid`]), onto the camera's `preview` (decoded at any size; `size` says its
/// full one).
fn fit(
    frame: &RawFrame,
    preview: &Rgb8,
    size: (usize, usize),
    ours: ((usize, usize), Vec<[f32; 3]>),
) -> Result<Look, String> {
    let (_, _, fw, fh) = frame.crop;
    let frame_aspect = fw.max(fh) as f32 / fw.min(fh).max(1) as f32;
    let (pw, ph) = (preview.width, preview.height);
    let preview_aspect = pw.max(ph) as f32 / pw.min(ph).max(1) as f32;
    if (frame_aspect / preview_aspect - 1.0).abs() > ASPECT_TOLERANCE {
        return Err(format!("is shaped {preview_aspect:.2}:1, the frame {frame_aspect:.2}:1"));
    }
    // Turned as the frame's sensor data is (a camera stores its preview unturned, but a
    // converter may have turned it upright).
    let preview = match ((pw > ph) != (fw > fh), frame.orientation) {
        (false, _) => Cow::Borrowed(preview),
        // An upright preview of a frame the camera held turned: back to the sensor's way.
        (true, 6 | 7) => Cow::Owned(crate::orient::apply(preview.clone(), 8)),
        (true, 5 | 8) => Cow::Owned(crate::orient::apply(preview.clone(), 6)),
        (true, _) => return Err("is turned unlike the frame".into()),
    };
    let camera = tone::srgb8_to_linear(&preview).data;
    let camera_raw = if ours.0 == (preview.width, preview.height) {
        ours.1
    } else {
        sample(frame, preview.width, preview.height)
    };
    let camera_cdf = cdf(camera.iter().map(|p| encoded(luma(p))));
    // A preview nearly all one value (black, grey: a placeholder or a broken decode) is no
    // rendering of this frame.
    let spread = inverse(&camera_cdf, 0.95) - inverse(&camera_cdf, 0.05);
    if spread < 0.05 {
        return Err(format!("has almost no tonal range ({spread:.3})"));
    }
    let monochrome =
        camera.iter().step_by(7).all(|p| (p[0] - p[1]).abs() < 0.02 && (p[1] - p[2]).abs() < 0.02);
    let (w, h) = size;
    let mut look = Look {
        kind: LookKind::Matched,
        said: format!("matched to the camera's {w}×{h} preview"),
        curve: Arc::new(Vec::new()),
        colour: IDENTITY,
        tint: no_tint(),
    };
    // Tone from the luminance histograms, colour from the pixels, then tone again with that
    // colour (the colour moves luminance a little), and the tint on top.
    let rendered = |look: &Look| -> Vec<[f32; 3]> {
        let m = look.matrix(frame.cam_to_srgb);
        camera_raw.iter().map(|p| clip(apply(&m, p))).collect()
    };
    let tone_of =
        |ours: &[[f32; 3]]| Arc::new(match_curve(&cdf(ours.iter().map(|p| encoded(luma(p)))), &camera_cdf));
    let linear = rendered(&look);
    look.curve = tone_of(&linear);
    if !monochrome {
        look.colour = fit_colour(&look, &linear, &camera, &preview.data).unwrap_or(IDENTITY);
        let ours = rendered(&look);
        look.curve = tone_of(&ours);
        look.tint = Arc::new(fit_tint(&look, &ours, &preview.data));
    } else {
        // A monochrome picture style: its tones are the camera's, its colour is not.
        look.colour = saturation(FALLBACK_SATURATION);
        look.said = format!(
            "tone matched to the camera's {w}×{h} preview, which is monochrome; colour as the default"
        );
    }
    Ok(look)
}

fn luma(p: &[f32; 3]) -> f32 {
    LUMA[0] * p[0] + LUMA[1] * p[1] + LUMA[2] * p[2]
}

fn apply(m: &[[f32; 3]; 3], p: &[f32; 3]) -> [f32; 3] {
    std::array::from_fn(|i| m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2])
}

fn clip(p: [f32; 3]) -> [f32; 3] {
    p.map(|v| v.clamp(0.0, 1.0))
}

/// sRGB encoding through a table: the fit encodes a few hundred thousand values.
fn encoded(linear: f32) -> f32 {
    const N: usize = 4096;
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    let table = TABLE.get_or_init(|| (0..=N).map(|i| srgb_encode(i as f32 / N as f32)).collect());
    let x = linear.clamp(0.0, 1.0) * N as f32;
    let i = (x as usize).min(N - 1);
    table[i] + (table[i + 1] - table[i]) * (x - i as f32)
}

/// The 3×3 matrix in linear light that best takes our pixels to the camera's once both are
/// on the same side of the curve: weighted least squares (relative errors) over the pixels
/// neither clipped nor nearly black. Its rows need not sum to 1: a camera's greys are not
/// always exactly the as-shot balance's. None when too few pixels count or the answer is no
/// plausible colour rendering (a preview of another frame, a broken one).
fn fit_colour(look: &Look, ours: &[[f32; 3]], camera: &[[f32; 3]], camera8: &[u8]) -> Option<[[f32; 3]; 3]> {
    // The camera's 8-bit values brought back through our curve: what our linear values
    // would have to be for the curve to give them.
    let back: [f32; 256] = std::array::from_fn(|v| {
        let k = look.curve.partition_point(|&c| c < v as f32 / 255.0).min(KNOTS - 1);
        srgb_decode(k as f32 / (KNOTS - 1) as f32)
    });
    let mut ata = [[0.0f64; 3]; 3];
    let mut atb = [[0.0f64; 3]; 3];
    let mut used = 0usize;
    for ((p, c), c8) in ours.iter().zip(camera).zip(camera8.chunks_exact(3)) {
        let usable = |q: &[f32; 3]| q.iter().all(|&v| v < 0.8) && luma(q) > 0.005;
        if !usable(p) || !usable(c) {
            continue;
        }
        let t = [back[c8[0] as usize], back[c8[1] as usize], back[c8[2] as usize]];
        // Relative errors: the eye sees a dark forest's hue as well as a bright sky's.
        let w = 1.0 / (luma(p) as f64 + 0.03).powi(2);
        for i in 0..3 {
            for j in 0..3 {
                ata[i][j] += w * p[i] as f64 * p[j] as f64;
            }
            for (r, row) in atb.iter_mut().enumerate() {
                row[i] += w * p[i] as f64 * t[r] as f64;
            }
        }
        used += 1;
    }
    let inverse_ata = crate::stages::color::invert3(&ata)?;
    if used < 500 {
        return None;
    }
    let m: [[f32; 3]; 3] = std::array::from_fn(|r| {
        std::array::from_fn(|j| (0..3).map(|k| inverse_ata[j][k] * atb[r][k]).sum::<f64>() as f32)
    });
    let plausible = (0..3).all(|i| {
        (0.5..=2.5).contains(&m[i][i])
            && (0.8..=1.25).contains(&m[i].iter().sum::<f32>())
            && (0..3).all(|j| i == j || m[i][j].abs() <= 1.0)
    });
    plausible.then_some(m)
}

/// Per channel, the camera's offset from our output at each output level, less the three
/// channels' mean there (the curve already has the lightness): mean differences over the
/// pixels neither clipped, smoothed, within ±`TINT_LIMIT` and fading to none at black and
/// white.
fn fit_tint(look: &Look, ours: &[[f32; 3]], camera8: &[u8]) -> [Vec<f32>; 3] {
    let bins = TINT_KNOTS - 1;
    let mut sum = [vec![0.0f64; bins], vec![0.0f64; bins], vec![0.0f64; bins]];
    let mut count = [vec![0u32; bins], vec![0u32; bins], vec![0u32; bins]];
    for (p, q) in ours.iter().zip(camera8.chunks_exact(3)) {
        if p.iter().any(|&v| v >= 0.95) || q.iter().any(|&v| v >= 243) {
            continue;
        }
        for c in 0..3 {
            let y = look.at(encoded(p[c]));
            let bin = ((y * bins as f32) as usize).min(bins - 1);
            sum[c][bin] += (q[c] as f32 / 255.0 - y) as f64;
            count[c][bin] += 1;
        }
    }
    // Each bin's offsets where all three channels have enough pixels, less their mean.
    let mut offsets = vec![[0.0f32; 3]; bins];
    for (b, offset) in offsets.iter_mut().enumerate() {
        if (0..3).all(|c| count[c][b] >= 20) {
            let d: [f32; 3] = std::array::from_fn(|c| (sum[c][b] / count[c][b] as f64) as f32);
            let mean = (d[0] + d[1] + d[2]) / 3.0;
            *offset = d.map(|v| (v - mean).clamp(-TINT_LIMIT, TINT_LIMIT));
        }
    }
    std::array::from_fn(|c| {
        (0..TINT_KNOTS)
            .map(|k| {
                // The knot between bins k-1 and k: their mean, then a 3-bin average.
                let at = |b: isize| offsets[b.clamp(0, bins as isize - 1) as usize][c];
                let k = k as isize;
                let value = (at(k - 2) + 2.0 * at(k - 1) + 2.0 * at(k) + at(k + 1)) / 6.0;
                let y = k as f32 / bins as f32;
                value * (y / 0.1).min((1.0 - y) / 0.1).clamp(0.0, 1.0)
            })
            .collect()
    })
}

/// The cumulative histogram of values in 0..=1, normalised to end at 1.
fn cdf(values: impl Iterator<Item = f32>) -> Vec<f32> {
    let mut hist = vec![0u32; BINS];
    for v in values {
        hist[((v.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1)] += 1;
    }
    let total = hist.iter().map(|&c| c as f64).sum::<f64>().max(1.0);
    let mut running = 0.0f64;
    hist.iter()
        .map(|&c| {
            running += c as f64;
            (running / total) as f32
        })
        .collect()
}

/// The share of values at or below `x`, interpolated within its bin.
fn share_below(cdf: &[f32], x: f32) -> f32 {
    let pos = x.clamp(0.0, 1.0) * BINS as f32;
    let i = (pos as usize).min(BINS - 1);
    let before = if i == 0 { 0.0 } else { cdf[i - 1] };
    before + (cdf[i] - before) * (pos - i as f32)
}

/// The value below which a share `p` of values lies.
fn inverse(cdf: &[f32], p: f32) -> f32 {
    let i = cdf.partition_point(|&c| c < p).min(BINS - 1);
    let before = if i == 0 { 0.0 } else { cdf[i - 1] };
    let within = if cdf[i] > before { (p - before) / (cdf[i] - before) } else { 0.5 };
    (i as f32 + within.clamp(0.0, 1.0)) / BINS as f32
}

/// The monotone curve taking our luminance distribution onto the camera's, smoothed, from
/// black to white. Beyond our brightest value it runs straight on to white; below our
/// darkest, straight from black.
fn match_curve(ours: &[f32], camera: &[f32]) -> Vec<f32> {
    let lowest = inverse(ours, 0.0005);
    let highest = inverse(ours, 0.9995);
    let matched = |x: f32| inverse(camera, share_below(ours, x).clamp(0.0005, 0.9995));
    let (low_y, high_y) = (matched(lowest), matched(highest));
    let raw: Vec<f32> = (0..KNOTS)
        .map(|k| {
            let x = k as f32 / (KNOTS - 1) as f32;
            if x <= lowest {
                low_y * x / lowest.max(1e-6)
            } else if x >= highest {
                high_y + (1.0 - high_y) * (x - highest) / (1.0 - highest).max(1e-6)
            } else {
                matched(x)
            }
        })
        .collect();
    // A moving average over ±8 knots irons out the histograms' noise; then monotone, from
    // black to white.
    let mut smooth: Vec<f32> = (0..KNOTS)
        .map(|k| {
            let (a, b) = (k.saturating_sub(8), (k + 8).min(KNOTS - 1));
            raw[a..=b].iter().sum::<f32>() / (b - a + 1) as f32
        })
        .collect();
    smooth[0] = 0.0;
    for k in 1..KNOTS {
        smooth[k] = smooth[k].max(smooth[k - 1]).min(1.0);
    }
    smooth[KNOTS - 1] = smooth[KNOTS - 1].max(high_y);
    smooth
}
