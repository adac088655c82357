//! One file in, one rendition out: decode, the develop stages in [`ORDER`], orientation,
//! quality search and encode, each timed.

use std::path::Path;
use std::time::Instant;

use crate::encode::{encode_jpeg, EncodeSettings};
use crate::error::{Error, Result};
use crate::image::{Mosaic, Rgb16, Rgb8, RgbF32};
use crate::metadata::Metadata;
use crate::preset::{Preset, Quality};
use crate::source::{load, RawFrame, Source};
use crate::stages::color::ToSrgb16;
use crate::stages::demosaic::{self, Demosaic};
use crate::stages::tone::{self, srgb8_to_linear16, ToneParams};
use crate::stages::{highlights, levels, resize, Stage, ORDER};
use crate::{icc, orient, quality};

/// Wall-clock time of one step of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTime {
    pub name: &'static str,
    pub ms: f64,
}

/// A developed, encoded rendition of one file.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub jpeg: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub jpeg_quality: u8,
    /// The SSIMULACRA2 score the quality search measured (presets with a target only).
    pub score: Option<f64>,
    /// The demosaic method used (RAW inputs only).
    pub demosaic: Option<Demosaic>,
    pub timings: Vec<StageTime>,
}

/// The image between stages: it starts as the sensor data and leaves as 8-bit sRGB.
enum Working<'a> {
    Sensor(&'a RawFrame),
    Mosaic(Mosaic),
    Linear16(Rgb16),
    Encoded(Rgb8),
}

/// What the stages should make of one frame.
struct Plan {
    demosaic: Demosaic,
    long_edge: Option<usize>,
    /// None stops before the tone stage, leaving linear sRGB.
    tone: Option<ToneParams>,
}

struct Timer(Vec<StageTime>);

impl Timer {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push(StageTime { name, ms: start.elapsed().as_secs_f64() * 1e3 });
        out
    }
}

fn develop_error(path: &Path, reason: String) -> Error {
    Error::Develop { path: path.to_path_buf(), reason }
}

fn run_stages<'a>(frame: &'a RawFrame, plan: &Plan, timer: &mut Timer) -> Result<Working<'a>> {
    let mut working = Working::Sensor(frame);
    for stage in ORDER {
        if stage == Stage::Tone && plan.tone.is_none() {
            break;
        }
        working = timer.time(stage.name(), || run_stage(stage, working, frame, plan))?;
    }
    Ok(working)
}

fn run_stage<'a>(stage: Stage, working: Working<'a>, frame: &RawFrame, plan: &Plan) -> Result<Working<'a>> {
    let out_of_order = || develop_error(&frame.path, format!("stage {} got the wrong input", stage.name()));
    Ok(match (stage, working) {
        (Stage::Levels, Working::Sensor(frame)) => Working::Mosaic(levels::apply(frame)),
        (Stage::Highlights, Working::Mosaic(mut m)) => {
            highlights::apply(&mut m);
            Working::Mosaic(m)
        }
        (Stage::Demosaic, Working::Mosaic(m)) => {
            Working::Linear16(demosaic::apply(&m, plan.demosaic, &ToSrgb16(frame.cam_to_srgb)))
        }
        (Stage::Resize, Working::Linear16(image)) => {
            let (w, h) = resize::fit(image.width, image.height, plan.long_edge);
            Working::Linear16(resize::apply(image, w, h).map_err(|e| develop_error(&frame.path, e))?)
        }
        (Stage::Tone, Working::Linear16(image)) => {
            Working::Encoded(tone::apply(&image, &plan.tone.unwrap_or_default()))
        }
        _ => return Err(out_of_order()),
    })
}

/// A developed image before encoding: upright 8-bit sRGB at the preset's size.
#[derive(Debug, Clone)]
pub struct Developed {
    pub image: Rgb8,
    pub metadata: Metadata,
    /// The demosaic method used (RAW inputs only).
    pub demosaic: Option<Demosaic>,
    pub timings: Vec<StageTime>,
}

