//! Systems whose mount table gives no change notification to a plain program: the list is
//! read again every second and compared. Used on macOS (`/Volumes`) and Windows (drive
//! letters) — written, untested there (only Linux builds here); the polling itself is tested.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Volume, Volumes};

#[cfg_attr(target_os = "linux", allow(dead_code))]
pub(super) struct Polled {
    list: Box<dyn Fn() -> Vec<Volume> + Send>,
    last: Vec<Volume>,
}

#[cfg_attr(target_os = "linux", allow(dead_code))]
impl Polled {
    pub(super) fn new(list: impl Fn() -> Vec<Volume> + Send + 'static) -> Polled {
        Polled { list: Box::new(list), last: Vec::new() }
    }
}

impl Volumes for Polled {
    fn mounted(&mut self) -> io::Result<Vec<Volume>> {
        self.last = (self.list)();
        Ok(self.last.clone())
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if (self.list)() != self.last {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(left.min(Duration::from_secs(1)));
        }
    }
}

/// Each folder in `root` as a mount point (macOS mounts every volume in `/Volumes`).
#[cfg_attr(not(any(target_os = "macos", test)), allow(dead_code))]
pub(super) fn folders_in(root: &Path) -> Vec<Volume> {
    let mut found: Vec<Volume> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .map(|mount_point| Volume { mount_point, device: None, fs_type: None })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    found
}

#[cfg(target_os = "macos")]
pub(super) fn macos_volumes() -> Vec<Volume> {
    folders_in(Path::new("/Volumes"))
}

/// The drive letters that are there now.
#[cfg(windows)]
pub(super) fn drive_letters() -> Vec<Volume> {
    (b'A'..=b'Z')
        .map(|c| std::path::PathBuf::from(format!("{}:\\", c as char)))
        .filter(|p| p.is_dir())
        .map(|mount_point| Volume { mount_point, device: None, fs_type: None })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_sees_a_volume_come_and_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let mut volumes = Polled::new(move || folders_in(&root));
        assert!(volumes.mounted().expect("list").is_empty());
        assert!(!volumes.wait(Duration::from_millis(50)).expect("wait"));
        std::fs::create_dir(dir.path().join("EOS_DIGITAL")).expect("mkdir");
        assert!(volumes.wait(Duration::from_secs(3)).expect("wait"));
        assert_eq!(volumes.mounted().expect("list").len(), 1);
    }
}
