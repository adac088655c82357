use wedsync_journal::{Error, Journal, UploadState, SCHEMA_VERSION};

use crate::support::{asset, check_consistent, upload_of};

#[test]
fn an_upload_goes_from_planned_to_verified_and_leaves_nothing_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::open(&path).expect("open");
    let a = j.record_asset(&asset(1)).expect("asset").asset;
    let r = j.plan_rendition(a, "web").expect("rendition");
    assert_eq!(j.remaining().expect("remaining").renditions_pending, 1);
    j.rendition_ready(r, std::path::Path::new("/cache/ab/cd.jpg"), &"ab".repeat(32), 500_001).expect("ready");

    let new = upload_of(a, "web", 1);
    let u = j.plan_upload(&new).expect("plan");
    let left = j.remaining().expect("remaining");
    assert_eq!((left.renditions_pending, left.uploads_queued, left.bytes_to_send), (0, 1, new.size));

    j.upload_created(u, "https://ingest.example/files/xyz").expect("created");
    j.upload_progress(u, 262_144).expect("progress");
    assert_eq!(j.remaining().expect("remaining").bytes_to_send, new.size - 262_144);
    // Not every byte is there yet: verifying is refused, and nothing changes.
    assert!(matches!(j.upload_verified(u), Err(Error::Transition { .. })));
    j.upload_progress(u, new.size).expect("progress");
    j.upload_verified(u).expect("verified");

    let done = j.upload(u).expect("load");
    assert_eq!(
        (done.state, done.offset, done.url.as_deref()),
        (UploadState::Verified, new.size, Some("https://ingest.example/files/xyz"))
    );
    assert_eq!(j.remaining().expect("remaining"), Default::default());
    assert!(j.is_verified(&new.destination, &new.sha256).expect("dedup query"));
    drop(j);
    check_consistent(&path);
}

#[test]
fn the_same_bytes_are_one_asset_and_one_upload() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut j = Journal::open(&dir.path().join("j.sqlite")).expect("open");
    let first = asset(7);
    let a = j.record_asset(&first).expect("asset").asset;
    // The second card slot: another path, the same bytes.
    let slot2 = wedsync_journal::NewAsset { path: "/media/card2/DCIM/IMG_0007.CR2".into(), ..first.clone() };
    assert_eq!(j.record_asset(&slot2).expect("again").asset, a);
    assert_eq!(j.known_source(&first.path, first.size, first.mtime_ns).expect("known"), Some(a));
    assert_eq!(j.known_source(&slot2.path, slot2.size, slot2.mtime_ns).expect("known"), Some(a));
    // Touched since: hash it again.
    assert_eq!(j.known_source(&first.path, first.size, first.mtime_ns + 1).expect("known"), None);

    assert_eq!(j.plan_rendition(a, "web").expect("r"), j.plan_rendition(a, "web").expect("r again"));
    let u = j.plan_upload(&upload_of(a, "web", 7)).expect("plan");
    assert_eq!(j.plan_upload(&upload_of(a, "web", 7)).expect("plan again"), u);
    assert_eq!(j.pending_uploads("https://ingest.example/files", 10).expect("pending").len(), 1);
}

#[test]
fn refused_transitions_name_the_upload_and_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut j = Journal::open(&dir.path().join("j.sqlite")).expect("open");
    let a = j.record_asset(&asset(2)).expect("asset").asset;
    let u = j.plan_upload(&upload_of(a, "full", 2)).expect("plan");
    let err = j.upload_progress(u, 10).expect_err("progress before creation");
    assert!(err.to_string().contains(&format!("upload {}", u.0)), "{err}");
    j.upload_created(u, "https://ingest.example/files/1").expect("created");
    assert!(j.upload_progress(u, 10_000_000).is_err(), "past the end");
    j.upload_restarted(u, "410 Gone").expect("restart");
    let again = j.upload(u).expect("load");
    assert_eq!((again.state, again.url, again.offset, again.attempts), (UploadState::Queued, None, 0, 1));
    j.upload_failed(u, "415 refused").expect("fail");
    assert!(j.upload_created(u, "https://x/2").is_err(), "a refused upload is not sent in this run");
    assert!(matches!(j.upload(wedsync_journal::UploadId(999)), Err(Error::NotFound { .. })));
    assert_eq!(j.remaining().expect("remaining").failed, 1);
}

#[test]
fn migrations_run_once_and_a_newer_journal_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.sqlite");
    drop(Journal::open(&path).expect("create"));
    let mut j = Journal::open(&path).expect("reopen runs no migration twice");
    j.record_asset(&asset(3)).expect("usable");
    drop(j);
    // A journal written by a later version of the program.
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1).expect("bump");
    drop(raw);
    let err = Journal::open(&path).err().expect("refused");
    assert!(matches!(err, Error::TooNew { .. }), "{err}");
}

#[test]
fn an_upload_sent_in_parts_keeps_each_part_until_the_final_upload_is_made() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(&path).expect("open");
    let a = j.record_asset(&asset(4)).expect("asset").asset;
    let new = upload_of(a, "full", 4);
    let u = j.plan_upload(&new).expect("plan");
    let half = new.size / 2;
    j.upload_parts_planned(u, &[(0, half), (half, new.size - half)]).expect("parts");
    j.upload_part_created(u, 1, "https://x/files/p1").expect("part 1 created");
    j.upload_part_progress(u, 1, 1000).expect("part 1 progress");
    assert!(j.upload_part_progress(u, 1, new.size).is_err(), "past the end of the part");
    assert!(j.upload_part_progress(u, 2, 1).is_err(), "an unplanned part");
    j.upload_part_created(u, 0, "https://x/files/p0").expect("part 0 created");
    j.upload_part_progress(u, 0, half).expect("part 0 done");

    let parts = j.upload_parts(u).expect("parts");
    assert_eq!(
        parts.iter().map(|p| (p.start, p.length, p.url.as_deref(), p.offset)).collect::<Vec<_>>(),
        vec![
            (0, half, Some("https://x/files/p0"), half),
            (half, new.size - half, Some("https://x/files/p1"), 1000)
        ]
    );
    // The bytes left count what every part still lacks; the upload is still to do.
    let left = j.remaining().expect("remaining");
    assert_eq!((left.uploads_queued, left.bytes_to_send), (1, new.size - half - 1000));

    // A vanished part starts the whole upload over, with no parts.
    j.upload_restarted(u, "404 part gone").expect("restart");
    assert!(j.upload_parts(u).expect("parts").is_empty());
    assert_eq!(j.upload(u).expect("load").offset, 0);

    j.upload_parts_planned(u, &[(0, half), (half, new.size - half)]).expect("parts again");
    j.upload_part_created(u, 0, "https://x/files/q0").expect("created");
    j.upload_created(u, "https://x/files/final").expect("final");
    assert!(j.upload_parts(u).expect("parts").is_empty(), "the final upload replaces the parts");
    assert!(j.upload_part_created(u, 0, "https://x/files/late").is_err(), "no parts once sending");
    j.upload_progress(u, new.size).expect("final offset");
    j.upload_verified(u).expect("verified");
    drop(j);
    check_consistent(&path);
}
