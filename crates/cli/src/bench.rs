//! `wedsync bench develop`: our develop against LibRaw (`dcraw_emu -q 3` + `cjpeg`) on the
//! same files in the same run, reporting CPU time, the ratio, and our per-stage times.
//! Both tools get one file per process (as a tethered frame or a single file is developed:
//! start-up costs are paid by that file) and then the same batch of copies of it in one
//! invocation each (as a card is developed: start-up costs shared); figures are per file. The
//! machines are shared and noisy, so each side runs several times and the fastest run
//! counts, and the ratio — not the absolute figure — is what to compare across machines.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context};
use wedsync_develop::{synth, PresetSet};

#[derive(clap::Subcommand)]
pub enum Command {
    /// CPU time of `wedsync develop` against LibRaw's dcraw_emu -q 3 + cjpeg.
    Develop(DevelopArgs),
    /// The develop stages on a GPU backend (--backend) against the CPU path: per-stage
    /// kernel time, transfers, and frames/s with N decode threads, on 24 and 45 MP frames.
    Gpu(crate::bench_gpu::GpuArgs),
    /// A venue evening: frames arriving at tethering pace in a watched folder while a backlog
    /// is sent; latency from a frame's close to its web rendition verified, p50 and p95,
    /// against a frame arriving alone, and resident memory as frames accumulate.
    Soak(crate::bench_soak::SoakArgs),
    /// Make N distinct RAW frames (DNG) from one, for upload benchmarks: the same sensor
    /// data shifted sideways, so each is its own file and its own rendition.
    Frames(FramesArgs),
}

#[derive(clap::Args)]
pub struct FramesArgs {
    /// The RAW file to derive the frames from.
    input: PathBuf,
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// Folder for FRAME_0000.dng, FRAME_0001.dng, … (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct DevelopArgs {
    /// RAW files to time.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Presets to time.
    #[arg(long, default_values = ["full", "web"])]
    preset: Vec<String>,
    /// Also time larger sensors made by tiling the first input's mosaic (megapixels).
    #[arg(long, value_delimiter = ',')]
    tiled: Vec<f64>,
    /// Runs per measurement; the fastest counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Copies of each file developed per invocation in the batch measurement, besides the
    /// one-file-per-process one (figures are per file).
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Threads for both tools (OMP_NUM_THREADS for LibRaw, RAYON_NUM_THREADS for us). One
    /// by default: CPU time then measures work, not thread pools spinning while they wait.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

pub fn run(cmd: Command, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Develop(args) => develop(args, presets_dir),
        Command::Frames(args) => frames(args),
        Command::Soak(args) => crate::bench_soak::soak(args, presets_dir),
        Command::Gpu(args) => crate::bench_gpu::gpu(args, presets_dir),
    }
}

