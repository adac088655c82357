//! `wedsync upload` and `wedsync status` end to end: real RAW files developed and sent to
//! our server, to @tus/server and to the built-in server; a corrupt RAW among good ones;
//! the uploader killed with SIGKILL again and again; the server killed mid-upload.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    free_port, hashes_in, originals_upload, random_bytes, repo_root, sha256_hex, start_server,
    start_tus_node, start_tuspyserver, token, Kill,
};

fn samples() -> PathBuf {
    repo_root().join("../shared/samples")
}

/// `wedsync ARGS` with its own WEDSYNC_HOME; exit code and all output.
fn wedsync_at<S: AsRef<str>>(home: &Path, args: &[S]) -> (i32, String) {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let out: Output = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(&args)
        .env("WEDSYNC_HOME", home)
        .env_remove("WEDSYNC_TOKEN")
        .output()
        .expect("run wedsync");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("$ wedsync {}\n{text}", args.join(" "));
    (out.status.code().unwrap_or(-1), text)
}

/// SHA-256 of each sample file and of each rendition in the home's cache: what the server
/// must hold, once each.
fn expected(home: &Path, originals: &[PathBuf]) -> Vec<String> {
    let mut all = hashes_in(&home.join("cache"), |n| n.ends_with(".jpg"));
    all.extend(originals.iter().map(|p| sha256_hex(&std::fs::read(p).expect("read"))));
    all.sort();
    all
}

fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples())
        .expect("../shared/samples")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && wedsync_develop::is_supported_extension(p))
        .collect();
    files.sort();
    files
}

#[test]
fn renditions_and_originals_reach_our_server_once_and_a_second_run_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, home) = (dir.path().join("data"), dir.path().join("home"));
    let alice = token(&data, "alice", false);
    let port = free_port();
    let _server = start_server(&data, port);
    let url = format!("http://127.0.0.1:{port}/files");
    let samples = samples();
    let samples = samples.to_str().expect("utf-8");
    let args = ["upload", samples, "--preset", "web", "--preset", "thumb", "--originals", "--to", &url];
    let with_token = [&args[..], &["--token", &alice]].concat();

    let (code, out) = wedsync_at(&home, &with_token);
    assert_eq!(code, 0, "{out}");
    let files = sample_files();
    let n = files.len();
    assert!(out.contains(&format!("{} upload(s) verified", 3 * n)), "{out}");
    let stored = hashes_in(&data.join("uploads"), |_| true);
    assert_eq!(stored, expected(&home, &files), "the server holds exactly the renditions and originals");
    assert_eq!(stored.len(), 3 * n);

    let (code, out) = wedsync_at(&home, &with_token);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 upload(s) verified") && out.contains("nothing left to send"), "{out}");
    assert_eq!(hashes_in(&data.join("uploads"), |_| true).len(), 3 * n, "nothing was sent twice");

    let (code, out) = wedsync_at(&home, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{url}: {} verified, 0 queued, 0 sending, 0 failed", 3 * n)), "{out}");
    assert!(out.contains("nothing left to do"), "{out}");

    // A wrong token is refused for good and says so; nothing is marked sent.
    let other = dir.path().join("other-home");
    let (code, out) = wedsync_at(&other, &[&args[..], &["--token", "wst_not-a-token"]].concat());
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("401"), "{out}");
}

