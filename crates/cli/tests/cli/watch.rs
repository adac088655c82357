//! `wedsync watch`, the headless station, as a process: tethering writers feeding a watched
//! folder, SIGTERM mid-work, SIGKILL at random moments, and restarts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{assert_journal_settled, holdings, random_bytes, Kill};
use crate::upload::{our_server, want_hashes, OurServer};

/// `wedsync watch ARGS` in the background, its output going to `log`.
pub(crate) fn start_watch(home: &Path, args: &[String], log: &Path) -> Kill {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log");
    Kill(
        Command::new(env!("CARGO_BIN_EXE_wedsync"))
            .arg("watch")
            .args(args)
            .env("WEDSYNC_HOME", home)
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start watch"),
    )
}

fn watch_args(tether: &Path, cards: &Path, url: &str, token: &str) -> Vec<String> {
    [
        "--source",
        tether.to_str().expect("utf-8"),
        "--card-root",
        cards.to_str().expect("utf-8"),
        "--preset",
        "none",
        "--originals",
        "--to",
        url,
        "--token",
        token,
        "--settle",
        "1",
        "--unsettled-after",
        "4",
        "--chunk-mib",
        "0.25",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// A watched folder named `watched`, an empty card root and the station's log, in `dir`.
fn station_folders(dir: &Path, watched: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (folder, cards) = (dir.join(watched), dir.join("cards"));
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::create_dir_all(&cards).expect("mkdir");
    (folder, cards, dir.join("watch.log"))
}

/// Files complete on the server (parts of a file not counted).
fn complete(port: u16, admin: &str, data: &Path) -> u64 {
    holdings(port, admin, data).complete.values().map(|ids| ids.len() as u64).sum()
}

pub(crate) fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, and how long the station took to exit, and its status.
pub(crate) fn terminate(mut station: Kill) -> (Duration, Option<i32>) {
    let start = Instant::now();
    let pid = station.0.id() as libc::pid_t;
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    loop {
        if let Some(status) = station.0.try_wait().expect("wait") {
            return (start.elapsed(), status.code());
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the station did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A frame written in pieces, `pause` apart.
fn write_slowly(path: &Path, bytes: &[u8], pieces: usize, pause: Duration) {
    let mut file = std::fs::File::create(path).expect("create");
    for piece in bytes.chunks(bytes.len().div_ceil(pieces)) {
        file.write_all(piece).expect("write");
        file.flush().expect("flush");
        std::thread::sleep(pause);
    }
}

#[test]
fn a_station_takes_each_tethered_frame_once_whole_stops_on_sigterm_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let OurServer { data, home, alice, admin, port, url, _server } = our_server(dir.path());
    let (tether, cards, log) = station_folders(dir.path(), "tether");
    let mut seed = 7u64;
    // A frame already there when the station starts (it arrived while it was down).
    let early = tether.join("IMG_0000.JPG");
    std::fs::write(&early, random_bytes(700_000, &mut seed)).expect("write");
    let station = start_watch(&home, &watch_args(&tether, &cards, &url, &alice), &log);

    let (slow, temporary, renamed, never) = (
        tether.join("IMG_0001.JPG"),
        tether.join("IMG_0002.JPG.tmp"),
        tether.join("IMG_0002.JPG"),
        tether.join("IMG_0003.JPG"),
    );
    let (a, b, c) =
        (random_bytes(900_000, &mut seed), random_bytes(800_000, &mut seed), random_bytes(5_000, &mut seed));
    std::thread::scope(|scope| {
        scope.spawn(|| write_slowly(&slow, &a, 8, Duration::from_millis(150)));
        scope.spawn(|| {
            write_slowly(&temporary, &b, 6, Duration::from_millis(150));
            std::fs::rename(&temporary, &renamed).expect("rename");
        });
        // Never finishes within the test: a piece every 300 ms for 9 s.
        scope.spawn(|| {
            write_slowly(
                &never,
                &[c.clone(), c.clone(), c.clone()].concat().repeat(2),
                30,
                Duration::from_millis(300),
            )
        });
        wait_for("three whole frames on the server", Duration::from_secs(60), || {
            complete(port, &admin, &data) >= 3
        });
    });
    // The one that never settled was reported after the limit, and nothing of it sent
    // before it was whole.
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("still being written") && text.contains("IMG_0003.JPG"), "{text}");

    let (took, code) = terminate(station);
    let text = std::fs::read_to_string(&log).expect("log");
    println!("{text}");
    assert!(took < Duration::from_secs(20), "exit took {took:?}");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("SIGTERM: stopping"), "{text}");

    // While it was down, more frames arrived; started again (on a slow link), it takes
    // them and the finished slow writer's, and is stopped mid-work.
    let late: Vec<PathBuf> = (4..10)
        .map(|i| {
            let path = tether.join(format!("IMG_{i:04}.JPG"));
            std::fs::write(&path, random_bytes(1_000_000, &mut seed)).expect("write");
            path
        })
        .collect();
    let mut slow_link = watch_args(&tether, &cards, &url, &alice);
    // One stream, whole uploads: one chunk in flight, so a stop lands mid-work.
    slow_link.extend(["--limit-mbit", "8", "--streams", "1", "--parts", "1"].map(String::from));
    let station = start_watch(&home, &slow_link, &log);
    wait_for("a late frame on the server", Duration::from_secs(60), || complete(port, &admin, &data) >= 5);
    let (took, code) = terminate(station);
    let on_server = complete(port, &admin, &data);
    assert!(took < Duration::from_secs(20) && code == Some(0), "{took:?} {code:?}");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(on_server < 10, "SIGTERM came after the work was done: {on_server} files on the server\n{text}");
    // Started once more, it finishes, sending nothing twice.
    let station = start_watch(&home, &watch_args(&tether, &cards, &url, &alice), &log);
    let mut want = want_hashes(&[early, slow, renamed, never]);
    want.extend(want_hashes(&late));
    want.sort();
    wait_for("all ten frames on the server", Duration::from_secs(60), || complete(port, &admin, &data) >= 10);
    let (took, code) = terminate(station);
    assert!(took < Duration::from_secs(20) && code == Some(0), "{took:?} {code:?}");
    holdings(port, &admin, &data).assert_each_file_once(&want);
    assert_journal_settled(&home);
}

/// Killed with SIGKILL at random moments while it sends a tethering backlog, restarted
/// each time: in the end every frame is on the server exactly once.
#[test]
fn a_station_killed_at_random_moments_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let OurServer { data, home, alice, admin, port, url, _server } = our_server(dir.path());
    let (tether, cards, log) = station_folders(dir.path(), "tether");
    let mut seed = 11u64;
    let frames: Vec<PathBuf> = (0..24)
        .map(|i| {
            let path = tether.join(format!("IMG_{i:04}.JPG"));
            std::fs::write(&path, random_bytes(300_000 + (i * 37_117) % 900_000, &mut seed)).expect("write");
            path
        })
        .collect();
    let mut args = watch_args(&tether, &cards, &url, &alice);
    // Slow enough that each kill lands mid-upload.
    args.extend(["--limit-mbit".to_string(), "24".to_string()]);
    let mut x = 0x5eed_u64;
    for round in 0..6 {
        let station = start_watch(&home, &args, &log);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(700 + x % 1800));
        drop(station); // SIGKILL
        println!("round {round}: {} complete on the server", complete(port, &admin, &data));
    }
    let station = start_watch(&home, &args, &log);
    wait_for("every frame on the server", Duration::from_secs(120), || {
        complete(port, &admin, &data) >= frames.len() as u64
    });
    let (took, code) = terminate(station);
    assert!(took < Duration::from_secs(20) && code == Some(0), "{took:?} {code:?}");
    holdings(port, &admin, &data).assert_each_file_once(&want_hashes(&frames));
    assert_journal_settled(&home);
}

