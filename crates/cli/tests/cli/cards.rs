//! `wedsync cards`: a card mounted under a card root (a tmpfs the test mounts, as root; the
//! engine's own test mounts a real exFAT image) is listed with its files, and is called
//! safe to format only once every original on it is verified on the server.

use crate::regressions::SmallDisk;
use crate::support::{random_bytes, wedsync_at};
use crate::upload::our_server;

/// `wedsync cards --json --card-root ROOT`, the one card it lists.
fn the_card(home: &std::path::Path, root: &std::path::Path) -> serde_json::Value {
    let (code, out) = wedsync_at(home, &["cards", "--json", "--card-root", root.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}");
    let json = out.lines().find(|l| l.starts_with('[')).expect("a JSON line");
    let cards: Vec<serde_json::Value> = serde_json::from_str(json).expect("json");
    assert_eq!(cards.len(), 1, "{out}");
    cards.into_iter().next().expect("card")
}

#[test]
fn a_card_is_safe_to_format_only_once_every_original_on_it_is_verified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = our_server(dir.path());
    let root = dir.path().join("media");
    let disk = SmallDisk::mount(&root.join("EOS_DIGITAL"), "16m");
    let frames = disk.0.join("DCIM/100CANON");
    std::fs::create_dir_all(&frames).expect("DCIM");
    let mut seed = 0xca4d_u64;
    let files: Vec<String> = (1..=3)
        .map(|i| {
            let path = frames.join(format!("IMG_000{i}.CR2"));
            std::fs::write(&path, random_bytes(100_000, &mut seed)).expect("write");
            path.to_str().expect("utf-8").to_string()
        })
        .collect();
    let home = &server.home;
    let card = the_card(home, &root);
    assert_eq!(
        (card["files"].as_u64(), card["safe"].as_u64(), &card["all_safe"]),
        (Some(3), Some(0), &false.into())
    );
    assert_eq!(card["label"], "EOS_DIGITAL");
    assert_eq!(card["mounted_at"], disk.0.to_str().expect("utf-8"));

    let send = |what: &[&str]| {
        let args: Vec<&str> = ["upload"]
            .into_iter()
            .chain(what.iter().copied())
            .chain(["--preset", "none", "--originals", "--to", &server.url, "--token", &server.alice])
            .collect();
        let (code, out) = wedsync_at(home, &args);
        assert_eq!(code, 0, "{out}");
    };
    // Two of the three frames sent: not yet.
    send(&[&files[0], &files[1]]);
    let card = the_card(home, &root);
    assert_eq!((card["safe"].as_u64(), &card["all_safe"]), (Some(2), &false.into()), "{card}");
    // The whole card: safe, and said so.
    send(&[disk.0.to_str().expect("utf-8")]);
    let card = the_card(home, &root);
    assert_eq!((card["safe"].as_u64(), &card["all_safe"]), (Some(3), &true.into()), "{card}");
    let (_, text) = wedsync_at(home, &["cards", "--card-root", root.to_str().expect("utf-8")]);
    assert!(text.contains("3 of 3 file(s) safe — SAFE TO FORMAT"), "{text}");
    for file in &files {
        assert!(std::path::Path::new(file).exists(), "nothing on the card is ever deleted");
    }
    // A station reads the card (and has nothing to send: every frame is on the server)
    // and remembers it: out of the reader, it is still listed, safe.
    let log = dir.path().join("watch.log");
    let args: Vec<String> = [
        "--card-root",
        root.to_str().expect("utf-8"),
        "--preset",
        "none",
        "--originals",
        "--to",
        &server.url,
    ]
    .into_iter()
    .chain(["--token", &server.alice])
    .map(String::from)
    .collect();
    let station = crate::watch::start_watch(home, &args, &log);
    crate::watch::wait_for("the station to read the card", std::time::Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .is_ok_and(|t| t.contains("3 file(s) to read") && t.contains("sending to"))
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (_, code) = crate::watch::terminate(station);
    assert_eq!(code, Some(0), "{}", std::fs::read_to_string(&log).unwrap_or_default());
    drop(disk);
    let card = the_card(home, &root);
    assert_eq!(card["mounted_at"], serde_json::Value::Null, "{card}");
    assert_eq!(
        (card["files"].as_u64(), card["safe"].as_u64(), &card["all_safe"]),
        (Some(3), Some(3), &true.into())
    );
    let (_, text) = wedsync_at(home, &["cards", "--card-root", root.to_str().expect("utf-8")]);
    assert!(text.contains("out of the reader: 3 of 3 file(s) safe — SAFE TO FORMAT"), "{text}");
    // By the backups policy it is not: no backup copy was made.
    let (_, text) =
        wedsync_at(home, &["cards", "--safe", "backups", "--card-root", root.to_str().expect("utf-8")]);
    assert!(text.contains("0 of 3 file(s) safe"), "{text}");
}

/// Dual slots: the same frames on two cards are sent once, and both cards are safe.
#[test]
fn the_same_frames_on_two_cards_are_sent_once_and_both_cards_are_safe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = our_server(dir.path());
    let root = dir.path().join("media");
    let slots =
        [SmallDisk::mount(&root.join("SLOT_1"), "16m"), SmallDisk::mount(&root.join("SLOT_2"), "16m")];
    let mut seed = 0x5107_u64;
    let frames: Vec<Vec<u8>> = (0..3).map(|_| random_bytes(120_000, &mut seed)).collect();
    let mut files = Vec::new();
    for slot in &slots {
        let folder = slot.0.join("DCIM/100CANON");
        std::fs::create_dir_all(&folder).expect("DCIM");
        for (i, bytes) in frames.iter().enumerate() {
            let path = folder.join(format!("IMG_000{}.CR2", i + 1));
            std::fs::write(&path, bytes).expect("write");
            files.push(path);
        }
    }
    let home = &server.home;
    let args: Vec<&str> =
        ["upload", slots[0].0.to_str().expect("utf-8"), slots[1].0.to_str().expect("utf-8")]
            .into_iter()
            .chain(["--preset", "none", "--originals", "--to", &server.url, "--token", &server.alice])
            .collect();
    let (code, out) = wedsync_at(home, &args);
    assert_eq!(code, 0, "{out}");
    crate::support::holdings(server.port, &server.admin, &server.data)
        .assert_each_file_once(&crate::upload::want_hashes(&files[..3]));
    let (code, out) = wedsync_at(home, &["cards", "--json", "--card-root", root.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}");
    let json = out.lines().find(|l| l.starts_with('[')).expect("a JSON line");
    let cards: Vec<serde_json::Value> = serde_json::from_str(json).expect("json");
    assert_eq!(cards.len(), 2, "{out}");
    for card in &cards {
        assert_eq!(
            (card["files"].as_u64(), card["safe"].as_u64(), &card["all_safe"]),
            (Some(3), Some(3), &true.into())
        );
    }
}
