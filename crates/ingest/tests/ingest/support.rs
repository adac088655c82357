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
    /// Where the data lives: `dir`, or a folder the test chose (a small file system).
    pub data: PathBuf,
    limits: Limits,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Says how `serve` ended, once it has.
    ended: Option<std::sync::Mutex<std::sync::mpsc::Receiver<Result<(), String>>>>,
}

impl Server {
    pub fn start() -> Server {
        Server::with(Limits::default())
    }

    pub fn with(limits: Limits) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_path_buf();
        Server::in_dir(limits, dir, data)
    }

    /// A server keeping its data in `data` (which `dir` holds or outlives).
    pub fn in_dir(limits: Limits, dir: tempfile::TempDir, data: PathBuf) -> Server {
        let tokens = SqliteTokens::new(wedsync_ingest::open_db(&data).expect("db"));
        let alice = tokens.add("alice", false).expect("token");
        let bob = tokens.add("bob", false).expect("token");
        let admin = tokens.add("ops", true).expect("token");
        Server::serve(limits, dir, data, [alice, bob, admin])
    }

    fn serve(limits: Limits, dir: tempfile::TempDir, data: PathBuf, tokens: [String; 3]) -> Server {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("rt");
        let ingest = wedsync_ingest::open_local(&data, limits.clone()).expect("open");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (done, ended) = std::sync::mpsc::channel();
        let serving = ingest.clone();
        runtime.spawn(async move {
            let outcome = wedsync_ingest::serve(serving, listener, async move {
                let _ = stopped.await;
            })
            .await;
            let _ = done.send(outcome.map_err(|e| e.to_string()));
        });
        let [alice, bob, admin] = tokens;
        Server {
            addr,
            ingest,
            alice,
            bob,
            admin,
            dir,
            data,
            limits,
            runtime: Some(runtime),
            stop: Some(stop),
            ended: Some(std::sync::Mutex::new(ended)),
        }
    }

    /// Stops the server and returns how long `serve` took to return, or why it failed.
    pub fn stop(&mut self) -> Result<Duration, String> {
        let start = std::time::Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let ended = self.ended.take().ok_or("already stopped")?;
        let ended = ended.into_inner().map_err(|e| e.to_string())?;
        let outcome =
            ended.recv_timeout(Duration::from_secs(60)).map_err(|e| format!("serve never returned: {e}"))?;
        outcome.map(|()| start.elapsed())
    }

    /// Stops this server and starts another on the same data, as after a restart; fails
    /// with why `serve` gave up if it could not start.
    pub fn restart(mut self) -> Result<Server, String> {
        self.stop()?;
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        let tokens =
            [std::mem::take(&mut self.alice), std::mem::take(&mut self.bob), std::mem::take(&mut self.admin)];
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().map_err(|e| e.to_string())?);
        let next = Server::serve(self.limits.clone(), dir, self.data.clone(), tokens);
        // `serve` fails at once if recovery fails: give it a moment to say so.
        let early = next
            .ended
            .as_ref()
            .and_then(|e| e.lock().ok().map(|e| e.recv_timeout(Duration::from_millis(500))));
        match early {
            Some(Ok(Err(why))) => Err(why),
            _ => Ok(next),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.as_ref().expect("runtime").block_on(f)
    }

    /// Sends a request and reads the whole response (the connection is closed after it).
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.try_send(method, path, headers, body).expect("request")
    }

    /// [`Server::send`], with a connection refused or cut before the reply as an error, as a
    /// client that tries again sees it.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut s = TcpStream::connect(self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        s.write_all(&head(method, path, headers))?;
        s.write_all(body)?;
        Ok(read_response(&mut s))
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
        self.try_tus(token, method, path, headers, body).expect("tus request")
    }

    /// [`Server::tus`], with a connection refused or cut before the reply as an error.
    pub fn try_tus(
        &self,
        token: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let auth = format!("Bearer {token}");
        let len = body.len().to_string();
        let mut all =
            vec![("Tus-Resumable", "1.0.0"), ("Authorization", auth.as_str()), ("Content-Length", &len)];
        all.extend_from_slice(headers);
        self.try_send(method, path, &all, body)
    }

    /// A PATCH from `token` whose head and `first` bytes of a `length`-byte body are
    /// written; the rest is the caller's to send (or not).
    pub fn open_patch(&self, token: &str, path: &str, offset: u64, length: usize, first: &[u8]) -> TcpStream {
        let mut s = self.connect();
        let (auth, off, len) = (format!("Bearer {token}"), offset.to_string(), length.to_string());
        write_head(
            &mut s,
            "PATCH",
            path,
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Authorization", &auth),
                ("Content-Type", "application/offset+octet-stream"),
                ("Upload-Offset", &off),
                ("Content-Length", &len),
            ],
        );
        s.write_all(first).expect("write");
        s
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

    /// The way behind this server's back into its store (see [`Backdoor`]).
    pub fn backdoor(&self) -> &'static dyn Backdoor {
        &LocalStore
    }

    /// Where the store keeps upload `path`'s bytes.
    pub fn file(&self, path: &str) -> PathBuf {
        self.data.join("uploads").join(path.trim_start_matches("/files/"))
    }

    /// GET as the admin, as JSON.
    pub fn admin_json(&self, path: &str) -> serde_json::Value {
        let auth = format!("Bearer {}", self.admin);
        let r = self.send("GET", path, &[("Authorization", &auth)], b"");
        assert_eq!(r.status, 200, "{path}: {r:?}");
        serde_json::from_slice(&r.body).expect("json")
    }

    /// `/metrics` as the admin.
    pub fn metrics(&self) -> String {
        let auth = format!("Bearer {}", self.admin);
        String::from_utf8_lossy(&self.send("GET", "/metrics", &[("Authorization", &auth)], b"").body)
            .into_owned()
    }

    /// One counter or gauge from `/metrics`.
    pub fn metric(&self, name: &str) -> u64 {
        let text = self.metrics();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
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
    s.write_all(&head(method, path, headers)).expect("write head");
}

