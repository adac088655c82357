//! `wedsync`: the headless WedSync Uploader.

/// `println!` that ignores a closed stdout; see [`say`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::say(format_args!($($arg)*))
    };
}

mod backend;
mod bench;
mod bench_gpu;
mod bench_soak;
mod cards;
mod develop;
mod heap;
mod loadtest;
mod presets;
mod sending;
mod serve;
mod status;
mod upload;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "wedsync", version, about = "Develop camera files into delivery JPEGs and upload them")]
struct Cli {
    /// Folder of studio preset files (*.toml). Default: $WEDSYNC_HOME/presets, else the
    /// platform's configuration folder (e.g. ~/.config/wedsync/presets).
    #[arg(long, global = true, value_name = "DIR")]
    presets_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Develop camera files into the presets and upload them (and, if asked, the originals),
    /// finishing whatever an earlier run left.
    Upload(upload::Args),
    /// A headless station: watch tethering folders and cards, take in every new frame,
    /// send it; runs until SIGINT or SIGTERM.
    Watch(watch::Args),
    /// What the journal says: files, renditions, uploads per destination, problems.
    Status(status::Args),
    /// The camera cards mounted now, and how many of each card's files are safe to format.
    Cards(cards::Args),
    /// Develop camera files (RAW or JPEG) into JPEG renditions.
    Develop(develop::Args),
    /// List, show or check quality presets.
    #[command(subcommand)]
    Presets(presets::Command),
    /// Benchmarks against peers measured in the same run.
    #[command(subcommand)]
    Bench(bench::Command),
    /// The reference ingestion server (tus 1.0 at /files), and its tokens.
    Serve(serve::Args),
    /// Load benchmark: many concurrent chunked uploads against `wedsync serve` and, in the
    /// same run, @tus/server; chunk latency, throughput, errors, server memory.
    Loadtest(loadtest::Args),
    /// What this machine can develop on: CUDA driver and NVRTC, GPU adapters and their
    /// memory, whether each passes its self-test, and which one `auto` picks, and why.
    Doctor(backend::DoctorArgs),
}

/// Prints a line to stdout. A reader that went away (`wedsync … | head`) is no reason to
/// panic or to stop a batch, so a failed write is ignored.
pub(crate) fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    writeln!(std::io::stdout(), "{line}").unwrap_or(());
}

/// glibc serves every allocation over 32 MB with a fresh mmap and unmaps it on free, so each
/// image's planes (100 MB and more) are page-faulted and zeroed by the kernel again — a
/// third of the CPU time of a develop, measured. Serving them from the heap, and keeping
/// freed memory there, lets the next image reuse them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_allocations() {
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists
    // (argument parsing starts none).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_allocations() {}

/// Mesa's Vulkan device-selection layer asks the Wayland display which GPU is the default
/// one and, where there is no session (a headless station, a service, SSH), prints
/// `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` at every start — not
/// an error for a program that only computes. Without a session there is no display to
/// ask, so the layer is switched off by its own documented switch; with one it stays.
fn quiet_headless_vulkan() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() && std::env::var_os("NODEVICE_SELECT").is_none() {
        // Before any thread exists (argument parsing starts none) and before Vulkan loads.
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn main() -> ExitCode {
    quiet_headless_vulkan();
    let cli = Cli::parse();
    // Only where images are developed: a long-running server should give memory back.
    if matches!(cli.command, Command::Develop(_) | Command::Upload(_) | Command::Watch(_) | Command::Bench(_))
    {
        keep_large_allocations();
    }
    let presets_dir = cli.presets_dir.or_else(wedsync_engine::Home::presets_dir);
    let result = match cli.command {
        Command::Upload(args) => upload::run(args, presets_dir.as_deref()),
        Command::Watch(args) => watch::run(args, presets_dir.as_deref()),
        Command::Status(args) => status::run(args),
        Command::Cards(args) => cards::run(args),
        Command::Develop(args) => develop::run(args, presets_dir.as_deref()),
        Command::Presets(cmd) => presets::run(cmd, presets_dir.as_deref()),
        Command::Bench(cmd) => bench::run(cmd, presets_dir.as_deref()),
        Command::Doctor(args) => backend::doctor(args),
        Command::Serve(args) => serve::run(args),
        Command::Loadtest(args) => loadtest::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
