//! How files are sent, shared by `wedsync upload` and `wedsync watch`: the destination
//! (`--to`, the configuration, else the built-in server), chunking, streams, bandwidth and
//! retries.

use std::path::{Path, PathBuf};

use anyhow::Context;
use wedsync_engine::transport::{Overrides, Transport};
use wedsync_engine::{secrets, Config, Home};
use wedsync_transfer::Destination;

#[derive(clap::Args)]
pub struct SendArgs {
    /// The tus endpoint (e.g. https://ingest.example/files). Default: the configured one,
    /// else the built-in server on 127.0.0.1.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// Bearer token for the destination (or WEDSYNC_TOKEN).
    #[arg(long, env = "WEDSYNC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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
    pub gallery: Option<String>,
    /// Files developed at once (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
}

impl SendArgs {
    pub fn transport(&self, config: &Config) -> Transport {
        let given = Overrides {
            streams: self.streams,
            adaptive: self.adaptive,
            limit_mbit: self.limit_mbit,
            chunk_mib: self.chunk_mib,
            parts: self.parts,
            stall_seconds: Some(self.stall),
            attempts: Some(self.attempts),
            jobs: self.jobs,
        };
        Transport::new(config, &given)
    }

    pub async fn destination(
        &self,
        home: &Home,
        config: &Config,
        transport: &Transport,
    ) -> anyhow::Result<(Destination, Option<LocalServer>)> {
        let (endpoint, token, local) = match (&self.to, &config.destination) {
            (Some(url), _) => (url.clone(), self.token.clone(), None),
            (None, Some(d)) => (d.endpoint.clone(), self.token.clone().or(d.token.clone()), None),
            (None, None) => {
                let local = LocalServer::start(home).await?;
                say!(
                    "no destination configured: sending to the built-in server at {} (files in {})",
                    local.endpoint,
                    local.uploads.display()
                );
                (local.endpoint.clone(), Some(local.token.clone()), Some(local))
            }
        };
        // No token given: the one the app keeps for this endpoint in the OS keyring.
        let token = token.or_else(|| {
            let (token, trouble) = secrets::token_for(None, &secrets::Keyring, &endpoint);
            if let Some(trouble) = trouble {
                say!("no token given for {endpoint}, and {trouble}");
            }
            token
        });
        Ok((transport.destination(endpoint, token), local))
    }
}

/// The built-in reference server, for a photographer without a platform account yet: its
/// data, token and port live in the home folder so a later run resumes the same uploads.
pub struct LocalServer {
    pub endpoint: String,
    token: String,
    pub uploads: PathBuf,
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

    pub async fn stop(self) {
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
