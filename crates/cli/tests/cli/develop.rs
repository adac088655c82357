//! `wedsync develop` on real files, bad ones among them: each bad input is one clear error
//! naming the file, the rest of the batch completes, nothing panics, the exit code says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn samples() -> PathBuf {
    match std::env::var_os("WEDSYNC_SAMPLES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples"),
    }
}

fn wedsync(args: &[&Path]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_wedsync")).args(args).output().expect("run wedsync");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "wedsync panicked:\n{stderr}");
    out
}

fn lines(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bad_inputs_fail_alone_and_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad");
    let mixed = dir.path().join("card");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::create_dir_all(mixed.join("DCIM/100CANON")).expect("mkdir");

    let cr2 = std::fs::read(samples().join("canon-eos30d-IMG_5952.CR2")).expect("sample CR2");
    let empty = bad.join("EMPTY.CR2");
    std::fs::write(&empty, b"").expect("write");
    let truncated = bad.join("TRUNCATED.CR2");
    std::fs::write(&truncated, &cr2[..cr2.len() / 3]).expect("write");
    let random = bad.join("RANDOM.NEF");
    // A fixed xorshift sequence: random-looking, reproducible.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&random, &noise).expect("write");
    let missing = dir.path().join("no-such-file.CR2");

    // A card folder: a good RAW, a sidecar, a video, and a corrupt RAW.
    let card_raw = mixed.join("DCIM/100CANON/IMG_0001.CR2");
    std::fs::write(&card_raw, &cr2).expect("write");
    std::fs::write(mixed.join("DCIM/100CANON/IMG_0001.XMP"), b"<x:xmpmeta/>").expect("write");
    std::fs::write(mixed.join("DCIM/100CANON/MVI_0002.MOV"), b"\0\0\0 ftypqt  ").expect("write");
    std::fs::write(mixed.join("DCIM/100CANON/IMG_0003.CR2"), &cr2[..4096]).expect("write");
    std::fs::write(mixed.join(".DS_Store"), b"junk").expect("write");

    let out_dir = dir.path().join("out");
    let kdc = samples().join("kodak-dc50.KDC");
    let args: Vec<&Path> = vec![
        Path::new("develop"),
        Path::new("--preset"),
        Path::new("thumb"),
        Path::new("--out"),
        &out_dir,
        &empty,
        &truncated,
        &random,
        &missing,
        &mixed,
        &kdc,
    ];
    let out = wedsync(&args);
    let stdout = lines(&out);
    assert_eq!(out.status.code(), Some(1), "exit code\n{stdout}");

    for (path, reason) in [
        (&empty, "empty"),
        (&truncated, "truncated"),
        (&random, "cannot decode"),
        (&missing, "No such file"),
        (&mixed.join("DCIM/100CANON/IMG_0003.CR2"), "cannot decode"),
    ] {
        let line =
            stdout.lines().find(|l| l.starts_with("FAILED") && l.contains(&path.display().to_string()));
        let line = line.unwrap_or_else(|| panic!("no FAILED line for {}\n{stdout}", path.display()));
        assert!(line.contains(reason), "{line:?} does not say {reason:?}");
    }
    for skipped in ["IMG_0001.XMP", "MVI_0002.MOV"] {
        assert!(
            stdout.lines().any(|l| l.starts_with("skipped") && l.contains(skipped)),
            "{skipped} not skipped\n{stdout}"
        );
    }
    assert!(!stdout.contains(".DS_Store"), "hidden files are ignored");
    // The good RAW says the look it got: matched to the camera's own JPEG inside it.
    assert!(stdout.contains("look: matched to the camera's 1728×1152 preview"), "{stdout}");
    // The good files completed despite the bad ones.
    for good in ["IMG_0001.jpg", "kodak-dc50.jpg"] {
        let bytes = std::fs::read(out_dir.join(good)).unwrap_or_else(|e| panic!("{good}: {e}\n{stdout}"));
        assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.len() > 1000, "{good} is not a JPEG");
    }
    assert!(
        stdout.contains("developed 2 file(s)") && stdout.contains("5 failed") && stdout.contains("2 skipped"),
        "{stdout}"
    );
    // Nothing half-written is left behind.
    let leftovers: Vec<_> =
        std::fs::read_dir(&out_dir).expect("out dir").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn an_unsupported_file_named_explicitly_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"first dance at 21:00").expect("write");
    let out_dir = dir.path().join("out");
    let out = wedsync(&[Path::new("develop"), Path::new("--out"), &out_dir, &notes]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = lines(&out);
    assert!(stdout.contains(&format!("FAILED {}: unsupported file type", notes.display())), "{stdout}");
}

#[test]
fn shared_stems_get_distinct_outputs_and_a_clean_run_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    for slot in ["slot1", "slot2"] {
        std::fs::create_dir_all(dir.path().join(slot)).expect("mkdir");
        std::fs::copy(samples().join("kodak-dc50.KDC"), dir.path().join(slot).join("DC50.KDC"))
            .expect("copy");
    }
    let out_dir = dir.path().join("out");
    let out = wedsync(&[
        Path::new("develop"),
        Path::new("--preset"),
        Path::new("web"),
        Path::new("--out"),
        &out_dir,
        &dir.path().join("slot1"),
        &dir.path().join("slot2"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", lines(&out));
    assert!(out_dir.join("DC50.jpg").is_file() && out_dir.join("DC50-2.jpg").is_file(), "{}", lines(&out));
    // The per-file line reports size, quality score and time.
    let stdout = lines(&out);
    let line = stdout.lines().find(|l| l.contains("DC50-2.jpg")).expect("per-file line");
    assert!(line.contains(" MB") && line.contains("score") && line.ends_with(" ms"), "{line}");
    // And the look each file got, and why: the DC50 carries no preview to match.
    assert!(stdout.contains("look: camera-like default (the file carries no preview)"), "{stdout}");
}

#[test]
fn a_lightroom_sidecar_s_edits_are_said_on_the_file_s_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = dir.path().join("IMG_5952.CR2");
    std::fs::copy(samples().join("canon-eos30d-IMG_5952.CR2"), &photo).expect("copy");
    std::fs::write(
        dir.path().join("IMG_5952.CR2.xmp"),
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
        <rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" crs:Exposure2012="+0.50" crs:Clarity2012="+20"/>
        </rdf:RDF></x:xmpmeta>"#,
    )
    .expect("sidecar");
    let out_dir = dir.path().join("out");
    let out = wedsync(&[
        Path::new("develop"),
        Path::new("--preset"),
        Path::new("thumb"),
        Path::new("--out"),
        &out_dir,
        &photo,
    ]);
    let stdout = lines(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("edits: IMG_5952.CR2.xmp: exposure +0.50 EV; not applied: Clarity2012=+20"),
        "{stdout}"
    );
}
