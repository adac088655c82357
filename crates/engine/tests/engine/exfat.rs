//! Camera cards made for tests: a real exFAT image (`mkfs.exfat`), attached to a loop
//! device and mounted with FUSE (`mount.exfat-fuse`; this kernel has no exFAT driver of its
//! own), as a card reader's card would be. Needs root, loop devices and FUSE; elsewhere
//! [`cards_can_be_made`] says SKIPPED and why (`WEDSYNC_REQUIRE_CARDS=1`, as `scripts/test`
//! sets, makes that a failure). Shared by the engine's card tests and the app's end-to-end
//! test.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether cards can be made here; says why not.
pub fn cards_can_be_made() -> bool {
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
pub fn format(image: &Path, label: &str) {
    let file = std::fs::File::create(image).expect("image");
    file.set_len(64 << 20).expect("size");
    run("mkfs.exfat", &["-L", label, image.to_str().expect("utf-8")]).expect("mkfs.exfat");
}

/// The image attached to a loop device and mounted at `at`; unmounted and detached when
/// dropped, so a failing test leaves nothing mounted.
pub struct Inserted {
    pub at: PathBuf,
    pub loop_device: String,
}

impl Inserted {
    pub fn insert(image: &Path, at: &Path) -> Inserted {
        std::fs::create_dir_all(at).expect("mount point");
        let loop_device = run("losetup", &["-f", "--show", image.to_str().expect("utf-8")]).expect("losetup");
        let card = Inserted { at: at.to_path_buf(), loop_device };
        run("mount.exfat-fuse", &[&card.loop_device, at.to_str().expect("utf-8")]).expect("mount");
        card
    }
}

impl Drop for Inserted {
    fn drop(&mut self) {
        let at = self.at.to_str().unwrap_or_default();
        // Busy (a failing test's engine still reading): detached lazily, its driver ended.
        if run("umount", &[at]).is_err() {
            let _ = run("umount", &["-l", at]);
            let _ = run("pkill", &["-KILL", "-f", &format!("mount.exfat-fuse {} ", self.loop_device)]);
        }
        let _ = run("losetup", &["-d", &self.loop_device]);
    }
}
