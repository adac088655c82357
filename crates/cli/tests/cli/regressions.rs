//! `wedsync upload` attacked as an unlucky photographer's machine attacks it (issue 14): a
//! wrong token, two runs at once, an empty file, Latin-1 names, a full disk, a damaged
//! cache, a file still being written, the same file given twice. One regression test per
//! defect, named after what broke; each failed on the code before the fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{hashes_in, holdings, sha256_hex, wedsync_at};
use crate::upload::{card_of, our_server, samples, want_hashes, OurServer};

/// `--preset none --originals --to URL --token T` for `card`, then `extra`.
fn originals(card: &Path, url: &str, token: &str, extra: &[&str]) -> Vec<String> {
    crate::support::originals_upload(card, url, token, extra)
}

/// Runs `wedsync ARGS` with a deadline: a run that hangs fails the test instead of hanging
/// it.
fn wedsync_within(home: &Path, args: &[String], limit: Duration) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(args)
        .env("WEDSYNC_HOME", home)
        .env_remove("WEDSYNC_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wedsync");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "wedsync {} hung for {limit:?}:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("$ wedsync {}\n{text}", args.join(" "));
    (out.status.code().unwrap_or(-1), text)
}

/// Our server holds each of `files` exactly once as a complete upload, and nothing else.
fn assert_on_server_once(server: &OurServer, files: &[PathBuf]) {
    holdings(server.port, &server.admin, &server.data).assert_each_file_once(&want_hashes(files));
}

/// Runs `args` in the server's home to a clean end: exit 0, "nothing left to send", each of
/// `files` once on the server, and `status` agrees. Returns the run's output.
fn finishes(server: &OurServer, args: &[String], files: &[PathBuf]) -> String {
    let (code, out) = wedsync_at(&server.home, args);
    assert_eq!(code, 0, "{out}");
    assert_eq!(last_line(&out), "nothing left to send");
    assert_on_server_once(server, files);
    let (_, status) = wedsync_at(&server.home, &["status"]);
    assert!(status.contains("nothing left to do"), "{status}");
    out
}

fn last_line(out: &str) -> &str {
    out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// Defect 1 (and 12): a 401 made every upload `failed` for good; the rerun with the right
/// token printed "nothing left to send" and exited 0 with nothing sent.
#[test]
fn a_wrong_token_is_reported_and_a_rerun_with_the_right_one_sends_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &[120_000, 90_000, 150_000, 80_000]);
    let server = our_server(dir.path());
    let OurServer { home, alice, url, .. } = &server;
    let card = dir.path().join("card");

    let (code, out) = wedsync_at(home, &originals(&card, url, "wst_mistyped", &[]));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("401") && out.contains("fix --token"), "the refusal says what to do: {out}");
    let last = last_line(&out);
    assert!(last.starts_with("left: 4 upload(s)") && last.contains("refused"), "{last}");
    let (_, status) = wedsync_at(home, &["status"]);
    assert!(status.contains("refused") && status.contains("fix --token"), "{status}");
    assert!(status.contains("work left"), "{status}");

    let out = finishes(&server, &originals(&card, url, alice, &[]), &files);
    assert!(out.contains("4 upload(s) verified"), "{out}");
}

/// Defect 2: two runs on one journal both sent everything (every file twice on the
/// server); on a fresh home the second died with a raw SQL migration error.
#[test]
fn two_uploads_started_together_on_one_journal_send_each_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &[400_000; 8]);
    let server = our_server(dir.path());
    let OurServer { home, alice, url, .. } = &server;
    let card = dir.path().join("card");
    // 3.2 MB at 8 Mbit/s: about 3 s, so the two runs overlap.
    let args = originals(&card, url, alice, &["--limit-mbit", "8"]);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_wedsync"))
                .args(&args)
                .env("WEDSYNC_HOME", home)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start upload")
        })
        .collect();
    let outcomes: Vec<(bool, String)> = runs
        .into_iter()
        .map(|run| {
            let out = run.wait_with_output().expect("output");
            let text =
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            println!("{text}");
            (out.status.success(), text)
        })
        .collect();
    let refused: Vec<&String> = outcomes.iter().filter(|(ok, _)| !ok).map(|(_, t)| t).collect();
    assert_eq!(refused.len(), 1, "one run owns the journal, the other is refused: {outcomes:?}");
    assert!(refused[0].contains("is in use by") && refused[0].contains("pid "), "{}", refused[0]);
    assert!(!refused[0].contains("migration"), "{}", refused[0]);
    assert_on_server_once(&server, &files);
}

