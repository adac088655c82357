//! What the binary's tests share: running `wedsync`, servers as child processes killed
//! when dropped, raw HTTP requests, test files, and what our server and a journal hold at
//! the end of a test.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub fn wedsync(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wedsync")).args(args).output().expect("run wedsync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `wedsync ARGS` with its own WEDSYNC_HOME; exit code and all output (printed too).
pub fn wedsync_at<S: AsRef<str>>(home: &Path, args: &[S]) -> (i32, String) {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(&args)
        .env("WEDSYNC_HOME", home)
        .env_remove("WEDSYNC_TOKEN")
        .output()
        .expect("run wedsync");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("$ wedsync {}\n{text}", args.join(" "));
    (out.status.code().unwrap_or(-1), text)
}

pub fn token(data: &Path, name: &str, admin: bool) -> String {
    let mut args = vec!["serve", "token", "add", name, "--data", data.to_str().expect("utf-8")];
    if admin {
        args.push("--admin");
    }
    let (code, out) = wedsync(&args);
    assert_eq!(code, 0, "{out}");
    out.lines().last().expect("a line").to_string()
}

/// A child process killed (SIGKILL) when dropped, so a failing test leaves nothing running.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `wedsync serve` on `port` and waits for its "listening" line.
pub fn start_server(data: &Path, port: u16) -> Kill {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(["serve", "--data", data.to_str().expect("utf-8"), "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.starts_with("listening on http://127.0.0.1:"), "{first}");
    Kill(child)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// One request over a fresh connection; status, headers (lowercase names) and body.
pub fn request(port: u16, method: &str, path: &str, token: &str) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("write");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw.get(split + 4..).unwrap_or_default().to_vec())
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("root")
}

/// `len` pseudo-random bytes (xorshift), different for every call on the same seed.
pub fn random_bytes(len: usize, seed: &mut u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 32) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The SHA-256 of every file in `dir` whose name passes `keep`.
pub fn hashes_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut all: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file() && keep(&e.file_name().to_string_lossy()))
                .map(|e| sha256_hex(&std::fs::read(e.path()).expect("read")))
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

/// Starts a peer server that prints "listening PORT" first; returns it and its port.
fn start_peer(mut command: Command, name: &str) -> (Kill, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {name} (run scripts/install-deps): {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    let port = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("{name} said {line:?} (see its stderr; run scripts/install-deps)"))
        .to_string();
    (Kill(child), port)
}

/// @tus/server with its file store in `dir`; returns it and its endpoint.
pub fn start_tus_node(dir: &Path) -> (Kill, String) {
    let mut command = Command::new("node");
    command.arg(repo_root().join("tests/peers/node/tus-node-server.mjs")).arg(dir);
    let (server, port) = start_peer(command, "@tus/server");
    (server, format!("http://127.0.0.1:{port}/files"))
}

/// tuspyserver (FastAPI, under uvicorn, in the peers' venv) storing in `dir`; returns it
/// and its endpoint, with the trailing slash its OPTIONS route needs.
pub fn start_tuspyserver(dir: &Path) -> (Kill, String) {
    let home = std::env::var_os("HOME").expect("HOME");
    let python = Path::new(&home).join(".cache/wedsync/venv/bin/python");
    let mut command = Command::new(python);
    command.arg(repo_root().join("tests/peers/python/tuspyserver_app.py")).arg(dir);
    let (server, port) = start_peer(command, "tuspyserver");
    (server, format!("http://127.0.0.1:{port}/files/"))
}

/// `upload CARD --preset none --originals --to URL --token TOKEN --chunk-mib 0.0625`: the
/// camera files only, in 64 KiB chunks (many requests per small file), then `extra`.
pub fn originals_upload(card: &Path, url: &str, token: &str, extra: &[&str]) -> Vec<String> {
    let card = card.to_str().expect("utf-8");
    [
        "upload",
        card,
        "--preset",
        "none",
        "--originals",
        "--to",
        url,
        "--token",
        token,
        "--chunk-mib",
        "0.0625",
    ]
    .iter()
    .chain(extra)
    .map(|a| a.to_string())
    .collect()
}