/// The samples' `web` renditions and originals sent to a peer server storing in a folder:
/// the folder's data files (not its `sidecar`-suffixed metadata) are exactly those bytes.
/// At 1 MiB chunks each original of several MiB goes in parts where the server concatenates
/// (`concatenates`), and as one upload where it does not.
fn a_peer_receives_everything(start: fn(&Path) -> (Kill, String), sidecar: &str, concatenates: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, home) = (dir.path().join("store"), dir.path().join("home"));
    std::fs::create_dir_all(&store).expect("mkdir");
    let (_server, url) = start(&store);
    let samples = samples();
    let (code, out) = wedsync_at(
        &home,
        &[
            "upload",
            samples.to_str().expect("utf-8"),
            "--preset",
            "web",
            "--originals",
            "--to",
            &url,
            "--chunk-mib",
            "1",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let stored = hashes_in(&store, |n| !n.ends_with(sidecar));
    assert_eq!(stored, expected(&home, &sample_files()));
    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    let split = journal.event_count("upload.parts").expect("events");
    let large = sample_files().iter().filter(|f| std::fs::metadata(f).expect("stat").len() > 2 << 20).count();
    assert!(large > 0, "the samples hold no file of several MiB");
    assert_eq!(split, if concatenates { large as u64 } else { 0 });
}

#[test]
fn renditions_and_originals_reach_tus_node_server_byte_identical() {
    a_peer_receives_everything(start_tus_node, ".json", false);
}

#[test]
fn renditions_and_originals_reach_tuspyserver_byte_identical() {
    a_peer_receives_everything(start_tuspyserver, ".info", true);
}

#[test]
fn without_a_destination_the_built_in_server_takes_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let cr2 = samples().join("canon-eos30d-IMG_5952.CR2");
    let (code, out) = wedsync_at(&home, &["upload", cr2.to_str().expect("utf-8"), "--preset", "thumb"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("sending to the built-in server at http://127.0.0.1:"), "{out}");
    let stored = hashes_in(&home.join("local-server/uploads"), |_| true);
    assert_eq!(stored, hashes_in(&home.join("cache"), |n| n.ends_with(".jpg")));
    assert_eq!(stored.len(), 1);
}

#[test]
fn a_corrupt_raw_is_one_failure_and_the_rest_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, home, card) = (dir.path().join("data"), dir.path().join("home"), dir.path().join("card"));
    std::fs::create_dir_all(&card).expect("mkdir");
    let good = std::fs::read(samples().join("canon-eos30d-IMG_5952.CR2")).expect("read");
    std::fs::write(card.join("IMG_0001.CR2"), &good).expect("write");
    std::fs::write(card.join("IMG_0002.CR2"), &good[..good.len() / 5]).expect("write");
    let alice = token(&data, "alice", false);
    let port = free_port();
    let _server = start_server(&data, port);
    let url = format!("http://127.0.0.1:{port}/files");
    let (code, out) = wedsync_at(
        &home,
        &["upload", card.to_str().expect("utf-8"), "--preset", "web", "--to", &url, "--token", &alice],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED to develop") && out.contains("IMG_0002.CR2"), "{out}");
    assert!(out.contains("sent IMG_0001.CR2 (web)"), "{out}");
    let (_, status) = wedsync_at(&home, &["status"]);
    assert!(status.contains("develop") && status.contains("IMG_0002.CR2"), "{status}");
}

/// `count` distinct photo-sized files (200–600 KB) in `dir`.
/// `count` random files of 200–600 KB in a fresh card folder.
fn make_card(dir: &Path, count: usize) -> Vec<PathBuf> {
    card_of(dir, &(0..count).map(|i| 200_000 + (i * 4_099) % 400_000).collect::<Vec<_>>())
}

/// Our server on 127.0.0.1 with a fresh data folder in `dir`, a user's and an admin's token,
/// and a WEDSYNC_HOME beside it.
struct OurServer {
    data: PathBuf,
    home: PathBuf,
    alice: String,
    admin: String,
    port: u16,
    url: String,
    _server: Kill,
}

fn our_server(dir: &Path) -> OurServer {
    let (data, home) = (dir.join("data"), dir.join("home"));
    let alice = token(&data, "alice", false);
    let admin = token(&data, "ops", true);
    let port = free_port();
    let server = start_server(&data, port);
    let url = format!("http://127.0.0.1:{port}/files");
    OurServer { data, home, alice, admin, port, url, _server: server }
}

