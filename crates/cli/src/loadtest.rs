//! `wedsync loadtest`: a bounded load driver for tus servers. It starts `wedsync serve` and,
//! in the same run, `@tus/server` (the peer) and, with `--cluster`, the cluster deployment
//! (two instances on PostgreSQL and an S3 bucket behind nginx), pushes the same uploads at
//! each — photo-sized files in chunks, all at once — and reports chunk latency percentiles,
//! throughput, errors and each server process's peak memory, with our figures as a ratio of
//! the peer's and the cluster's as a ratio of the single instance's.
//!
//! The bytes come from one shared pseudo-random block that every chunk is a zero-copy slice
//! of, so the driver's memory does not grow with the uploads it keeps in flight. Chunks go
//! without per-chunk checksums and uploads without a declared SHA-256, so both servers get
//! identical requests; ours fsyncs every chunk before acknowledging it, @tus/server does not.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use tokio::sync::Semaphore;
use wedsync_ingest::pg::{Pg, PgTokens};
use wedsync_ingest::testing;
use wedsync_ingest::TokenAdmin;
use wedsync_transfer::{Destination, TusClient};

#[derive(clap::Args)]
pub struct Args {
    /// Uploads in all.
    #[arg(long, default_value_t = 1000)]
    uploads: usize,
    /// Uploads in flight at once (default: all of them).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Smallest upload, in megabytes (10^6 bytes).
    #[arg(long, default_value_t = 2.0)]
    min_mb: f64,
    /// Largest upload, in megabytes.
    #[arg(long, default_value_t = 25.0)]
    max_mb: f64,
    /// Bytes per request, in KiB. With every upload sending at once, a chunk waits behind
    /// the others' (latency = uploads x chunk / throughput), so this sets the latency.
    #[arg(long, default_value_t = 256)]
    chunk_kib: u64,
    /// Tokens (photographers) the uploads are spread over; each has its own connection pool.
    #[arg(long, default_value_t = 50)]
    tokens: usize,
    /// Seconds one request may take before it counts as an error.
    #[arg(long, default_value_t = 60)]
    request_timeout: u64,
    /// The @tus/server launcher (from `tests/peers/node`, installed by scripts/install-deps).
    #[arg(long, default_value = "tests/peers/node/tus-node-server.mjs", value_name = "PATH")]
    peer_script: PathBuf,
    /// Measure only `wedsync serve` (no ratio).
    #[arg(long)]
    no_peer: bool,
    /// Also measure the cluster deployment: two `wedsync serve` instances sharing PostgreSQL
    /// and an S3 bucket (s3s-fs), behind nginx, all started here on 127.0.0.1.
    #[arg(long)]
    cluster: bool,
    /// The nginx configuration for --cluster.
    #[arg(long, default_value = "deploy/nginx/wedsync.conf", value_name = "PATH")]
    nginx_conf: PathBuf,
    /// Folder for both servers' data (default: a fresh folder under the system's temp).
    #[arg(long, value_name = "DIR")]
    scratch: Option<PathBuf>,
}

/// What one server did under the load.
struct Report {
    name: &'static str,
    completed: usize,
    errors: Vec<String>,
    bytes: u64,
    wall: Duration,
    /// Milliseconds per chunk request (creation with the first chunk included), sorted.
    latencies: Vec<f64>,
    /// Each server process's peak resident memory, where it can be read.
    peaks_mb: Vec<f64>,
}

