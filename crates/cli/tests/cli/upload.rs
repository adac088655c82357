//! `wedsync upload` and `wedsync status` end to end: real RAW files developed and sent to
//! our server, to @tus/server and to the built-in server; a corrupt RAW among good ones;
//! the uploader killed with SIGKILL again and again; the server killed mid-upload.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    admin_stats, admin_uploads, assert_journal_settled, concat_role, free_port, hashes_in, holdings,
    originals_upload, random_bytes, repo_root, sha256_hex, start_server, start_tus_node, start_tuspyserver,
    token, wedsync_at, Kill,
};

pub(crate) fn samples() -> PathBuf {
    repo_root().join("../shared/samples")
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
    assert!(out.contains(&format!("{url}: {} verified, 0 queued, 0 sending, 0 refused", 3 * n)), "{out}");
    assert!(out.contains("nothing left to do"), "{out}");

    // A wrong token is refused and says so; nothing is marked sent.
    let other = dir.path().join("other-home");
    let (code, out) = wedsync_at(&other, &[&args[..], &["--token", "wst_not-a-token"]].concat());
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("401"), "{out}");
}

/// The samples' `web` renditions and originals sent to a peer server storing in a folder:
/// the folder's data files (not its `sidecar`-suffixed metadata) are exactly those bytes.
/// At 1 MiB chunks each original of several MiB would go in parts to our server; to peers,
/// which do not answer a repeated creation with the upload it made (so a lost reply to the
/// final request could store a second copy), every file goes as one upload.
fn a_peer_receives_everything(start: fn(&Path) -> (Kill, String), sidecar: &str) {
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
    assert_eq!(split, 0, "no file in parts to a peer");
}

#[test]
fn renditions_and_originals_reach_tus_node_server_byte_identical() {
    a_peer_receives_everything(start_tus_node, ".json");
}

#[test]
fn renditions_and_originals_reach_tuspyserver_byte_identical() {
    // tuspyserver concatenates, but a repeated final request there would store a second
    // copy: without our server's idempotency-key extension, files go whole.
    a_peer_receives_everything(start_tuspyserver, ".info");
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
pub(crate) fn make_card(dir: &Path, count: usize) -> Vec<PathBuf> {
    card_of(dir, &(0..count).map(|i| 200_000 + (i * 4_099) % 400_000).collect::<Vec<_>>())
}

/// Our server on 127.0.0.1 with a fresh data folder in `dir`, a user's and an admin's token,
/// and a WEDSYNC_HOME beside it.
pub(crate) struct OurServer {
    pub data: PathBuf,
    pub home: PathBuf,
    pub alice: String,
    pub admin: String,
    pub port: u16,
    pub url: String,
    pub _server: Kill,
}

pub(crate) fn our_server(dir: &Path) -> OurServer {
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

/// Runs `args` again and again, each run killed (SIGKILL) after a random 150–550 ms, until
/// `wanted` kills have landed or a run ends by itself (it must succeed). Returns the kills.
fn kill_rounds(home: &Path, args: &[String], wanted: u64, mut rng: u64) -> u64 {
    let mut kills = 0;
    while kills < wanted {
        let mut child = start_upload(home, args);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let after = Duration::from_millis(150 + rng % 400);
        let started = Instant::now();
        while started.elapsed() < after {
            if let Some(status) = child.0.try_wait().expect("wait") {
                assert!(status.success(), "after {kills} kills: the upload failed");
                return kills;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.0.kill();
        let _ = child.0.wait();
        kills += 1;
    }
    kills
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
    let kills = kill_rounds(&home, &args, 12, 0x853c_49e6_748f_ea9b);
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
    assert_journal_settled(&home);
}

#[test]
fn killing_the_uploader_mid_parts_fifty_times_loses_nothing_and_stores_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 60 files of 300–900 KB (36 MB): 5 to 14 chunks of 64 KiB each, sent as 3 or 4 parts and
    // a final upload, so kills land in creations, PATCHes and concatenations.
    let sizes: Vec<usize> = (0..60).map(|i| 300_000 + (i * 10_007) % 600_000).collect();
    let files = card_of(&dir.path().join("card"), &sizes);
    let total: u64 = files.iter().map(|f| std::fs::metadata(f).expect("stat").len()).sum();
    let OurServer { data, home, alice, admin, port, url, _server } = our_server(dir.path());
    let card = dir.path().join("card");
    let extra = ["--parts", "4", "--streams", "4"];
    // 250 KB/s with a 250 KB burst at each start: 50 runs of a few hundred ms send about
    // half of the card, and the kills land while every kind of request is in flight.
    let capped = originals_upload(&card, &url, &alice, &[&extra[..], &["--limit-mbit", "2"]].concat());
    let kills = kill_rounds(&home, &capped, 50, 0x2545_f491_4f6c_dd1d);
    assert!(kills >= 50, "only {kills} kills landed before the upload finished; slow the test's card down");
    // The last run without the cap, so the rest takes seconds.
    let (code, out) = wedsync_at(&home, &originals_upload(&card, &url, &alice, &extra));
    assert_eq!(code, 0, "{out}");

    let held = holdings(port, &admin, &data);
    let received = admin_stats(port, &admin)["bytes_received_total"].as_u64().expect("bytes");
    // Orphans: uploads the server made (a part, a final) before a kill, before the journal
    // heard of them.
    println!(
        "{kills} kills: {} orphaned uploads, {} bytes received more than once",
        held.receiving,
        received.saturating_sub(total)
    );
    held.assert_each_file_once(&want_hashes(&files));
    assert!(held.receiving <= kills, "{} orphans after {kills} kills", held.receiving);
    assert_journal_settled(&home);
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
pub(crate) fn card_of(dir: &Path, sizes: &[usize]) -> Vec<PathBuf> {
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
    let all = admin_uploads(port, admin);
    let pick = |r: &str| all.iter().filter(|u| concat_role(u) == r).cloned().collect::<Vec<_>>();
    (pick("none"), pick("partial"), pick("final"))
}

pub(crate) fn want_hashes(files: &[PathBuf]) -> Vec<String> {
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
        whole.iter().chain(&finals).all(|u| u["state"] == "complete"),
        "{whole:?} {partial:?} {finals:?}"
    );
    // Once a final is verified its parts give their bytes back: each file is stored once.
    assert!(partial.iter().all(|u| u["state"] == "consumed"), "{partial:?}");
    let want = want_hashes(&files);
    let stored = hashes_in(&data.join("uploads"), |_| true);
    assert_eq!(stored, want);

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
    assert!(finals.iter().all(|u| u["state"] == "complete"), "{finals:?}");
    assert!(partial.iter().all(|u| u["state"] == "consumed"), "{partial:?}");
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
