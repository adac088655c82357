//! `wedsync bench gpu`: the develop stages on a GPU backend against the CPU path, in the same
//! run, on large frames made by tiling a real sensor's mosaic (24 and 45 MP by default).
//!
//! Two measurements per frame size:
//! - **Stages**: one frame at a time, each stage waited for and timed on its own: wall time
//!   (kernels plus launch and wait overhead) and, where the backend reads the GPU's clock
//!   (CUDA events, wgpu timestamp queries), the kernels' time alone; the host→device and
//!   device→host transfers apart; fastest of `--runs` after a warm-up run, for each preset.
//!   Beside them, what the JPEG encoder (on the CPU) costs for the same preset.
//! - **Throughput**: `--threads` threads each decode a frame (rawler, CPU) and develop it,
//!   then also encode it, as a batch runs: while one thread's frame is on the GPU the
//!   others decode or encode. Reported beside decoding alone with the same threads, the
//!   ceiling that a GPU cannot lift.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context};
use wedsync_develop::{load, synth, Developer, Kind, Preset, PresetSet, RawFrame, Source, StageTime};
use wedsync_engine::Home;

use crate::backend::BackendArgs;

#[derive(clap::Args)]
pub struct GpuArgs {
    /// The RAW file whose mosaic is tiled into the test frames.
    input: PathBuf,
    /// Frame sizes to make, in megapixels.
    #[arg(long, value_delimiter = ',', default_values_t = [24.0, 45.0])]
    megapixels: Vec<f64>,
    /// Presets to time stage by stage.
    #[arg(long, default_values = ["full", "web"])]
    preset: Vec<String>,
    /// The preset of the throughput run (what a gallery upload makes).
    #[arg(long, default_value = "web")]
    throughput_preset: String,
    /// Runs per stage measurement, after one warm-up; the fastest counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Decode threads of the throughput run (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Frames per throughput run.
    #[arg(long, default_value_t = 16)]
    frames: usize,
    #[command(flatten)]
    backend: BackendArgs,
}

/// The develop stages by name, as both paths report them (the CPU path's `highlights` is
/// fused into `levels` on the GPU).
const STAGES: [&str; 5] = ["levels", "highlights", "demosaic", "resize", "tone"];
const TRANSFERS: [&str; 2] = ["upload", "download"];

