//! `wedsync serve` as a process: tokens from the command line, and crash safety — the
//! server killed with SIGKILL during 50 concurrent uploads by tus-js-client, restarted, and
//! every acknowledged offset still there and every file byte-identical in the end.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{free_port, random_bytes, repo_root, request, start_server, token, wedsync, Kill};

/// Adds, lists and revokes tokens kept where `place` says (`--data DIR` or `--state URL`);
/// returns the first token made.
fn tokens_from_the_command_line(place: [&str; 2]) -> String {
    let add = |name: &str, admin: bool| {
        let mut args = vec!["serve", "token", "add", name];
        args.extend(place);
        if admin {
            args.push("--admin");
        }
        wedsync(&args)
    };
    let (code, out) = add("studio-a", false);
    assert_eq!(code, 0, "{out}");
    let t = out.lines().last().unwrap_or_default().to_string();
    assert!(t.starts_with("wst_") && t.len() == 68, "the token alone on the last line: {out}");
    assert_eq!(add("ops", true).0, 0);
    let list = || wedsync(&[&["serve", "token", "list"][..], &place].concat());
    let (code, out) = list();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("studio-a") && out.contains("admin") && !out.contains(&t), "{out}");
    let (code, out) = add("studio-a", false);
    assert_eq!(code, 2, "a live name cannot be reused: {out}");
    let revoke = || wedsync(&[&["serve", "token", "revoke", "studio-a"][..], &place].concat()).0;
    assert_eq!(revoke(), 0);
    assert_eq!(revoke(), 1);
    let (_, out) = list();
    assert!(out.contains("revoked"), "{out}");
    let (code, out) = wedsync(&["serve", "token", "list"]);
    assert_eq!(code, 2, "--data or --state is required: {out}");
    t
}

#[test]
fn tokens_are_made_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    tokens_from_the_command_line(["--data", dir.path().to_str().expect("utf-8")]);
}

#[test]
fn tokens_are_kept_in_postgresql_with_state() {
    let cluster = wedsync_ingest::testing::postgres::Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.database("tokens").expect("database");
    let first = tokens_from_the_command_line(["--state", &url]);
    // What the command line made, an instance sharing the database sees: "ops" is live,
    // the revoked "studio-a" is not.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        use wedsync_ingest::pg::{Pg, PgTokens};
        use wedsync_ingest::{TokenAdmin, Tokens};
        let tokens = PgTokens::new(Pg::connect(&url).await.expect("connect"));
        assert!(tokens.verify(&first).await.expect("verify").is_none(), "revoked");
        let live: Vec<String> =
            tokens.list().await.expect("list").into_iter().filter(|t| !t.revoked).map(|t| t.name).collect();
        assert_eq!(live, ["ops"]);
    });
    let (code, out) = wedsync(&["serve", "token", "list", "--state", &cluster.url("missing")]);
    assert_eq!(code, 2);
    assert!(out.contains("missing") && out.contains("does not exist"), "{out}");
}

#[test]
fn a_killed_server_loses_no_acknowledged_offset_and_clients_resume() {
    let node_dir = repo_root().join("tests/peers/node");
    assert!(node_dir.join("node_modules/tus-js-client").exists(), "run scripts/install-deps");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let alice = token(&data, "alice", false);
    let port = free_port();
    let mut server = start_server(&data, port);

    // 50 photo-like files of 0.5–2.5 MB.
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(&inputs).expect("mkdir");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let files: Vec<(PathBuf, Vec<u8>)> = (0..50)
        .map(|i| {
            let bytes = random_bytes(500_000 + i * 41_000, &mut seed);
            let path = inputs.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&path, &bytes).expect("write");
            (path, bytes)
        })
        .collect();
    let opts = serde_json::json!({
        "endpoint": format!("http://127.0.0.1:{port}/files"),
        "token": alice,
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
    let reader = {
        let events = events.clone();
        let stdout = node.0.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    events.lock().expect("lock").push(v);
                }
            }
        })
    };

    // Kill the server once a good part of the chunks are acknowledged, mid-flight.
    let start = Instant::now();
    loop {
        let acks = events.lock().expect("lock").iter().filter(|e| e["event"] == "ack").count();
        if acks >= 150 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "uploads too slow to reach the kill point");
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = server.0.kill(); // SIGKILL
    let _ = server.0.wait();
    let acked: HashMap<String, u64> = {
        let events = events.lock().expect("lock");
        let mut m = HashMap::new();
        for e in events.iter().filter(|e| e["event"] == "ack") {
            let (Some(url), Some(off)) = (e["url"].as_str(), e["offset"].as_u64()) else { continue };
            let path = url[url.find("/files/").expect("url")..].to_string();
            let v = m.entry(path).or_insert(0);
            *v = off.max(*v);
        }
        m
    };
    let done_before = events.lock().expect("lock").iter().filter(|e| e["event"] == "done").count();
    eprintln!(
        "killed the server with {} uploads acknowledged in part, {done_before} of 50 done",
        acked.len()
    );
    assert!(done_before < 50, "the kill came after every upload finished");

    server = start_server(&data, port);
    for (path, off) in &acked {
        let (status, headers, _) = request(port, "HEAD", path, &alice);
        assert_eq!(status, 200, "{path}");
        let now: u64 = headers.get("upload-offset").and_then(|v| v.parse().ok()).expect("offset");
        assert!(now >= *off, "{path}: acknowledged {off}, server now says {now}");
    }

    let start = Instant::now();
    let status = loop {
        if let Some(s) = node.0.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "clients did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = reader.join();
    let events = events.lock().expect("lock").clone();
    assert!(
        status.success(),
        "tus-js-client reported errors: {:?}",
        events.iter().filter(|e| e["event"] == "error").collect::<Vec<_>>()
    );
    for (i, (_, bytes)) in files.iter().enumerate() {
        let url = events
            .iter()
            .find(|e| e["event"] == "done" && e["file"] == i)
            .and_then(|e| e["url"].as_str())
            .unwrap_or_else(|| panic!("file {i} not done"));
        let (status, _, body) = request(port, "GET", &url[url.find("/files/").expect("url")..], &alice);
        assert_eq!(status, 200, "file {i}");
        assert!(body == *bytes, "file {i} differs: {} bytes, expected {}", body.len(), bytes.len());
    }
    drop(server);
}