/// `wedsync ARGS` running in the background with its own WEDSYNC_HOME, output discarded.
fn start_upload(home: &Path, args: &[String]) -> Kill {
    Kill(
        Command::new(env!("CARGO_BIN_EXE_wedsync"))
            .args(args)
            .env("WEDSYNC_HOME", home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start upload"),
    )
}

fn admin_stats(port: u16, admin: &str) -> serde_json::Value {
    let (status, _, body) = crate::support::request(port, "GET", "/admin/stats", admin);
    assert_eq!(status, 200);
    serde_json::from_slice(&body).expect("json")
}

const CHUNK: u64 = 64 * 1024;

#[test]
fn killing_the_uploader_again_and_again_loses_nothing_and_repeats_at_most_a_chunk_per_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = make_card(&dir.path().join("card"), 100);
    let total: u64 = files.iter().map(|f| std::fs::metadata(f).expect("stat").len()).sum();
    let OurServer { data, home, alice, admin, port, url, _server } = our_server(dir.path());
    let card = dir.path().join("card");
    let args = originals_upload(
        &card,
        &url,
        &alice,
        &[
            // One upload per file: the bound below is one chunk per file in flight. Parts
            // have their own test.
            "--parts",
            "1",
            "--streams",
            "4",
            // 2 MB/s (and a 2 MB burst at each start), so a dozen runs of a few hundred ms
            // cannot finish the 40 MB card.
            "--limit-mbit",
            "16",
        ],
    );
    let mut kills = 0;
    let mut rng = 0x853c_49e6_748f_ea9bu64;
    for round in 0..40 {
        if kills >= 12 {
            break;
        }
        let mut child = start_upload(&home, &args);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let after = Duration::from_millis(150 + rng % 400);
        let started = Instant::now();
        let finished = loop {
            if let Some(status) = child.0.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() >= after {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match finished {
            Some(status) => {
                assert!(status.success(), "round {round}: the upload failed");
                break;
            }
            None => {
                let _ = child.0.kill();
                let _ = child.0.wait();
                kills += 1;
            }
        }
    }
    assert!(kills >= 10, "only {kills} kills landed before the upload finished; slow the test's card down");
    let (code, out) = wedsync_at(&home, &args);
    assert_eq!(code, 0, "{out}");

    let stored = hashes_in(&data.join("uploads"), |_| true);
    let want = want_hashes(&files);
    let complete: Vec<&String> = stored.iter().filter(|h| want.contains(h)).collect();
    assert_eq!(complete.len(), 100, "every file once on the server");
    let stats = admin_stats(port, &admin);
    assert_eq!(stats["uploads"]["complete"], 100, "{stats}");
    // Orphans: uploads the server made just before a kill, before the journal heard of them.
    let orphans = stats["uploads"]["receiving"].as_u64().unwrap_or(0);
    let received = stats["bytes_received_total"].as_u64().expect("bytes");
    let resent = received - total;
    println!("{kills} kills: {resent} bytes sent twice, {orphans} orphaned uploads");
    assert!(orphans <= kills, "{orphans} orphans after {kills} kills");
    // At most one chunk per stream in flight at each kill.
    assert!(resent <= kills * 4 * CHUNK, "{resent} bytes resent after {kills} kills");

    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    let remaining = journal.remaining().expect("remaining");
    assert_eq!(remaining.uploads_queued + remaining.uploads_sending + remaining.failed, 0, "{remaining:?}");
}

#[test]
fn a_server_killed_mid_upload_is_waited_for_and_the_upload_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, home) = (dir.path().join("data"), dir.path().join("home"));
    let files = make_card(&dir.path().join("card"), 60);
    let alice = token(&data, "alice", false);
    let admin = token(&data, "ops", true);
    let port = free_port();
    let mut server = start_server(&data, port);
    let url = format!("http://127.0.0.1:{port}/files");
    let card = dir.path().join("card");
    // Not wrapped in Kill: its output is read at the end, and it ends by itself (bounded
    // retries) even if the test fails first.
    let upload = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(originals_upload(
            &card,
            &url,
            &alice,
            &["--parts", "1", "--streams", "2", "--limit-mbit", "40"],
        ))
        .env("WEDSYNC_HOME", &home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start upload");
    // 30 MB at 40 Mbit/s takes ~6 s: kill the server after 1.5 s, keep it down for 2 s.
    std::thread::sleep(Duration::from_millis(1500));
    drop(server);
    std::thread::sleep(Duration::from_secs(2));
    server = start_server(&data, port);
    let out = upload.wait_with_output().expect("upload output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(out.status.success(), "{text}");
    assert!(text.contains("retrying"), "the outage was noticed: {text}");
    let stats = admin_stats(port, &admin);
    assert_eq!(stats["uploads"]["complete"], files.len(), "{stats}");
    drop(server);
}

/// Random files of these sizes in a fresh card folder.
fn card_of(dir: &Path, sizes: &[usize]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let path = dir.join(format!("IMG_{i:04}.JPG"));
            std::fs::write(&path, random_bytes(len, &mut seed)).expect("write");
            path
        })
        .collect()
}

/// Our server's uploads by concatenation role: (whole, partial ids, finals), each with its
/// state.
fn uploads_by_role(
    port: u16,
    admin: &str,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let (status, _, body) = crate::support::request(port, "GET", "/admin/uploads?state=all", admin);
    assert_eq!(status, 200);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("json");
    let role = |u: &serde_json::Value| match &u["concat"] {
        serde_json::Value::String(s) => s.clone(),
        _ => "final".to_string(),
    };
    let pick = |r: &str| all.iter().filter(|u| role(u) == r).cloned().collect::<Vec<_>>();
    (pick("none"), pick("partial"), pick("final"))
}

fn want_hashes(files: &[PathBuf]) -> Vec<String> {
    let mut want: Vec<String> = files.iter().map(|f| sha256_hex(&std::fs::read(f).expect("read"))).collect();
    want.sort();
    want
}

