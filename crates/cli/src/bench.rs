//! `wedsync bench develop`: our develop against LibRaw (`dcraw_emu -q 3` + `cjpeg`) on the
//! same files in the same run, reporting CPU time, the ratio, and our per-stage times.
//! The machines are shared and noisy, so each side runs several times and the fastest run
//! counts, and the ratio — not the absolute figure — is what to compare across machines.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context};
use wedsync_develop::{develop_file, synth, PresetSet, StageTime};

#[derive(clap::Subcommand)]
pub enum Command {
    /// CPU time of `wedsync develop` against LibRaw's dcraw_emu -q 3 + cjpeg.
    Develop(DevelopArgs),
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
}

pub fn run(cmd: Command, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let Command::Develop(args) = cmd;
    let presets = PresetSet::load(presets_dir)?;
    let scratch = tempfile_dir()?;
    let mut inputs = args.inputs.clone();
    for mp in &args.tiled {
        let dst = scratch.join(format!("tiled-{mp}mp.dng"));
        let (w, h) = synth::tiled_dng(&args.inputs[0], &dst, *mp)?;
        println!(
            "made {} ({w}x{h}, {:.1} MP) from {}",
            dst.display(),
            (w * h) as f64 / 1e6,
            args.inputs[0].display()
        );
        inputs.push(dst);
    }
    println!(
        "CPU seconds, fastest of {} runs; ratio = ours / LibRaw (lower is better)",
        args.runs
    );
    for input in &inputs {
        let libraw = best_of(args.runs, || libraw(input, &scratch))?;
        println!(
            "\n{}\n  LibRaw dcraw_emu -q 3 + cjpeg -quality 92: {:.3} CPU-s ({:.3} s wall)",
            input.display(),
            libraw.cpu,
            libraw.wall
        );
        for name in &args.preset {
            let preset = presets.get(name)?;
            let mut stages = Vec::new();
            let ours = best_of(args.runs, || {
                let start = cpu_seconds(Who::Myself);
                let wall = Instant::now();
                let r = develop_file(input, preset)?;
                stages = r.timings;
                Ok(Measured {
                    cpu: cpu_seconds(Who::Myself) - start,
                    wall: wall.elapsed().as_secs_f64(),
                })
            })?;
            println!(
                "  wedsync --preset {name:<8} {:.3} CPU-s ({:.3} s wall)  ratio {:.2}",
                ours.cpu,
                ours.wall,
                ours.cpu / libraw.cpu
            );
            println!("      stage ms: {}", format_stages(&stages));
        }
    }
    std::fs::remove_dir_all(&scratch).ok();
    Ok(ExitCode::SUCCESS)
}

struct Measured {
    cpu: f64,
    wall: f64,
}

fn best_of(
    runs: usize,
    mut f: impl FnMut() -> anyhow::Result<Measured>,
) -> anyhow::Result<Measured> {
    let mut best: Option<Measured> = None;
    for _ in 0..runs.max(1) {
        let m = f()?;
        if best.as_ref().is_none_or(|b| m.cpu < b.cpu) {
            best = Some(m);
        }
    }
    best.context("no runs")
}

fn libraw(input: &Path, scratch: &Path) -> anyhow::Result<Measured> {
    let ppm = scratch.join("libraw.ppm");
    let jpg = scratch.join("libraw.jpg");
    let start = cpu_seconds(Who::Children);
    let wall = Instant::now();
    let status = Process::new("dcraw_emu")
        .args(["-q", "3", "-w", "-Z"])
        .arg(&ppm)
        .arg(input)
        .status()
        .context("running dcraw_emu (Debian package libraw-bin)")?;
    if !status.success() {
        bail!("dcraw_emu failed on {}", input.display());
    }
    let status = Process::new("cjpeg")
        .args(["-quality", "92", "-outfile"])
        .arg(&jpg)
        .arg(&ppm)
        .status()
        .context("running cjpeg (Debian package libjpeg-turbo-progs)")?;
    if !status.success() {
        bail!("cjpeg failed on {}", ppm.display());
    }
    Ok(Measured {
        cpu: cpu_seconds(Who::Children) - start,
        wall: wall.elapsed().as_secs_f64(),
    })
}

fn format_stages(stages: &[StageTime]) -> String {
    stages
        .iter()
        .map(|s| format!("{} {:.0}", s.name, s.ms))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("wedsync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

enum Who {
    Myself,
    Children,
}

/// User + system CPU seconds of this process (all threads) or of its finished children.
#[cfg(unix)]
fn cpu_seconds(who: Who) -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    let target = match who {
        Who::Myself => libc::RUSAGE_SELF,
        Who::Children => libc::RUSAGE_CHILDREN,
    };
    // SAFETY: getrusage writes a whole rusage into the pointer we pass and nothing else.
    let usage = unsafe {
        if libc::getrusage(target, usage.as_mut_ptr()) != 0 {
            return f64::NAN;
        }
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Not measured off Unix yet: the benchmark then reports NaN rather than a wrong figure.
#[cfg(not(unix))]
fn cpu_seconds(_who: Who) -> f64 {
    f64::NAN
}
