//! Backup copies: what a photographer does first at a venue, before anything is uploaded —
//! each original copied off the card to one or two local folders (the laptop's disk, an
//! external drive). A copy counts only once it is written, synced, read back and found to
//! have the bytes' SHA-256; a file of the same name with other bytes is never overwritten
//! (the copy takes the next free name, `IMG_0001-2.CR2`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::hash::sha256_file;

/// Copies `source`, whose bytes must have `sha256`, into `folder`, and returns where the
/// verified copy lies. A copy with the same bytes already there (from an earlier run, or
/// the same frame from the second card slot) is the copy.
pub fn copy_verified(source: &Path, folder: &Path, sha256: &str) -> io::Result<PathBuf> {
    let name = source
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the source has no file name"))?;
    std::fs::create_dir_all(folder)?;
    for n in 1.. {
        let target = folder.join(numbered(Path::new(name), n));
        match sha256_file(&target) {
            Ok(found) if found == sha256 => return Ok(target),
            // Another file of this name: never overwritten; the next name.
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match write_new(source, &target, sha256) {
            Ok(()) => return Ok(target),
            // Taken meanwhile (another writer): look at it, as above.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("1.. does not end")
}

/// `IMG_0001.CR2`, then `IMG_0001-2.CR2`, `IMG_0001-3.CR2`…
fn numbered(name: &Path, n: u32) -> PathBuf {
    if n == 1 {
        return name.to_path_buf();
    }
    let stem = name.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match name.extension() {
        Some(ext) => PathBuf::from(format!("{stem}-{n}.{}", ext.to_string_lossy())),
        None => PathBuf::from(format!("{stem}-{n}")),
    }
}

/// Writes `source` to a temporary file beside `target`, checking the bytes read against
/// `sha256`, syncs it, links it to `target` only if nothing is there (a hard link never
/// replaces a file), and reads the copy back to check it too.
fn write_new(source: &Path, target: &Path, sha256: &str) -> io::Result<()> {
    static COPIES: AtomicU64 = AtomicU64::new(0);
    let n = COPIES.fetch_add(1, Ordering::Relaxed);
    let temporary = target.with_file_name(format!(".wedsync-{}-{n}.partial", std::process::id()));
    let written =
        copy_checked(source, &temporary, sha256).and_then(|()| std::fs::hard_link(&temporary, target));
    let _ = std::fs::remove_file(&temporary);
    written?;
    sync_folder(target);
    let found = sha256_file(target)?;
    if found != sha256 {
        let _ = std::fs::remove_file(target);
        return Err(io::Error::other(format!(
            "{}: the copy read back has SHA-256 {found}, not {sha256}: the backup disk may be failing",
            target.display()
        )));
    }
    Ok(())
}

fn copy_checked(source: &Path, temporary: &Path, sha256: &str) -> io::Result<()> {
    let mut from = File::open(source)?;
    let mut to = File::options().write(true).create_new(true).open(temporary)?;
    let (mut hasher, mut buf) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        let k = from.read(&mut buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        to.write_all(&buf[..k])?;
    }
    let found = hex::encode(hasher.finalize());
    if found != sha256 {
        return Err(io::Error::other(format!(
            "{}: its bytes changed since they were recorded (SHA-256 {found}, recorded {sha256})",
            source.display()
        )));
    }
    to.sync_all()
}

/// Makes the new name durable too (Unix: sync the folder); best effort.
fn sync_folder(target: &Path) {
    #[cfg(unix)]
    if let Some(folder) = target.parent() {
        let _ = File::open(folder).and_then(|f| f.sync_all());
    }
    #[cfg(not(unix))]
    let _ = target;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_verified_reused_and_never_overwrites_another_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("card/IMG_0001.CR2");
        std::fs::create_dir_all(source.parent().expect("parent")).expect("mkdir");
        std::fs::write(&source, b"the frame").expect("write");
        let sha = sha256_file(&source).expect("hash");
        let backup = dir.path().join("backup");
        // Another photo of the same name is already there: kept, and the copy goes beside it.
        std::fs::create_dir_all(&backup).expect("mkdir");
        std::fs::write(backup.join("IMG_0001.CR2"), b"another day's frame").expect("write");
        let copy = copy_verified(&source, &backup, &sha).expect("copy");
        assert_eq!(copy, backup.join("IMG_0001-2.CR2"));
        assert_eq!(std::fs::read(&copy).expect("read"), b"the frame");
        assert_eq!(std::fs::read(backup.join("IMG_0001.CR2")).expect("read"), b"another day's frame");
        // Again: the same copy, nothing new written.
        assert_eq!(copy_verified(&source, &backup, &sha).expect("again"), copy);
        assert_eq!(std::fs::read_dir(&backup).expect("list").count(), 2);
        // Bytes other than those recorded are not copied.
        let err = copy_verified(&source, &dir.path().join("other"), &"0".repeat(64)).expect_err("changed");
        assert!(err.to_string().contains("changed since"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path().join("other")).expect("list").count(), 0, "no partial left");
    }
}
