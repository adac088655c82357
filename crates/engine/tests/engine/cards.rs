//! A real exFAT card image (`mkfs.exfat`), attached to a loop device and mounted with FUSE
//! (`mount.exfat-fuse`; this kernel has no exFAT driver of its own) under a card root: it
//! shows in `/proc/self/mountinfo` as a card reader's card would. Needs root, loop devices
//! and FUSE; elsewhere the test says SKIPPED and why (`WEDSYNC_REQUIRE_CARDS=1`, as
//! `scripts/test` sets, makes that a failure).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wedsync_engine::volumes::{self, Card};

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether cards can be made here; says why not.
fn cards_can_be_made() -> bool {
    let missing: Vec<&str> = ["mkfs.exfat", "losetup", "mount.exfat-fuse", "umount"]
        .into_iter()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    let why = if !missing.is_empty() {
        Some(format!("missing {missing:?} (scripts/install-deps installs exfatprogs and exfat-fuse)"))
    } else if !Path::new("/dev/fuse").exists() || !Path::new("/dev/loop-control").exists() {
        Some("no /dev/fuse or /dev/loop-control".to_string())
    } else if run("id", &["-u"]).as_deref() != Ok("0") {
        Some("not root".to_string())
    } else {
        None
    };
    match why {
        None => true,
        Some(why) => {
            assert!(std::env::var_os("WEDSYNC_REQUIRE_CARDS").is_none(), "cards are required here: {why}");
            eprintln!("SKIPPED: a real card cannot be made here: {why}");
            false
        }
    }
}

/// A card image, formatted like a camera does it.
fn format(image: &Path, label: &str) {
    let file = std::fs::File::create(image).expect("image");
    file.set_len(64 << 20).expect("size");
    run("mkfs.exfat", &["-L", label, image.to_str().expect("utf-8")]).expect("mkfs.exfat");
}

/// The image attached to a loop device and mounted at `at`; unmounted and detached when
/// dropped, so a failing test leaves nothing mounted.
struct Inserted {
    at: PathBuf,
    loop_device: String,
}

impl Inserted {
    fn insert(image: &Path, at: &Path) -> Inserted {
        std::fs::create_dir_all(at).expect("mount point");
        let loop_device = run("losetup", &["-f", "--show", image.to_str().expect("utf-8")]).expect("losetup");
        let card = Inserted { at: at.to_path_buf(), loop_device };
        run("mount.exfat-fuse", &[&card.loop_device, at.to_str().expect("utf-8")]).expect("mount");
        card
    }
}

impl Drop for Inserted {
    fn drop(&mut self) {
        let _ = run("umount", &[self.at.to_str().unwrap_or_default()]);
        let _ = run("losetup", &["-d", &self.loop_device]);
    }
}

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