impl Report {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    fn throughput_mb_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.uploads == 0 || args.chunk_kib == 0 || args.tokens == 0 {
        bail!("--uploads, --chunk-kib and --tokens must be at least 1");
    }
    if !(args.min_mb > 0.0 && args.max_mb >= args.min_mb) {
        bail!("sizes must satisfy 0 < --min-mb <= --max-mb (got {} and {})", args.min_mb, args.max_mb);
    }
    if !args.no_peer && !args.peer_script.is_file() {
        bail!(
            "{} not found: run from the repository root after scripts/install-deps, give --peer-script, or --no-peer",
            args.peer_script.display()
        );
    }
    raise_open_files_limit();
    let scratch = match &args.scratch {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("wedsync-loadtest-{}", std::process::id())),
    };
    let plan = Plan::new(&args);
    say!(
        "{} uploads of {:.1}-{:.1} MB ({:.2} GB in all), {} at once, {} KiB chunks, {} tokens",
        args.uploads,
        args.min_mb,
        args.max_mb,
        plan.total() as f64 / 1e9,
        plan.concurrency,
        args.chunk_kib,
        args.tokens
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut reports = Vec::new();
    let ours = Server::wedsync(&scratch.join("wedsync"), args.tokens)?;
    reports.push(runtime.block_on(drive(OURS, &ours, &plan))?);
    drop(ours);
    if args.cluster {
        let cluster = Cluster::start(&args.nginx_conf, args.tokens, &runtime)?;
        let mut report = runtime.block_on(drive(CLUSTER, &cluster.server, &plan))?;
        // A last PATCH is acknowledged once its bytes are durable, and the object may still
        // be being made: wait for every upload the clients finished to be complete.
        if let Err(e) = cluster.settled(report.completed) {
            report.errors.push(e);
        }
        reports.push(report);
        drop(cluster);
    }
    if !args.no_peer {
        let peer = Server::tus_node(&args.peer_script, &scratch.join("tus-node"), args.tokens)?;
        reports.push(runtime.block_on(drive(PEER, &peer, &plan))?);
        drop(peer);
    }
    if args.scratch.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    print(&reports);
    let failed = reports.iter().any(|r| !r.errors.is_empty() || r.completed != args.uploads);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn print(reports: &[Report]) {
    say!(
        "{:<14} {:>6} {:>6} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "server",
        "done",
        "errors",
        "GB",
        "wall s",
        "MB/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "peak MB"
    );
    for r in reports {
        say!(
            "{:<14} {:>6} {:>6} {:>9.2} {:>7.1} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>9}",
            r.name,
            r.completed,
            r.errors.len(),
            r.bytes as f64 / 1e9,
            r.wall.as_secs_f64(),
            r.throughput_mb_s(),
            r.percentile(50.0),
            r.percentile(95.0),
            r.percentile(99.0),
            r.percentile(100.0),
            match r.peaks_mb.is_empty() {
                true => "n/a".to_string(),
                false => r.peaks_mb.iter().map(|m| format!("{m:.0}")).collect::<Vec<_>>().join("+"),
            }
        );
        let mut distinct: Vec<&String> = r.errors.iter().collect();
        distinct.sort();
        distinct.dedup();
        for e in distinct.iter().take(5) {
            say!("  {}: {e}", r.name);
        }
    }
    let named = |name: &str| reports.iter().find(|r| r.name == name);
    if let (Some(ours), Some(peer)) = (named(OURS), named(PEER)) {
        ratio("wedsync / @tus/server", ours, peer);
    }
    if let (Some(cluster), Some(ours)) = (named(CLUSTER), named(OURS)) {
        ratio("cluster / one local instance", cluster, ours);
    }
}

/// Prints `a`'s figures as a ratio of `b`'s (peak memory: all of `a`'s processes together).
fn ratio(what: &str, a: &Report, b: &Report) {
    let (peak_a, peak_b): (f64, f64) = (a.peaks_mb.iter().sum(), b.peaks_mb.iter().sum());
    say!(
        "ratio ({what}): throughput {:.2}x, p50 {:.2}x, p99 {:.2}x, peak memory {}",
        a.throughput_mb_s() / b.throughput_mb_s(),
        a.percentile(50.0) / b.percentile(50.0),
        a.percentile(99.0) / b.percentile(99.0),
        match peak_a > 0.0 && peak_b > 0.0 {
            true => format!("{:.2}x", peak_a / peak_b),
            false => "n/a".to_string(),
        }
    );
}

const OURS: &str = "wedsync serve";
const PEER: &str = "@tus/server";
const CLUSTER: &str = "2 x serve+nginx";

/// The uploads, identical for every server: sizes and where in the shared block each
/// upload's bytes start.
struct Plan {
    sizes: Vec<u64>,
    chunk: u64,
    concurrency: usize,
    timeout: Duration,
    block: Bytes,
}

/// Size of the repeating pattern the uploads' bytes are cut from.
const PATTERN: u64 = 64 << 20;

impl Plan {
    fn new(args: &Args) -> Plan {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let (min, max) = ((args.min_mb * 1e6) as u64, (args.max_mb * 1e6) as u64);
        let sizes = (0..args.uploads).map(|_| min + rng.next() % (max - min + 1)).collect();
        let chunk = args.chunk_kib * 1024;
        let block: Vec<u8> =
            (0..(PATTERN + chunk).div_ceil(8)).flat_map(|_| rng.next().to_le_bytes()).collect();
        Plan {
            sizes,
            chunk,
            concurrency: args.concurrency.unwrap_or(args.uploads).max(1),
            timeout: Duration::from_secs(args.request_timeout.max(1)),
            block: Bytes::from(block),
        }
    }

    fn total(&self) -> u64 {
        self.sizes.iter().sum()
    }

    /// Upload `i`'s bytes from `offset`, at most one chunk: a view of the shared block.
    fn chunk(&self, i: usize, offset: u64) -> Bytes {
        let len = self.chunk.min(self.sizes[i] - offset);
        let start = (i as u64 * 4099 * 4096 + offset) % PATTERN;
        self.block.slice(start as usize..(start + len) as usize)
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn drive(name: &'static str, server: &Server, plan: &Plan) -> anyhow::Result<Report> {
    let mut clients = Vec::new();
    for token in &server.tokens {
        // One upload per file (no concatenation), so both servers get the same requests.
        let destination = Destination {
            endpoint: server.endpoint.clone(),
            token: token.clone(),
            chunk_size: plan.chunk,
            parts: 1,
        };
        let mut client = TusClient::connect(destination)
            .await
            .with_context(|| format!("{name} at {}", server.endpoint))?;
        client.set_chunk_checksums(false);
        clients.push(Arc::new(client));
    }
    let permits = Arc::new(Semaphore::new(plan.concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..plan.sizes.len() {
        let client = clients[i % clients.len()].clone();
        let permits = permits.clone();
        let length = plan.sizes[i];
        let chunks: Vec<Bytes> =
            (0..length).step_by(plan.chunk as usize).map(|at| plan.chunk(i, at)).collect();
        let timeout = plan.timeout;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            upload(&client, length, chunks, timeout).await
        });
    }
    let mut report = Report {
        name,
        completed: 0,
        errors: Vec::new(),
        bytes: 0,
        wall: Duration::ZERO,
        latencies: Vec::new(),
        peaks_mb: Vec::new(),
    };
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.context("an upload task panicked")?;
        report.latencies.extend(outcome.latencies);
        report.bytes += outcome.bytes;
        match outcome.error {
            None => report.completed += 1,
            Some(e) => report.errors.push(e),
        }
    }
    report.wall = started.elapsed();
    report.latencies.sort_by(f64::total_cmp);
    report.peaks_mb = server.peaks_mb();
    Ok(report)
}

struct Outcome {
    latencies: Vec<f64>,
    bytes: u64,
    error: Option<String>,
}

/// One upload: creation with the first chunk, then PATCH after PATCH, each timed.
async fn upload(client: &TusClient, length: u64, chunks: Vec<Bytes>, timeout: Duration) -> Outcome {
    let mut out = Outcome { latencies: Vec::with_capacity(chunks.len()), bytes: 0, error: None };
    let began = Instant::now();
    let create = client.create(length, &[("filename", "load.bin")], chunks.first().cloned(), None);
    let created = match tokio::time::timeout(timeout, create).await {
        Ok(Ok(created)) => created,
        Ok(Err(e)) => return out.failed(causes(&e)),
        Err(_) => return out.failed(format!("POST took longer than {timeout:?}")),
    };
    out.latencies.push(began.elapsed().as_secs_f64() * 1e3);
    let mut offset = created.offset;
    out.bytes = offset;
    // A server without creation-with-upload took no bytes with the POST.
    let sent_with_post = usize::from(offset > 0);
    for chunk in chunks.into_iter().skip(sent_with_post) {
        let len = chunk.len() as u64;
        let began = Instant::now();
        match tokio::time::timeout(timeout, client.patch(&created.url, offset, chunk)).await {
            Ok(Ok(server)) => offset = server,
            Ok(Err(e)) => return out.failed(causes(&e)),
            Err(_) => return out.failed(format!("PATCH at {offset} took longer than {timeout:?}")),
        }
        out.latencies.push(began.elapsed().as_secs_f64() * 1e3);
        out.bytes += len;
    }
    if offset != length {
        return out.failed(format!("{}: ended at {offset} of {length} bytes", created.url));
    }
    out
}

/// An error with its causes ("error sending request" alone does not say what happened).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(&format!(": {c_text}"));
        }
        cause = c.source();
    }
    text
}

