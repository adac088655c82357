//! Target-quality compression: the lowest JPEG quality whose SSIMULACRA2 score meets the
//! preset's target.
//!
//! Scoring a whole rendition costs ~0.25 CPU-s per megapixel, several times per search —
//! more than developing it. JPEG compression is local to 16×16 macroblocks, so a tile cut on
//! the macroblock grid is compressed exactly as it is inside the full image. The search
//! therefore scores a *proxy*: a few 16-aligned tiles stitched into one small image (about
//! 0.15 megapixels wherever the rendition is larger), spread over the frame so that
//! sky, skin and texture all count. It starts from a guess learnt from mozjpeg's behaviour,
//! steps by the measured slope, and bisects; three or four encodes of the proxy usually do.

use crate::encode::{decode_jpeg, encode_jpeg, EncodeSettings};
use crate::image::Rgb8;
use crate::ssimulacra2::Reference;
use crate::stages::tone::srgb8_to_linear;

/// Proxy tiles: `TILE`×`TILE` pixels, `COLS`×`ROWS` of them.
const TILE: usize = 160;
const COLS: usize = 3;
const ROWS: usize = 2;
/// Scores on the proxy differ from the full image's by a point or two either way (the
/// camera-matched look's deeper shadows made the CR2's proxy 1.5–2 points too kind); aiming
/// this much higher keeps the full-size score at or above the target.
pub const MARGIN: f64 = 2.0;
const MAX_STEPS: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchResult {
    pub jpeg_quality: u8,
    /// The proxy's score at that quality.
    pub score: f64,
    /// How many candidate qualities were encoded and scored.
    pub steps: usize,
}

/// Finds the lowest quality in 1..=100 whose proxy score is at least `target` + [`MARGIN`];
/// 100 if none is.
pub fn search(image: &Rgb8, target: f64, base: &EncodeSettings) -> Result<SearchResult, String> {
    let proxy = proxy(image);
    let reference = Reference::new(srgb8_to_linear(&proxy).data, proxy.width, proxy.height)?;
    let aim = (target + MARGIN).min(100.0);
    let score_at = |q: u8| -> Result<f64, String> {
        let settings = EncodeSettings { quality: q, ..*base };
        let jpeg = encode_jpeg(&proxy, &settings, None, None)?;
        reference.score(srgb8_to_linear(&decode_jpeg(&jpeg)?).data)
    };

    // `pass` is the lowest quality known to meet the aim, `fail` the highest known not to.
    let mut pass: Option<(u8, f64)> = None;
    let mut fail: Option<u8> = None;
    let mut q = first_guess(aim);
    let mut steps = 0;
    while steps < MAX_STEPS {
        let s = score_at(q)?;
        steps += 1;
        if s >= aim {
            if pass.is_none_or(|(p, _)| q < p) {
                pass = Some((q, s));
            }
        } else {
            fail = Some(fail.map_or(q, |f| f.max(q)));
        }
        // Around the useful range the score rises roughly a point per quality step.
        let next = match (fail, pass) {
            (Some(f), Some((p, _))) if p <= f + 1 => break,
            (Some(f), Some((p, _))) => f + (p - f) / 2,
            (None, Some((p, ps))) => step(p, -(ps - aim).max(1.0)),
            (Some(f), None) => step(f, (aim - s).max(1.0)),
            (None, None) => break,
        };
        if next == q {
            break;
        }
        q = next;
    }
    match pass {
        Some((jpeg_quality, score)) => Ok(SearchResult { jpeg_quality, score, steps }),
        None => {
            let score = score_at(100)?;
            Ok(SearchResult { jpeg_quality: 100, score, steps: steps + 1 })
        }
    }
}

fn step(q: u8, by: f64) -> u8 {
    (f64::from(q) + by.round()).clamp(1.0, 100.0) as u8
}

/// Where mozjpeg at 4:2:0 usually meets a score, measured on photographs: 65 → q≈62,
/// 75 → q≈77, 85 → q≈89, 90 → q≈94.
fn first_guess(target: f64) -> u8 {
    (62.0 + (target - 65.0) * 1.35).clamp(20.0, 98.0).round() as u8
}

/// The stitched tiles (the whole image when it is small already).
fn proxy(image: &Rgb8) -> Rgb8 {
    let (tw, th) = (TILE * COLS, TILE * ROWS);
    // A small rendition is scored whole: it costs little, and a few tiles would be a
    // large, unrepresentative share of it.
    if image.width * image.height <= 3 * tw * th || image.width < tw || image.height < th {
        return image.clone();
    }
    let mut data = vec![0u8; tw * th * 3];
    for r in 0..ROWS {
        for c in 0..COLS {
            // Tile centres at the centres of a COLS×ROWS grid, snapped to the 16-pixel grid.
            let x0 = ((image.width * (2 * c + 1)) / (2 * COLS)).saturating_sub(TILE / 2) / 16 * 16;
            let y0 = ((image.height * (2 * r + 1)) / (2 * ROWS)).saturating_sub(TILE / 2) / 16 * 16;
            for y in 0..TILE {
                let src = ((y0 + y) * image.width + x0) * 3;
                let dst = ((r * TILE + y) * tw + c * TILE) * 3;
                data[dst..dst + TILE * 3].copy_from_slice(&image.data[src..src + TILE * 3]);
            }
        }
    }
    Rgb8 { width: tw, height: th, data }
}

/// SSIMULACRA2 of `distorted` against `reference`, both 8-bit sRGB of the same size.
pub fn score(reference: &Rgb8, distorted: &Rgb8) -> Result<f64, String> {
    if (reference.width, reference.height) != (distorted.width, distorted.height) {
        return Err("ssimulacra2: the images differ in size".to_string());
    }
    Reference::new(srgb8_to_linear(reference).data, reference.width, reference.height)?
        .score(srgb8_to_linear(distorted).data)
}