/// Defect 2: `wedsync status` polled while an upload created its journal made the upload
/// die (status migrated the journal; the busy timeout was set after the switch to WAL).
#[test]
fn status_polled_while_an_upload_creates_its_journal_never_breaks_the_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    card_of(&dir.path().join("card"), &[30_000, 40_000]);
    let OurServer { url, alice, _server, .. } = our_server(dir.path());
    let card = dir.path().join("card");
    for round in 0..6 {
        let home = dir.path().join(format!("home-{round}"));
        let mut upload = Command::new(env!("CARGO_BIN_EXE_wedsync"))
            .args(originals(&card, &url, &alice, &[]))
            .env("WEDSYNC_HOME", &home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start upload");
        while upload.try_wait().expect("wait").is_none() {
            let status =
                Command::new(env!("CARGO_BIN_EXE_wedsync")).arg("status").env("WEDSYNC_HOME", &home).output();
            let status = status.expect("status");
            let text = String::from_utf8_lossy(&status.stdout).into_owned()
                + &String::from_utf8_lossy(&status.stderr);
            assert!(!text.contains("panicked"), "{text}");
        }
        let out = upload.wait_with_output().expect("output");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "round {round}: {text}");
    }
}

/// Defect 4: a 0-byte file with --originals panicked in the transfer (`step_by(0)`), the
/// dead worker's key stayed busy, and the run (and every rerun) hung for ever.
#[test]
fn an_empty_file_is_refused_as_an_asset_and_the_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &[0, 300_000]);
    let server = our_server(dir.path());
    let OurServer { home, alice, url, .. } = &server;
    let card = dir.path().join("card");
    let args = originals(&card, url, alice, &["--parts", "4"]);
    for _ in 0..2 {
        let (code, out) = wedsync_within(home, &args, Duration::from_secs(60));
        assert_ne!(code, 0, "an empty file is an error: {out}");
        assert!(out.contains("IMG_0000.JPG") && out.contains("an empty file"), "{out}");
    }
    assert_on_server_once(&server, &files[1..]);
}

/// Defect 5: names were stored after lossy UTF-8 conversion, so two Latin-1 names of equal
/// size and mtime became one source and the second photo was silently skipped, exit 0.
#[cfg(unix)]
#[test]
fn latin1_named_originals_of_equal_size_and_mtime_are_each_sent() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let card = dir.path().join("card");
    std::fs::create_dir_all(&card).expect("mkdir");
    let mut seed = 0x51a7_u64;
    let mtime = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let files: Vec<PathBuf> = [&b"F\xf6hn.JPG"[..], &b"F\xe4hn.JPG"[..]]
        .iter()
        .map(|name| {
            let path = card.join(std::ffi::OsStr::from_bytes(name));
            std::fs::write(&path, crate::support::random_bytes(200_000, &mut seed)).expect("write");
            std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open")
                .set_modified(mtime)
                .expect("mtime");
            path
        })
        .collect();
    let server = our_server(dir.path());
    let OurServer { home, alice, url, .. } = &server;
    let args = originals(&card, url, alice, &[]);
    let (code, out) = wedsync_at(home, &args);
    assert_eq!(code, 0, "{out}");
    assert_on_server_once(&server, &files);
    // Found again by the next run, at the same paths.
    let (code, out) = wedsync_at(home, &args);
    assert_eq!((code, last_line(&out)), (0, "nothing left to send"), "{out}");
}

/// A tmpfs mounted for the test (root only, as on CI), unmounted when dropped.
pub(crate) struct SmallDisk(pub PathBuf);

impl SmallDisk {
    pub(crate) fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "mount a tmpfs (the test needs root, as CI has)");
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Defect 6: a full disk under WEDSYNC_HOME made a hot loop (793,000 error lines in two
/// minutes, HEAD requests until the server answered 429).
#[test]
fn a_full_disk_under_the_home_stops_the_run_and_a_rerun_after_freeing_space_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &vec![20_000; 150]);
    let server = our_server(dir.path());
    let OurServer { alice, url, .. } = &server;
    let card = dir.path().join("card");
    // 16 MiB: room for the journal and its write-ahead log (up to 4 MB between
    // checkpoints) once the filler is gone; with it, ~300 KB are left, which the journal
    // fills within the run.
    let disk = SmallDisk::mount(&dir.path().join("small"), "16m");
    let home = disk.0.join("home");
    let filler = disk.0.join("filler");
    std::fs::write(&filler, vec![0u8; 16 * 1024 * 1024 - 300_000]).expect("fill");
    let args = originals(&card, url, alice, &["--parts", "1"]);
    let (code, out) = wedsync_within(&home, &args, Duration::from_secs(120));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("could not be written") || out.contains("disk is full"), "a clear message: {out}");
    assert!(out.lines().count() < 1_000, "{} lines: a loop", out.lines().count());
    std::fs::remove_file(&filler).expect("free space");
    let (code, out) = wedsync_within(&home, &args, Duration::from_secs(120));
    assert_eq!(code, 0, "{out}");
    assert_on_server_once(&server, &files);
    let journal = wedsync_journal::Journal::open(&home.join("journal.sqlite")).expect("journal");
    assert_eq!(journal.consistency_problems().expect("check"), Vec::<String>::new());
    drop(journal);
    drop(disk);
}