fn frames(args: FramesArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    for k in 0..args.count {
        let dst = args.out.join(format!("FRAME_{k:04}.dng"));
        synth::shifted_dng(&args.input, &dst, k * 7 + 1)?;
    }
    say!("made {} frames from {} in {}", args.count, args.input.display(), args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn develop(args: DevelopArgs, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let presets = PresetSet::load(presets_dir)?;
    let scratch = tempfile_dir()?;
    let mut inputs = args.inputs.clone();
    for mp in &args.tiled {
        let dst = scratch.join(format!("tiled-{mp}mp.dng"));
        let (w, h) = synth::tiled_dng(&args.inputs[0], &dst, *mp)?;
        say!(
            "made {} ({w}x{h}, {:.1} MP) from {}",
            dst.display(),
            (w * h) as f64 / 1e6,
            args.inputs[0].display()
        );
        inputs.push(dst);
    }
    say!(
        "CPU seconds per file, {} thread(s), fastest of {} runs, each tool given one file per \
         process and a batch of {} in one process; ratio = ours / LibRaw (lower is better)",
        args.threads,
        args.runs,
        args.batch
    );
    let sizes = if args.batch > 1 { vec![1, args.batch] } else { vec![1] };
    for input in &inputs {
        say!("\n{}", input.display());
        let batches = sizes
            .iter()
            .map(|&n| copies(input, n, &scratch.join(format!("batch{n}"))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut libraw_cpu = Vec::new();
        for batch in &batches {
            let measured = best_of(args.runs, || libraw(batch, args.threads))?;
            say!(
                "  LibRaw dcraw_emu -q 3 + cjpeg -quality 92, {:<14} {:.3} CPU-s ({:.3} s wall)",
                per(batch.len()),
                measured.cpu,
                measured.wall
            );
            libraw_cpu.push(measured.cpu);
        }
        for name in &args.preset {
            presets.get(name)?;
            for (batch, libraw_cpu) in batches.iter().zip(&libraw_cpu) {
                let mut stages = String::new();
                let ours = best_of(args.runs, || {
                    let (measured, timings) = ours(batch, name, presets_dir, &scratch, args.threads)?;
                    stages = timings;
                    Ok(measured)
                })?;
                say!(
                    "  wedsync develop --preset {name:<8} {:<14} {:.3} CPU-s ({:.3} s wall)  ratio {:.2}",
                    per(batch.len()),
                    ours.cpu,
                    ours.wall,
                    ours.cpu / libraw_cpu
                );
                say!("      stage ms: {stages}");
            }
        }
    }
    std::fs::remove_dir_all(&scratch).ok();
    Ok(ExitCode::SUCCESS)
}

struct Measured {
    cpu: f64,
    wall: f64,
}

fn best_of(runs: usize, mut f: impl FnMut() -> anyhow::Result<Measured>) -> anyhow::Result<Measured> {
    let mut best: Option<Measured> = None;
    for _ in 0..runs.max(1) {
        let m = f()?;
        if best.as_ref().is_none_or(|b| m.cpu < b.cpu) {
            best = Some(m);
        }
    }
    best.context("no runs")
}

/// How a measurement was taken: "one file" per process, or "batch of N".
fn per(files: usize) -> String {
    if files == 1 {
        "one file:".into()
    } else {
        format!("batch of {files}:")
    }
}

/// `dir`, emptied, holding `n` copies of `input`.
fn copies(input: &Path, n: usize, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::remove_dir_all(dir).ok();
    std::fs::create_dir_all(dir)?;
    let ext = input.extension().and_then(|e| e.to_str()).unwrap_or("raw");
    (0..n)
        .map(|i| {
            let copy = dir.join(format!("frame{i:03}.{ext}"));
            std::fs::copy(input, &copy).with_context(|| format!("copying {}", input.display()))?;
            Ok(copy)
        })
        .collect()
}

fn libraw(batch: &[PathBuf], threads: usize) -> anyhow::Result<Measured> {
    let start = children_cpu_seconds();
    let wall = Instant::now();
    // dcraw_emu writes FILE.ppm beside each input.
    let status = Process::new("dcraw_emu")
        .env("OMP_NUM_THREADS", threads.to_string())
        .args(["-q", "3", "-w"])
        .args(batch)
        .status()
        .context("running dcraw_emu (Debian package libraw-bin)")?;
    if !status.success() {
        bail!("dcraw_emu failed");
    }
    for input in batch {
        let ppm = PathBuf::from(format!("{}.ppm", input.display()));
        let status = Process::new("cjpeg")
            .args(["-quality", "92", "-outfile"])
            .arg(ppm.with_extension("jpg"))
            .arg(&ppm)
            .status()
            .context("running cjpeg (Debian package libjpeg-turbo-progs)")?;
        if !status.success() {
            bail!("cjpeg failed on {}", ppm.display());
        }
        std::fs::remove_file(&ppm).ok();
    }
    let n = batch.len() as f64;
    Ok(Measured { cpu: (children_cpu_seconds() - start) / n, wall: wall.elapsed().as_secs_f64() / n })
}

/// `wedsync develop` in a child process, as a photographer runs it (LibRaw gets a fresh
/// process too); returns its CPU time and its per-stage milliseconds.
fn ours(
    batch: &[PathBuf],
    preset: &str,
    presets_dir: Option<&Path>,
    scratch: &Path,
    threads: usize,
) -> anyhow::Result<(Measured, String)> {
    let mut cmd = Process::new(std::env::current_exe()?);
    cmd.env("RAYON_NUM_THREADS", threads.to_string());
    if let Some(dir) = presets_dir {
        cmd.arg("--presets-dir").arg(dir);
    }
    cmd.args(["develop", "--timings", "--jobs", "1", "--preset", preset, "--out"])
        .arg(scratch.join("ours"))
        .args(batch);
    let start = children_cpu_seconds();
    let wall = Instant::now();
    let out = cmd.output().context("running wedsync develop")?;
    let n = batch.len() as f64;
    let measured =
        Measured { cpu: (children_cpu_seconds() - start) / n, wall: wall.elapsed().as_secs_f64() / n };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wedsync develop failed:\n{stdout}");
    }
    // The last file's stages: start-up costs are in the first.
    let stages =
        stdout.lines().filter_map(|l| l.trim().strip_prefix("ms: ")).next_back().unwrap_or("").to_string();
    Ok((measured, stages))
}

pub(crate) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("wedsync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// User + system CPU seconds of this process's finished children.
#[cfg(unix)]
fn children_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer we pass and nothing else.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) != 0 {
            return f64::NAN;
        }
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Not measured off Unix yet: the benchmark then reports NaN rather than a wrong figure.
#[cfg(not(unix))]
fn children_cpu_seconds() -> f64 {
    f64::NAN
}