/// A request's head, `Connection: close` so the reply ends with the connection.
fn head(method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
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

/// The id in an upload's path (`/files/<id>`).
pub fn id_of(path: &str) -> &str {
    path.trim_start_matches("/files/")
}

/// What a test does behind the server's back, in its store: leaves what a crash, an older
/// server or an operator could have left. The storage-related regression tests reach the
/// store only through this and the protocol, so they run unchanged on another store
/// (PostgreSQL + object storage is next): it needs its own implementation of this, no more.
pub trait Backdoor: Sync {
    /// Removes an upload's record, as if it had never been.
    fn forget(&self, server: &Server, id: &str);
    /// Moves an unfinished upload's expiry into the past.
    fn expire(&self, server: &Server, id: &str);
    /// Records `bytes` as all of an upload's, complete, with no request to say so.
    fn complete(&self, server: &Server, id: &str, bytes: &[u8]);
    /// How many bytes the store holds for an upload, if it holds any.
    fn stored(&self, server: &Server, id: &str) -> Option<u64>;
}

/// The local store: SQLite state and one file per upload under the data folder.
pub struct LocalStore;

impl LocalStore {
    fn sql(server: &Server, sql: &'static str, id: &str, offset: i64) {
        let db = wedsync_ingest::open_db(&server.data).expect("state database");
        let id = id.to_string();
        db.with(move |c| match sql.contains("?2") {
            true => c.execute(sql, (id, offset)),
            false => c.execute(sql, [id]),
        })
        .expect(sql);
    }
}

impl Backdoor for LocalStore {
    fn forget(&self, server: &Server, id: &str) {
        LocalStore::sql(server, "DELETE FROM uploads WHERE id = ?1", id, 0);
    }

    fn expire(&self, server: &Server, id: &str) {
        LocalStore::sql(server, "UPDATE uploads SET expires = 1 WHERE id = ?1", id, 0);
    }

    fn complete(&self, server: &Server, id: &str, bytes: &[u8]) {
        std::fs::write(server.data.join("uploads").join(id), bytes).expect("bytes");
        let sql = "UPDATE uploads SET offset = ?2, state = 'complete' WHERE id = ?1";
        LocalStore::sql(server, sql, id, bytes.len() as i64);
    }

    fn stored(&self, server: &Server, id: &str) -> Option<u64> {
        std::fs::metadata(server.data.join("uploads").join(id)).ok().map(|m| m.len())
    }
}
