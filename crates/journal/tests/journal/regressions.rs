//! Regression tests named after what broke when `wedsync upload` was attacked (issue 14).

use std::path::PathBuf;

use wedsync_journal::{Edited, Error, Journal, NewAsset, NewUpload, UploadState};

use crate::support::{asset, check_consistent, upload_of};

const DEST: &str = "https://ingest.example/files";

#[test]
fn a_refused_upload_is_tried_again_by_the_next_run_not_given_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(&path).expect("open");
    let a = j.record_asset(&asset(1)).expect("asset").asset;
    let (web, full) = (upload_of(a, "web", 1), upload_of(a, "full", 2));
    let (u, v) = (j.plan_upload(&web).expect("plan"), j.plan_upload(&full).expect("plan"));
    // A wrong token: both refused, one after the server had made its URL.
    j.upload_failed(u, "POST: 401 unauthorized").expect("fail");
    j.upload_created(v, "https://ingest.example/files/v").expect("created");
    j.upload_progress(v, 1000).expect("progress");
    j.upload_failed(v, "PATCH: 401 unauthorized").expect("fail");
    assert!(j.pending_uploads(DEST, 10).expect("pending").is_empty());
    assert_eq!(j.remaining().expect("remaining").failed, 2);

    // Planning the same bytes again (the next run) queues the refused one again.
    assert_eq!(j.plan_upload(&web).expect("plan again"), u);
    assert_eq!(j.upload(u).expect("load").state, UploadState::Queued);
    // A retry queues every refused upload; one with a URL resumes where the server has it.
    assert_eq!(j.retry_refused(DEST).expect("retry"), 1);
    let again = j.upload(v).expect("load");
    assert_eq!((again.state, again.offset, again.attempts), (UploadState::Sending, 1000, 0));
    assert_eq!(j.pending_uploads(DEST, 10).expect("pending").len(), 2);
    assert_eq!(j.remaining().expect("remaining").failed, 0);
    assert_eq!(j.event_count("upload.requeued").expect("events"), 2);
    drop(j);
    check_consistent(&path);
}

#[test]
fn two_writers_at_once_are_refused_and_readers_need_no_lock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("journal.sqlite");
    // A reader on a fresh home finds nothing, and creates nothing a writer would trip on.
    assert!(matches!(Journal::open_read_only(&path), Err(Error::Missing { .. })));
    assert!(!path.exists());
    let mut owner = Journal::open(&path).expect("first writer");
    let err = Journal::open(&path).err().expect("a second writer is refused");
    assert!(matches!(err, Error::InUse { .. }), "{err}");
    assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
    // Status reads while the owner writes.
    owner.record_asset(&asset(1)).expect("write");
    let reader = Journal::open_read_only(&path).expect("reader");
    assert_eq!(reader.counts().expect("counts").0, 1);
    drop(owner);
    drop(Journal::open(&path).expect("free once the owner is gone"));
}

#[test]
fn non_utf8_names_are_kept_exactly_and_never_collapse_into_one_source() {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut j = Journal::open(&dir.path().join("j.sqlite")).expect("open");
        // Latin-1 "Föhn.CR2" and "Fähn.CR2": both become "F\u{fffd}hn.CR2" if converted lossily.
        let names: Vec<PathBuf> = [&b"/card/F\xf6hn.CR2"[..], &b"/card/F\xe4hn.CR2"[..]]
            .iter()
            .map(|b| PathBuf::from(std::ffi::OsStr::from_bytes(b)))
            .collect();
        let mut ids = Vec::new();
        for (n, name) in names.iter().enumerate() {
            let new = NewAsset { path: name.clone(), sha256: format!("{n:064x}"), ..asset(1) };
            assert_eq!(j.known_source(name, new.size, new.mtime_ns).expect("known"), None, "{name:?}");
            ids.push(j.record_asset(&new).expect("record").asset);
        }
        assert_ne!(ids[0], ids[1], "two files, two assets");
        for (name, id) in names.iter().zip(&ids) {
            assert_eq!(j.source_paths(*id).expect("paths"), vec![name.clone()]);
        }
    }
}

