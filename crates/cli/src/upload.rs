//! `wedsync upload`: develop camera files into the named presets and send them (and, if
//! asked, the originals) to the destination, finishing whatever an earlier run left.
//! Without a destination (`--to` or the configuration), it starts the built-in reference
//! server on 127.0.0.1 and says where the files went.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use wedsync_develop::PresetSet;
use wedsync_engine::{Config, Event, Home, Report, UploadRequest};
use wedsync_transfer::{Bandwidth, Destination, Pace, Policy};

use crate::inputs;

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
    /// The tus endpoint (e.g. https://ingest.example/files). Default: the configured one,
    /// else the built-in server on 127.0.0.1.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Bearer token for the destination (or WEDSYNC_TOKEN).
    #[arg(long, env = "WEDSYNC_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Files sent at once.
    #[arg(long)]
    streams: Option<usize>,
    /// Raise and lower the number of streams by measured throughput (up to 16).
    #[arg(long)]
    adaptive: bool,
    /// Bandwidth cap in Mbit/s (0 = none).
    #[arg(long, value_name = "MBIT")]
    limit_mbit: Option<f64>,
    /// Bytes per request, in MiB (platforms may require e.g. at least 5).
    #[arg(long, value_name = "MIB")]
    chunk_mib: Option<f64>,
    /// Partial uploads of one large file sent at once and joined by the server, where it
    /// offers concatenation; each part is at least one chunk (1 = one upload per file).
    #[arg(long, value_name = "N")]
    parts: Option<usize>,
    /// Seconds without progress before a request is cut and resumed.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    stall: u64,
    /// Failed attempts in a row before a file is left for the next run.
    #[arg(long, default_value_t = 8)]
    attempts: u32,
    /// Gallery or event id, sent with every file for the platform to file it under.
    #[arg(long)]
    gallery: Option<String>,
    /// Files developed at once (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    #[command(flatten)]
    backend: crate::backend::BackendArgs,
}

const DEFAULT_CHUNK_MIB: f64 = 8.0;
/// A 25 MB raw file at 8 MiB chunks goes as 3 parts, a 60 MB one as 4.
const DEFAULT_PARTS: usize = 4;

pub fn run(args: Args, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let config = Config::load(&home.config())?;
    let all = PresetSet::load(presets_dir)?;
    let presets = if args.preset.iter().any(|p| p == "none") {
        Vec::new()
    } else {
        args.preset.iter().map(|name| all.get(name).cloned()).collect::<Result<Vec<_>, _>>()?
    };
    if presets.is_empty() && !args.originals {
        anyhow::bail!("nothing to send: --preset none without --originals");
    }
    let found = inputs::expand(&args.inputs);
    for (path, reason) in &found.missing {
        say!("FAILED {}: {reason}", path.display());
    }
    let chunk_mib =
        args.chunk_mib.or(config.destination.as_ref().and_then(|d| d.chunk_mib)).unwrap_or(DEFAULT_CHUNK_MIB);
    let chunk_size = (chunk_mib * 1024.0 * 1024.0).round().max(1.0) as u64;
    let parts =
        args.parts.or(config.destination.as_ref().and_then(|d| d.parts)).unwrap_or(DEFAULT_PARTS).max(1);
    let limit_mbit = args.limit_mbit.or(config.upload.limit_mbit).unwrap_or(0.0);
    let pace = Pace {
        stall: Duration::from_secs(args.stall.max(1)),
        bandwidth: (limit_mbit > 0.0)
            .then(|| Arc::new(Mutex::new(Bandwidth::new((limit_mbit * 125_000.0) as u64, Instant::now())))),
        ..Pace::default()
    };
    let streams = args.streams.or(config.upload.streams).unwrap_or(4).max(1);
    let policy = Policy {
        streams,
        adaptive: args.adaptive || config.upload.adaptive.unwrap_or(false),
        max_streams: streams.max(16),
        attempts: args.attempts.max(1),
        ..Policy::default()
    };
    // One file per core: one image's `web` develop keeps about 1.2 cores busy, and sending
    // needs little CPU. Measured on 2 cores, 40 RAW frames to `web`: 10.1 s with one job,
    // 6.9 s with two.
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let developer = Arc::new(args.backend.developer(Some(&home))?);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (endpoint, token, local) = match (&args.to, &config.destination) {
            (Some(url), _) => (url.clone(), args.token.clone(), None),
            (None, Some(d)) => (d.endpoint.clone(), args.token.clone().or(d.token.clone()), None),
            (None, None) => {
                let local = LocalServer::start(&home).await?;
                say!(
                    "no destination configured: sending to the built-in server at {} (files in {})",
                    local.endpoint,
                    local.uploads.display()
                );
                (local.endpoint.clone(), Some(local.token.clone()), Some(local))
            }
        };
        let request = UploadRequest {
            files: found.files.clone(),
            presets,
            originals: args.originals,
            backups: args.backup.clone(),
            destination: Destination { endpoint: endpoint.clone(), token, chunk_size, parts },
            policy,
            pace: pace.clone(),
            gallery: args.gallery.clone(),
            develop_threads: jobs,
            developer: developer.clone(),
        };
        let ticker = Ticker::start(&home, pace.sent.clone());
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
            && r.uploads_queued + r.uploads_sending + r.uploads_refused == 0;
        anyhow::Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

fn print_event(event: Event) {
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
    }
}

fn summarise(report: &Report, endpoint: &str) {
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
    if unsent + r.uploads_refused == 0 && report.develop_failed == 0 {
        return "nothing left to send".into();
    }
    let mut why = Vec::new();
    if report.develop_failed > 0 {
        why.push(format!(
            "{} file(s) or rendition(s) failed in this run (FAILED above)",
            report.develop_failed
        ));
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

/// The built-in reference server, for a photographer without a platform account yet: its
/// data, token and port live in the home folder so a later run resumes the same uploads.
struct LocalServer {
    endpoint: String,
    token: String,
    uploads: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalServer {
    async fn start(home: &Home) -> anyhow::Result<LocalServer> {
        let data = home.local_server();
        let db = wedsync_ingest::open_db(&data)?;
        let token_file = data.join("token");
        let token = match std::fs::read_to_string(&token_file) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let token = wedsync_ingest::SqliteTokens::new(db).add("wedsync-upload", false)?;
                write_private(&token_file, &token)?;
                token
            }
        };
        // The same port as last time if it is free, so upload URLs in the journal still work.
        let port_file = data.join("port");
        let port: u16 =
            std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()).unwrap_or(0);
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.context("listen on 127.0.0.1")?,
        };
        let addr = listener.local_addr()?;
        std::fs::write(&port_file, addr.port().to_string())
            .with_context(|| port_file.display().to_string())?;
        let ingest = wedsync_ingest::open_local(&data, wedsync_ingest::Limits::default())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = wedsync_ingest::serve(ingest, listener, shutdown).await {
                say!("built-in server: {e}");
            }
        });
        Ok(LocalServer {
            endpoint: format!("http://{addr}/files"),
            token,
            uploads: data.join("uploads"),
            stop,
            task,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// A secret on disk, readable by its owner only (where the platform has such modes).
fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| path.display().to_string())?;
    std::io::Write::write_all(&mut file, secret.as_bytes()).with_context(|| path.display().to_string())
}