pub fn gpu(args: GpuArgs, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let presets = PresetSet::load(presets_dir)?;
    let home = Home::from_env().ok();
    let gpu = args.backend.developer(home.as_ref())?.with_stage_timing();
    if gpu.backend() == Kind::Cpu {
        say!("note: the backend chosen is the CPU path itself; pass --backend cuda or wgpu to compare a GPU");
    }
    let gpu_batch = args.backend.developer(home.as_ref())?;
    let cpu = Developer::cpu();
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let scratch = std::env::temp_dir().join(format!("wedsync-bench-gpu-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("create {}", scratch.display()))?;
    let result = (|| {
        for &mp in &args.megapixels {
            let path = scratch.join(format!("tiled-{mp}mp.dng"));
            let (w, h) = synth::tiled_dng(&args.input, &path, mp)?;
            say!("\n{w}x{h} ({:.1} MP), tiled from {}", (w * h) as f64 / 1e6, args.input.display());
            let frame = raw_frame(&path)?;
            // A frame larger than the adapter can hold (lavapipe binds at most 128 MiB, too
            // little for a 45 MP mosaic) is developed on the CPU: say so and go on.
            let trial = gpu.develop_raw(&frame, presets.get(&args.throughput_preset)?)?;
            if let Some(why) = trial.fallback {
                say!("  skipped: {why}");
                continue;
            }
            for name in &args.preset {
                let preset = presets.get(name)?;
                stages(&gpu, &cpu, &frame, preset, args.runs)?;
                encoding(&cpu, &path, preset, args.runs)?;
            }
            let preset = presets.get(&args.throughput_preset)?;
            throughput(&gpu_batch, &cpu, &path, preset, threads, args.frames)?;
        }
        Ok(())
    })();
    std::fs::remove_dir_all(&scratch).ok();
    result.map(|()| ExitCode::SUCCESS)
}

/// The decoded RAW frame at `path`.
fn raw_frame(path: &Path) -> anyhow::Result<RawFrame> {
    match load(path)? {
        Source::Raw(frame) => Ok(frame),
        Source::Jpeg { .. } => bail!("{} is not a RAW file", path.display()),
    }
}

/// Milliseconds of each named step, fastest of `runs` after a warm-up.
fn fastest(
    developer: &Developer,
    frame: &RawFrame,
    preset: &Preset,
    runs: usize,
) -> anyhow::Result<Vec<StageTime>> {
    let mut best: Vec<StageTime> = Vec::new();
    for run in 0..=runs.max(1) {
        let developed = developer.develop_raw(frame, preset)?;
        if let Some(why) = developed.fallback {
            bail!("{why}");
        }
        if run == 0 {
            continue;
        }
        for t in developed.timings {
            match best.iter_mut().find(|b| b.name == t.name) {
                Some(b) => {
                    b.ms = b.ms.min(t.ms);
                    b.device_ms = b.device_ms.zip(t.device_ms).map(|(a, b)| a.min(b));
                }
                None => best.push(t),
            }
        }
    }
    Ok(best)
}

fn total(timings: &[StageTime], names: &[&str]) -> f64 {
    // A fold from +0.0: an empty f64 sum is -0.0.
    timings.iter().filter(|t| names.contains(&t.name)).fold(0.0, |sum, t| sum + t.ms)
}

/// The sum on the GPU's clock, when every named step present has a time on it.
fn device_total(timings: &[StageTime], names: &[&str]) -> Option<f64> {
    let named: Vec<&StageTime> = timings.iter().filter(|t| names.contains(&t.name)).collect();
    if named.is_empty() {
        return None;
    }
    named.iter().try_fold(0.0, |sum, t| Some(sum + t.device_ms?))
}

fn listed(timings: &[StageTime], names: &[&str]) -> String {
    let parts: Vec<String> = timings
        .iter()
        .filter(|t| names.contains(&t.name))
        .map(|t| match t.device_ms {
            Some(device) => format!("{} {:.2} (GPU clock {device:.2})", t.name, t.ms),
            None => format!("{} {:.2}", t.name, t.ms),
        })
        .collect();
    parts.join(", ")
}

fn stages(
    gpu: &Developer,
    cpu: &Developer,
    frame: &RawFrame,
    preset: &Preset,
    runs: usize,
) -> anyhow::Result<()> {
    let on_gpu = fastest(gpu, frame, preset, runs)?;
    let on_cpu = fastest(cpu, frame, preset, runs)?;
    let (gpu_stages, transfers, cpu_stages) =
        (total(&on_gpu, &STAGES), total(&on_gpu, &TRANSFERS), total(&on_cpu, &STAGES));
    say!("  preset {} — stage ms, fastest of {runs}:", preset.name);
    say!("    {:<5} {}", gpu.backend().name(), listed(&on_gpu, &STAGES));
    say!("    {:<5} transfers: {}", gpu.backend().name(), listed(&on_gpu, &TRANSFERS));
    say!("    cpu   {}", listed(&on_cpu, &STAGES));
    if let Some(kernels) = device_total(&on_gpu, &STAGES) {
        say!(
            "    kernels alone (GPU clock): {kernels:.2} ms; ratio to the CPU stages {:.3}",
            kernels / cpu_stages
        );
    }
    say!(
        "    GPU stages {gpu_stages:.2} ms + transfers {transfers:.2} ms; CPU stages {cpu_stages:.2} ms; ratio {} / cpu: stages {:.3}, with transfers {:.3}",
        gpu.backend().name(),
        gpu_stages / cpu_stages,
        (gpu_stages + transfers) / cpu_stages
    );
    Ok(())
}

/// What the JPEG encoder (CPU, mozjpeg) costs for `preset`, fastest of `runs`, beside the
/// develop stages: the measure of what a GPU JPEG front end could save.
fn encoding(cpu: &Developer, path: &Path, preset: &Preset, runs: usize) -> anyhow::Result<()> {
    let mut best: Option<(f64, f64, usize, usize)> = None;
    for _ in 0..runs.max(1) {
        let rendition = cpu.develop_file(path, preset)?;
        let search = total(&rendition.timings, &["quality search"]);
        let encode = total(&rendition.timings, &["encode"]);
        if best.is_none_or(|(s, e, _, _)| search + encode < s + e) {
            best = Some((search, encode, rendition.width, rendition.height));
        }
    }
    if let Some((search, encode, w, h)) = best {
        let search = if search > 0.0 { format!("{search:.2} ms") } else { "none (fixed quality)".into() };
        say!("    JPEG on the CPU ({w}x{h}): quality search {search}, final encode {encode:.2} ms");
    }
    Ok(())
}

/// What each thread of a throughput run does with a frame.
#[derive(Clone, Copy)]
enum Work<'a> {
    /// Decode only: the ceiling no develop backend can lift.
    Decode,
    /// Decode and develop (not encode).
    Develop(&'a Developer),
    /// Decode, develop and encode (quality search included): the rendition an upload sends.
    Render(&'a Developer),
}

/// Frames a second with `threads` threads, each taking the next of `frames` through `work`.
fn frames_per_second(
    path: &Path,
    work: Work,
    preset: &Preset,
    threads: usize,
    frames: usize,
) -> anyhow::Result<f64> {
    let next = AtomicUsize::new(0);
    let one = || -> Result<(), String> {
        let fallback = match work {
            Work::Decode => raw_frame(path).map(|_| None).map_err(|e| e.to_string())?,
            Work::Develop(developer) => {
                let frame = raw_frame(path).map_err(|e| e.to_string())?;
                developer.develop_raw(&frame, preset).map_err(|e| e.to_string())?.fallback
            }
            Work::Render(developer) => {
                developer.develop_file(path, preset).map_err(|e| e.to_string())?.fallback
            }
        };
        fallback.map_or(Ok(()), Err)
    };
    let start = Instant::now();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    while next.fetch_add(1, Ordering::Relaxed) < frames {
                        one()?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().map_or(Some("a thread panicked".into()), |r| r.err()))
            .collect()
    });
    if let Some(failure) = failures.first() {
        bail!("{failure}");
    }
    Ok(frames as f64 / start.elapsed().as_secs_f64())
}

fn throughput(
    gpu: &Developer,
    cpu: &Developer,
    path: &Path,
    preset: &Preset,
    threads: usize,
    frames: usize,
) -> anyhow::Result<()> {
    let rate = |work| frames_per_second(path, work, preset, threads, frames);
    let decode = rate(Work::Decode)?;
    let name = gpu.backend().name();
    say!("  throughput, {frames} frames to {} with {threads} thread(s):", preset.name);
    say!("    decode alone        {decode:>7.2} frames/s ({:.0}/min)", decode * 60.0);
    for (what, work_gpu, work_cpu) in [
        ("develop", Work::Develop(gpu), Work::Develop(cpu)),
        ("develop + encode", Work::Render(gpu), Work::Render(cpu)),
    ] {
        let (on_gpu, on_cpu) = (rate(work_gpu)?, rate(work_cpu)?);
        say!(
            "    decode + {what} on {name}: {on_gpu:.2} frames/s ({:.0}/min, {:.0} % of decode alone); on cpu: {on_cpu:.2} frames/s ({:.0}/min); ratio {name} / cpu {:.2}",
            on_gpu * 60.0,
            100.0 * on_gpu / decode,
            on_cpu * 60.0,
            on_gpu / on_cpu
        );
    }
    Ok(())
}
