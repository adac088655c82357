//! Test and benchmark inputs made from a real RAW file, written as DNG (rawler's writer),
//! since full-size modern RAWs cannot be fetched here:
//! - [`tiled_dng`]: the real mosaic tiled to a larger sensor (24 MP, 45 MP…), CFA phase kept;
//! - [`remosaiced_dng`]: the ground truth for demosaic accuracy — the mosaic binned 2×2
//!   (one RGB pixel per quad, so every colour is known), then mosaiced again.

use std::io::BufWriter;
use std::path::Path;

use rawler::decoders::RawDecodeParams;
use rawler::dng::writer::DngWriter;
use rawler::dng::{CropMode, DngCompression, DngPhotometricConversion, DNG_VERSION_V1_4};
use rawler::rawimage::{BlackLevel, RawImage, RawImageData};
use rawler::rawsource::RawSource;

use crate::error::{catch_panic, Error, Result};
use crate::image::RgbF32;
use crate::source::{load, Source};

fn synth_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Develop { path: path.to_path_buf(), reason: format!("making a synthetic DNG: {reason}") }
}

/// A decoded source and its picture area rounded inwards to even coordinates, so that
/// cutting there keeps the CFA phase: (x, y, width, height).
type Decoded = (RawImage, rawler::decoders::RawMetadata, (usize, usize, usize, usize));

fn decode(src: &Path) -> Result<Decoded> {
    let bytes = std::fs::read(src).map_err(|source| Error::Io { path: src.to_path_buf(), source })?;
    let source = RawSource::new_from_shared_vec(std::sync::Arc::new(bytes)).with_path(src);
    let params = RawDecodeParams::default();
    let decoded = catch_panic(|| {
        let decoder = rawler::get_decoder(&source)?;
        Ok::<_, rawler::RawlerError>((
            decoder.raw_image(&source, &params, false)?,
            decoder.raw_metadata(&source, &params)?,
        ))
    })
    .map_err(|e| synth_error(src, e))?
    .map_err(|e| synth_error(src, e))?;
    let (image, meta) = decoded;
    if !matches!(image.data, RawImageData::Integer(_)) || image.cpp != 1 {
        return Err(synth_error(src, "needs an integer one-channel mosaic"));
    }
    let area = image.crop_area.or(image.active_area);
    let (x, y, w, h) = area.map_or((0, 0, image.width, image.height), |r| (r.p.x, r.p.y, r.d.w, r.d.h));
    let (x0, y0) = (x.div_ceil(2) * 2, y.div_ceil(2) * 2);
    let (w, h) = ((w - (x0 - x)) / 2 * 2, (h - (y0 - y)) / 2 * 2);
    Ok((image, meta, (x0, y0, w, h)))
}

fn pixels(image: &RawImage) -> &[u16] {
    match &image.data {
        RawImageData::Integer(v) => v,
        RawImageData::Float(_) => &[],
    }
}

fn write(
    mut image: RawImage,
    meta: &rawler::decoders::RawMetadata,
    data: Vec<u16>,
    w: usize,
    h: usize,
    dst: &Path,
) -> Result<()> {
    image.data = RawImageData::Integer(data);
    image.width = w;
    image.height = h;
    image.crop_area = None;
    image.active_area = None;
    image.blackareas.clear();
    let file = std::fs::File::create(dst).map_err(|source| Error::Io { path: dst.to_path_buf(), source })?;
    let written = catch_panic(|| -> std::result::Result<(), rawler::dng::writer::DngError> {
        let mut dng = DngWriter::new(BufWriter::new(file), DNG_VERSION_V1_4)?;
        let mut raw = dng.subframe_on_root(0);
        raw.raw_image(
            &image,
            CropMode::None,
            DngCompression::Lossless,
            DngPhotometricConversion::Original,
            1,
        )?;
        raw.finalize()?;
        dng.load_base_tags(&image)?;
        dng.load_metadata(meta)?;
        dng.close()
    });
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(synth_error(dst, e)),
        Err(panic) => Err(synth_error(dst, panic)),
    }
}

