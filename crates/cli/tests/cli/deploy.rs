//! The deployment of `deploy/nginx/wedsync.conf`, as a platform runs it: two `wedsync serve`
//! processes on one PostgreSQL database and one bucket, behind nginx, all started here on
//! 127.0.0.1 (PostgreSQL from Debian, s3s-fs or moto, nginx from Debian) and stopped after.
//! The failures it must survive, each ending with every file byte-identical and no
//! acknowledged byte lost: an instance killed mid-PATCH (under tus-js-client, and under
//! `wedsync upload`), an instance paused past its lease while the other finishes its
//! upload, PostgreSQL restarted under load, the bucket down for a while, the bucket
//! answering errors and resetting connections for a while.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wedsync_ingest::testing::faults::{Fault, FaultProxy};
use wedsync_ingest::testing::nginx::Nginx;
use wedsync_ingest::testing::postgres::Cluster;
use wedsync_ingest::testing::s3;

use crate::serve::{assert_downloads_match, assert_offsets_kept};
use crate::support::{
    assert_journal_settled, originals_upload, photo_files, random_bytes, repo_root, request, sha256_hex,
    wedsync, Kill, TusJs,
};
use crate::upload::{make_card, want_hashes};

struct Deployment {
    s3: s3::Server,
    /// Between the instances and the bucket, where a test spoils the bucket's answers.
    faults: Option<FaultProxy>,
    state: String,
    ports: [u16; 2],
    instances: [Option<Kill>; 2],
    /// Where clients connect: nginx's port.
    port: u16,
    _nginx: Nginx,
    /// Dropped last: the instances stop before their database.
    pg: Cluster,
}

/// Two ports free at once (held together while they are chosen, so they differ).
fn free_ports() -> [u16; 2] {
    let held: Vec<std::net::TcpListener> =
        (0..2).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    let port = |i: usize| held[i].local_addr().expect("addr").port();
    [port(0), port(1)]
}

impl Deployment {
    fn start(kind: s3::Kind) -> Deployment {
        Deployment::start_with(kind, false)
    }

    /// With `faults`, the instances reach the bucket through a [`FaultProxy`].
    fn start_with(kind: s3::Kind, faults: bool) -> Deployment {
        let pg = Cluster::start().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
        let s3 = s3::Server::start(kind, "photos").unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let state = pg.database("ingest").expect("database");
        let faults = faults.then(|| FaultProxy::start(s3.port).unwrap_or_else(|e| panic!("{e}")));
        let store = match &faults {
            Some(proxy) => s3::Server::url_through("photos", proxy.port),
            None => s3.url("photos"),
        };
        let ports = free_ports();
        let instances = [Some(instance(&state, &store, ports[0])), Some(instance(&state, &store, ports[1]))];
        let addresses = ports.map(|p| format!("127.0.0.1:{p}"));
        let nginx =
            Nginx::start(&repo_root().join("deploy/nginx/wedsync.conf"), [&addresses[0], &addresses[1]])
                .unwrap_or_else(|e| panic!("{e}"));
        Deployment { s3, faults, state, ports, instances, port: nginx.port, _nginx: nginx, pg }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/files", self.port)
    }

    fn token(&self, name: &str) -> String {
        let (code, out) = wedsync(&["serve", "token", "add", name, "--state", &self.state]);
        assert_eq!(code, 0, "{out}");
        out.lines().last().expect("a line").to_string()
    }

