//! One file in, one rendition out: decode, the develop stages in [`ORDER`], orientation,
//! quality search and encode, each timed.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::backend::program::{Program, Target};
use crate::backend::{probe, BackendOptions, Kind, Probe};
use crate::edits::{Crop, Edits};
use crate::encode::{encode_jpeg, EncodeSettings};
use crate::error::{Error, Result};
use crate::image::{Rgb16, Rgb8, RgbF32};
use crate::look::{Look, LookChoice};
use crate::metadata::Metadata;
use crate::preset::{Preset, Quality};
use crate::source::{load, RawFrame, Source};
use crate::stages::color::ToSrgb16;
use crate::stages::demosaic::{self, Demosaic};
use crate::stages::levels::Levels;
use crate::stages::tone::{self, srgb8_to_linear16, ToneParams};
use crate::stages::{resize, Stage, ORDER};
use crate::{icc, orient, quality};

/// Time of one step of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTime {
    pub name: &'static str,
    /// Wall clock (on a GPU: from the last wait to this stage's end, launches included).
    pub ms: f64,
    /// On the GPU's own clock (CUDA events, wgpu timestamp queries), where the backend
    /// reads it: the time its kernels or copies took, without launch and wait overhead.
    pub device_ms: Option<f64>,
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
    /// The look it got and why (RAW inputs only): matched to the camera's preview, the
    /// fallback and why, or neutral.
    pub look: Option<String>,
    /// What its XMP sidecar's edits did (and did not) change, where it has one.
    pub edits: Option<String>,
    /// Where the develop stages ran, and why not on the chosen GPU if it failed.
    pub backend: Kind,
    pub fallback: Option<String>,
    pub timings: Vec<StageTime>,
}

/// The image between stages: it starts as the sensor data and leaves as 8-bit sRGB.
enum Working<'a> {
    Sensor(&'a RawFrame),
    /// The levels (and highlight clipping) to apply as the demosaic reads each band: the
    /// levelled mosaic is never stored whole (see `stages::levels`).
    Levelled(Levels<'a>),
    Linear16(Rgb16),
    Encoded(Rgb8),
}

/// What the stages should make of one frame.
struct Plan {
    demosaic: Demosaic,
    long_edge: Option<usize>,
    cam_to_srgb: [[f32; 3]; 3],
    /// The tone table; None stops before the tone stage, leaving linear sRGB.
    tone: Option<tone::Table>,
}

impl Plan {
    fn of(target: &Target) -> Plan {
        Plan {
            demosaic: target.demosaic,
            long_edge: target.long_edge,
            cam_to_srgb: target.cam_to_srgb,
            tone: Some(target.tone.clone()),
        }
    }
}

struct Timer(Vec<StageTime>);

impl Timer {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push(StageTime { name, ms: start.elapsed().as_secs_f64() * 1e3, device_ms: None });
        out
    }
}

fn develop_error(path: &Path, reason: String) -> Error {
    Error::Develop { path: path.to_path_buf(), reason }
}

/// The one result of a batch of one.
fn only<T>(path: &Path, batch: Vec<T>) -> Result<T> {
    batch.into_iter().next().ok_or_else(|| develop_error(path, "nothing was developed".into()))
}

/// `stages` (a run of [`ORDER`]) on `working`.
fn run_stages<'a>(
    mut working: Working<'a>,
    stages: &[Stage],
    frame: &RawFrame,
    plan: &Plan,
    timer: &mut Timer,
) -> Result<Working<'a>> {
    for &stage in stages {
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
        (Stage::Levels, Working::Sensor(frame)) => Working::Levelled(Levels::of(frame)),
        (Stage::Highlights, Working::Levelled(levels)) => Working::Levelled(levels.clipped()),
        (Stage::Demosaic, Working::Levelled(levels)) => Working::Linear16(demosaic::apply(
            &demosaic::Input::Sensor(&levels),
            plan.demosaic,
            &ToSrgb16(plan.cam_to_srgb),
        )),
        (Stage::Resize, Working::Linear16(image)) => {
            let (w, h) = resize::fit(image.width, image.height, plan.long_edge);
            Working::Linear16(resize::apply(image, w, h).map_err(|e| develop_error(&frame.path, e))?)
        }
        (Stage::Tone, Working::Linear16(image)) => match &plan.tone {
            Some(table) => Working::Encoded(tone::apply(&image, table)),
            None => return Err(out_of_order()),
        },
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
    /// The look it got and why (RAW inputs only).
    pub look: Option<String>,
    /// What its XMP sidecar's edits did (and did not) change, where it has one.
    pub edits: Option<String>,
    /// Where the develop stages ran, and why not on the chosen GPU if it failed there.
    pub backend: Kind,
    pub fallback: Option<String>,
    pub timings: Vec<StageTime>,
}