/// Every upload on our server (`/admin/uploads?state=all`), oldest first.
pub fn admin_uploads(port: u16, admin: &str) -> Vec<serde_json::Value> {
    let (status, _, body) = request(port, "GET", "/admin/uploads?state=all&limit=100000", admin);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

pub fn admin_stats(port: u16, admin: &str) -> serde_json::Value {
    let (status, _, body) = request(port, "GET", "/admin/stats", admin);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

/// An upload's concatenation role in the admin listing: "none", "partial" or "final".
pub fn concat_role(upload: &serde_json::Value) -> &str {
    match &upload["concat"] {
        serde_json::Value::String(s) => s,
        _ => "final",
    }
}

/// What our server holds once the client is done, from its admin listing and the bytes in
/// its data folder (`DATA/uploads/<id>`).
#[derive(Debug, Default)]
pub struct Holdings {
    /// Complete uploads that are files, not parts of one (role none or final): the SHA-256
    /// of their bytes → their ids.
    pub complete: HashMap<String, Vec<String>>,
    /// Uploads still receiving: the client left them (orphans).
    pub receiving: u64,
    pub quarantined: u64,
}

pub fn holdings(port: u16, admin: &str, data: &Path) -> Holdings {
    let mut held = Holdings::default();
    for upload in admin_uploads(port, admin) {
        match upload["state"].as_str() {
            Some("receiving") => held.receiving += 1,
            Some("quarantined") => held.quarantined += 1,
            Some("complete") if concat_role(&upload) != "partial" => {
                let id = upload["id"].as_str().expect("id");
                let bytes = std::fs::read(data.join("uploads").join(id)).expect("a complete upload's bytes");
                held.complete.entry(sha256_hex(&bytes)).or_default().push(id.to_string());
            }
            _ => {}
        }
    }
    held
}

impl Holdings {
    /// Each of `want` (SHA-256s of the files sent) is held exactly once, and nothing else is
    /// held as a file: a complete upload with other bytes, or a quarantined one, is corrupt.
    pub fn assert_each_file_once(&self, want: &[String]) {
        let missing = want.iter().filter(|h| !self.complete.contains_key(*h)).count();
        let twice: Vec<&Vec<String>> = self
            .complete
            .iter()
            .filter(|(h, ids)| want.contains(h) && ids.len() > 1)
            .map(|(_, ids)| ids)
            .collect();
        let corrupt: Vec<&Vec<String>> =
            self.complete.iter().filter(|(h, _)| !want.contains(h)).map(|(_, ids)| ids).collect();
        assert!(
            missing == 0 && twice.is_empty() && corrupt.is_empty() && self.quarantined == 0,
            "of {} files, {missing} missing on the server, {} stored more than once {twice:?}; \
             {} complete uploads with bytes of no file {corrupt:?}; {} quarantined",
            want.len(),
            twice.len(),
            corrupt.len(),
            self.quarantined
        );
    }
}

/// The journal in `home` passes its consistency checks and has nothing left to send and
/// nothing refused.
pub fn assert_journal_settled(home: &Path) {
    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    let remaining = journal.remaining().expect("remaining");
    assert_eq!(remaining.uploads_queued + remaining.uploads_sending + remaining.failed, 0, "{remaining:?}");
}

/// `count` photo-like files of 0.5 MB and up (41 kB more each) in `dir`, with their bytes.
pub fn photo_files(dir: &Path, count: usize) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    (0..count)
        .map(|i| {
            let bytes = random_bytes(500_000 + i * 41_000, &mut seed);
            let path = dir.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&path, &bytes).expect("write");
            (path, bytes)
        })
        .collect()
}

/// tus-js-client (a client written by others) uploading files in a node process
/// (`tests/peers/node/tus-upload.mjs`, 128 KiB chunks, retrying for about 30 s), its
/// events collected as they come.
pub struct TusJs {
    node: Kill,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl TusJs {
    pub fn start(endpoint: &str, token: &str, files: &[(PathBuf, Vec<u8>)]) -> TusJs {
        let node_dir = repo_root().join("tests/peers/node");
        assert!(node_dir.join("node_modules/tus-js-client").exists(), "run scripts/install-deps");
        let opts = serde_json::json!({
            "endpoint": endpoint,
            "token": token,
            "files": files.iter().map(|(p, _)| p.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            "mode": "plain",
            "chunkSize": 131072,
            "retryDelays": [200, 500, 1000, 1000, 2000, 2000, 3000, 3000, 5000, 5000, 5000],
        });
        let mut node = Kill(
            Command::new("node")
                .arg(node_dir.join("tus-upload.mjs"))
                .arg(opts.to_string())
                .current_dir(&node_dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start node"),
        );
        let events: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let stdout = node.0.stdout.take().expect("stdout");
        let collected = events.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    collected.lock().expect("lock").push(v);
                }
            }
        });
        TusJs { node, events, reader: Some(reader) }
    }

    /// How many `event` events so far.
    pub fn count(&self, event: &str) -> usize {
        self.events.lock().expect("lock").iter().filter(|e| e["event"] == event).count()
    }

    /// Waits until `acks` chunks are acknowledged.
    pub fn wait_for_acks(&self, acks: usize) {
        let start = Instant::now();
        while self.count("ack") < acks {
            assert!(start.elapsed() < Duration::from_secs(120), "uploads too slow to reach {acks} chunks");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The highest offset acknowledged for each upload (by path, `/files/<id>`).
    pub fn acked(&self) -> HashMap<String, u64> {
        let mut m = HashMap::new();
        for e in self.events.lock().expect("lock").iter().filter(|e| e["event"] == "ack") {
            let (Some(url), Some(off)) = (e["url"].as_str(), e["offset"].as_u64()) else { continue };
            let v = m.entry(files_path(url)).or_insert(0);
            *v = off.max(*v);
        }
        m
    }

    /// Waits for every file to be done and returns each file's upload path, in order.
    pub fn finish(mut self, files: usize) -> Vec<String> {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.node.0.try_wait().expect("wait") {
                break s;
            }
            assert!(start.elapsed() < Duration::from_secs(300), "clients did not finish");
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let events = self.events.lock().expect("lock").clone();
        assert!(
            status.success(),
            "tus-js-client reported errors: {:?}",
            events.iter().filter(|e| e["event"] == "error").collect::<Vec<_>>()
        );
        (0..files)
            .map(|i| {
                let url = events
                    .iter()
                    .find(|e| e["event"] == "done" && e["file"] == i)
                    .and_then(|e| e["url"].as_str())
                    .unwrap_or_else(|| panic!("file {i} not done"));
                files_path(url)
            })
            .collect()
    }
}

/// `/files/<id>` of an upload URL.
fn files_path(url: &str) -> String {
    url[url.find("/files/").unwrap_or(0)..].to_string()
}
