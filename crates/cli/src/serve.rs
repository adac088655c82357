//! `wedsync serve`: the reference ingestion server, and `wedsync serve token add|list|revoke`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use wedsync_ingest::pg::{Pg, PgTokens};
use wedsync_ingest::{Limits, SqliteTokens, TokenAdmin};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Folder for the state database and the uploads' bytes (created if missing).
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The state in PostgreSQL instead (postgres://USER@HOST:PORT/DB), shared by several
    /// instances; with --store.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "data")]
    state: Option<String>,
    /// The bytes in an S3-compatible bucket (s3://BUCKET?endpoint=URL&region=REGION), with
    /// --state. Credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, value_name = "URL", requires = "state", conflicts_with = "data")]
    store: Option<String>,
    /// Address to listen on; the tus endpoint is /files.
    #[arg(long, default_value = "127.0.0.1:1080", value_name = "ADDR")]
    listen: String,
    /// Largest upload accepted, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_size: Option<u64>,
    /// Request bodies one token may stream at once.
    #[arg(long, value_name = "N")]
    transfers_per_token: Option<usize>,
    /// Request bodies streaming at once over all tokens; past it, 503 + Retry-After.
    #[arg(long, value_name = "N")]
    max_transfers: Option<usize>,
    /// Sustained requests per second per token (the burst is four times this).
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// Seconds a request body may send nothing before it is cut off.
    #[arg(long, value_name = "SECONDS")]
    body_timeout: Option<u64>,
    /// Seconds a connection may take to send its first bytes, and a request's headers.
    #[arg(long, value_name = "SECONDS")]
    header_timeout: Option<u64>,
    /// Seconds a connection may sit with no request in flight and nothing moving.
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<u64>,
    /// Connections served at once (default: from the descriptor limit, at most 16,384).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Uploads one token may have unfinished at once; past it, 429.
    #[arg(long, value_name = "N")]
    unfinished_per_token: Option<u64>,
    /// Parts one final upload may list.
    #[arg(long, value_name = "N")]
    max_parts: Option<usize>,
    /// Free bytes below which new uploads are refused (507) and /healthz says so.
    #[arg(long, value_name = "BYTES")]
    min_free: Option<u64>,
    /// Failed authentications per second per client address (the burst is ten times this).
    #[arg(long, value_name = "N")]
    failed_auth_rate: Option<f64>,
    /// Seconds requests in progress get at shutdown.
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace: Option<u64>,
    /// Seconds an unfinished upload lives after its last write.
    #[arg(long, value_name = "SECONDS")]
    expire_after: Option<u64>,
    /// Log lines as JSON objects instead of text.
    #[arg(long)]
    json_logs: bool,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Manage bearer tokens (stored hashed; a token is shown once, when made).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Make a token for a photographer or studio; prints it alone on the last line.
    Add {
        name: String,
        /// The token may use the admin endpoints (/admin/*, /metrics).
        #[arg(long)]
        admin: bool,
    },
    /// List tokens (names, never the secrets).
    List,
    /// Revoke the live token with this name.
    Revoke { name: String },
}

pub fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    match (args.command.take(), &args.state) {
        (Some(Command::Token(cmd)), _) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let tokens: Box<dyn TokenAdmin> = match (&args.state, &args.data) {
                    (Some(url), _) => Box::new(PgTokens::new(Pg::connect(url).await?)),
                    (None, Some(data)) => Box::new(SqliteTokens::new(wedsync_ingest::open_db(data)?)),
                    (None, None) => anyhow::bail!("--data DIR (or --state URL) is required"),
                };
                token(cmd, tokens.as_ref()).await
            })
        }
        (None, Some(state)) => {
            let store = args.store.clone().context("--state needs --store s3://BUCKET?endpoint=URL")?;
            let backend = Backend::Cluster { state: state.clone(), store };
            serve(args, backend)
        }
        (None, None) => {
            let data = args.data.clone().context("--data DIR is required")?;
            serve(args, Backend::Local(data))
        }
    }
}

/// Where a server keeps its state and bytes.
enum Backend {
    /// SQLite and files in a folder.
    Local(PathBuf),
    /// PostgreSQL and a bucket, shared with other instances.
    Cluster { state: String, store: String },
}

async fn token(cmd: TokenCommand, tokens: &dyn TokenAdmin) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Add { name, admin } => {
            let token = tokens.add(&name, admin).await?;
            say!("token for {name}{} (shown once; store it now):", if admin { " (admin)" } else { "" });
            say!("{token}");
        }
        TokenCommand::List => {
            for t in tokens.list().await? {
                let state = if t.revoked { "revoked" } else { "live" };
                say!(
                    "{:<5} {:<30} {:<7} {}{}",
                    t.id,
                    t.name,
                    state,
                    t.created,
                    if t.admin { "  admin" } else { "" }
                );
            }
        }
        TokenCommand::Revoke { name } => {
            if !tokens.revoke(&name).await? {
                say!("no live token named {name}");
                return Ok(ExitCode::FAILURE);
            }
            say!("revoked {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(args: Args, backend: Backend) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if args.json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
    let mut limits = Limits::default();
    if let Some(v) = args.max_size {
        limits.max_size = v;
    }
    if let Some(v) = args.transfers_per_token {
        limits.transfers_per_token = v;
    }
    if let Some(v) = args.max_transfers {
        limits.max_transfers = v;
    }
    if let Some(v) = args.rate {
        limits.requests_per_second = v;
        limits.burst = v * 4.0;
    }
    if let Some(v) = args.body_timeout {
        limits.body_idle_timeout = Duration::from_secs(v.max(1));
    }
    if let Some(v) = args.header_timeout {
        limits.header_timeout = Duration::from_secs(v.max(1));
    }
    if let Some(v) = args.expire_after {
        limits.expire_after = Duration::from_secs(v.max(1));
    }
    if let Some(v) = args.idle_timeout {
        limits.idle_timeout = Duration::from_secs(v.max(1));
    }
    if let Some(v) = args.max_connections {
        limits.max_connections = Some(v.max(1));
    }
    if let Some(v) = args.unfinished_per_token {
        limits.unfinished_per_token = v;
    }
    if let Some(v) = args.max_parts {
        limits.max_parts = v;
    }
    if let Some(v) = args.min_free {
        limits.min_free_space = v;
    }
    if let Some(v) = args.failed_auth_rate {
        limits.failed_auth_per_second = v;
        limits.failed_auth_burst = v * 10.0;
    }
    if let Some(v) = args.shutdown_grace {
        limits.shutdown_grace = Duration::from_secs(v);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let (ingest, at) = match &backend {
            Backend::Local(data) => {
                (wedsync_ingest::open_local(data, limits)?, format!("data {}", data.display()))
            }
            Backend::Cluster { state, store } => {
                let bucket = wedsync_ingest::bucket::Bucket::open(store)?;
                let at = format!("state {}, bytes {}", redact(state), bucket.at);
                (wedsync_ingest::open_cluster(state, bucket, limits).await?, at)
            }
        };
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        say!("listening on http://{addr}/files ({at})");
        wedsync_ingest::serve(ingest, listener, shutdown()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// `url` without its password, for the log.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
