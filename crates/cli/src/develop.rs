//! `wedsync develop INPUT... --preset NAME --out DIR`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use wedsync_develop::{PresetSet, Rendition};
use wedsync_engine::Home;

use crate::backend::BackendArgs;
use wedsync_engine::inputs;

#[derive(clap::Args)]
pub struct Args {
    /// Camera files or folders of them (searched recursively).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Quality preset (see `wedsync presets list`).
    #[arg(long, default_value = "gallery")]
    preset: String,
    /// Folder for the renditions (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Also print each file's time per develop stage.
    #[arg(long)]
    timings: bool,
    /// Files developed at once (default: one per two cores, at least one); each file's
    /// stages also run in parallel.
    #[arg(long)]
    jobs: Option<usize>,
    #[command(flatten)]
    backend: BackendArgs,
}

pub fn run(args: Args, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    crate::heap::keep_freed_memory();
    let presets = PresetSet::load(presets_dir)?;
    let preset = presets.get(&args.preset)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let developer = args.backend.developer(Home::from_env().ok().as_ref())?;

    let found = inputs::expand(&args.inputs);
    let names = inputs::output_names(&found.files);
    let bar = ProgressBar::new(found.files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Output may go to a pipe that closes early (`| head`); that must not stop the batch.
    let say = |line: String| bar.suspend(|| crate::say(line));
    for (path, reason) in &found.missing {
        say(format!("FAILED {}: {reason}", path.display()));
    }
    for path in &found.skipped {
        say(format!("skipped {}: not a camera file", path.display()));
    }

    let start = Instant::now();
    let failed = AtomicUsize::new(found.missing.len());
    let bytes = AtomicUsize::new(0);
    let jobs =
        args.jobs.unwrap_or_else(|| (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1));
    let next = AtomicUsize::new(0);
    // Plain threads pick files; inside each file the stages use rayon's global pool, so one
    // file at a time still uses every core.
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(found.files.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some(input), Some(name)) = (found.files.get(i), names.get(i)) else { break };
                let target = args.out.join(name);
                let started = Instant::now();
                match developer
                    .develop_file(input, preset)
                    .and_then(|r| write_atomically(&target, &r.jpeg).map(|()| r))
                {
                    Ok(rendition) => {
                        bytes.fetch_add(rendition.jpeg.len(), Ordering::Relaxed);
                        say(describe(
                            input,
                            &target,
                            &rendition,
                            started.elapsed().as_secs_f64(),
                            args.timings,
                        ));
                    }
                    Err(err) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        say(format!("FAILED {err}"));
                    }
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();

    let failed = failed.into_inner();
    let done = found.files.len() + found.missing.len() - failed;
    say(format!(
        "developed {done} file(s) with preset {} into {} ({:.1} MB) in {:.1} s; {failed} failed; {} skipped",
        preset.name,
        args.out.display(),
        bytes.into_inner() as f64 / 1e6,
        start.elapsed().as_secs_f64(),
        found.skipped.len(),
    ));
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn describe(input: &Path, output: &Path, r: &Rendition, seconds: f64, timings: bool) -> String {
    let quality = match r.score {
        Some(score) => format!("q{} score {score:.1}", r.jpeg_quality),
        None => format!("q{}", r.jpeg_quality),
    };
    let mut line = format!(
        "{} -> {}  {}x{}  {:.2} MB  {quality}  {}  {:.0} ms",
        input.display(),
        output.display(),
        r.width,
        r.height,
        r.jpeg.len() as f64 / 1e6,
        r.backend.name(),
        seconds * 1e3
    );
    if let Some(look) = &r.look {
        line += &format!("\n    look: {look}");
    }
    if let Some(edits) = &r.edits {
        line += &format!("\n    edits: {edits}");
    }
    if let Some(why) = &r.fallback {
        line += &format!("\n    note: {why}");
    }
    if timings {
        let stages: Vec<String> = r.timings.iter().map(|t| format!("{} {:.0}", t.name, t.ms)).collect();
        line += &format!("\n    ms: {}", stages.join(", "));
    }
    line
}

/// Writes next to the target and renames, so a crash never leaves half a JPEG under the
/// final name.
fn write_atomically(target: &Path, bytes: &[u8]) -> wedsync_develop::Result<()> {
    let io = |source| wedsync_develop::Error::Io { path: target.to_path_buf(), source };
    let partial = target.with_extension("jpg.partial");
    std::fs::write(&partial, bytes).map_err(io)?;
    std::fs::rename(&partial, target).map_err(io)
}
