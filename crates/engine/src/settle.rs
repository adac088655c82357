//! Never a half-written file. A tethered camera, Lightroom's auto-import or a Wi-Fi
//! transfer writes a frame over seconds; a card reader's copy likewise. A file is admitted
//! only once its size and modification time have held still for a quiet spell (default 3 s:
//! FAT stores mtimes in 2 s steps), and temporary names (`*.tmp`, `~*`, `._*`, partial
//! downloads) wait until they are renamed. A file that never settles is reported after a
//! time limit, never dropped silently. The caller checks again after hashing (see
//! [`Stat::of`]): a file that changed while it was hashed is not admitted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How long a file must hold still, and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    pub quiet: Duration,
    pub give_up: Duration,
}

impl Default for Settle {
    fn default() -> Self {
        Settle { quiet: Duration::from_secs(3), give_up: Duration::from_secs(600) }
    }
}

/// What is known of a file at one instant: enough to tell whether it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl Stat {
    pub fn of(path: &Path) -> std::io::Result<Stat> {
        Ok(Stat::from(&std::fs::metadata(path)?))
    }
}

impl From<&std::fs::Metadata> for Stat {
    fn from(meta: &std::fs::Metadata) -> Stat {
        Stat { size: meta.len(), modified: meta.modified().ok() }
    }
}

/// Where a file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Whole: take it.
    Admit(Stat),
    /// Still changing (or just seen): look again later.
    Wait,
    /// A temporary name: it will be renamed when done.
    Temporary,
    /// Still changing after the time limit: report it (and keep looking).
    Unsettled { since: Duration },
    /// Gone (renamed, deleted) before it settled.
    Gone,
}

/// The files being watched until they settle.
#[derive(Debug, Default)]
pub struct Settling {
    settle: Settle,
    seen: HashMap<PathBuf, Seen>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    stat: Stat,
    /// When `stat` was first seen as it is.
    still_since: Instant,
    first_seen: Instant,
    /// The writer closed the file as it is now (inotify close-write): a short confirmation
    /// is enough.
    closed: bool,
}

/// How long a file the writer closed must then hold still: the close-write fast path.
pub const CONFIRM: Duration = Duration::from_millis(150);

impl Settling {
    pub fn new(settle: Settle) -> Settling {
        Settling { settle, seen: HashMap::new() }
    }

    /// Looks at `path` at `now`. An admitted or vanished file is forgotten; one that never
    /// settles is reported as [`Verdict::Unsettled`] each time it is looked at after the
    /// time limit.
    pub fn check(&mut self, path: &Path, now: Instant) -> Verdict {
        if is_temporary(path) {
            return Verdict::Temporary;
        }
        let Ok(stat) = Stat::of(path) else {
            self.seen.remove(path);
            return Verdict::Gone;
        };
        let seen = self.saw(path, stat, now);
        if seen.stat != stat {
            seen.stat = stat;
            seen.still_since = now;
            seen.closed = false;
        }
        let Seen { still_since, first_seen, closed, .. } = *seen;
        let quiet = if closed { CONFIRM.min(self.settle.quiet) } else { self.settle.quiet };
        if now.duration_since(still_since) >= quiet {
            self.seen.remove(path);
            return Verdict::Admit(stat);
        }
        let waiting = now.duration_since(first_seen);
        if waiting >= self.settle.give_up {
            return Verdict::Unsettled { since: waiting };
        }
        Verdict::Wait
    }

    /// The platform says the writer closed `path` (Linux: inotify close-write on a local
    /// disk): it is admitted once it has held still for [`CONFIRM`] instead of the quiet
    /// spell. A write after this puts it back on the slow path.
    pub fn closed(&mut self, path: &Path, now: Instant) {
        let Ok(stat) = Stat::of(path) else { return };
        let seen = self.saw(path, stat, now);
        seen.stat = stat;
        seen.still_since = now;
        seen.closed = true;
    }

    /// What is known of `path`, first seen now as `stat` if it is new.
    fn saw(&mut self, path: &Path, stat: Stat, now: Instant) -> &mut Seen {
        self.seen.entry(path.to_path_buf()).or_insert(Seen {
            stat,
            still_since: now,
            first_seen: now,
            closed: false,
        })
    }

    /// The paths seen and not yet admitted whose writers closed them.
    pub fn closed_paths(&self) -> Vec<PathBuf> {
        self.seen.iter().filter(|(_, s)| s.closed).map(|(p, _)| p.clone()).collect()
    }

    /// Files seen and not yet admitted.
    pub fn pending(&self) -> usize {
        self.seen.len()
    }
}

/// Whether `path` is a name writers use while a file is incomplete: `*.tmp`, `*.part`,
/// `*.partial`, `*.crdownload`, `*.download`, `*.!qB`, `~*` (Office, Capture One), `._*`
/// (macOS resource forks) and `.*` in general (hidden: editors' and rsync's temporaries).
pub fn is_temporary(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()) else {
        return true;
    };
    if name.starts_with('~') || name.starts_with('.') {
        return true;
    }
    [".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".!qb"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn temporary_names_wait_for_their_rename() {
        for name in [
            "IMG_1.CR2.tmp",
            "~IMG_1.CR2",
            "._IMG_1.CR2",
            "IMG_1.CR2.part",
            ".IMG_1.CR2.x1y2",
            "a.crdownload",
        ] {
            assert!(is_temporary(Path::new(name)), "{name}");
        }
        for name in ["IMG_1.CR2", "DSC_0001.NEF", "photo.tmp.jpg"] {
            assert!(!is_temporary(Path::new(name)), "{name}");
        }
    }

    /// A writer that appends in pieces is admitted only after its last piece and a quiet
    /// spell; what is admitted is the whole file.
    #[test]
    fn a_file_written_in_pieces_is_admitted_only_once_whole_and_quiet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("IMG_0001.CR2");
        let settle = Settle { quiet: Duration::from_millis(300), give_up: Duration::from_secs(60) };
        let mut settling = Settling::new(settle);
        let mut file = std::fs::File::create(&path).expect("create");
        let start = Instant::now();
        for piece in 0..5 {
            file.write_all(&[piece; 10_000]).expect("write");
            file.flush().expect("flush");
            let verdict = settling.check(&path, Instant::now());
            assert_eq!(verdict, Verdict::Wait, "piece {piece}");
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(file);
        let admitted = loop {
            match settling.check(&path, Instant::now()) {
                Verdict::Admit(stat) => break stat,
                Verdict::Wait => std::thread::sleep(Duration::from_millis(50)),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(admitted.size, 50_000);
        // The last piece was seen at ~400 ms: not admitted before 300 ms of quiet after it.
        assert!(start.elapsed() >= Duration::from_millis(700), "admitted before the quiet spell");
        assert_eq!(settling.pending(), 0);
    }

    #[test]
    fn a_file_that_never_settles_is_reported_and_a_vanished_one_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("IMG_0002.CR2");
        let settle = Settle { quiet: Duration::from_secs(10), give_up: Duration::from_millis(200) };
        let mut settling = Settling::new(settle);
        std::fs::write(&path, b"a").expect("write");
        assert_eq!(settling.check(&path, Instant::now()), Verdict::Wait);
        std::thread::sleep(Duration::from_millis(250));
        std::fs::write(&path, b"ab").expect("write");
        assert!(matches!(settling.check(&path, Instant::now()), Verdict::Unsettled { .. }));
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(settling.check(&path, Instant::now()), Verdict::Gone);
        assert_eq!(settling.pending(), 0);
    }
}
