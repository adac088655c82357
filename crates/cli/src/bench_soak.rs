//! `wedsync bench soak`: a venue evening in minutes. Frames arrive in a watched folder at
//! tethering pace (bursts of several a second, each written in pieces and then closed)
//! while a backlog of older frames is being developed and sent to our server (`wedsync
//! serve`, a separate process). It reports, for each frame, the latency from its writer
//! closing the file to its `web` rendition verified on the server (p50, p95, max), the
//! same latency for a frame arriving alone (the peer this run's figures are divided by),
//! and the engine's resident memory as the frames accumulate (flat, not growing).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use wedsync_develop::PresetSet;
use wedsync_engine::settle::Settle;
use wedsync_engine::{Engine, Event, Home, Intent, Rules, Settings, Source, SourceKind};
use wedsync_transfer::{Destination, Pace, Policy};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// The RAW file every frame is a copy of (each with its own capture time).
    input: PathBuf,
    /// Frames arriving while the station runs.
    #[arg(long, default_value_t = 2000)]
    frames: usize,
    /// Older frames already in the folder, queued, when the arrivals start.
    #[arg(long, default_value_t = 200)]
    backlog: usize,
    /// Frames per burst, and the pause between bursts (seconds).
    #[arg(long, default_value_t = 4)]
    burst: usize,
    #[arg(long, default_value_t = 2.0)]
    pause: f64,
    /// Frames in a burst are this many seconds apart.
    #[arg(long, default_value_t = 0.25)]
    spacing: f64,
    /// Develop threads (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    #[command(flatten)]
    backend: crate::backend::BackendArgs,
}

/// What the run saw: when each frame's writer closed it, and when its rendition was
/// verified.
#[derive(Default)]
struct Times {
    closed: HashMap<String, Instant>,
    verified: HashMap<String, Instant>,
}