impl Outcome {
    fn failed(mut self, error: String) -> Outcome {
        self.error = Some(error);
        self
    }
}

/// A server under test (its processes, stopped when dropped).
struct Server {
    children: Vec<Child>,
    endpoint: String,
    /// One per simulated photographer; `None` for a server without authentication.
    tokens: Vec<Option<String>>,
}

impl Server {
    /// `wedsync serve` (this executable) on an ephemeral port, with `tokens` tokens.
    fn wedsync(data: &Path, tokens: usize) -> anyhow::Result<Server> {
        let db = wedsync_ingest::SqliteTokens::new(wedsync_ingest::open_db(data)?);
        let tokens = (0..tokens)
            .map(|i| db.add(&format!("loadtest-{i}"), false).map(Some))
            .collect::<Result<Vec<_>, _>>()?;
        let exe = std::env::current_exe().context("where is this executable?")?;
        let mut cmd = Process::new(exe);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(data).env("RUST_LOG", "warn");
        let (child, line) = start(cmd, "wedsync serve")?;
        let endpoint = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| format!("wedsync serve said {line:?}"))?
            .to_string();
        Ok(Server { children: vec![child], endpoint, tokens })
    }

    /// `@tus/server` with its file store (no authentication, so every "photographer" is
    /// anonymous; each still gets its own connection pool).
    fn tus_node(script: &Path, data: &Path, tokens: usize) -> anyhow::Result<Server> {
        std::fs::create_dir_all(data).with_context(|| format!("create {}", data.display()))?;
        let mut cmd = Process::new("node");
        cmd.arg(script).arg(data);
        let (child, line) = start(cmd, "@tus/server")?;
        let port = line.strip_prefix("listening ").with_context(|| format!("@tus/server said {line:?}"))?;
        Ok(Server {
            children: vec![child],
            endpoint: format!("http://127.0.0.1:{}/files", port.trim()),
            tokens: vec![None; tokens],
        })
    }

    /// The most memory each server process has held resident (Linux: VmHWM).
    fn peaks_mb(&self) -> Vec<f64> {
        let peak = |child: &Child| -> Option<f64> {
            let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
            let kb: f64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb / 1024.0)
        };
        self.children.iter().filter_map(peak).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The cluster deployment: a throwaway PostgreSQL cluster and s3s-fs, two `wedsync serve`
