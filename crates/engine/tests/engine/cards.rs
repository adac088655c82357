//! A real exFAT card image (`mkfs.exfat`), attached to a loop device and mounted with FUSE
//! (`mount.exfat-fuse`; this kernel has no exFAT driver of its own) under a card root: it
//! shows in `/proc/self/mountinfo` as a card reader's card would. Needs root, loop devices
//! and FUSE; elsewhere the test says SKIPPED and why (`WEDSYNC_REQUIRE_CARDS=1`, as
//! `scripts/test` sets, makes that a failure).

use std::path::{Path, PathBuf};
use std::time::Duration;

use wedsync_engine::volumes::{self, Card};

use crate::exfat::{cards_can_be_made, format, run, Inserted};

/// Waits (at most 10 s) until the cards under `root` number `n`; returns them.
fn cards_when(volumes: &mut Box<dyn volumes::Volumes>, root: &Path, n: usize) -> Vec<Card> {
    for _ in 0..20 {
        let found = volumes::cards(&volumes.mounted().expect("mounts"), &[root.to_path_buf()]);
        if found.len() == n {
            return found;
        }
        volumes.wait(Duration::from_millis(500)).expect("wait");
    }
    panic!("never {n} card(s) under {}", root.display());
}

#[test]
fn a_real_exfat_card_is_seen_when_mounted_and_known_again_until_it_is_formatted() {
    if !cards_can_be_made() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (image, root) = (dir.path().join("card.img"), dir.path().join("media"));
    let at = root.join("EOS_DIGITAL");
    format(&image, "EOS_DIGITAL");
    let mut volumes = volumes::system().expect("volumes");
    assert!(volumes::cards(&volumes.mounted().expect("mounts"), std::slice::from_ref(&root)).is_empty());

    let card = Inserted::insert(&image, &at);
    assert!(volumes.wait(Duration::from_secs(10)).expect("wait"), "the mount was noticed");
    std::fs::create_dir_all(at.join("DCIM/100CANON")).expect("DCIM");
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/canon-eos30d-IMG_5952.CR2");
    std::fs::copy(&sample, at.join("DCIM/100CANON/IMG_0001.CR2")).expect("a frame");
    let first = cards_when(&mut volumes, &root, 1).remove(0);
    println!("{first:?}");
    assert_eq!(first.volume.mount_point, at);
    assert_eq!(first.files, 1);
    assert_eq!(first.id.label.as_deref(), Some("EOS_DIGITAL"));
    assert!(first.id.uuid.as_ref().is_some_and(|u| !u.is_empty()), "the exFAT serial: {first:?}");
    assert!((60 << 20..=64 << 20).contains(&first.id.capacity), "{}", first.id.capacity);

    // Pulled: gone. Inserted again (another mount point): the same card.
    drop(card);
    cards_when(&mut volumes, &root, 0);
    let card = Inserted::insert(&image, &root.join("card2"));
    let again = cards_when(&mut volumes, &root, 1).remove(0);
    assert!(again.id.same_card(&first.id), "{:?} vs {:?}", again.id, first.id);
    drop(card);

    // Formatted in the camera (a new serial), the same frame written again: a new card.
    format(&image, "EOS_DIGITAL");
    let card = Inserted::insert(&image, &at);
    std::fs::create_dir_all(at.join("DCIM/100CANON")).expect("DCIM");
    std::fs::copy(&sample, at.join("DCIM/100CANON/IMG_0001.CR2")).expect("a frame");
    let formatted = cards_when(&mut volumes, &root, 1).remove(0);
    assert!(!formatted.id.same_card(&first.id), "{:?} vs {:?}", formatted.id, first.id);
    drop(card);
}

impl Inserted {
    /// Pulls the card the hard way: its FUSE driver ends, so every read on it fails
    /// (ENOTCONN) as a reader's does when the card comes out; then the dead mount goes.
    fn pull(self) {
        let _ = run("pkill", &["-KILL", "-f", &format!("mount.exfat-fuse {} ", self.loop_device)]);
        std::thread::sleep(Duration::from_millis(300));
        let _ = run("umount", &["-l", self.at.to_str().unwrap_or_default()]);
        // Drop detaches the loop device.
    }
}

