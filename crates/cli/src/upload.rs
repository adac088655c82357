//! `wedsync upload`: develop camera files into the named presets and send them (and, if
//! asked, the originals) to the destination, finishing whatever an earlier run left.
//! Without a destination (`--to` or the configuration), it starts the built-in reference
//! server on 127.0.0.1 and says where the files went.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wedsync_engine::{Config, Event, Home, Report, UploadRequest};

use wedsync_engine::inputs;

#[derive(clap::Args)]
pub struct Args {
    /// Camera files or folders (cards, tethering folders, galleries).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Presets to develop and send, in order; `none` for originals only.
    #[arg(long, default_values = ["web"])]
    preset: Vec<String>,
    /// Also send the camera files, after every rendition.
    #[arg(long)]
    originals: bool,
    /// Copy each camera file first to this local folder, verified by reading it back
    /// (repeatable: a laptop disk and an external drive).
    #[arg(long, value_name = "DIR")]
    backup: Vec<PathBuf>,
    #[command(flatten)]
    sending: crate::sending::SendArgs,
    #[command(flatten)]
    backend: crate::backend::BackendArgs,
}

pub fn run(args: Args, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let config = Config::load(&home.config())?;
    let presets = crate::presets::named(&args.preset, args.originals, presets_dir)?;
    let found = inputs::expand(&args.inputs);
    for (path, reason) in &found.missing {
        say!("FAILED {}: {reason}", path.display());
    }
    let transport = args.sending.transport(&config);

    let developer = Arc::new(args.backend.developer(Some(&home))?);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (destination, local) = args.sending.destination(&home, &config, &transport).await?;
        let endpoint = destination.endpoint.clone();
        let request = UploadRequest {
            files: found.files.clone(),
            presets,
            originals: args.originals,
            backups: args.backup.clone(),
            destination,
            policy: transport.policy.clone(),
            pace: transport.pace.clone(),
            gallery: args.sending.gallery.clone(),
            develop_threads: transport.jobs,
            developer: developer.clone(),
        };
        let ticker = Ticker::start(&home, transport.pace.sent.clone());
        let report = wedsync_engine::upload(&home, request, Arc::new(print_event)).await;
        ticker.stop();
        let report = report?;
        summarise(&report, &endpoint);
        if let Some(local) = local {
            local.stop().await;
        }
        // Anything not sent — refused, left, waiting for a card, not reached — is a failure
        // for scripts, whatever this run got done.
        let r = &report.remaining;
        let clean = report.unreachable.is_none()
            && report.stopped.is_none()
            && found.missing.is_empty()
            && report.develop_failed == 0
            && report.waiting == 0
            && r.uploads_queued + r.uploads_sending + r.uploads_refused == 0;
        anyhow::Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

pub(crate) fn print_event(event: Event) {
    match event {
        Event::Recorded { .. } | Event::Developed { cached: true, .. } => {}
        Event::BackedUp { path, copy } => say!("backed up {} to {}", path.display(), copy.display()),
        Event::Requeued { count } => say!("trying again {count} upload(s) refused in an earlier run"),
        Event::Superseded { path, uploads } => say!(
            "{} changed since it was last recorded: {uploads} upload(s) of its earlier bytes dropped; sending it as it is now",
            path.display()
        ),
        Event::Developed { path, preset, bytes, fallback, .. } => {
            say!("developed {} ({preset}, {:.2} MB)", path.display(), bytes as f64 / 1e6);
            if let Some(why) = fallback {
                say!("  note: {why}");
            }
        }
        Event::DevelopFailed { path, preset, error } => match preset {
            Some(preset) => say!("FAILED to develop {} ({preset}): {error}", path.display()),
            // The error names the file already where it comes from reading it.
            None if error.contains(&path.display().to_string()) => say!("FAILED {error}"),
            None => say!("FAILED {}: {error}", path.display()),
        },
        Event::Verified { name, bytes } => say!("sent {name} ({:.2} MB)", bytes as f64 / 1e6),
        Event::Retrying { name, error } => say!("retrying {name}: {error}"),
        Event::Left { name, error } => say!("left for the next run: {name}: {error}"),
        Event::UploadFailed { name, error } => say!("FAILED to upload {name}: {error}"),
        Event::Unsettled { path, seconds } => {
            say!("still being written after {seconds} s, not taken yet: {}", path.display())
        }
        Event::CardFound { name, mount, files } => {
            say!("card {name} at {}: {files} file(s) to read", mount.display())
        }
        Event::Waiting { error, .. } => say!("waiting: {error}"),
        Event::Skipped { path, reason } => say!("skipped {}: {reason}", path.display()),
        Event::Edited { path, kept: true } => {
            say!("{}: same picture as before, metadata edited; its original is on the server already", path.display())
        }
        Event::Edited { path, kept: false } => {
            say!("{}: same picture as before, metadata edited; the newest bytes will be sent", path.display())
        }
        Event::Grouped { path, raw } => {
            say!("{}: the camera JPEG of {}, kept with it", path.display(), raw.display())
        }
        Event::CardGone { mount } => say!("card at {} went away", mount.display()),
        Event::SourceTrouble { source, error } => say!("source {source}: {error}"),
    }
}

pub(crate) fn summarise(report: &Report, endpoint: &str) {
    if let Some(why) = &report.unreachable {
        say!("could not reach {endpoint}: {why}");
    }
    let t = &report.transfer;
    say!(
        "{} file(s): {} rendition(s) developed, {} failed; {} upload(s) verified at {endpoint}, {} failed, {} left; \
         {:.1} s",
        report.files,
        report.developed,
        report.develop_failed,
        t.sent,
        t.failed,
        t.left,
        report.seconds
    );
    if let Some(why) = &report.stopped {
        say!("stopped: {why}");
    }
    say!("{}", what_is_left(report));
}

/// The run's last line: nothing left, or what is left and why (counted by kind, with the
/// first reason of each), and that a rerun tries it all again.
fn what_is_left(report: &Report) -> String {
    let r = &report.remaining;
    let unsent = r.uploads_queued + r.uploads_sending;
    if unsent + r.uploads_refused == 0 && report.develop_failed == 0 && report.waiting == 0 {
        return "nothing left to send".into();
    }
    let mut why = Vec::new();
    if report.develop_failed > 0 {
        why.push(format!(
            "{} file(s) or rendition(s) failed in this run (FAILED above)",
            report.develop_failed
        ));
    }
    if report.waiting > 0 {
        why.push(format!("{} file(s) waiting for their card (waiting above): reinsert it", report.waiting));
    }
    for (kind, label) in [("refused", "refused"), ("waiting", "waiting")] {
        let of_kind: Vec<_> = report.problems.iter().filter(|p| p.kind == kind).collect();
        if let Some(first) = of_kind.first() {
            let name = first
                .path
                .file_name()
                .map_or_else(|| first.path.display().to_string(), |n| n.to_string_lossy().into_owned());
            why.push(format!("{} {label} (first: {name} ({}): {})", of_kind.len(), first.what, first.error));
        }
    }
    if let Some(stopped) = &report.stopped {
        why.push(format!("the run stopped: {stopped}"));
    } else if report.unreachable.is_some() {
        why.push("the destination could not be reached".into());
    }
    let megabytes = match r.bytes_to_send {
        0 => String::new(),
        bytes => format!(", {:.1} MB", bytes as f64 / 1e6),
    };
    format!(
        "left: {} upload(s){megabytes}{}{} — run `wedsync upload` again to finish (it tries every unsent upload again)",
        unsent + r.uploads_refused,
        if why.is_empty() { "" } else { "; " },
        why.join("; ")
    )
}

/// A progress line every two seconds: uploads left, bytes left, rate, ETA.
struct Ticker {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(home: &Home, sent: Arc<std::sync::atomic::AtomicU64>) -> Ticker {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, journal) = (stop.clone(), home.journal());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut last = Instant::now();
            while !flag.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() < Duration::from_secs(2) {
                    continue;
                }
                last = Instant::now();
                let Ok(remaining) =
                    wedsync_journal::Journal::open_read_only(&journal).and_then(|j| j.remaining())
                else {
                    continue;
                };
                let rate = sent.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
                let eta = if rate > 0.0 {
                    format!("{:.0} s", remaining.bytes_to_send as f64 / rate)
                } else {
                    "—".into()
                };
                say!(
                    "progress: {} to develop, {} upload(s) left, {:.1} MB left, {:.2} MB/s, ETA {eta}",
                    remaining.renditions_pending,
                    remaining.uploads_queued + remaining.uploads_sending,
                    remaining.bytes_to_send as f64 / 1e6,
                    rate / 1e6
                );
            }
        });
        Ticker { stop, thread: Some(thread) }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
