//! The home's cache folder as the settings screen shows it: its size, and clearing what can
//! be made again. Renditions not yet verified at the platform are never removed: the photo
//! they were developed from may be gone (its card formatted) by the time they are sent.
//! Thumbnails, compiled GPU kernels and sent renditions are made again when needed.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};

/// What the cache holds, or what clearing it did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CacheUsage {
    /// Bytes in the folder.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// Of those, bytes of renditions waiting to be sent (kept by a clear).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub held: u64,
}

/// The size of every file under `dir`; renditions named in `unsent` count as held.
pub fn usage(dir: &Path, unsent: &HashSet<String>) -> Result<CacheUsage> {
    let mut usage = CacheUsage::default();
    walk(dir, &mut |path, meta| {
        usage.bytes += meta.len();
        if is_unsent(path, unsent) {
            usage.held += meta.len();
        }
        Ok(())
    })?;
    Ok(usage)
}

/// A rendition is written before the journal records it: one this young may not be in
/// `unsent` yet, and is kept.
const FRESH: Duration = Duration::from_secs(600);

/// Removes every file under `dir` except renditions named in `unsent`, renditions written
/// in the last ten minutes and files being written; what is left.
pub fn clear(dir: &Path, unsent: &HashSet<String>) -> Result<CacheUsage> {
    walk(dir, &mut |path, meta| {
        let writing = path.extension().is_some_and(|e| e.to_string_lossy().ends_with("partial"));
        let fresh = || {
            path.extension().is_some_and(|e| e == "jpg")
                && meta.modified().is_ok_and(|t| t.elapsed().is_ok_and(|age| age < FRESH))
        };
        let rendition = path.parent() == Some(dir);
        if is_unsent(path, unsent) || writing || (rendition && fresh()) {
            return Ok(());
        }
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { path: path.to_path_buf(), source }),
        }
    })?;
    usage(dir, unsent)
}

/// A rendition is `<sha256>.jpg` at the top of the cache.
fn is_unsent(path: &Path, unsent: &HashSet<String>) -> bool {
    path.extension().is_some_and(|e| e == "jpg")
        && path.file_stem().and_then(|s| s.to_str()).is_some_and(|stem| unsent.contains(stem))
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, &std::fs::Metadata) -> Result<()>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(Error::Io { path: dir.to_path_buf(), source }),
    };
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|source| Error::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            walk(&path, visit)?;
        } else {
            visit(&path, &meta)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn clearing_keeps_unsent_renditions_and_files_being_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path();
        let unsent = "a".repeat(64);
        let sent = "b".repeat(64);
        std::fs::write(cache.join(format!("{unsent}.jpg")), [0u8; 100]).expect("write");
        std::fs::write(cache.join(format!("{sent}.jpg")), [0u8; 40]).expect("write");
        std::fs::write(cache.join(format!("{sent}.123-4.partial")), [0u8; 7]).expect("write");
        std::fs::create_dir_all(cache.join("thumbs")).expect("mkdir");
        std::fs::write(cache.join("thumbs/12.jpg"), [0u8; 30]).expect("write");
        let old = SystemTime::now() - Duration::from_secs(3600);
        let sent_file = std::fs::File::options().write(true).open(cache.join(format!("{sent}.jpg")));
        sent_file.and_then(|f| f.set_modified(old)).expect("an hour old");
        let keep: HashSet<String> = [unsent.clone()].into();
        assert_eq!(usage(cache, &keep).expect("usage"), CacheUsage { bytes: 177, held: 100 });
        assert_eq!(clear(cache, &keep).expect("clear"), CacheUsage { bytes: 107, held: 100 });
        assert!(cache.join(format!("{unsent}.jpg")).exists(), "an unsent rendition is kept");
        assert!(!cache.join(format!("{sent}.jpg")).exists() && !cache.join("thumbs/12.jpg").exists());
        // One written a moment ago may not be in the journal yet.
        std::fs::write(cache.join(format!("{sent}.jpg")), [0u8; 40]).expect("write");
        assert_eq!(clear(cache, &keep).expect("clear").bytes, 147, "a fresh rendition is kept");
        assert_eq!(usage(&cache.join("missing"), &keep).expect("a missing cache"), CacheUsage::default());
    }
}
