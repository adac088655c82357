//! Frames, not files (issue 15): the RAW, the camera JPEG shot with it and the editor's XMP
//! sidecar are one photo; two bodies' `IMG_5952.CR2` — same name, same second — are two;
//! and a rating set inside a RAW already on the server (here by exiftool, as a camera or
//! a tool would rewrite it) is the same photograph, not a second upload. Real files: the
//! sample CR2, its own embedded JPEG made a camera JPEG with the RAW's EXIF, exiftool's
//! edits; our server on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wedsync_develop::PresetSet;
use wedsync_engine::{Engine, Event, Home, Intent, Rules, Snapshot};

use crate::support::{server, settings};

fn sample_cr2() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/canon-eos30d-IMG_5952.CR2")
}

fn exiftool(args: &[&str]) -> Vec<u8> {
    let out =
        Command::new("exiftool").args(args).output().expect("exiftool (scripts/install-deps installs it)");
    assert!(out.status.success(), "exiftool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// An exiftool edit in place (exiftool says nothing and succeeds when it writes nothing:
/// the bytes must change).
fn edit(path: &Path, tag: &str) {
    let before = std::fs::read(path).expect("read");
    exiftool(&["-q", "-overwrite_original", tag, s(path)]);
    assert_ne!(
        std::fs::read(path).expect("read"),
        before,
        "exiftool {tag} changed nothing in {}",
        path.display()
    );
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The camera JPEG of `raw`: its embedded full-size JPEG, with the RAW's EXIF.
fn camera_jpeg(raw: &Path, jpeg: &Path) {
    std::fs::write(jpeg, exiftool(&["-b", "-PreviewImage", s(raw)])).expect("write JPEG");
    exiftool(&["-q", "-overwrite_original", "-TagsFromFile", s(raw), "-all:all", s(jpeg)]);
}

/// Runs an engine over `paths` until each is taken in and `verified` uploads are, and
/// returns the queue then and what the engine said.
async fn take_in(
    home: &Home,
    url: &str,
    token: &str,
    paths: Vec<PathBuf>,
    verified: u64,
) -> (Snapshot, Vec<Event>) {
    let thumb = PresetSet::built_in().get("thumb").expect("thumb").clone();
    let settings = wedsync_engine::Settings {
        rules: Rules { presets: vec![thumb], originals: true, ..Rules::default() },
        ..settings(url, token, 1 << 30)
    };
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let engine =
        Engine::start(home, settings, Arc::new(move |e| sink.lock().expect("lock").push(e))).expect("start");
    let given = paths.len();
    engine.apply(Intent::AddPaths { paths, rules: None }).expect("add");
    let start = std::time::Instant::now();
    loop {
        let recorded =
            events.lock().expect("lock").iter().filter(|e| matches!(e, Event::Recorded { .. })).count();
        let snapshot = engine.snapshot().expect("snapshot");
        let sent = snapshot.totals.files_waiting == 0
            && snapshot.totals.uploads_left == 0
            && snapshot.totals.uploads_verified >= verified
            && snapshot.rows.iter().all(|r| r.state == "done");
        if recorded >= given && sent {
            break;
        }
        let events = events.lock().expect("lock").clone();
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not taken in and sent: {snapshot:#?}\n{events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let snapshot = engine.snapshot().expect("snapshot");
    engine.finish().await.expect("finish");
    let events = events.lock().expect("lock").clone();
    (snapshot, events)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raw_its_jpeg_and_sidecar_are_one_photo_two_bodies_are_two_and_an_edit_is_no_second_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, token) = server(&dir.path().join("data")).await;
    let home = Home::at(dir.path().join("home")).expect("home");
    // Body A's card: RAW + camera JPEG + the editor's sidecar (4 stars, red).
    let card = dir.path().join("card/DCIM/100CANON");
    std::fs::create_dir_all(&card).expect("mkdir");
    let raw = card.join("IMG_5952.CR2");
    std::fs::copy(sample_cr2(), &raw).expect("copy");
    let jpeg = card.join("IMG_5952.JPG");
    camera_jpeg(&raw, &jpeg);
    std::fs::write(
        card.join("IMG_5952.xmp"),
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4" xmp:Label="Red"/></rdf:RDF></x:xmpmeta>"#,
    )
    .expect("sidecar");
    // Body B: the same file name and the same second, another body (its serial).
    let other = dir.path().join("second-shooter");
    std::fs::create_dir_all(&other).expect("mkdir");
    let other_raw = other.join("IMG_5952.CR2");
    std::fs::copy(sample_cr2(), &other_raw).expect("copy");
    edit(&other_raw, "-ExifIFD:SerialNumber=0420101");
    // A tethering folder holding body A's RAW and body B's JPEG under the same name.
    let tether = dir.path().join("tether");
    std::fs::create_dir_all(&tether).expect("mkdir");
    let tether_raw = tether.join("IMG_5952.CR2");
    std::fs::copy(&raw, &tether_raw).expect("copy");
    let tether_jpeg = tether.join("IMG_5952.JPG");
    std::fs::copy(&jpeg, &tether_jpeg).expect("copy");
    edit(&tether_jpeg, "-ExifIFD:SerialNumber=0420101");

    let paths = vec![jpeg.clone(), raw.clone(), other_raw.clone(), tether_raw.clone(), tether_jpeg.clone()];
    let (snapshot, events) = take_in(&home, &url, &token, paths, 6).await;
    let grouped: Vec<&PathBuf> = events
        .iter()
        .filter_map(|e| if let Event::Grouped { path, .. } = e { Some(path) } else { None })
        .collect();
    assert_eq!(grouped, [&jpeg], "only body A's own JPEG is grouped: {events:#?}");
    let mut developed: Vec<&PathBuf> = events
        .iter()
        .filter_map(|e| match e {
            Event::Developed { path, cached: false, .. } => Some(path),
            _ => None,
        })
        .collect();
    developed.sort();
    let mut want = vec![&other_raw, &tether_jpeg];
    want.push(if developed.contains(&&raw) { &raw } else { &tether_raw });
    want.sort();
    assert_eq!(developed, want, "each photo developed once, the camera JPEG never");

    // Three photos: body A's (RAW, its JPEG as a second original, 4 stars), body B's RAW,
    // body B's JPEG from the tethering folder.
    assert_eq!(snapshot.rows.len(), 3, "{:#?}", snapshot.rows);
    let row_a =
        snapshot.rows.iter().find(|r| r.uploads.iter().any(|u| u.what == "camera JPEG")).expect("A's row");
    let mut whats: Vec<&str> = row_a.uploads.iter().map(|u| u.what.as_str()).collect();
    whats.sort();
    assert_eq!(whats, ["camera JPEG", "original", "thumb"]);
    assert_eq!(row_a.rating, Some(4));
    // Six uploads, not seven: body B's RAW here is body A's picture under another serial,
    // so its thumb is byte for byte the thumb the server has already (uploads are one per
    // destination and content). Two real bodies never share pixels.
    assert_eq!(snapshot.totals.uploads_verified, 6, "{:?}", snapshot.totals);

    // A rating set inside body A's RAW after it was sent (the tethered copy has no sidecar):
    // other bytes, the same picture — the verified original stands, nothing is sent again.
    edit(&tether_raw, "-Rating=5");
    let (again, events) = take_in(&home, &url, &token, vec![tether_raw.clone()], 6).await;
    assert!(
        events.iter().any(|e| matches!(e, Event::Edited { path, kept: true } if *path == tether_raw)),
        "{events:#?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::Developed { cached: false, .. })), "{events:#?}");
    assert_eq!(again.totals.uploads_verified, 6, "{:?}", again.totals);
    assert_eq!(again.rows.len(), 3, "{:#?}", again.rows);
    let row = again.rows.iter().find(|r| r.asset == row_a.asset).expect("A's row");
    assert_eq!(row.rating, Some(5), "the rating the camera set inside the file is read");
}