/// The uploaded file names our server holds (from each upload's `filename` metadata).
fn names_on_server(port: u16, admin: &str) -> Vec<String> {
    use base64::Engine as _;
    crate::support::admin_uploads(port, admin)
        .iter()
        .filter(|u| u["state"] == "complete" && crate::support::concat_role(u) != "partial")
        .filter_map(|u| {
            let metadata = u["metadata"].as_str()?;
            let encoded = metadata.split(',').find_map(|pair| pair.trim().strip_prefix("filename "))?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
            String::from_utf8(bytes).ok()
        })
        .collect()
}

/// A source's rules from `config.toml`: only frames rated 3 and up are taken, named by the
/// template from their capture time (moved by the body's clock offset), camera and number;
/// a template with an unknown field is refused with the field named.
#[test]
fn a_sources_rating_filter_rename_template_and_clock_offset_are_honoured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let OurServer { data, home, alice, admin, port, url, _server } = our_server(dir.path());
    let (second, cards, log) = station_folders(dir.path(), "second");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[[sources]]\nname = \"second-shooter\"\npath = {:?}\npresets = [\"none\"]\noriginals = true\n\
             min_rating = 3\nrename = \"{{date}}_{{time}}_{{camera}}_{{seq}}\"\nclock_offset_seconds = 3600\n",
            second.to_str().expect("utf-8")
        ),
    )
    .expect("config");
    let raw = std::fs::read(crate::upload::samples().join("canon-eos30d-IMG_5952.CR2")).expect("sample");
    let xmp = |rating: u8| {
        format!(
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}"/></rdf:RDF></x:xmpmeta>"#
        )
    };
    std::fs::write(second.join("A.xmp"), xmp(4)).expect("xmp");
    std::fs::write(second.join("B.xmp"), xmp(1)).expect("xmp");
    std::fs::write(second.join("A.CR2"), &raw).expect("frame");
    std::fs::write(second.join("B.CR2"), [raw.as_slice(), b"another frame"].concat()).expect("frame");

    let args: Vec<String> =
        ["--card-root", cards.to_str().expect("utf-8"), "--to", &url, "--token", &alice, "--settle", "1"]
            .into_iter()
            .map(String::from)
            .collect();
    let station = start_watch(&home, &args, &log);
    wait_for("the picked frame on the server", Duration::from_secs(60), || {
        complete(port, &admin, &data) >= 1
    });
    std::thread::sleep(Duration::from_secs(3));
    let (_, code) = terminate(station);
    let text = std::fs::read_to_string(&log).expect("log");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("skipped") && text.contains("B.CR2") && text.contains("rated 1"), "{text}");
    let names = names_on_server(port, &admin);
    assert_eq!(names.len(), 1, "{names:?}\n{text}");
    // Taken 2009-07-21 13:03:20 by the body's clock, an hour slow.
    assert!(names[0].starts_with("2009-07-21_140320_") && names[0].ends_with("_0001.CR2"), "{names:?}");
    assert!(names[0].contains("30D"), "{names:?}");

    // A template with a field that does not exist: refused before anything starts.
    let (code, out) = crate::support::wedsync_at(
        &home,
        &[
            "watch",
            "--card-root",
            cards.to_str().expect("utf-8"),
            "--to",
            &url,
            "--rename",
            "{date}_{sequence}",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unknown field {sequence}"), "{out}");
}
