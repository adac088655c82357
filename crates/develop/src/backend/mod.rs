//! Where the develop stages run: CUDA, a wgpu adapter, or the CPU path (the reference).
//!
//! Both GPU backends carry out the same [`program::Program`] (the passes of one frame), so
//! the order of the stages and the layout of every buffer are written once. A backend is
//! only used after a self-test: it develops a small synthetic frame that must match the
//! CPU path, so a broken driver or a miscompiled kernel costs a fallback at start, never a
//! wrong photo. [`probe`] is what `wedsync doctor` prints and what `auto` decides with.

pub(crate) mod cuda;
mod pinned;
pub(crate) mod program;
pub mod wgpu;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::image::Cfa;
use crate::metadata::Metadata;
use crate::pipeline::StageTime;
use crate::source::{RawFrame, SensorData};
use crate::stages::demosaic::Demosaic;
use program::{Program, Target};

/// The backend a photographer asks for (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// CUDA, else a hardware wgpu adapter, else the CPU.
    #[default]
    Auto,
    Cuda,
    Wgpu,
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "cuda" => Ok(BackendChoice::Cuda),
            "wgpu" => Ok(BackendChoice::Wgpu),
            "cpu" => Ok(BackendChoice::Cpu),
            _ => Err(format!("unknown backend {s:?}: use auto, cuda, wgpu or cpu")),
        }
    }
}

/// How to pick a backend.
#[derive(Debug, Clone, Default)]
pub struct BackendOptions {
    pub choice: BackendChoice,
    /// Let `auto` use a software wgpu adapter (lavapipe, WARP) when no GPU is found; a
    /// forced `wgpu` uses one anyway when it is all there is.
    pub software_adapters: bool,
    /// Where compiled CUDA kernels are kept between runs (None: compiled at every start).
    pub kernel_cache: Option<PathBuf>,
    /// Ask every GPU API even where no GPU device exists (`wedsync doctor`, to list what a
    /// software driver offers), rather than skipping what could only find software.
    pub survey: bool,
}

/// A backend that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cuda,
    Wgpu,
    Cpu,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cuda => "cuda",
            Kind::Wgpu => "wgpu",
            Kind::Cpu => "cpu",
        }
    }
}

/// What a GPU gave back for a program: each output's 8-bit sRGB, and (when timed) the
/// milliseconds of each stage and of the transfers.
pub(crate) struct Ran {
    pub outputs: Vec<Vec<u8>>,
    pub timings: Vec<StageTime>,
}

/// Adds a lap to the timing of stage `name`: a stage runs once per target of a program, so
/// its laps add up. Device time adds up only while every lap has one.
pub(crate) fn add_lap(timings: &mut Vec<StageTime>, name: &'static str, ms: f64, device_ms: Option<f64>) {
    match timings.iter_mut().find(|t| t.name == name) {
        Some(t) => {
            t.ms += ms;
            t.device_ms = t.device_ms.zip(device_ms).map(|(a, b)| a + b);
        }
        None => timings.push(StageTime { name, ms, device_ms }),
    }
}

pub(crate) trait Gpu: Send + Sync {
    fn kind(&self) -> Kind;
    fn description(&self) -> String;
    /// Whether this device can hold `program`'s buffers at all; a frame that does not fit is
    /// developed on the CPU without counting against the device.
    fn fits(&self, _program: &Program) -> Result<(), String> {
        Ok(())
    }
    /// Runs `program`; `timed` waits after each stage to time it (slower; for benchmarks).
    fn run(&self, program: &Program, timed: bool) -> Result<Ran, String>;
    /// Device memory that images in flight may take together.
    fn memory_budget(&self) -> usize;
}

/// A failure injected on purpose, to test the fallbacks on machines whose GPU works:
/// `WEDSYNC_GPU_FAULT=<backend>[@N[..M]]` makes every run of that backend from run N on
/// fail (N = 0, the default: the self-test fails, so the backend is never chosen; N = 1: it
/// passes the self-test and then fails on every image), up to run M if given (a GPU that
/// comes back: runs M and later work again).
pub(crate) struct Fault {
    pub(crate) after: Option<usize>,
    pub(crate) until: Option<usize>,
    pub(crate) runs: AtomicUsize,
}

impl Fault {
    pub(crate) const VARIABLE: &'static str = "WEDSYNC_GPU_FAULT";