/// After this many GPU failures in a row the GPU is left alone: a lost device fails every
/// image, and each failure costs an attempt before the CPU fallback.
const GPU_FAILURES_TO_GIVE_UP: usize = 3;

/// How long the GPU is left alone after giving up on it; then one image tries it again (a
/// driver restarted, a device back from sleep), and a success puts it back in use.
const GPU_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Develops files on the backend chosen when it was made. Shared by the threads of a batch:
/// while one thread's image is on the GPU, the others decode theirs on the CPU.
pub struct Developer {
    probe: Probe,
    timed: bool,
    failures: AtomicUsize,
    /// When the GPU was last given up on (or last tried again since).
    gave_up: Mutex<Option<Instant>>,
    retry_after: Duration,
    /// Device memory that images in flight may take; a frame larger than all of it still
    /// runs, alone.
    budget: usize,
    in_flight: Mutex<usize>,
    freed: Condvar,
}

impl Developer {
    /// Picks the backend as `options` say; a forced backend that cannot run is an error.
    pub fn new(options: &BackendOptions) -> Result<Developer> {
        let probe = probe(options).map_err(|reason| Error::Backend { reason })?;
        Ok(Developer::on(probe))
    }

    fn on(probe: Probe) -> Developer {
        let budget = probe.gpu.as_ref().map_or(0, |gpu| gpu.memory_budget());
        Developer {
            probe,
            timed: false,
            failures: AtomicUsize::new(0),
            gave_up: Mutex::new(None),
            retry_after: GPU_RETRY_AFTER,
            budget,
            in_flight: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// The CPU path only.
    pub fn cpu() -> Developer {
        Developer::new(&BackendOptions { choice: crate::BackendChoice::Cpu, ..Default::default() })
            .unwrap_or_else(|_| unreachable!("the CPU backend is always available"))
    }

    /// Times each GPU stage and transfer apart (waiting after each: slower, for benchmarks).
    pub fn with_stage_timing(mut self) -> Developer {
        self.timed = true;
        self
    }

    /// What was found, and the backend in use with the reason.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    pub fn backend(&self) -> Kind {
        self.probe.chosen
    }

    /// Decodes and develops one file to `preset`'s size, without encoding it.
    pub fn develop_pixels(&self, path: &Path, preset: &Preset) -> Result<Developed> {
        only(path, self.develop_pixels_presets(path, &[preset])?)
    }

    /// Decodes one file once and develops it to each preset's size, in order, without
    /// encoding: on a GPU from one upload of its mosaic, each demosaic method run once.
    pub fn develop_pixels_presets(&self, path: &Path, presets: &[&Preset]) -> Result<Vec<Developed>> {
        let mut timer = Timer(Vec::new());
        match timer.time("decode", || load(path))? {
            Source::Raw(frame) => self.develop_frame(&frame, presets, timer),
            Source::Jpeg { image, orientation, metadata } => presets
                .iter()
                .map(|preset| {
                    let mut timer = Timer(timer.0.clone());
                    let image = timer.time("resize", || resize_srgb(image.clone(), preset.long_edge()));
                    let image = image.map_err(|e| develop_error(path, e))?;
                    let image = timer.time("orient", || orient::apply(image, orientation));
                    Ok(Developed {
                        image,
                        metadata: metadata.clone(),
                        demosaic: None,
                        look: None,
                        edits: None,
                        backend: Kind::Cpu,
                        fallback: None,
                        timings: timer.0,
                    })
                })
                .collect(),
        }
    }

    /// Develops a decoded RAW frame to `preset`'s size (for frames made in memory: tests and
    /// benchmarks tile small samples into large ones).
    pub fn develop_raw(&self, frame: &RawFrame, preset: &Preset) -> Result<Developed> {
        only(&frame.path, self.develop_frame(frame, &[preset], Timer(Vec::new()))?)
    }

    /// Each preset's image of `frame`; `timer` holds what every one of them shares (decode).
    fn develop_frame(
        &self,
        frame: &RawFrame,
        presets: &[&Preset],
        mut timer: Timer,
    ) -> Result<Vec<Developed>> {
        let (_, _, w, h) = frame.crop;
        // The camera's look is fitted once per file, and only if a preset asks for it.
        let camera = presets
            .iter()
            .any(|p| p.look == LookChoice::Camera)
            .then(|| timer.time("look", || Look::for_frame(frame)));
        let neutral = Look::neutral();
        let looks: Vec<&Look> = presets
            .iter()
            .map(|p| match (p.look, &camera) {
                (LookChoice::Camera, Some(camera)) => camera,
                _ => &neutral,
            })
            .collect();
        // A sidecar's exposure adds to the preset's; its crop is cut from the developed frame,
        // so the frame is developed large enough for the crop to have the preset's size.
        let edits = frame.edits.as_ref();
        let crop = edits.and_then(|e| e.crop);
        // Presets with the same look and exposure (most of them) share one tone table.
        let mut tables: Vec<(&Look, f32, tone::Table)> = Vec::new();
        let mut targets: Vec<Target> = Vec::with_capacity(presets.len());
        for (preset, look) in presets.iter().zip(&looks) {
            let long_edge = uncropped_edge(preset.long_edge(), crop.as_ref(), (w, h));
            let ev = preset.exposure_ev + edits.map_or(0.0, |e| e.exposure_ev);
            let tone = match tables.iter().find(|(l, e, _)| std::ptr::eq(*l, *look) && *e == ev) {
                Some((_, _, table)) => table.clone(),
                None => {
                    let table = look.table(ev);
                    tables.push((look, ev, table.clone()));
                    table
                }
            };
            targets.push(Target {
                demosaic: Demosaic::choose(&frame.cfa, w, h, long_edge),
                long_edge,
                cam_to_srgb: look.matrix(frame.cam_to_srgb),
                tone,
            });
        }
        let mut backend = Kind::Cpu;
        let mut fallback = None;
        let mut on_gpu = Vec::new();
        if let Some(gpu) = self.gpu() {
            match self.run_on_gpu(gpu, frame, &targets, &mut timer) {
                Ok(images) => (on_gpu, backend) = (images, gpu.kind()),
                Err(why) => {
                    fallback = Some(format!("{} failed ({why}); developed on the CPU", gpu.kind().name()))
                }
            }
        }
        // The GPU made every target or none (run_on_gpu checks the count).
        let images = if on_gpu.is_empty() {
            develop_targets_on_cpu(frame, &targets, &timer)?
        } else {
            on_gpu.into_iter().map(|image| (image, Timer(timer.0.clone()))).collect()
        };
        targets
            .iter()
            .zip(images)
            .zip(&looks)
            .map(|((target, (image, mut timer)), look)| {
                let image = match &crop {
                    Some(c) => timer.time("crop", || crate::edits::crop(&image, c)),
                    None => image,
                };
                let image = timer.time("orient", || orient::apply(image, frame.orientation));
                Ok(Developed {
                    image,
                    metadata: frame.metadata.clone(),
                    demosaic: Some(target.demosaic),
                    look: Some(look.said.clone()),
                    edits: edits.map(Edits::said),
                    backend,
                    fallback: fallback.clone(),
                    timings: timer.0,
                })
            })
            .collect()
    }

    fn gpu(&self) -> Option<&dyn crate::backend::Gpu> {
        let gpu = self.probe.gpu.as_deref()?;
        if self.failures.load(Ordering::Relaxed) < GPU_FAILURES_TO_GIVE_UP {
            return Some(gpu);
        }
        // Given up on: left alone a while, then one image tries it again.
        let mut gave_up = self.gave_up.lock().ok()?;
        match *gave_up {
            Some(at) if at.elapsed() < self.retry_after => None,
            _ => {
                *gave_up = Some(Instant::now());
                Some(gpu)
            }
        }
    }

    /// Why photos are developed on the CPU although a GPU was found, while they are: it
    /// failed its self-test at start, or failed several images in a row (then it is tried
    /// again every minute, and this clears once it works).
    pub fn fallback(&self) -> Option<String> {
        let Some(gpu) = self.probe.gpu.as_deref() else { return self.probe.passed_over.clone() };
        let failed = self.failures.load(Ordering::Relaxed);
        (failed >= GPU_FAILURES_TO_GIVE_UP).then(|| {
            format!(
                "{} failed {failed} photos in a row: they are developed on the CPU (slower) for now, \
                 and the GPU is tried again every minute. If this stays, update or restart its driver.",
                gpu.description()
            )
        })
    }

    /// Every target's image from one program, or why not. A frame this device cannot hold
    /// is not held against it; a failed run is (see [`GPU_FAILURES_TO_GIVE_UP`]).
    fn run_on_gpu(
        &self,
        gpu: &dyn crate::backend::Gpu,
        frame: &RawFrame,
        targets: &[Target],
        timer: &mut Timer,
    ) -> std::result::Result<Vec<Rgb8>, String> {
        let program = Program::build(frame, targets);
        gpu.fits(&program)?;
        let bytes = program.device_bytes().min(self.budget);
        self.reserve(bytes);
        let start = Instant::now();
        let ran = gpu.run(&program, self.timed);
        self.release(bytes);
        let ran = ran.inspect_err(|_| {
            if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= GPU_FAILURES_TO_GIVE_UP {
                if let Ok(mut gave_up) = self.gave_up.lock() {
                    *gave_up = Some(Instant::now());
                }
            }
        })?;
        self.failures.store(0, Ordering::Relaxed);
        if self.timed {
            timer.0.extend(ran.timings);
        } else {
            timer.0.push(StageTime { name: "gpu", ms: start.elapsed().as_secs_f64() * 1e3, device_ms: None });
        }
        if ran.outputs.len() != program.outputs.len() {
            return Err(format!("{} images back for {} asked", ran.outputs.len(), program.outputs.len()));
        }
        let images = program.outputs.iter().zip(ran.outputs);
        Ok(images.map(|(out, data)| Rgb8 { width: out.width, height: out.height, data }).collect())
    }

    fn reserve(&self, bytes: usize) {
        let Ok(mut in_flight) = self.in_flight.lock() else { return };
        while *in_flight > 0 && *in_flight + bytes > self.budget {
            let Ok(next) = self.freed.wait(in_flight) else { return };
            in_flight = next;
        }
        *in_flight += bytes;
    }

    fn release(&self, bytes: usize) {
        if let Ok(mut in_flight) = self.in_flight.lock() {
            *in_flight = in_flight.saturating_sub(bytes);
        }
        self.freed.notify_all();
    }

    /// Develops one file with `preset` and encodes it.
    pub fn develop_file(&self, path: &Path, preset: &Preset) -> Result<Rendition> {
        only(path, self.develop_file_presets(path, &[preset])?)?
    }

    /// Develops one file to each preset (decoded once, see [`Self::develop_pixels_presets`])
    /// and encodes each: the outer error is the file's (it cannot be read), the inner ones
    /// each rendition's.
    pub fn develop_file_presets(&self, path: &Path, presets: &[&Preset]) -> Result<Vec<Result<Rendition>>> {
        let developed = self.develop_pixels_presets(path, presets)?;
        Ok(developed
            .into_iter()
            .zip(presets)
            .map(|(developed, preset)| encode(path, developed, preset))
            .collect())
    }
}

/// Encodes a developed image as `preset` says (searching for the JPEG quality that meets a
/// visual target).
fn encode(path: &Path, developed: Developed, preset: &Preset) -> Result<Rendition> {
    let Developed { image, metadata, demosaic, look, edits, backend, fallback, timings } = developed;
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
        look,
        edits,
        backend,
        fallback,
        timings: timer.0,
    })
}

