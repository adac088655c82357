//! A server on 127.0.0.1 (ephemeral port) with three tokens, and a small HTTP/1.1 client
//! that can send anything — malformed headers, short bodies, stalls.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use wedsync_ingest::bucket::Bucket;
use wedsync_ingest::pg::{Pg, PgTokens};
use wedsync_ingest::testing::{postgres, s3};
use wedsync_ingest::{Ingest, Limits, SqliteTokens, TokenAdmin};

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
    /// The store it runs on.
    pub backend: Backend,
    limits: Limits,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Says how `serve` ended, once it has.
    ended: Option<std::sync::Mutex<std::sync::mpsc::Receiver<Result<(), String>>>>,
}

/// The store a test server runs on. The suite runs on the local store, or, with
/// `WEDSYNC_INGEST_STORE=cluster`, on the cluster store: PostgreSQL and s3s-fs, started
/// once for the test binary's servers that are alive, a database and a bucket each.
#[derive(Clone)]
pub enum Backend {
    Local,
    /// `_shared` keeps the servers up while this server lives.
    Cluster {
        _shared: Arc<Shared>,
        state: String,
        bucket: String,
    },
}

/// The PostgreSQL cluster and the S3 server the cluster-store servers share; stopped when
/// the last server using them is dropped.
pub struct Shared {
    pub pg: postgres::Cluster,
    pub s3: s3::Server,
    next: AtomicUsize,
}

/// Whether this run of the suite is on the cluster store.
pub fn on_cluster() -> bool {
    std::env::var("WEDSYNC_INGEST_STORE").is_ok_and(|v| v == "cluster")
}

impl Backend {
    /// A database and a bucket on servers of its own: PostgreSQL and `kind`.
    pub fn cluster_on(kind: s3::Kind) -> Backend {
        let pg = postgres::Cluster::start().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
        let s3 = s3::Server::start(kind, "photos").unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let state = pg.database("ingest").expect("database");
        let bucket = s3.url("photos");
        Backend::Cluster { _shared: Arc::new(Shared { pg, s3, next: AtomicUsize::new(0) }), state, bucket }
    }

    /// The S3 server and the bucket's name, on the cluster store.
    pub fn s3(&self) -> Option<(&s3::Server, String)> {
        match self {
            Backend::Cluster { _shared, bucket, .. } => {
                let name = bucket.trim_start_matches("s3://").split('?').next().unwrap_or_default();
                Some((&_shared.s3, name.to_string()))
            }
            Backend::Local => None,
        }
    }

    /// A fresh database and bucket on the shared servers, started if none are running.
    fn cluster() -> Backend {
        static SHARED: Mutex<Weak<Shared>> = Mutex::new(Weak::new());
        let shared = {
            let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
            match slot.upgrade() {
                Some(shared) => shared,
                None => {
                    let pg = postgres::Cluster::start().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
                    let s3 =
                        s3::Server::start(s3::Kind::S3sFs, "first").unwrap_or_else(|e| panic!("s3s-fs: {e}"));
                    let shared = Arc::new(Shared { pg, s3, next: AtomicUsize::new(0) });
                    *slot = Arc::downgrade(&shared);
                    shared
                }
            }
        };
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let state = shared.pg.database(&format!("t{n}")).expect("database");
        let name = format!("bucket-{n}");
        shared.s3.create_bucket(&name).expect("bucket");
        let bucket = shared.s3.url(&name);
        Backend::Cluster { _shared: shared, state, bucket }
    }

    async fn open(&self, data: &std::path::Path, limits: Limits) -> Ingest {
        match self {
            Backend::Local => wedsync_ingest::open_local(data, limits).expect("open"),
            Backend::Cluster { bucket, state, .. } => {
                let bucket = Bucket::open_as(bucket, s3::KEY_ID, s3::SECRET).expect("bucket");
                wedsync_ingest::open_cluster(state, bucket, limits).await.expect("open")
            }
        }
    }

    /// Token administration for this backend.
    async fn tokens(&self, data: &std::path::Path) -> Box<dyn TokenAdmin> {
        match self {
            Backend::Local => Box::new(SqliteTokens::new(wedsync_ingest::open_db(data).expect("db"))),
            Backend::Cluster { state, .. } => {
                Box::new(PgTokens::new(Pg::connect(state).await.expect("state")))
            }
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Server::with(Limits::default())
    }

    /// A server with these limits, on the suite's store.
    pub fn with(limits: Limits) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_path_buf();
        let backend = if on_cluster() { Backend::cluster() } else { Backend::Local };
        Server::serve(limits, dir, data, backend, None)
    }