#[test]
fn a_file_that_changed_after_it_was_hashed_supersedes_its_old_asset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(&path).expect("open");
    // A tethered frame hashed while still being written, planned as an original.
    let half = asset(5);
    let old = j.record_asset(&half).expect("record").asset;
    let original = wedsync_journal::NewUpload { preset: None, ..upload_of(old, "x", 5) };
    j.plan_upload(&original).expect("plan");
    // The same path, now whole: a new asset, and the old one's bytes exist nowhere.
    let whole = NewAsset { sha256: format!("{:064x}", 55), size: half.size + 1000, ..half.clone() };
    let recorded = j.record_asset(&whole).expect("record");
    assert_ne!(recorded.asset, old);
    assert_eq!(recorded.superseded, 1);
    assert!(j.pending_uploads(DEST, 10).expect("pending").is_empty(), "nothing stranded");
    assert_eq!(j.remaining().expect("remaining"), Default::default());
    // Bytes still held elsewhere (a second card slot) are not superseded.
    let slot1 = asset(6);
    let kept = j.record_asset(&slot1).expect("record").asset;
    let slot2 = NewAsset { path: "/media/card2/IMG_0006.CR2".into(), ..slot1.clone() };
    j.record_asset(&slot2).expect("record");
    j.plan_upload(&wedsync_journal::NewUpload { preset: None, ..upload_of(kept, "x", 6) }).expect("plan");
    let changed = NewAsset { sha256: format!("{:064x}", 66), ..slot1 };
    assert_eq!(j.record_asset(&changed).expect("record").superseded, 0);
    assert_eq!(j.pending_uploads(DEST, 10).expect("pending").len(), 1);
    drop(j);
    check_consistent(&path);
}

#[test]
fn paths_recorded_as_text_by_an_earlier_version_are_found_after_the_migration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.sqlite");
    // A journal as version 3 left it: paths as UTF-8 text.
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    for sql in [
        include_str!("../../migrations/001_initial.sql"),
        include_str!("../../migrations/002_upload_priority.sql"),
        include_str!("../../migrations/003_upload_parts.sql"),
    ] {
        raw.execute_batch(sql).expect("old schema");
    }
    raw.pragma_update(None, "user_version", 3).expect("version");
    raw.execute("INSERT INTO assets (sha256, size) VALUES (?1, 10)", [format!("{:064x}", 9)]).expect("asset");
    raw.execute(
        "INSERT INTO sources (path, asset_id, size, mtime_ns) VALUES ('/card/Ünïcode.CR2', 1, 10, 5)",
        [],
    )
    .expect("source");
    drop(raw);
    let j = Journal::open(&path).expect("migrated");
    let name = PathBuf::from("/card/Ünïcode.CR2");
    assert_eq!(j.known_source(&name, 10, 5).expect("known"), Some(wedsync_journal::AssetId(1)));
    assert_eq!(j.source_paths(wedsync_journal::AssetId(1)).expect("paths"), vec![name]);
}