    fn for_backend(kind: Kind) -> Fault {
        let (after, until) = std::env::var(Self::VARIABLE)
            .ok()
            .and_then(|v| {
                let (name, runs) = v.split_once('@').unwrap_or((&v, "0"));
                let (after, until) = runs.split_once("..").map_or((runs, None), |(a, u)| (a, u.parse().ok()));
                (name == kind.name()).then(|| (Some(after.parse().unwrap_or(0)), until))
            })
            .unwrap_or((None, None));
        Fault { after, until, runs: AtomicUsize::new(0) }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        match self.after {
            Some(after) if run >= after && self.until.is_none_or(|until| run < until) => {
                Err(format!("injected failure ({}={})", Self::VARIABLE, after))
            }
            _ => Ok(()),
        }
    }
}

/// What was found of one backend.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    /// The device or library, or why there is none.
    pub what: String,
    /// Whether it passed the self-test (and so can be used).
    pub usable: bool,
}

/// Everything found, and the backend chosen with the reason.
pub struct Probe {
    pub findings: Vec<Finding>,
    pub chosen: Kind,
    pub reason: String,
    /// A GPU that was found but failed its self-test, so the CPU develops instead: what to
    /// tell the photographer.
    pub passed_over: Option<String>,
    pub(crate) gpu: Option<Arc<dyn Gpu>>,
}

/// Looks for every backend and picks one as `options` say. A forced backend that cannot
/// run is an error naming why.
pub fn probe(options: &BackendOptions) -> Result<Probe, String> {
    let mut findings = Vec::new();
    let mut candidates: Vec<Arc<dyn Gpu>> = Vec::new();
    let want = options.choice;
    let look = |kind| want == BackendChoice::Auto || want == kind;

    if look(BackendChoice::Cuda) {
        match cuda::CudaBackend::open(options.kernel_cache.as_deref(), Fault::for_backend(Kind::Cuda)) {
            Ok(backend) => admit(Arc::new(backend), &mut findings, &mut candidates),
            Err(why) => findings.push(Finding { kind: Kind::Cuda, what: why, usable: false }),
        }
    }
    let only_software = want == BackendChoice::Auto && !options.software_adapters && !options.survey;
    if look(BackendChoice::Wgpu) && only_software && !wgpu::hardware_may_be_present() {
        let what = format!("no GPU device ({}): Vulkan not loaded", wgpu::DEVICE_FILES);
        findings.push(Finding { kind: Kind::Wgpu, what, usable: false });
    } else if look(BackendChoice::Wgpu) {
        let adapters = wgpu::adapters();
        if adapters.is_empty() {
            let what = "no Vulkan, Metal or DX12 adapter (is a Vulkan driver installed?)".to_string();
            findings.push(Finding { kind: Kind::Wgpu, what, usable: false });
        }
        let any_hardware = adapters.iter().any(|a| !a.software);
        for found in &adapters {
            // A software adapter is slower than the CPU path's own threads: it is used only
            // when asked for, or when forced and there is nothing else.
            let wanted = !found.software
                || options.software_adapters
                || (want == BackendChoice::Wgpu && !any_hardware);
            if !wanted {
                let what =
                    format!("{}: software, not used unless asked for (--software-gpu)", found.description);
                findings.push(Finding { kind: Kind::Wgpu, what, usable: false });
                continue;
            }
            match wgpu::WgpuBackend::open(found, Fault::for_backend(Kind::Wgpu)) {
                Ok(backend) => admit(Arc::new(backend), &mut findings, &mut candidates),
                Err(why) => {
                    let what = format!("{}: {why}", found.description);
                    findings.push(Finding { kind: Kind::Wgpu, what, usable: false });
                }
            }
        }
    }
    let gpu = candidates.into_iter().next();
    let failed_test = findings.iter().find(|f| !f.usable && f.what.contains(SELF_TEST_FAILED));
    let passed_over =
        (gpu.is_none() && want == BackendChoice::Auto).then_some(failed_test).flatten().map(|f| {
            format!(
                "{} {}: photos are developed on the CPU (slower). Update its driver, then restart WedSync.",
                f.kind.name(),
                f.what
            )
        });
    let (chosen, reason) = match (&gpu, want) {
        (Some(gpu), _) => (gpu.kind(), format!("{} passed its self-test", gpu.description())),
        (None, BackendChoice::Cpu) => (Kind::Cpu, "asked for".to_string()),
        (None, BackendChoice::Auto) => (Kind::Cpu, "no usable GPU backend was found".to_string()),
        (None, forced) => {
            let why: Vec<String> = findings.iter().map(|f| f.what.clone()).collect();
            let name = format!("{forced:?}").to_lowercase();
            return Err(format!("backend {name} is not available: {}", why.join("; ")));
        }
    };
    findings.push(Finding {
        kind: Kind::Cpu,
        what: "the reference path, always available".into(),
        usable: true,
    });
    Ok(Probe { findings, chosen, reason, passed_over, gpu })
}