#[test]
fn large_files_go_as_parallel_parts_that_our_server_joins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &[3_000_000, 2_500_000, 100_000]);
    let OurServer { data, home, alice, admin, port, url, _server } = our_server(dir.path());
    let card = dir.path().join("card");
    let (code, out) = wedsync_at(
        &home,
        &["upload", card.to_str().expect("utf-8"), "--preset", "none", "--originals", "--to", &url]
            .into_iter()
            .chain(["--token", &alice, "--chunk-mib", "0.25", "--parts", "4"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{out}");

    // Both large files as four parts of whole chunks and a final; the small one whole.
    let (whole, partial, finals) = uploads_by_role(port, &admin);
    assert_eq!((whole.len(), partial.len(), finals.len()), (1, 8, 2), "{partial:?} {finals:?}");
    assert!(
        whole.iter().chain(&partial).chain(&finals).all(|u| u["state"] == "complete"),
        "{whole:?} {partial:?} {finals:?}"
    );
    // Each file's bytes once; the other stored files are the parts.
    let want = want_hashes(&files);
    let stored = hashes_in(&data.join("uploads"), |_| true);
    assert_eq!(stored.iter().filter(|h| want.contains(h)).cloned().collect::<Vec<_>>(), want);

    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    assert_eq!(journal.event_count("upload.parts").expect("events"), 2);
    assert_eq!(journal.verified_count(&url).expect("count"), 3);
}

#[test]
fn an_uploader_killed_while_sending_parts_resumes_every_part_where_the_server_has_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &[4_000_000, 4_000_000]);
    let total: u64 = files.iter().map(|f| std::fs::metadata(f).expect("stat").len()).sum();
    let OurServer { data, home, alice, admin, port, url, _server } = our_server(dir.path());
    let card = dir.path().join("card");
    // 2 MB/s after a 2 MB burst: the 8 MB take about 3 s, and the kill lands mid-parts,
    // far from the final uploads' creation at the end.
    let args =
        originals_upload(&card, &url, &alice, &["--parts", "4", "--streams", "2", "--limit-mbit", "16"]);
    let mut child = start_upload(&home, &args);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.0.try_wait().expect("wait").is_none(), "the upload finished before the kill");
    child.0.kill().expect("kill");
    let _ = child.0.wait();

    // What the journal held at the kill: every part created with some bytes recorded, and
    // parts left to finish (a short last part may already be whole: timing decides).
    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    let pending = journal.pending_uploads(&url, 10).expect("pending");
    assert_eq!(pending.len(), 2, "both files unfinished at the kill");
    let mut recorded = Vec::new();
    for upload in &pending {
        assert_eq!(upload.url, None, "no final upload yet");
        let parts = journal.upload_parts(upload.id).expect("parts");
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert!(parts.iter().all(|p| p.url.is_some() && p.offset > 0 && p.offset <= p.length), "{parts:?}");
        assert!(parts.iter().any(|p| p.offset < p.length), "every part was whole at the kill: {parts:?}");
        recorded.extend(parts.into_iter().filter_map(|p| p.url));
    }
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    drop(journal);

    let (code, out) = wedsync_at(&home, &args);
    assert_eq!(code, 0, "{out}");
    let (_, partial, finals) = uploads_by_role(port, &admin);
    // Resumed, not made again: the server holds exactly the parts the journal recorded.
    let mut ids: Vec<String> = partial.iter().map(|u| u["id"].as_str().expect("id").to_string()).collect();
    let mut recorded_ids: Vec<String> =
        recorded.iter().map(|u| u.rsplit('/').next().expect("id").to_string()).collect();
    ids.sort();
    recorded_ids.sort();
    assert_eq!(ids, recorded_ids);
    assert_eq!(finals.len(), 2);
    assert!(partial.iter().chain(&finals).all(|u| u["state"] == "complete"), "{partial:?} {finals:?}");
    let want = want_hashes(&files);
    let stored = hashes_in(&data.join("uploads"), |_| true);
    assert_eq!(stored.iter().filter(|h| want.contains(h)).cloned().collect::<Vec<_>>(), want);
    // At most the chunk each part had in flight was sent again.
    let received = admin_stats(port, &admin)["bytes_received_total"].as_u64().expect("bytes");
    println!("{} bytes sent twice after the kill", received - total);
    assert!(received - total <= 8 * CHUNK, "{} bytes resent", received - total);
    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    assert_eq!(journal.verified_count(&url).expect("count"), 2);
}