pub fn soak(args: SoakArgs, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let raw = std::fs::read(&args.input).with_context(|| args.input.display().to_string())?;
    let extension = args.input.extension().and_then(|e| e.to_str()).unwrap_or("CR2").to_string();
    let scratch = crate::bench::tempfile_dir()?;
    let (data, home_dir, folder) = (scratch.join("data"), scratch.join("home"), scratch.join("tether"));
    std::fs::create_dir_all(&folder)?;
    let token = wedsync_ingest::SqliteTokens::new(wedsync_ingest::open_db(&data)?).add("soak", false)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = Process::new(std::env::current_exe()?)
        .args(["serve", "--data", &data.to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start wedsync serve")?;
    let outcome = run(&args, &raw, &extension, presets_dir, &home_dir, &folder, port, &token);
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

#[allow(clippy::too_many_arguments)]
fn run(
    args: &SoakArgs,
    raw: &[u8],
    extension: &str,
    presets_dir: Option<&Path>,
    home_dir: &Path,
    folder: &Path,
    port: u16,
    token: &str,
) -> anyhow::Result<ExitCode> {
    let url = format!("http://127.0.0.1:{port}/files");
    let web = PresetSet::load(presets_dir)?.get("web")?.clone();
    let times = Arc::new(Mutex::new(Times::default()));
    let events = {
        let times = times.clone();
        Arc::new(move |event: Event| {
            if let Event::Verified { name, .. } = event {
                if let Some(file) = name.strip_suffix(" (web)") {
                    if let Ok(mut t) = times.lock() {
                        t.verified.insert(file.to_string(), Instant::now());
                    }
                }
            }
        })
    };
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let developer = Arc::new(args.backend.developer(None)?);
    let write = |name: &str, k: usize| -> anyhow::Result<Instant> {
        write_frame(&folder.join(name), raw, k).with_context(|| name.to_string())
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        wait_for_server(port).await?;
        let home = Home::at(home_dir.to_path_buf())?;
        let settings = Settings {
            destination: Destination { endpoint: url.clone(), token: Some(token.to_string()), chunk_size: 8 << 20, parts: 1 },
            policy: Policy::default(),
            pace: Pace::default(),
            rules: Rules { presets: vec![web.clone()], originals: false, backups: Vec::new(), ..Rules::default() },
            gallery: None,
            develop_threads: jobs,
            developer,
        };
        let engine = Engine::start(&home, settings, events)?;
        let source = Source {
            name: "tether".into(),
            kind: SourceKind::Folder { path: folder.to_path_buf(), poll: false, settle: Settle::default() },
            rules: Rules { presets: vec![web], originals: false, backups: Vec::new(), ..Rules::default() },
            enabled: true,
        };
        engine.apply(Intent::AddSource(source))?;
        let name = |k: usize| format!("FRAME_{k:05}.{extension}");
        let verified = |n: &str| times.lock().map(|t| t.verified.contains_key(n)).unwrap_or(false);

        // The peer: a frame arriving alone at an idle station, three times.
        let mut alone = Vec::new();
        for k in 0..3 {
            let n = name(k);
            let closed = write(&n, k)?;
            until_verified(|| verified(&n), Duration::from_secs(60)).await?;
            let at = times.lock().map(|t| t.verified[&n]).map_err(|_| anyhow::anyhow!("poisoned"))?;
            alone.push(at.duration_since(closed).as_secs_f64());
        }
        // The backlog, older frames written at once.
        let start = 3;
        for k in start..start + args.backlog {
            write(&name(k), k)?;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Arrivals at tethering pace, memory sampled as they come.
        let first = start + args.backlog;
        let mut rss = Vec::new();
        let began = Instant::now();
        for i in 0..args.frames {
            let k = first + i;
            let closed = write(&name(k), k)?;
            if let Ok(mut t) = times.lock() {
                t.closed.insert(name(k), closed);
            }
            if (i + 1) % (args.frames / 4).max(1) == 0 {
                rss.push((i + 1, resident_kib()));
            }
            let gap = if (i + 1) % args.burst.max(1) == 0 { args.pause } else { args.spacing };
            tokio::time::sleep(Duration::from_secs_f64(gap)).await;
        }
        let arrivals = began.elapsed().as_secs_f64();
        let last: Vec<String> = (first..first + args.frames).map(name).collect();
        until_verified(|| last.iter().all(|n| verified(n)), Duration::from_secs(1800)).await?;
        let all_done = began.elapsed().as_secs_f64();
        let backlog_done = (start..first).all(|k| verified(&name(k)));
        let report = engine.shutdown().await?;

        let t = times.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let mut latency: Vec<f64> =
            t.closed.iter().filter_map(|(n, c)| t.verified.get(n).map(|v| v.duration_since(*c).as_secs_f64())).collect();
        latency.sort_by(f64::total_cmp);
        alone.sort_by(f64::total_cmp);
        let pct = |p: f64| latency[((latency.len() - 1) as f64 * p).round() as usize];
        let peer = alone[alone.len() / 2];
        say!(
            "soak: {} frames at tethering pace ({} per burst, {:.2} s apart, {:.2} s between bursts; {:.1} frames/s over {:.0} s) \
             with a backlog of {} older frames, {jobs} develop thread(s), web preset, to wedsync serve on 127.0.0.1",
            args.frames,
            args.burst,
            args.spacing,
            args.pause,
            args.frames as f64 / arrivals,
            arrivals,
            args.backlog
        );
        say!(
            "close -> web verified: p50 {:.2} s, p95 {:.2} s, max {:.2} s; a frame alone: {:.2} s; p50/alone {:.2}x, p95/alone {:.2}x",
            pct(0.5),
            pct(0.95),
            pct(1.0),
            peer,
            pct(0.5) / peer,
            pct(0.95) / peer
        );
        say!(
            "resident memory after {} frames (KiB): {}; peak {} KiB",
            args.frames,
            rss.iter().map(|(n, kib)| format!("{n}: {kib}")).collect::<Vec<_>>().join(", "),
            peak_kib()
        );
        say!(
            "nothing resent or refused: {} ({} renditions sent; backlog done: {backlog_done}); all done {:.0} s after the first arrival",
            report.transfer.resent == 0 && report.transfer.failed == 0,
            report.transfer.sent,
            all_done
        );
        if latency.len() != args.frames || !backlog_done {
            bail!("{} of {} frames verified", latency.len(), args.frames);
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// Writes frame `k` in four pieces, as a tethering program does, and returns when the
/// writer closed it. Each frame is the RAW with its own capture time (one a second after
/// the original's, in every EXIF date field), as a camera shooting in sequence makes: its
/// bytes and its rendition (which keeps the capture time) are its own.
fn write_frame(path: &Path, raw: &[u8], k: usize) -> std::io::Result<Instant> {
    let frame = with_capture_time(raw, k);
    let mut file = std::fs::File::create(path)?;
    for piece in frame.chunks(frame.len().div_ceil(4)) {
        file.write_all(piece)?;
    }
    drop(file);
    Ok(Instant::now())
}

/// `raw` with every EXIF date ("YYYY:MM:DD HH:MM:SS") of its first 64 KiB moved `k`
/// seconds later (within the day).
fn with_capture_time(raw: &[u8], k: usize) -> Vec<u8> {
    let mut frame = raw.to_vec();
    let head = frame.len().min(64 * 1024);
    let mut at = 0;
    while at + 19 <= head {
        let field = &frame[at..at + 19];
        let shape = field.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b':',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        });
        if !shape {
            at += 1;
            continue;
        }
        let number = |from: usize| -> usize {
            field[from..from + 2].iter().fold(0, |n, b| n * 10 + usize::from(b - b'0'))
        };
        let seconds = (number(11) * 3600 + number(14) * 60 + number(17) + k) % 86_400;
        let time = format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
        frame[at + 11..at + 19].copy_from_slice(time.as_bytes());
        at += 19;
    }
    frame
}

async fn until_verified(mut done: impl FnMut() -> bool, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            bail!("not verified within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn wait_for_server(port: u16) -> anyhow::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("wedsync serve did not start on port {port}")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn resident_kib() -> u64 {
    status_kib("VmRSS:")
}

fn peak_kib() -> u64 {
    status_kib("VmHWM:")
}
