//! A server on 127.0.0.1 (ephemeral port) with three tokens, and a small HTTP/1.1 client
//! that can send anything — malformed headers, short bodies, stalls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wedsync_ingest::{Ingest, Limits, SqliteTokens};

pub struct Server {
    pub addr: std::net::SocketAddr,
    pub ingest: Ingest,
    /// A photographer's token, another photographer's, and an admin's.
    pub alice: String,
    pub bob: String,
    pub admin: String,
    pub dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub fn start() -> Server {
        Server::with(Limits::default())
    }

    pub fn with(limits: Limits) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = SqliteTokens::new(wedsync_ingest::open_db(dir.path()).expect("db"));
        let alice = tokens.add("alice", false).expect("token");
        let bob = tokens.add("bob", false).expect("token");
        let admin = tokens.add("ops", true).expect("token");
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let ingest = wedsync_ingest::open_local(dir.path(), limits).expect("open");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = ingest.clone();
        runtime.spawn(async move {
            let _ = wedsync_ingest::serve(serving, listener, async move {
                let _ = stopped.await;
            })
            .await;
        });
        Server { addr, ingest, alice, bob, admin, dir, runtime: Some(runtime), stop: Some(stop) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().expect("runtime").block_on(f)
    }

    /// Sends a request and reads the whole response (the connection is closed after it).
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut s = self.connect();
        write_head(&mut s, method, path, headers);
        s.write_all(body).expect("write body");
        read_response(&mut s)
    }

    /// A tus request from `token` with `Tus-Resumable` set.
    pub fn tus(
        &self,
        token: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let auth = format!("Bearer {token}");
        let len = body.len().to_string();
        let mut all =
            vec![("Tus-Resumable", "1.0.0"), ("Authorization", auth.as_str()), ("Content-Length", &len)];
        all.extend_from_slice(headers);
        self.send(method, path, &all, body)
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        s
    }

    /// Creates an upload of `length` bytes for `token`; returns its path (`/files/<id>`).
    pub fn create(&self, token: &str, length: u64, metadata: Option<&str>) -> String {
        let len = length.to_string();
        let mut h = vec![("Upload-Length", len.as_str())];
        if let Some(m) = metadata {
            h.push(("Upload-Metadata", m));
        }
        let r = self.tus(token, "POST", "/files", &h, b"");
        assert_eq!(r.status, 201, "{r:?}");
        let loc = r.header("location").expect("Location").to_string();
        assert!(loc.starts_with("/files/"), "{loc}");
        loc
    }

    pub fn patch(
        &self,
        token: &str,
        path: &str,
        offset: u64,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Response {
        let off = offset.to_string();
        let mut h =
            vec![("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", off.as_str())];
        h.extend_from_slice(extra);
        self.tus(token, "PATCH", path, &h, body)
    }

    pub fn offset(&self, token: &str, path: &str) -> u64 {
        let r = self.tus(token, "HEAD", path, &[], b"");
        assert_eq!(r.status, 200, "{r:?}");
        r.header("upload-offset").expect("Upload-Offset").parse().expect("number")
    }

    pub fn download(&self, token: &str, path: &str) -> Response {
        let auth = format!("Bearer {token}");
        self.send("GET", path, &[("Authorization", &auth)], b"")
    }

    /// Uploads the store holds, in every state.
    pub async fn ingest_stats(&self) -> u64 {
        let s = self.ingest.store().stats().await.expect("stats");
        s.receiving + s.complete + s.quarantined
    }

    /// Where the store keeps upload `path`'s bytes.
    pub fn file(&self, path: &str) -> PathBuf {
        self.dir.path().join("uploads").join(path.trim_start_matches("/files/"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

pub fn write_head(s: &mut TcpStream, method: &str, path: &str, headers: &[(&str, &str)]) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write head");
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads a response to the end of the connection (requests say `Connection: close`).
pub fn read_response(s: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let mut body = raw.get(split + 4..).unwrap_or_default().to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift), so that a shifted or repeated block shows.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn b64(v: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(v)
}

pub fn sha256_hex(v: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(v))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}