/// instances on them, nginx in front (`deploy/nginx/wedsync.conf`). Dropped in that order
/// reversed: the instances first.
struct Cluster {
    server: Server,
    _nginx: testing::nginx::Nginx,
    _s3: testing::s3::Server,
    pg: testing::postgres::Cluster,
}

impl Cluster {
    fn start(nginx_conf: &Path, tokens: usize, runtime: &tokio::runtime::Runtime) -> anyhow::Result<Cluster> {
        let pg = testing::postgres::Cluster::start().map_err(anyhow::Error::msg)?;
        let s3 =
            testing::s3::Server::start(testing::s3::Kind::S3sFs, "loadtest").map_err(anyhow::Error::msg)?;
        let state = pg.database("ingest").map_err(anyhow::Error::msg)?;
        let tokens = runtime.block_on(async {
            let admin = PgTokens::new(Pg::connect(&state).await?);
            let mut made = Vec::with_capacity(tokens);
            for i in 0..tokens {
                made.push(Some(admin.add(&format!("loadtest-{i}"), false).await?));
            }
            anyhow::Ok(made)
        })?;
        let exe = std::env::current_exe().context("where is this executable?")?;
        let mut children = Vec::new();
        let mut addresses = Vec::new();
        for _ in 0..2 {
            let mut cmd = Process::new(&exe);
            cmd.args(["serve", "--listen", "127.0.0.1:0", "--state", &state, "--store", &s3.url("loadtest")])
                .env("AWS_ACCESS_KEY_ID", testing::s3::KEY_ID)
                .env("AWS_SECRET_ACCESS_KEY", testing::s3::SECRET)
                .env("RUST_LOG", "warn");
            let (child, line) = start(cmd, "wedsync serve --state")?;
            children.push(child);
            let address = line
                .strip_prefix("listening on http://")
                .and_then(|rest| rest.split('/').next())
                .with_context(|| format!("wedsync serve said {line:?}"))?;
            addresses.push(address.to_string());
        }
        let nginx = testing::nginx::Nginx::start(nginx_conf, [&addresses[0], &addresses[1]])
            .map_err(anyhow::Error::msg)?;
        let endpoint = format!("http://127.0.0.1:{}/files", nginx.port);
        Ok(Cluster { server: Server { children, endpoint, tokens }, _nginx: nginx, _s3: s3, pg })
    }
}

impl Cluster {
    /// Waits (up to 2 minutes) until `uploads` uploads are complete in the state database;
    /// says how long that took past the clients' end, or how many were not.
    fn settled(&self, uploads: usize) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let complete = self.pg.psql("ingest", "SELECT COUNT(*) FROM uploads WHERE state = 'complete'")?;
            let complete: usize = complete.trim().parse().map_err(|e| format!("{complete:?}: {e}"))?;
            if complete >= uploads {
                println!(
                    "  {CLUSTER}: all {uploads} complete {:.1} s after the last acknowledgement",
                    start.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(120) {
                return Err(format!(
                    "{complete} of {uploads} uploads complete 2 minutes after the clients finished"
                ));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Starts `cmd` and waits for its first line on stdout, which says where it listens.
fn start(mut cmd: Process, name: &str) -> anyhow::Result<(Child, String)> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("start {name}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).with_context(|| format!("read {name}'s first line"))?;
    if line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        bail!("{name} exited before it listened");
    }
    Ok((child, line.trim().to_string()))
}

/// A thousand uploads hold a thousand sockets; the soft limit on open files is often 1024.
#[cfg(unix)]
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write one rlimit we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(not(unix))]
fn raise_open_files_limit() {}
