//! Clients written by others against the server: tus-js-client (npm, pinned in
//! tests/peers/node) and tuspy (PyPI, pinned in tests/peers/python, in the venv that
//! scripts/install-deps makes). Files must arrive byte-identical.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{bytes, repo_root, Server};

/// What a peer printed, and whether it exited 0 in time.
struct Ran {
    ok: bool,
    out: String,
    err: String,
}

/// Runs `cmd` to completion, killing it after `limit`.
fn run(mut cmd: Command, limit: Duration) -> Ran {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start peer");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let out = reader.join().unwrap_or_default();
    if status.is_none() {
        err.push_str(&format!("\n(killed after {limit:?})"));
    }
    Ran { ok: status.is_some_and(|s| s.success()), out, err }
}

fn write_files(dir: &Path, sizes: &[usize]) -> Vec<(PathBuf, Vec<u8>)> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let data = bytes(n, 1000 + i as u64);
            let path = dir.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&path, &data).expect("write input");
            (path, data)
        })
        .collect()
}

fn tus_js(
    server: &Server,
    files: &[(PathBuf, Vec<u8>)],
    mode: &str,
    extra: serde_json::Value,
) -> Vec<serde_json::Value> {
    let node_dir = repo_root().join("tests/peers/node");
    assert!(
        node_dir.join("node_modules/tus-js-client").exists(),
        "run scripts/install-deps (npm ci in {node_dir:?})"
    );
    let mut opts = serde_json::json!({
        "endpoint": server.url("/files"),
        "token": server.alice,
        "files": files.iter().map(|(p, _)| p.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "mode": mode,
    });
    if let (Some(o), Some(e)) = (opts.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let mut cmd = Command::new("node");
    cmd.arg(node_dir.join("tus-upload.mjs")).arg(opts.to_string()).current_dir(&node_dir);
    let ran = run(cmd, Duration::from_secs(180));
    assert!(ran.ok, "tus-js-client failed:\n{}\n{}", ran.out, ran.err);
    let events: Vec<serde_json::Value> =
        ran.out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!events.is_empty(), "tus-js-client exited 0 but printed no events:\n{}\n{}", ran.out, ran.err);
    events
}

/// Every file was reported done, and the server holds exactly its bytes.
fn arrived(server: &Server, files: &[(PathBuf, Vec<u8>)], events: &[serde_json::Value]) {
    for (i, (_, data)) in files.iter().enumerate() {
        let url = events
            .iter()
            .find(|e| e["event"] == "done" && e["file"] == i)
            .and_then(|e| e["url"].as_str())
            .unwrap_or_else(|| panic!("file {i} not done: {events:?}"));
        let path = &url[url.find("/files/").expect("upload url")..];
        let r = server.download(&server.alice, path);
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert!(r.body == *data, "file {i} differs ({} bytes, expected {})", r.body.len(), data.len());
    }
}

#[test]
fn tus_js_client_uploads_with_data_during_creation_and_chunks() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_files(dir.path(), &[1, 700_000, 2_600_000]);
    let events = tus_js(&server, &files, "plain", serde_json::json!({ "chunkSize": 1_000_000 }));
    arrived(&server, &files, &events);
    assert!(events.iter().filter(|e| e["event"] == "ack").count() >= 4, "{events:?}");
}

#[test]
fn tus_js_client_resumes_after_an_interrupted_patch() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_files(dir.path(), &[8_000_000]);
    let events = tus_js(&server, &files, "interrupt", serde_json::json!({}));
    let cut = events
        .iter()
        .find(|e| e["event"] == "interrupted")
        .unwrap_or_else(|| panic!("no interrupted event: {events:?}"));
    let (sent, offset) = (cut["sent"].as_u64().expect("sent"), cut["offset"].as_u64().expect("offset"));
    eprintln!("tus-js-client: PATCH cut after {sent} of 8000000 bytes, server kept {offset}, upload resumed from there");
    assert!(sent < 8_000_000, "the PATCH was cut before the end");
    assert_eq!(offset, sent, "the server keeps every byte that arrived before the cut");
    arrived(&server, &files, &events);
}

#[test]
fn tus_js_client_parallel_uploads_are_concatenated() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_files(dir.path(), &[3_000_001]);
    let events = tus_js(&server, &files, "parallel", serde_json::json!({ "parallel": 4 }));
    arrived(&server, &files, &events);
    let auth = format!("Bearer {}", server.admin);
    // The parts' bytes went into the final, which holds them once.
    let r = server.send("GET", "/admin/uploads?state=consumed", &[("Authorization", &auth)], b"");
    let list: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    let partials = list.as_array().expect("array").iter().filter(|u| u["concat"] == "partial").count();
    assert_eq!(partials, 4, "{list}");
}

#[test]
fn tuspy_uploads_with_a_checksum_per_chunk() {
    let python = dirs_venv().join("bin/python");
    assert!(python.exists(), "run scripts/install-deps (the tuspy venv at {python:?})");
    let server = Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_files(dir.path(), &[900_000, 2_000_000]);
    let mut cmd = Command::new(&python);
    cmd.arg(repo_root().join("tests/peers/python/tuspy_upload.py"))
        .arg(server.url("/files"))
        .arg(&server.alice)
        .arg("524288")
        .args(files.iter().map(|(p, _)| p.clone()));
    let ran = run(cmd, Duration::from_secs(120));
    assert!(ran.ok, "tuspy failed:\n{}\n{}", ran.out, ran.err);
    let events: Vec<serde_json::Value> = ran
        .out
        .lines()
        .filter_map(|l| l.strip_prefix("done "))
        .enumerate()
        .map(|(i, url)| serde_json::json!({ "event": "done", "file": i, "url": url }))
        .collect();
    arrived(&server, &files, &events);
    let auth = format!("Bearer {}", server.admin);
    let r = server.send("GET", "/metrics", &[("Authorization", &auth)], b"");
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("wedsync_ingest_checksum_mismatches_total 0"), "{text}");
    // 900 KB in two chunks and 2 MB in four, each with its checksum.
    assert!(text.contains("wedsync_ingest_checksums_verified_total 6"), "{text}");
}

/// The venv scripts/install-deps makes for the Python peers.
pub fn dirs_venv() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/wedsync/venv")
}