/// Defect 7: a cached rendition was trusted by its size, so one with a flipped byte was
/// sent as is, quarantined by the server, and failed for good.
#[test]
fn a_damaged_cached_rendition_is_developed_again_and_the_good_bytes_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = our_server(&dir.path().join("first"));
    let second = our_server(&dir.path().join("second"));
    let cr2 = samples().join("canon-eos30d-IMG_5952.CR2");
    let cr2 = cr2.to_str().expect("utf-8");
    let home = first.home.clone();
    let send = |to: &OurServer| {
        wedsync_at(&home, &["upload", cr2, "--preset", "thumb", "--to", &to.url, "--token", &to.alice])
    };
    let (code, out) = send(&first);
    assert_eq!(code, 0, "{out}");
    let cached: Vec<PathBuf> = std::fs::read_dir(home.join("cache"))
        .expect("cache")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    assert_eq!(cached.len(), 1);
    let good = std::fs::read(&cached[0]).expect("read");
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x10;
    std::fs::write(&cached[0], &bad).expect("damage");
    // To another destination: the rendition must be sent again, and only good bytes go.
    let (code, out) = send(&second);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("developed"), "developed again: {out}");
    // What went is what the cache holds now, developed again: not the damaged bytes.
    let now: Vec<String> = hashes_in(&home.join("cache"), |n| n.ends_with(".jpg"));
    assert_eq!(hashes_in(&second.data.join("uploads"), |_| true), now);
    assert!(!now.contains(&sha256_hex(&bad)), "the damaged bytes were kept");
}

/// Defect 8: a file that changed after it was hashed (a tethered frame still being
/// written) left its old asset's original "left … card removed?" for ever, exit 0.
#[test]
fn a_file_that_grew_after_it_was_hashed_is_sent_as_it_is_now_and_nothing_is_stranded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &[200_000, 150_000]);
    let server = our_server(dir.path());
    let OurServer { home, alice, url, .. } = &server;
    let card = dir.path().join("card");
    // Recorded with a mistyped token: hashed and planned, nothing sent.
    let (code, out) = wedsync_at(home, &originals(&card, url, "wst_mistyped", &[]));
    assert_ne!(code, 0, "{out}");
    // The camera finishes writing the first frame.
    let mut seed = 77;
    let mut grown = std::fs::read(&files[0]).expect("read");
    grown.extend(crate::support::random_bytes(50_000, &mut seed));
    std::fs::write(&files[0], &grown).expect("grow");
    let out = finishes(&server, &originals(&card, url, alice, &[]), &files);
    assert!(out.contains("changed since it was last recorded"), "{out}");
}

/// Defect 11: the same file given twice developed twice into one temporary file, and one
/// thread lost the rename race (1 run in 20) with an error naming the wrong file.
#[test]
fn the_same_photo_given_twice_and_copied_is_developed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = our_server(dir.path());
    let OurServer { home, alice, url, .. } = &server;
    let card = dir.path().join("card");
    std::fs::create_dir_all(&card).expect("mkdir");
    let raw = card.join("IMG_5952.CR2");
    std::fs::copy(samples().join("canon-eos30d-IMG_5952.CR2"), &raw).expect("copy");
    std::fs::copy(&raw, card.join("IMG_5952_copy.CR2")).expect("copy");
    let raw = raw.to_str().expect("utf-8");
    let card = card.to_str().expect("utf-8");
    let (code, out) = wedsync_at(
        home,
        &["upload", raw, raw, card, "--preset", "thumb", "--jobs", "3", "--to", url, "--token", alice],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("developed ").count(), 1, "{out}");
    assert_eq!(hashes_in(&server.data.join("uploads"), |_| true).len(), 1);
    let partials: Vec<_> = std::fs::read_dir(home.join("cache"))
        .expect("cache")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "temporary files left: {partials:?}");
}

/// Issue 15 (and defect 8's root): a file still being written when it is hashed is not
/// recorded — its hash would name bytes about to change — and the run says so.
#[test]
fn a_file_still_being_written_while_it_is_hashed_is_not_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = card_of(&dir.path().join("card"), &[8_000_000, 100_000]);
    let server = our_server(dir.path());
    let OurServer { home, alice, url, .. } = &server;
    let card = dir.path().join("card");
    // A tethered camera still writing the first frame: 1 KB every millisecond.
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (path, writing) = (files[0].clone(), writing.clone());
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
            while writing.load(std::sync::atomic::Ordering::Acquire) {
                std::io::Write::write_all(&mut file, &[7u8; 1024]).expect("append");
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let (code, out) = wedsync_at(home, &originals(&card, url, alice, &[]));
    writing.store(false, std::sync::atomic::Ordering::Release);
    writer.join().expect("writer");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("IMG_0000.JPG") && out.contains("still being written"), "{out}");
    // The other frame went; the one being written was not sent with bytes of a moment.
    assert_on_server_once(&server, &files[1..]);
    // Once complete, it goes.
    finishes(&server, &originals(&card, url, alice, &[]), &files);
}
