//! A full disk: the rendition cache on a real filesystem too small for it (a tmpfs of
//! 64 KiB, mounted by the test; root only). The photo waits instead of failing, the engine
//! says the disk is full and what to do, and once there is room it goes on by itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use wedsync_develop::PresetSet;
use wedsync_engine::{Engine, Home, Intent, Rules};

use crate::support::{server, settings, until};

/// A tmpfs mounted at a folder; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        let options = format!("size={size}");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    fn grow(&self, size: &str) {
        let options = format!("remount,size={size}");
        let status = Command::new("mount").args(["-o", &options]).arg(&self.0).status().expect("mount");
        assert!(status.success(), "remount {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_holds_photos_back_and_they_go_on_once_there_is_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path().join("home")).expect("home");
    let Some(cache) = Tmpfs::mount(&home.cache(), "64k") else {
        // The card tests' switch: scripts/test runs as root, where both can be made.
        assert!(std::env::var_os("WEDSYNC_REQUIRE_CARDS").is_none(), "cannot mount a tmpfs here");
        eprintln!("SKIPPED: a small filesystem cannot be mounted here (needs root)");
        return;
    };
    let (url, token) = server(&dir.path().join("data")).await;
    let photo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples/canon-eos30d-IMG_5952.CR2");
    let web = PresetSet::built_in().get("web").expect("web").clone();
    let mut settings = settings(&url, &token, 50_000_000);
    settings.rules = Rules { presets: vec![web], originals: false, ..Rules::default() };
    let engine = Engine::start(&home, settings, Arc::new(|_| {})).expect("start");
    engine.apply(Intent::AddPaths { paths: vec![photo], rules: None }).expect("add");

    let full = |w: &String| w.contains("is full") && w.contains("Clear cache");
    until("the disk-full warning", Duration::from_secs(60), || {
        engine.snapshot().is_ok_and(|s| s.totals.warnings.iter().any(full))
    })
    .await;
    let snapshot = engine.snapshot().expect("snapshot");
    assert_eq!(snapshot.totals.uploads_failed, 0, "nothing failed: {:?}", snapshot.totals);
    assert_eq!(snapshot.totals.uploads_verified, 0);

    cache.grow("64m");
    until("the rendition sent once there is room", Duration::from_secs(60), || {
        engine.snapshot().is_ok_and(|s| s.totals.uploads_verified == 1 && s.totals.warnings.is_empty())
    })
    .await;
    engine.shutdown().await.expect("shutdown");
    drop(cache);
}