/// How a finding says its device failed the self-test.
const SELF_TEST_FAILED: &str = "self-test failed";

/// Keeps `gpu` if its self-test matches the CPU path.
fn admit(gpu: Arc<dyn Gpu>, findings: &mut Vec<Finding>, candidates: &mut Vec<Arc<dyn Gpu>>) {
    match self_test(gpu.as_ref()) {
        Ok(()) => {
            findings.push(Finding { kind: gpu.kind(), what: gpu.description(), usable: true });
            candidates.push(gpu);
        }
        Err(why) => findings.push(Finding {
            kind: gpu.kind(),
            what: format!("{}: {SELF_TEST_FAILED}: {why}", gpu.description()),
            usable: false,
        }),
    }
}

/// Develops a small synthetic frame with each demosaic method and a resize, and compares
/// it with the CPU path.
fn self_test(gpu: &dyn Gpu) -> Result<(), String> {
    let frame = test_frame(96, 64);
    let targets: Vec<Target> = [Demosaic::Rcd, Demosaic::Mhc, Demosaic::Half, Demosaic::Neighbour]
        .into_iter()
        .map(|demosaic| Target::plain(&frame, demosaic, Some(40)))
        .collect();
    let program = Program::build(&frame, &targets);
    let ran = gpu.run(&program, false)?;
    for (target, gpu_out) in targets.iter().zip(&ran.outputs) {
        let cpu = crate::pipeline::develop_target_on_cpu(&frame, target)
            .map_err(|e| format!("the CPU path failed on the test frame: {e}"))?;
        let worst = cpu.data.iter().zip(gpu_out).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        if cpu.data.len() != gpu_out.len() || worst > 2 {
            return Err(format!("{} differs from the CPU path by up to {worst}/255", target.demosaic.name()));
        }
    }
    Ok(())
}

/// A `width`×`height` RGGB frame with colour gradients, an edge and clipped highlights:
/// every branch of every stage has something to do.
pub(crate) fn test_frame(width: usize, height: usize) -> RawFrame {
    let cfa = Cfa::rggb();
    let data = (0..width * height)
        .map(|i| {
            let (x, y) = (i % width, i / width);
            let base = [0.2 + 0.6 * x as f32 / width as f32, 0.5, 0.8 - 0.5 * y as f32 / height as f32];
            let edge = if (x + 2 * y) % 37 < 18 { 1.0 } else { 0.4 };
            let v = base[cfa.color_at(x, y)] * edge * 1.3;
            (512.0 + v * 15_000.0).min(16_383.0) as u16
        })
        .collect();
    RawFrame {
        path: PathBuf::from("self-test"),
        sensor_width: width,
        sensor_height: height,
        data: SensorData::U16(data),
        crop: (0, 0, width, height),
        cfa,
        black: (2, 2, vec![512.0, 510.0, 514.0, 512.0]),
        white: 15_000.0,
        wb: [2.0, 1.0, 1.5],
        shot_wb: [2.0, 1.0, 1.5],
        xyz_to_cam: [[0.6, 0.1, -0.05], [-0.3, 1.2, 0.1], [-0.05, 0.2, 0.6]],
        cam_to_srgb: [[1.6, -0.4, -0.2], [-0.2, 1.4, -0.2], [0.0, -0.5, 1.5]],
        orientation: 1,
        metadata: Metadata::default(),
        file: None,
        edits: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_leaves_vulkan_unloaded_without_a_gpu_device_and_a_survey_asks_it() {
        if wgpu::hardware_may_be_present() {
            eprintln!("SKIPPED: this machine has a GPU device ({})", wgpu::DEVICE_FILES);
            return;
        }
        let quick = probe(&BackendOptions::default()).expect("auto always finds the CPU");
        assert_eq!(quick.chosen, Kind::Cpu);
        let skipped =
            |p: &Probe| p.findings.iter().any(|f| f.kind == Kind::Wgpu && f.what.contains("not loaded"));
        assert!(skipped(&quick), "{:?}", quick.findings);
        let survey = probe(&BackendOptions { survey: true, ..Default::default() }).expect("survey");
        assert_eq!(survey.chosen, Kind::Cpu);
        assert!(!skipped(&survey), "{:?}", survey.findings);
        assert!(survey.findings.iter().any(|f| f.kind == Kind::Wgpu), "{:?}", survey.findings);
    }
}