/// The long edge to develop `frame` (`w`×`h`) to so that `crop` of it has `long_edge`; the
/// whole frame (None) when the crop is that small already (renditions are never enlarged).
fn uncropped_edge(long_edge: Option<usize>, crop: Option<&Crop>, (w, h): (usize, usize)) -> Option<usize> {
    let (Some(edge), Some(c)) = (long_edge, crop) else { return long_edge };
    let cropped = ((c.right - c.left) * w as f32).max((c.bottom - c.top) * h as f32);
    (cropped > edge as f32).then(|| (w.max(h) as f32 * edge as f32 / cropped).round() as usize)
}

/// The stages on the CPU for one target of `frame`: the reference the GPU backends match.
pub(crate) fn develop_target_on_cpu(frame: &RawFrame, target: &Target) -> Result<Rgb8> {
    let (image, _) =
        only(&frame.path, develop_targets_on_cpu(frame, std::slice::from_ref(target), &Timer(Vec::new()))?)?;
    Ok(image)
}

/// Every target of `frame` on the CPU, in order, sharing what a GPU program shares: the
/// stages up to the demosaic run once per demosaic method, and each target is resized and
/// toned from that image. Each image comes with its timings: `shared`'s (decode), the stages
/// it was made from, and its own.
fn develop_targets_on_cpu(
    frame: &RawFrame,
    targets: &[Target],
    shared: &Timer,
) -> Result<Vec<(Rgb8, Timer)>> {
    let unfinished = || develop_error(&frame.path, "the develop stages did not finish".into());
    let (per_method, per_target) =
        ORDER.split_at(ORDER.iter().position(|&s| s == Stage::Resize).unwrap_or(0));
    let mut made: Vec<Option<(Rgb8, Timer)>> = targets.iter().map(|_| None).collect();
    for (first, target) in targets.iter().enumerate() {
        if made[first].is_some() {
            continue;
        }
        let mut timer = Timer(shared.0.clone());
        let Working::Linear16(demosaiced) =
            run_stages(Working::Sensor(frame), per_method, frame, &Plan::of(target), &mut timer)?
        else {
            return Err(unfinished());
        };
        // Targets of one demosaic method and colour matrix share the demosaiced image.
        let alike: Vec<usize> = (first..targets.len())
            .filter(|&i| {
                targets[i].demosaic == target.demosaic && targets[i].cam_to_srgb == target.cam_to_srgb
            })
            .collect();
        let mut demosaiced = Some(demosaiced);
        for (n, &i) in alike.iter().enumerate() {
            // The last target of the method takes the image; the others copy it.
            let image = if n + 1 == alike.len() { demosaiced.take() } else { demosaiced.clone() };
            let image = image.ok_or_else(unfinished)?;
            let mut own = Timer(timer.0.clone());
            let Working::Encoded(image) =
                run_stages(Working::Linear16(image), per_target, frame, &Plan::of(&targets[i]), &mut own)?
            else {
                return Err(unfinished());
            };
            made[i] = Some((image, own));
        }
    }
    made.into_iter().map(|m| m.ok_or_else(unfinished)).collect()
}

