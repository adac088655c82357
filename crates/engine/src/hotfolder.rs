//! A tethering or hot folder, read by rescanning it: what a camera's tethering software,
//! Lightroom's auto-import or a Wi-Fi transfer drops there is admitted once, and only once
//! whole ([`crate::settle`]). Rescanning is what a network share allows (no change events
//! cross SMB or NFS reliably), and what every source does at start and after a watcher
//! overflow; an event-driven watcher only makes the scan come sooner.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::settle::{Settle, Settling, Stat, Verdict};

/// What a scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Files whole and new since the last scan, with what they were when admitted.
    pub admitted: Vec<(PathBuf, Stat)>,
    /// Files still changing after the time limit, and for how long they have been seen.
    pub unsettled: Vec<(PathBuf, Duration)>,
}

/// One watched folder (and its subfolders).
#[derive(Debug)]
pub struct HotFolder {
    root: PathBuf,
    settling: Settling,
    /// Admitted files, with what they were: a file rewritten since is admitted again.
    admitted: std::collections::HashMap<PathBuf, Stat>,
    accept: fn(&Path) -> bool,
}

impl HotFolder {
    /// Watches `root`, taking the files `accept` says are photos.
    pub fn new(root: PathBuf, settle: Settle, accept: fn(&Path) -> bool) -> HotFolder {
        HotFolder { root, settling: Settling::new(settle), admitted: Default::default(), accept }
    }

    /// The writer closed `path` (an event from the platform): see [`Settling::closed`].
    pub fn closed(&mut self, path: &Path, now: Instant) {
        if path.starts_with(&self.root) && (self.accept)(path) {
            self.settling.closed(path, now);
        }
    }

    /// Looks only at the files whose writers closed them: the fast path between scans.
    pub fn check_closed(&mut self, now: Instant) -> Found {
        let mut found = Found::default();
        for path in self.settling.closed_paths() {
            self.look(path, now, &mut found);
        }
        found
    }

    /// Files seen and not yet admitted.
    pub fn pending(&self) -> usize {
        self.settling.pending()
    }

    fn look(&mut self, path: PathBuf, now: Instant, found: &mut Found) {
        if self.admitted.get(&path).is_some_and(|stat| Stat::of(&path).is_ok_and(|now| now == *stat)) {
            return;
        }
        match self.settling.check(&path, now) {
            Verdict::Admit(stat) => {
                self.admitted.insert(path.clone(), stat);
                found.admitted.push((path, stat));
            }
            Verdict::Unsettled { since } => found.unsettled.push((path, since)),
            Verdict::Wait | Verdict::Temporary | Verdict::Gone => {}
        }
    }

    /// Looks at every file under the folder now. A file is admitted once when it has held
    /// still for the quiet spell; again only if it changes after that (a re-export).
    pub fn scan(&mut self, now: Instant) -> Found {
        let mut found = Found::default();
        let mut present = HashSet::new();
        for path in files_under(&self.root) {
            present.insert(path.clone());
            if (self.accept)(&path) {
                self.look(path, now, &mut found);
            }
        }
        // Forget what is gone, so a file of the same name later is new.
        self.admitted.retain(|path, _| present.contains(path));
        found
    }
}

/// Every file below `root`, folders followed once (hidden ones skipped).
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && !entry.file_name().to_string_lossy().starts_with('.') => {
                    folders.push(path)
                }
                Ok(kind) if kind.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn raw(path: &Path) -> bool {
        path.extension().is_some_and(|e| e.eq_ignore_ascii_case("cr2"))
    }

    /// Three tethering writers: one writes a frame slowly in pieces, one writes under a
    /// temporary name and renames it, one never finishes. Each finished frame is admitted
    /// exactly once and only whole; the unfinished one is reported after the time limit.
    #[test]
    fn slow_renamed_and_unfinished_frames_are_each_admitted_once_whole_or_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A writer pauses 100 ms between pieces: 600 ms of quiet leaves room for a loaded machine.
        let settle = Settle { quiet: Duration::from_millis(600), give_up: Duration::from_millis(1500) };
        let mut folder = HotFolder::new(dir.path().to_path_buf(), settle, raw);
        let slow = dir.path().join("IMG_0001.CR2");
        let (temporary, renamed) = (dir.path().join("IMG_0002.CR2.tmp"), dir.path().join("IMG_0002.CR2"));
        let never = dir.path().join("IMG_0003.CR2");
        let writers = std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut file = std::fs::File::create(&slow).expect("create");
                for piece in 0..8u8 {
                    file.write_all(&[piece; 5_000]).expect("write");
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            scope.spawn(|| {
                let mut file = std::fs::File::create(&temporary).expect("create");
                for piece in 0..8u8 {
                    file.write_all(&[piece; 5_000]).expect("write");
                    file.flush().expect("flush");
                    std::thread::sleep(Duration::from_millis(100));
                }
                drop(file);
                std::fs::rename(&temporary, &renamed).expect("rename");
            });
            scope.spawn(|| {
                let mut file = std::fs::File::create(&never).expect("create");
                for piece in 0..30u8 {
                    file.write_all(&[piece; 1_000]).expect("write");
                    file.flush().expect("flush");
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            let mut seen: Vec<(PathBuf, Stat)> = Vec::new();
            let mut unsettled = Vec::new();
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(4500) {
                let found = folder.scan(Instant::now());
                seen.extend(found.admitted);
                unsettled.extend(found.unsettled.into_iter().map(|(p, _)| p));
                std::thread::sleep(Duration::from_millis(50));
            }
            (seen, unsettled)
        });
        let (seen, unsettled) = writers;
        let admitted: Vec<(&Path, u64)> = seen.iter().map(|(p, s)| (p.as_path(), s.size)).collect();
        assert_eq!(
            admitted.iter().filter(|(p, _)| *p == slow).collect::<Vec<_>>(),
            vec![&(slow.as_path(), 40_000)]
        );
        assert_eq!(
            admitted.iter().filter(|(p, _)| *p == renamed).collect::<Vec<_>>(),
            vec![&(renamed.as_path(), 40_000)]
        );
        // The one that was still growing when the scans ended (30 pieces, 3 s) was reported,
        // and if it was admitted at all, it was whole.
        assert!(unsettled.contains(&never), "{unsettled:?}");
        assert!(admitted.iter().all(|(p, size)| *p != never || *size == 30_000), "{admitted:?}");
        assert!(admitted.iter().all(|(p, _)| *p != temporary), "a temporary name was admitted");
    }

    #[test]
    fn a_file_rewritten_after_admission_is_admitted_again_and_a_removed_one_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settle = Settle { quiet: Duration::ZERO, give_up: Duration::from_secs(60) };
        let mut folder = HotFolder::new(dir.path().to_path_buf(), settle, raw);
        let frame = dir.path().join("IMG_0001.CR2");
        std::fs::write(&frame, b"first").expect("write");
        std::fs::write(dir.path().join("notes.txt"), b"not a photo").expect("write");
        assert_eq!(folder.scan(Instant::now()).admitted.len(), 1);
        assert!(folder.scan(Instant::now()).admitted.is_empty(), "admitted once");
        std::fs::write(&frame, b"re-exported").expect("rewrite");
        assert_eq!(folder.scan(Instant::now()).admitted.len(), 1);
        std::fs::remove_file(&frame).expect("remove");
        assert!(folder.scan(Instant::now()).admitted.is_empty());
    }
}
