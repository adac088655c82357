//! `wedsync serve` as a process: tokens from the command line, and crash safety — the
//! server killed with SIGKILL during 50 concurrent uploads by tus-js-client, restarted, and
//! every acknowledged offset still there and every file byte-identical in the end.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::support::{free_port, photo_files, request, start_server, token, wedsync, TusJs};

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
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let alice = token(&data, "alice", false);
    let port = free_port();
    let mut server = start_server(&data, port);
    let files = photo_files(&dir.path().join("in"), 50);
    let clients = TusJs::start(&format!("http://127.0.0.1:{port}/files"), &alice, &files);

    // Kill the server once a good part of the chunks are acknowledged, mid-flight.
    clients.wait_for_acks(150);
    let _ = server.0.kill(); // SIGKILL
    let _ = server.0.wait();
    let acked = clients.acked();
    let done_before = clients.count("done");
    eprintln!(
        "killed the server with {} uploads acknowledged in part, {done_before} of 50 done",
        acked.len()
    );
    assert!(done_before < 50, "the kill came after every upload finished");

    server = start_server(&data, port);
    assert_offsets_kept(port, &alice, &acked);
    let paths = clients.finish(files.len());
    assert_downloads_match(port, &alice, &paths, &files);
    drop(server);
}

/// Every acknowledged offset is still there (or past it). An upload whose last byte an
/// instance acknowledged before it was killed is finished by the next that is asked, once
/// the dead one's lease ends (423 until then).
pub fn assert_offsets_kept(port: u16, token: &str, acked: &HashMap<String, u64>) {
    for (path, off) in acked {
        let start = std::time::Instant::now();
        let (status, headers, _) = loop {
            let answer = request(port, "HEAD", path, token);
            if answer.0 != 423 || start.elapsed() > std::time::Duration::from_secs(15) {
                break answer;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        assert_eq!(status, 200, "{path}");
        let now: u64 = headers.get("upload-offset").and_then(|v| v.parse().ok()).expect("offset");
        assert!(now >= *off, "{path}: acknowledged {off}, server now says {now}");
    }
}

/// Each upload in `paths` downloads as the file at the same place in `files`.
pub fn assert_downloads_match(port: u16, token: &str, paths: &[String], files: &[(PathBuf, Vec<u8>)]) {
    for (i, (path, (_, bytes))) in paths.iter().zip(files).enumerate() {
        let (status, _, body) = request(port, "GET", path, token);
        assert_eq!(status, 200, "file {i}");
        assert!(body == *bytes, "file {i} differs: {} bytes, expected {}", body.len(), bytes.len());
    }
}