#[test]
fn a_metadata_edit_is_the_same_photograph_and_the_newest_bytes_go_until_one_is_verified() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(&path).expect("open");
    let picture = Some(format!("{:064x}", 0xfeed));
    let first = NewAsset { picture: picture.clone(), ..asset(8) };
    let a = j.record_asset(&first).expect("record").asset;
    let rendition = j.plan_upload(&upload_of(a, "web", 8)).expect("plan");
    let original = NewUpload { preset: None, sha256: first.sha256.clone(), ..upload_of(a, "x", 8) };
    j.plan_upload(&original).expect("plan");

    // A rating set in the camera: other bytes at the same path, the same picture.
    let rated =
        NewAsset { sha256: format!("{:064x}", 88), size: first.size + 40, rating: Some(5), ..first.clone() };
    let recorded = j.record_asset(&rated).expect("record");
    assert_eq!((recorded.asset, recorded.edited, recorded.superseded), (a, Some(Edited::Adopted), 0));
    assert_eq!(j.asset_sha256(a).expect("sha"), rated.sha256, "the newest bytes are the asset's now");
    assert_eq!(j.asset_facts(a).expect("facts").rating, Some(5));
    let pending: Vec<_> = j.pending_uploads(DEST, 10).expect("pending").into_iter().map(|u| u.id).collect();
    assert_eq!(pending, [rendition], "the old bytes' original is not sent; the rendition stands");
    assert_eq!(j.counts().expect("counts").0, 1);

    // Its newest original is sent and verified; a caption written later is not a second upload.
    let newest = j
        .plan_upload(&NewUpload { sha256: rated.sha256.clone(), size: rated.size, ..original })
        .expect("plan");
    j.upload_created(newest, "https://ingest.example/files/n").expect("created");
    j.upload_progress(newest, rated.size).expect("progress");
    j.upload_verified(newest).expect("verified");
    let captioned = NewAsset { sha256: format!("{:064x}", 888), size: rated.size + 70, ..rated.clone() };
    let recorded = j.record_asset(&captioned).expect("record");
    assert_eq!((recorded.asset, recorded.edited), (a, Some(Edited::Kept)));
    assert_eq!(j.asset_sha256(a).expect("sha"), rated.sha256, "the verified original stands");
    assert_eq!(j.known_source(&captioned.path, captioned.size, captioned.mtime_ns).expect("known"), Some(a));
    assert!(j.original_verified(a).expect("verified"));

    // Another picture is another asset, whatever its name.
    let other = NewAsset { picture: Some(format!("{:064x}", 0xbeef)), ..asset(9) };
    assert_ne!(j.record_asset(&other).expect("record").asset, a);
    drop(j);
    check_consistent(&path);
}

#[test]
fn a_raws_camera_jpeg_is_on_the_raws_row_and_cancelled_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(&path).expect("open");
    let raw = j.record_asset(&asset(10)).expect("record").asset;
    let jpeg_file =
        NewAsset { path: "/media/card/DCIM/IMG_0010.JPG".into(), companion_of: Some(raw), ..asset(11) };
    let jpeg = j.record_asset(&jpeg_file).expect("record").asset;
    assert_eq!(j.companion_of(jpeg).expect("companion"), Some(raw));
    assert_eq!(j.companions(raw).expect("companions"), [jpeg]);
    j.plan_upload(&upload_of(raw, "web", 10)).expect("plan");
    j.plan_upload(&NewUpload { preset: None, ..upload_of(jpeg, "x", 11) }).expect("plan");
    let rows = j.asset_rows(DEST, None, 10).expect("rows");
    assert_eq!(rows.len(), 1, "one photograph: {rows:?}");
    assert_eq!(rows[0].asset, raw);
    let companion: Vec<bool> = rows[0].uploads.iter().map(|u| u.companion).collect();
    assert_eq!(companion, [false, true]);
    assert_eq!(j.counts().expect("counts").0, 1);
    assert_eq!(j.cancel_uploads(raw, DEST).expect("cancel"), 2);
    assert!(j.pending_uploads(DEST, 10).expect("pending").is_empty());
    drop(j);
    check_consistent(&path);
}

#[test]
fn the_cache_keeps_every_rendition_not_yet_verified() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut j = Journal::open(&dir.path().join("j.sqlite")).expect("open");
    let a = j.record_asset(&asset(20)).expect("record").asset;
    let b = j.record_asset(&asset(21)).expect("record").asset;
    let web = j.plan_rendition(a, "web").expect("plan");
    j.rendition_ready(web, &PathBuf::from("/cache/w.jpg"), &"a".repeat(64), 10).expect("ready");
    // Developed, nothing planned to send yet (no destination): kept.
    assert_eq!(j.unsent_sha256s().expect("unsent"), ["a".repeat(64)].into());
    let sent = j.plan_upload(&NewUpload { sha256: "a".repeat(64), ..upload_of(a, "web", 20) }).expect("plan");
    let queued = j.plan_upload(&upload_of(b, "web", 21)).expect("plan");
    j.upload_created(sent, "https://ingest.example/files/1").expect("created");
    j.upload_progress(sent, 500_020).expect("all sent");
    j.upload_verified(sent).expect("verified");
    let unsent = j.unsent_sha256s().expect("unsent");
    assert_eq!(unsent, [j.upload(queued).expect("upload").sha256].into(), "verified ones may go");
}