    fn sql(&self, sql: &str) -> String {
        self.pg.psql("ingest", sql).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Which instance holds upload `id`'s lease now, if one does (the holder's name starts
    /// with its process id).
    fn holder(&self, id: &str) -> Option<usize> {
        let holder =
            self.sql(&format!("SELECT holder FROM uploads WHERE id = '{id}' AND lease_until > now()"));
        let pid: u32 = holder.split('-').next()?.parse().ok()?;
        (0..2).find(|i| self.instances[*i].as_ref().is_some_and(|k| k.0.id() == pid))
    }
}

/// Every upload in the database is complete: none quarantined or failed, and none begun
/// again and abandoned (a client that starts a file over leaves the first upload receiving)
/// — but for uploads `empty_left` allows: created, then left with no byte acknowledged.
fn assert_every_upload_complete(d: &Deployment, empty_left: bool) {
    let empty = if empty_left { "AND NOT (state = 'receiving' AND \"offset\" = 0)" } else { "" };
    let others = d.sql(&format!(
        "SELECT COALESCE(string_agg(state || ' at ' || \"offset\" || ' of ' || COALESCE(length, -1), ', '), '')
         FROM uploads WHERE state <> 'complete' {empty}"
    ));
    assert_eq!(others, "", "uploads not complete");
}

/// Starts an instance on `port` and waits for its "listening" line.
fn instance(state: &str, store: &str, port: u16) -> Kill {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--state", state, "--store", store])
        .env("AWS_ACCESS_KEY_ID", s3::KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", s3::SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start an instance");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(line.starts_with("listening on http://127.0.0.1:") && line.contains("s3://photos"), "{line}");
    Kill(child)
}

/// A raw request to `port`; returns the status and the `Location` or `Upload-Offset`.
fn tus(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    s.write_all(&head(method, path, token, headers, body.len())).expect("head");
    let _ = s.write_all(body);
    answer(&mut s)
}

fn head(method: &str, path: &str, token: &str, headers: &[(&str, &str)], len: usize) -> Vec<u8> {
    let mut h = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {len}\r\n"
    );
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// The status and the `Location` or `Upload-Offset` of a response (0 when cut).
fn answer(s: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let value = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("location") || k.eq_ignore_ascii_case("upload-offset"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    (status, value)
}

#[test]
fn an_instance_killed_mid_patch_loses_nothing_and_clients_finish_on_the_other() {
    let mut d = Deployment::start(s3::Kind::S3sFs);
    let alice = d.token("alice");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = photo_files(&dir.path().join("in"), 40);
    let clients = TusJs::start(&d.endpoint(), &alice, &files);
    clients.wait_for_acks(40);
    // An instance that holds an upload right now (one query: the uploads go fast): kill -9.
    let held = d.sql("SELECT id FROM uploads WHERE lease_until > now() LIMIT 1");
    let victim = d.holder(&held).unwrap_or(0);
    drop(d.instances[victim].take());
    let acked = clients.acked();
    let done_before = clients.count("done");
    eprintln!("killed instance {victim} with {done_before} of 40 done");
    assert!(done_before < 40, "the kill came after every upload finished");
    assert_offsets_kept(d.port, &alice, &acked);
    let paths = clients.finish(files.len());
    assert_downloads_match(d.port, &alice, &paths, &files);
    let complete = d.sql("SELECT COUNT(*) FROM uploads WHERE state = 'complete'");
    assert_eq!(complete, "40", "each file once, its SHA-256 checked");
}

#[test]
fn an_instance_paused_past_its_lease_cannot_write_once_it_wakes() {
    let d = Deployment::start(s3::Kind::Moto);
    let alice = d.token("alice");
    let mut seed = 7;
    let data = random_bytes(12 << 20, &mut seed);
    let sha = sha256_hex(&data);
    let metadata = format!("sha256 {}", base64_of(sha.as_bytes()));
    let len = data.len().to_string();
    let (status, location) = tus(
        d.port,
        "POST",
        "/files",
        &alice,
        &[("Upload-Length", &len), ("Upload-Metadata", &metadata)],
        b"",
    );
    assert_eq!(status, 201);
    let id = location.trim_start_matches("/files/").to_string();
    // A PATCH through nginx sends 9 MiB (a whole 8 MiB part goes to the bucket), then
    // its network goes quiet.
    let mut stalled = TcpStream::connect(("127.0.0.1", d.port)).expect("connect");
    let offset = [("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "0")];
    stalled.write_all(&head("PATCH", &location, &alice, &offset, data.len())).expect("head");
    stalled.write_all(&data[..9 << 20]).expect("body");
    let start = Instant::now();
    while d.sql(&format!("SELECT COUNT(*) FROM upload_parts WHERE upload = '{id}'")) != "1" {
        assert!(start.elapsed() < Duration::from_secs(30), "the first part never reached the bucket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let paused = d.holder(&id).expect("an instance holds the upload");
    let pid = d.instances[paused].as_ref().expect("running").0.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().is_ok_and(|s| s.success()));
    // Past its lease, the other instance takes the upload (nginx cannot tell a paused
    // instance from a slow one, so the client goes to the other directly, as a balancer's
    // health check would send it) and finishes it from the acknowledged offset: 0.
    std::thread::sleep(Duration::from_secs(7));
    let other = d.ports[1 - paused];
    let (status, offset) = tus(other, "HEAD", &location, &alice, &[], b"");
    assert_eq!((status, offset.as_str()), (200, "0"), "nothing of the paused PATCH was acknowledged");
    let (status, _) = tus(other, "PATCH", &location, &alice, &offset_at("0"), &data);
    assert_eq!(status, 204);
    // The paused instance wakes up, and its client sends the rest: refused.
    assert!(Command::new("kill").args(["-CONT", &pid]).status().is_ok_and(|s| s.success()));
    let _ = stalled.write_all(&data[9 << 20..]);
    let (late, _) = answer(&mut stalled);
    assert!(late == 423 || late == 0 || late == 502, "the late writer was refused: {late}");
    let (status, _, body) = request(d.port, "GET", &location, &alice);
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&body), sha, "the stored file is the file");
    let state = d.sql(&format!("SELECT state, encode(sha256, 'hex') FROM uploads WHERE id = '{id}'"));
    assert_eq!(state, format!("complete|{sha}"));
}

fn offset_at(offset: &str) -> [(&str, &str); 2] {
    [("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", offset)]
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn postgresql_restarted_under_load_and_the_bucket_down_for_a_while_lose_nothing() {
    let mut d = Deployment::start(s3::Kind::S3sFs);
    let alice = d.token("alice");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = photo_files(&dir.path().join("in"), 40);
    let clients = TusJs::start(&d.endpoint(), &alice, &files);
    clients.wait_for_acks(40);
    d.pg.stop().expect("stop PostgreSQL");
    std::thread::sleep(Duration::from_secs(2));
    d.pg.resume().expect("start PostgreSQL");
    clients.wait_for_acks(120);
    d.s3.outage(Duration::from_secs(3)).expect("the bucket comes back");
    let acked = clients.acked();
    assert!(clients.count("done") < 40, "the outages came after every upload finished");
    assert_offsets_kept(d.port, &alice, &acked);
    let paths = clients.finish(files.len());
    assert_downloads_match(d.port, &alice, &paths, &files);
    // While PostgreSQL was down a HEAD answered 423 (a 5xx would have made tus-js-client
    // start the file over): every upload is complete, none was begun again. A creation
    // whose first chunk met the outage was answered 503 with no upload URL, and the client
    // created another: the first is left empty, and expires.
    assert_every_upload_complete(&d, true);
}

#[test]
fn the_bucket_answering_errors_then_resetting_connections_loses_nothing() {
    let d = Deployment::start_with(s3::Kind::S3sFs, true);
    let faults = d.faults.as_ref().expect("a proxy");
    let alice = d.token("alice");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = photo_files(&dir.path().join("in"), 40);
    let clients = TusJs::start(&d.endpoint(), &alice, &files);
    clients.wait_for_acks(40);
    // Uploads finish (and their objects are written) all the while: the bucket answers
    // 503 SlowDown to every request for 3 s, then resets every connection for 3 s.
    let mut spoiled = 0;
    for fault in [Fault::Errors, Fault::Resets] {
        faults.set(fault);
        std::thread::sleep(Duration::from_secs(3));
        assert!(faults.spoiled() > spoiled, "no request to the bucket met {fault:?}");
        spoiled = faults.spoiled();
    }
    faults.set(Fault::None);
    let acked = clients.acked();
    assert!(clients.count("done") < 40, "the faults came after every upload finished");
    assert_offsets_kept(d.port, &alice, &acked);
    let paths = clients.finish(files.len());
    assert_downloads_match(d.port, &alice, &paths, &files);
    assert_every_upload_complete(&d, false);
}

#[test]
fn wedsync_upload_through_the_deployment_finishes_when_an_instance_is_killed() {
    let mut d = Deployment::start(s3::Kind::S3sFs);
    let alice = d.token("alice");
    let dir = tempfile::tempdir().expect("tempdir");
    let card = dir.path().join("card");
    let files = make_card(&card, 60);
    let home = dir.path().join("home");
    // Not wrapped in Kill: its output is read at the end, and it ends by itself (bounded
    // retries) even if the test fails first.
    let upload = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(originals_upload(
            &card,
            &d.endpoint(),
            &alice,
            &["--parts", "1", "--streams", "2", "--limit-mbit", "40"],
        ))
        .env("WEDSYNC_HOME", &home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start upload");
    // ~30 MB at 40 Mbit/s takes ~6 s: kill -9 an instance holding an upload after 1.5 s.
    std::thread::sleep(Duration::from_millis(1500));
    let held = d.sql("SELECT id FROM uploads WHERE lease_until > now() LIMIT 1");
    let victim = d.holder(&held).unwrap_or(0);
    drop(d.instances[victim].take());
    let out = upload.wait_with_output().expect("upload output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(out.status.success(), "{text}");
    // Every file complete, each once, its bytes those of the file (the SHA-256 the store
    // kept as the bytes arrived).
    let mut stored: Vec<String> = d
        .sql("SELECT encode(sha256, 'hex') FROM uploads WHERE state = 'complete'")
        .lines()
        .map(str::to_string)
        .collect();
    stored.sort();
    assert_eq!(stored, want_hashes(&files));
    assert_journal_settled(&home);
}

#[test]
fn a_wrong_database_bucket_or_credentials_stop_an_instance_with_a_clear_error() {
    let pg = Cluster::start().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    let s3 = s3::Server::start(s3::Kind::S3sFs, "photos").unwrap_or_else(|e| panic!("s3s-fs: {e}"));
    let state = pg.database("ingest").expect("database");
    let serve = |state: &str, store: &str, secret: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_wedsync"))
            .args(["serve", "--listen", "127.0.0.1:0", "--state", state, "--store", store])
            .env("AWS_ACCESS_KEY_ID", s3::KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .expect("run");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = serve(&pg.url("missing"), &s3.url("photos"), s3::SECRET);
    assert!(code == Some(2) && err.contains("missing") && err.contains("does not exist"), "{err}");
    let (code, err) = serve(&state, &s3.url("nothere"), s3::SECRET);
    assert!(code == Some(2) && err.contains("s3://nothere") && err.contains("NoSuchBucket"), "{err}");
    let (code, err) = serve(&state, &s3.url("photos"), "not-the-secret");
    assert!(code == Some(2) && err.contains("s3://photos") && err.contains("Signature"), "{err}");
    let (code, err) = serve(&state, "http://photos", s3::SECRET);
    assert!(code == Some(2) && err.contains("only s3://"), "{err}");
    let (code, out) = wedsync(&["serve", "--state", &state]);
    assert!(code == 2 && out.contains("--store"), "--state alone: {out}");
}