/// The engine watching a card root: a real card inserted is read, backed up and sent; pulled
/// mid-read it leaves its frames waiting, nothing counted as copied or sent that was not read
/// whole; inserted again it finishes, and only then is every file on it safe to format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_pulled_mid_read_waits_and_inserted_again_finishes_then_is_safe_to_format() {
    use std::sync::{Arc, Mutex};
    use wedsync_engine::{Engine, Event, Home, Intent, Rules, Source, SourceKind};

    use crate::support::{server, settings, until};

    if !cards_can_be_made() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, token) = server(&dir.path().join("data")).await;
    let (image, root, backup) =
        (dir.path().join("card.img"), dir.path().join("media"), dir.path().join("backup"));
    let at = root.join("EOS_DIGITAL");
    format(&image, "EOS_DIGITAL");
    // The camera writes eight frames.
    let card = Inserted::insert(&image, &at);
    let frames = crate::support::files(&at.join("DCIM/100CANON"), 8, 1_500_000);
    let want: Vec<Vec<u8>> = frames.iter().map(|f| std::fs::read(f).expect("read")).collect();
    drop(card);

    let home = Home::at(dir.path().join("home")).expect("home");
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let log = events.clone();
    // 2 MB/s: the 12 MB take several seconds, long enough to pull the card mid-read.
    let engine = Engine::start(
        &home,
        settings(&url, &token, 2_000_000),
        Arc::new(move |e| log.lock().expect("log").push(e)),
    )
    .expect("start");
    let rules =
        Rules { presets: Vec::new(), originals: true, backups: vec![backup.clone()], ..Rules::default() };
    let source = Source {
        name: "cards".into(),
        kind: SourceKind::Cards { roots: vec![root.clone()] },
        rules,
        enabled: true,
    };
    engine.apply(Intent::AddSource(source)).expect("cards");
    let card = Inserted::insert(&image, &at);
    until("two originals sent", Duration::from_secs(30), || {
        engine.snapshot().is_ok_and(|s| s.totals.uploads_verified >= 2)
    })
    .await;
    let snap = engine.snapshot().expect("snapshot");
    assert_eq!(snap.cards.len(), 1, "{:?}", snap.cards);
    assert!(!snap.cards[0].all_safe && snap.cards[0].files == 8, "{:?}", snap.cards[0]);
    card.pull();
    until("the pulled card noticed", Duration::from_secs(20), || {
        events.lock().expect("log").iter().any(|e| matches!(e, Event::CardGone { .. }))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pulled = engine.snapshot().expect("snapshot");
    assert!(pulled.totals.uploads_verified < 8, "everything was sent before the pull: {:?}", pulled.totals);
    // Out of the reader, the card is remembered, not mounted, and not safe.
    assert_eq!(pulled.cards.len(), 1, "{:?}", pulled.cards);
    assert!(pulled.cards[0].mounted_at.is_none() && !pulled.cards[0].all_safe, "{:?}", pulled.cards[0]);

    // A frame cut off mid-read is said, with what to do, until it is read.
    let cut = events.lock().expect("log").iter().any(|e| matches!(e, Event::Waiting { .. }));
    let said = pulled.totals.warnings.iter().any(|w| w.contains("the card was removed. Put it back in"));
    assert_eq!(said, cut, "a warning exactly when a frame waits for its card: {:?}", pulled.totals.warnings);

    // Inserted again: recognised, finished, and now safe to format.
    let card = Inserted::insert(&image, &at);
    until("all eight originals sent", Duration::from_secs(60), || {
        engine.snapshot().is_ok_and(|s| s.totals.uploads_verified == 8 && s.totals.uploads_left == 0)
    })
    .await;
    until("the card safe to format", Duration::from_secs(10), || {
        engine.snapshot().is_ok_and(|s| s.cards.len() == 1 && s.cards[0].all_safe && s.cards[0].safe == 8)
    })
    .await;
    assert_eq!(
        engine.snapshot().expect("snapshot").totals.warnings,
        Vec::<String>::new(),
        "all read: no warning"
    );
    let report = engine.shutdown().await.expect("shutdown");
    drop(card);
    // Out again, after the station stopped: `wedsync cards` would still call it safe.
    let journal = wedsync_journal::Journal::open_read_only(&home.journal()).expect("journal");
    let known = journal.known_cards().expect("cards");
    assert_eq!(known.len(), 1);
    assert_eq!(volumes::safe_count(&journal, &known[0], volumes::Safety::Server).expect("safe"), 8);
    assert_eq!(volumes::safe_count(&journal, &known[0], volumes::Safety::Both).expect("safe"), 8);
    assert_eq!(report.remaining.uploads_queued + report.remaining.uploads_sending, 0, "{report:?}");
    // Every verified backup copy holds a frame's bytes, each frame once.
    let mut copies: Vec<Vec<u8>> = walk(&backup).iter().map(|f| std::fs::read(f).expect("copy")).collect();
    let mut want = want;
    copies.sort();
    want.sort();
    assert_eq!(copies.len(), 8, "backup copies");
    assert!(copies == want, "a backup copy differs from its frame");
    let events = events.lock().expect("log");
    assert_eq!(events.iter().filter(|e| matches!(e, Event::CardFound { .. })).count(), 2);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