/// Decodes and develops one file to `preset`'s size, without encoding it.
pub fn develop_pixels(path: &Path, preset: &Preset) -> Result<Developed> {
    let mut timer = Timer(Vec::new());
    let source = timer.time("decode", || load(path))?;
    let (image, orientation, metadata, method) = match source {
        Source::Raw(frame) => {
            let (_, _, w, h) = frame.crop;
            let method = Demosaic::choose(&frame.cfa, w, h, preset.long_edge());
            let plan =
                Plan { demosaic: method, long_edge: preset.long_edge(), tone: Some(ToneParams::default()) };
            let Working::Encoded(image) = run_stages(&frame, &plan, &mut timer)? else {
                return Err(develop_error(path, "the develop stages did not finish".into()));
            };
            (image, frame.orientation, frame.metadata, Some(method))
        }
        Source::Jpeg { image, orientation, metadata } => {
            let image = timer.time("resize", || resize_srgb(image, preset.long_edge()));
            (image.map_err(|e| develop_error(path, e))?, orientation, metadata, None)
        }
    };
    let image = timer.time("orient", || orient::apply(image, orientation));
    Ok(Developed { image, metadata, demosaic: method, timings: timer.0 })
}

/// Develops one file with `preset` and encodes it.
pub fn develop_file(path: &Path, preset: &Preset) -> Result<Rendition> {
    let Developed { image, metadata, demosaic, timings } = develop_pixels(path, preset)?;
    let mut timer = Timer(timings);
    let mut settings = EncodeSettings { quality: 90, subsampling: preset.subsampling, effort: preset.effort };
    let mut score = None;
    match preset.quality {
        Quality::Fixed(q) => settings.quality = q,
        Quality::Target(target) => {
            let found = timer
                .time("quality search", || quality::search(&image, target, &settings))
                .map_err(|e| develop_error(path, format!("quality search: {e}")))?;
            settings.quality = found.jpeg_quality;
            score = Some(found.score);
        }
    }
    let exif = metadata.to_exif_app1(preset.metadata);
    let jpeg = timer
        .time("encode", || encode_jpeg(&image, &settings, Some(icc::srgb_icc_profile()), exif.as_deref()))
        .map_err(|reason| Error::Encode { path: path.to_path_buf(), reason })?;
    Ok(Rendition {
        jpeg,
        width: image.width,
        height: image.height,
        jpeg_quality: settings.quality,
        score,
        demosaic,
        timings: timer.0,
    })
}

/// A camera JPEG is already developed: only resized, in linear light, and re-encoded.
fn resize_srgb(image: Rgb8, long_edge: Option<usize>) -> std::result::Result<Rgb8, String> {
    let (w, h) = resize::fit(image.width, image.height, long_edge);
    if (w, h) == (image.width, image.height) {
        return Ok(image);
    }
    let resized = resize::apply(srgb8_to_linear16(&image), w, h)?;
    Ok(tone::apply(&resized, &ToneParams::PLAIN))
}

/// The full-size linear sRGB image (no tone curve, no gamma), upright — what the colour
/// tests compare with LibRaw's linear output. `method` None picks as for full size.
pub fn develop_linear(path: &Path, method: Option<Demosaic>) -> Result<RgbF32> {
    let Source::Raw(frame) = load(path)? else {
        return Err(develop_error(path, "not a RAW file".into()));
    };
    let (_, _, w, h) = frame.crop;
    let demosaic = method.unwrap_or_else(|| Demosaic::choose(&frame.cfa, w, h, None));
    let plan = Plan { demosaic, long_edge: None, tone: None };
    let mut timer = Timer(Vec::new());
    let Working::Linear16(image) = run_stages(&frame, &plan, &mut timer)? else {
        return Err(develop_error(path, "the develop stages did not finish".into()));
    };
    Ok(orient::apply_f32(image.to_f32(), frame.orientation))
}