/// Writes `dst`: `src`'s picture area repeated to about `megapixels`, at 3:2 like the
/// sensor it stands for. Returns the new sensor size.
pub fn tiled_dng(src: &Path, dst: &Path, megapixels: f64) -> Result<(usize, usize)> {
    tile(src, dst, Some(megapixels), 0)
}

/// Writes `dst`: `src`'s picture area at its own size with its columns rotated by
/// `2 * shift` (an even shift keeps the CFA phase) — frames that are different files and
/// develop into different renditions, for benchmarks that need many.
pub fn shifted_dng(src: &Path, dst: &Path, shift: usize) -> Result<(usize, usize)> {
    tile(src, dst, None, shift)
}

fn tile(src: &Path, dst: &Path, megapixels: Option<f64>, shift: usize) -> Result<(usize, usize)> {
    let (image, meta, (x0, y0, w, h)) = decode(src)?;
    let (width, height) = match megapixels {
        Some(mp) => {
            let height = ((mp * 1e6 / 1.5).sqrt() as usize) / 2 * 2;
            ((height * 3 / 2) / 2 * 2, height)
        }
        None => (w, h),
    };
    let raw = pixels(&image);
    let stride = image.width;
    let mut data = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = &raw[(y0 + y % h) * stride + x0..][..w];
        data.extend((0..width).map(|x| row[(x + 2 * shift) % w]));
    }
    write(image, &meta, data, width, height, dst)?;
    Ok((width, height))
}

/// Writes `dst`, the re-mosaiced 2×2 binning of `src`'s picture area, and returns the ground
/// truth: the binned image in the same units the develop stages use after `levels` and
/// `highlights` (black 0, clip 1, white-balanced camera RGB).
pub fn remosaiced_dng(src: &Path, dst: &Path) -> Result<RgbF32> {
    let (mut image, meta, (x0, y0, w, h)) = decode(src)?;
    let Source::Raw(frame) = load(src)? else {
        return Err(synth_error(src, "not a RAW file"));
    };
    if !frame.cfa.is_bayer() {
        return Err(synth_error(src, "binning needs a Bayer sensor"));
    }
    let cfa = frame.cfa.shifted(x0, y0);
    let raw = pixels(&image);
    let (bw, bh, levels) = &frame.black;
    let black_at = |x: usize, y: usize| levels[((y0 + y) % bh) * bw + (x0 + x) % bw];
    // Each colour's mean black over a quad, so a binned green keeps the black it is measured against.
    let mut black = [0.0f32; 3];
    let mut count = [0.0f32; 3];
    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        black[cfa.color_at(dx, dy)] += black_at(dx, dy);
        count[cfa.color_at(dx, dy)] += 1.0;
    }
    for c in 0..3 {
        black[c] /= count[c];
    }
    let (ow, oh) = (w / 2, h / 2);
    let mut mosaic = Vec::with_capacity(ow * oh);
    let mut truth = Vec::with_capacity(ow * oh);
    for y in 0..oh {
        for x in 0..ow {
            let mut sum = [0u32; 3];
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                sum[cfa.color_at(dx, dy)] +=
                    u32::from(raw[(y0 + 2 * y + dy) * image.width + x0 + 2 * x + dx]);
            }
            let binned: [u16; 3] = std::array::from_fn(|c| (sum[c] as f32 / count[c]).round() as u16);
            mosaic.push(binned[cfa.color_at(x, y)]);
            truth.push(std::array::from_fn(|c| {
                ((f32::from(binned[c]) - black[c]) / (frame.white - black[c]) * frame.wb[c]).clamp(0.0, 1.0)
            }));
        }
    }
    let pattern: Vec<u32> = [(0, 0), (0, 1), (1, 0), (1, 1)]
        .iter()
        .map(|&(dy, dx)| black[cfa.color_at(dx, dy)].round() as u32)
        .collect();
    image.blacklevel = BlackLevel::new(&pattern, 2, 2, 1);
    write(image, &meta, mosaic, ow, oh, dst)?;
    Ok(RgbF32 { width: ow, height: oh, data: truth })
}