    /// A server on `backend`.
    pub fn on(backend: Backend, limits: Limits) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_path_buf();
        Server::serve(limits, dir, data, backend, None)
    }

    /// Another instance on this one's state and bucket, with the same tokens (the cluster
    /// store).
    pub fn beside(&self) -> Server {
        assert!(!self.is_local(), "instances share a store only on the cluster store");
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().to_path_buf();
        let tokens = [self.alice.clone(), self.bob.clone(), self.admin.clone()];
        Server::serve(self.limits.clone(), dir, data, self.backend.clone(), Some(tokens))
    }

    /// Runs `sql` on the cluster store's state database.
    pub fn sql(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Vec<tokio_postgres::Row> {
        ClusterStore::sql(self, sql, params)
    }

    /// A server on the local store keeping its data in `data` (which `dir` holds or
    /// outlives), whichever store the suite runs on.
    pub fn in_dir(limits: Limits, dir: tempfile::TempDir, data: PathBuf) -> Server {
        Server::serve(limits, dir, data, Backend::Local, None)
    }

    /// Whether this server is on the local store (its data folder holds the bytes).
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local)
    }

    /// Serves on `backend`; with no `tokens`, makes alice's, bob's and the admin's.
    fn serve(
        limits: Limits,
        dir: tempfile::TempDir,
        data: PathBuf,
        backend: Backend,
        tokens: Option<[String; 3]>,
    ) -> Server {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("rt");
        let ingest = runtime.block_on(backend.open(&data, limits.clone()));
        let tokens = tokens.unwrap_or_else(|| {
            runtime.block_on(async {
                let admin = backend.tokens(&data).await;
                let mut made = Vec::new();
                for (name, is_admin) in [("alice", false), ("bob", false), ("ops", true)] {
                    made.push(admin.add(name, is_admin).await.expect("token"));
                }
                [made[0].clone(), made[1].clone(), made[2].clone()]
            })
        });
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
            backend,
            limits,
            runtime: Some(runtime),
            stop: Some(stop),
            ended: Some(std::sync::Mutex::new(ended)),
        }
    }

    /// Token administration, as `wedsync serve token` does it.
    pub fn token_admin(&self) -> Box<dyn TokenAdmin> {
        self.block_on(self.backend.tokens(&self.data))
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
        let next =
            Server::serve(self.limits.clone(), dir, self.data.clone(), self.backend.clone(), Some(tokens));
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

    /// Creates a partial upload (concatenation) of `length` bytes for `token`; returns its path.
    pub fn create_partial(&self, token: &str, length: usize) -> String {
        let n = length.to_string();
        let r =
            self.tus(token, "POST", "/files", &[("Upload-Length", &n), ("Upload-Concat", "partial")], b"");
        assert_eq!(r.status, 201, "{r:?}");
        r.header("location").expect("location").to_string()
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
        match self.backend {
            Backend::Local => &LocalStore,
            Backend::Cluster { .. } => &ClusterStore,
        }
    }

    /// How many bytes the store holds for upload `path`, if it holds any.
    pub fn stored(&self, path: &str) -> Option<u64> {
        self.backdoor().stored(self, id_of(path))
    }

    /// Where the local store keeps upload `path`'s bytes.
    pub fn file(&self, path: &str) -> PathBuf {
        assert!(self.is_local(), "only the local store keeps files");
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
/// store only through this and the protocol, so they run unchanged on either store.
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

/// The cluster store: rows in PostgreSQL, objects in the bucket.
pub struct ClusterStore;

impl ClusterStore {
    fn state(server: &Server) -> (&str, &str) {
        match &server.backend {
            Backend::Cluster { state, bucket, .. } => (state.as_str(), bucket.as_str()),
            Backend::Local => panic!("not a cluster-store server"),
        }
    }

    /// Runs `sql` with these parameters; returns the first column of the rows as i64.
    fn sql(
        server: &Server,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Vec<tokio_postgres::Row> {
        let (state, _) = ClusterStore::state(server);
        server.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(state, tokio_postgres::NoTls).await.expect("connect");
            let driver = tokio::spawn(connection);
            let rows = client.query(sql, params).await.expect(sql);
            drop(client);
            let _ = driver.await;
            rows
        })
    }
}

impl Backdoor for ClusterStore {
    fn forget(&self, server: &Server, id: &str) {
        ClusterStore::sql(server, "DELETE FROM uploads WHERE id = $1 RETURNING id", &[&id]);
    }

    fn expire(&self, server: &Server, id: &str) {
        ClusterStore::sql(server, "UPDATE uploads SET expires = 1 WHERE id = $1 RETURNING id", &[&id]);
    }

    fn complete(&self, server: &Server, id: &str, bytes: &[u8]) {
        use object_store::ObjectStoreExt;
        let (_, bucket) = ClusterStore::state(server);
        let bucket = Bucket::open_as(bucket, s3::KEY_ID, s3::SECRET).expect("bucket");
        let key = format!("uploads/{id}/0");
        let payload = object_store::PutPayload::from(bytes.to_vec());
        server
            .block_on(bucket.store.put(&object_store::path::Path::from(key.as_str()), payload))
            .expect("put");
        let sql = "UPDATE uploads SET \"offset\" = $2, state = 'complete', finished = true, object_key = $3
                   WHERE id = $1 RETURNING id";
        ClusterStore::sql(server, sql, &[&id, &(bytes.len() as i64), &key]);
    }

    fn stored(&self, server: &Server, id: &str) -> Option<u64> {
        use object_store::ObjectStoreExt;
        let rows = ClusterStore::sql(
            server,
            "SELECT finished, object_key,
                 (SELECT COALESCE(SUM(length(bytes)), 0) FROM upload_tail WHERE upload = $1)::bigint
                 + (SELECT COALESCE(SUM(size), 0) FROM upload_parts WHERE upload = $1)::bigint
             FROM uploads WHERE id = $1",
            &[&id],
        );
        let row = rows.first()?;
        let (finished, key, pending): (bool, Option<String>, i64) = (row.get(0), row.get(1), row.get(2));
        if !finished {
            return (pending > 0).then_some(pending as u64);
        }
        let (_, bucket) = ClusterStore::state(server);
        let bucket = Bucket::open_as(bucket, s3::KEY_ID, s3::SECRET).expect("bucket");
        let path = object_store::path::Path::from(key?.as_str());
        server.block_on(bucket.store.head(&path)).ok().map(|m| m.size)
    }
}
