//! `wedsync watch`: a headless station. It runs the engine with the sources from the
//! command line and `config.toml` — tethering and hot folders, and camera cards as they are
//! mounted — logs what it does, and on SIGINT or SIGTERM stops admitting work, parks its
//! uploads at a chunk boundary and exits (within 20 s); started again, it resumes where it
//! stopped. Under systemd (`Type=notify`) it says when it is ready.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use wedsync_engine::station::{Overrides, Station};
use wedsync_engine::{Config, Engine, Home, Intent, Settings, SourceKind};

#[derive(clap::Args)]
pub struct Args {
    /// A tethering or hot folder to watch (repeatable).
    #[arg(long, value_name = "DIR")]
    source: Vec<PathBuf>,
    /// Where cards are mounted: a mount at or below it with a DCIM folder is read as a card
    /// (repeatable; default: /media, /run/media and /mnt on Linux, /Volumes on macOS, every
    /// drive letter on Windows).
    #[arg(long, value_name = "DIR")]
    card_root: Vec<PathBuf>,
    /// Presets to develop and send, in order; `none` for originals only (default: web).
    #[arg(long)]
    preset: Vec<String>,
    /// Also send the camera files, after every rendition.
    #[arg(long)]
    originals: bool,
    /// Copy each camera file first to this local folder, verified (repeatable).
    #[arg(long, value_name = "DIR")]
    backup: Vec<PathBuf>,
    /// Seconds a file must hold still before it is taken (a writer's close, where the
    /// platform reports it, needs only a short confirmation).
    #[arg(long, value_name = "SECONDS")]
    settle: Option<f64>,
    /// What makes a card's file safe to format: its original verified on the server, a
    /// verified backup copy, or both (default: server).
    #[arg(long, value_name = "server|backups|both")]
    safe: Option<wedsync_engine::volumes::Safety>,
    /// Which photos to take: RAW files only, RAW files with the camera JPEGs shot with
    /// them, or all (also JPEGs shot alone). Default: all.
    #[arg(long, value_name = "raw|raw+jpeg|all")]
    files: Option<wedsync_engine::kinds::Files>,
    /// Also take videos (copied, and sent as originals with --originals; never developed).
    #[arg(long)]
    videos: bool,
    /// Take only files rated at least this (1–5: the XMP sidecar's rating, else the
    /// file's own).
    #[arg(long, value_name = "N")]
    min_rating: Option<i64>,
    /// Names for the uploads, e.g. `{date}_{time}_{camera}_{seq}` (fields: {date} {time}
    /// {camera} {seq} {original} {rating}); a rendition adds `_<preset>.jpg`.
    #[arg(long, value_name = "TEMPLATE")]
    rename: Option<String>,
    /// Seconds after which a file still being written is reported (it is taken when it
    /// settles).
    #[arg(long, default_value_t = wedsync_engine::station::DEFAULT_UNSETTLED_AFTER_SECONDS, value_name = "SECONDS")]
    unsettled_after: f64,
    #[command(flatten)]
    sending: crate::sending::SendArgs,
    #[command(flatten)]
    backend: crate::backend::BackendArgs,
}

pub fn run(args: Args, presets_dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    // Signals first: a SIGTERM during start-up is a request to stop, not a kill.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let signals = runtime.block_on(async { Signals::listen() })?;
    let home = Home::from_env()?;
    let config = Config::load(&home.config())?;
    let given = Overrides {
        sources: args.source.clone(),
        card_roots: args.card_root.clone(),
        presets: args.preset.clone(),
        originals: args.originals,
        backups: args.backup.clone(),
        settle_seconds: args.settle,
        safe: args.safe,
        files: args.files,
        videos: args.videos,
        min_rating: args.min_rating,
        rename: args.rename.clone(),
        unsettled_after_seconds: Some(args.unsettled_after),
    };
    let Station { rules, sources } = Station::assemble(&home, &config, &given, presets_dir)?;
    let transport = args.sending.transport(&config);
    let developer = Arc::new(args.backend.developer(Some(&home))?);

    runtime.block_on(async {
        let (destination, local) = args.sending.destination(&home, &config, &transport).await?;
        let endpoint = destination.endpoint.clone();
        let settings = Settings {
            destination,
            policy: transport.policy.clone(),
            pace: transport.pace.clone(),
            rules,
            gallery: args.sending.gallery.clone(),
            develop_threads: transport.jobs,
            developer,
        };
        let engine = Engine::start(&home, settings, Arc::new(crate::upload::print_event))?;
        for source in sources {
            let name = source.name.clone();
            match &source.kind {
                SourceKind::Folder { path, .. } => say!("watching {} ({name})", path.display()),
                SourceKind::Cards { roots } => say!(
                    "watching for cards under {}",
                    roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            }
            engine.apply(Intent::AddSource(source))?;
        }
        say!("sending to {endpoint}; stop with Ctrl-C or SIGTERM");
        notify_systemd("READY=1");
        let signal = signals.next().await;
        say!("{signal}: stopping (uploads park at their next chunk boundary)");
        notify_systemd("STOPPING=1");
        let report = engine.shutdown().await?;
        crate::upload::summarise(&report, &endpoint);
        if let Some(local) = local {
            local.stop().await;
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// SIGINT and SIGTERM (Ctrl-C on Windows), caught from the moment they are listened for.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the first and names it.
    async fn next(mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Tells systemd how the service stands (`Type=notify`): a datagram to `$NOTIFY_SOCKET`,
/// as sd_notify(3) does. Nothing happens outside systemd.
fn notify_systemd(state: &str) {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
        let path = path.to_string_lossy().into_owned();
        let addr = match path.strip_prefix('@') {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes()),
            None => SocketAddr::from_pathname(&path),
        };
        let sent = addr.and_then(|addr| UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr));
        if let Err(e) = sent {
            say!("could not notify systemd at {path}: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = state;
}