/// A camera JPEG is already developed: only resized, in linear light, and re-encoded.
pub fn resize_srgb(image: Rgb8, long_edge: Option<usize>) -> std::result::Result<Rgb8, String> {
    let (w, h) = resize::fit(image.width, image.height, long_edge);
    if (w, h) == (image.width, image.height) {
        return Ok(image);
    }
    let resized = resize::apply(srgb8_to_linear16(&image), w, h)?;
    Ok(tone::apply(&resized, &tone::table(&ToneParams::PLAIN)))
}

/// The full-size linear sRGB image (no tone curve, no gamma), upright — what the colour
/// tests compare with LibRaw's linear output. `method` None picks as for full size.
pub fn develop_linear(path: &Path, method: Option<Demosaic>) -> Result<RgbF32> {
    let Source::Raw(frame) = load(path)? else {
        return Err(develop_error(path, "not a RAW file".into()));
    };
    let (_, _, w, h) = frame.crop;
    let demosaic = method.unwrap_or_else(|| Demosaic::choose(&frame.cfa, w, h, None));
    let plan = Plan { demosaic, long_edge: None, cam_to_srgb: frame.cam_to_srgb, tone: None };
    let mut timer = Timer(Vec::new());
    let Working::Linear16(image) = run_stages(Working::Sensor(&frame), &ORDER, &frame, &plan, &mut timer)?
    else {
        return Err(develop_error(path, "the develop stages did not finish".into()));
    };
    Ok(orient::apply_f32(image.to_f32(), frame.orientation))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use super::*;
    use crate::backend::{test_frame, wgpu, Fault};

    /// On the real wgpu backend (lavapipe here), failing its first three images on purpose:
    /// said while it is left alone, then tried again and taken back once it works.
    #[test]
    fn a_failing_gpu_is_said_left_alone_and_taken_back_once_it_works() {
        let Some(found) = wgpu::adapters().into_iter().next() else {
            assert!(std::env::var_os("WEDSYNC_REQUIRE_WGPU").is_none(), "no wgpu adapter");
            eprintln!("SKIPPED: no wgpu adapter");
            return;
        };
        let fault = Fault { after: Some(0), until: Some(3), runs: AtomicUsize::new(0) };
        let gpu = wgpu::WgpuBackend::open(&found, fault).expect("open the adapter");
        let probe = Probe {
            findings: Vec::new(),
            chosen: Kind::Wgpu,
            reason: "test".into(),
            passed_over: None,
            gpu: Some(Arc::new(gpu)),
        };
        let mut developer = Developer::on(probe);
        developer.retry_after = Duration::from_millis(300);
        let frame = test_frame(96, 64);
        let preset =
            Preset::from_toml("name = \"t\"\nlong_edge = 64\njpeg_quality = 80\n", "t").expect("preset");
        let backend = |d: &Developer| d.develop_raw(&frame, &preset).expect("developed all the same").backend;
        for _ in 0..3 {
            assert_eq!(backend(&developer), Kind::Cpu, "a failed run falls back");
        }
        let said = developer.fallback().expect("said while it is left alone");
        assert!(said.contains("failed 3 photos in a row") && said.contains("CPU"), "{said}");
        assert_eq!(backend(&developer), Kind::Cpu, "left alone: not tried");
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(backend(&developer), Kind::Wgpu, "tried again, and it works");
        assert_eq!(developer.fallback(), None);
    }
}
