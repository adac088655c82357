//! One process owns a journal for writing. Two writers would each plan and send the same
//! uploads (every rendition stored twice on the server), and a second process migrating a
//! journal the first is creating dies on a half-made schema. The owner holds an exclusive
//! lock on `<journal>.lock` (flock on Unix, LockFileEx on Windows) from before the first
//! migration until it exits; the operating system drops the lock when the process dies, so
//! a crash or kill -9 never leaves a stale owner. The file holds who owns it, for the
//! message a second process gets.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The held lock; dropping it (or exiting) releases the journal.
#[derive(Debug)]
pub(crate) struct Owner {
    _file: File,
}

/// Where the lock of the journal at `journal` lives.
pub(crate) fn lock_path(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl Owner {
    /// Takes the journal for this process, or says who has it.
    pub(crate) fn acquire(journal: &Path) -> Result<Owner> {
        let path = lock_path(journal);
        let io = |source| Error::Lock { path: path.clone(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // On Windows the locked bytes cannot be read: the message then names no pid.
                let mut who = String::new();
                let _ = file.read_to_string(&mut who);
                let who = who.trim();
                return Err(Error::InUse {
                    path: journal.to_path_buf(),
                    owner: if who.is_empty() { "another process".into() } else { who.to_string() },
                });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
        }
        let command: Vec<String> = std::env::args_os()
            .take(2)
            .enumerate()
            .map(|(i, a)| {
                let a = PathBuf::from(a);
                // The program's name, not the folder it was started from.
                let shown = if i == 0 { a.file_name().map(PathBuf::from).unwrap_or(a) } else { a };
                shown.display().to_string()
            })
            .collect();
        let who = format!("`{}` (pid {}, since {})", command.join(" "), std::process::id(), utc_now());
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(who.as_bytes()).map_err(io)?;
        Ok(Owner { _file: file })
    }
}

/// The time now as `2026-12-01T05:40:00Z` (UTC, to the second).
fn utc_now() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_owner_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = dir.path().join("journal.sqlite");
        let first = Owner::acquire(&journal).expect("first");
        let err = Owner::acquire(&journal).expect_err("second");
        let text = err.to_string();
        assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
        assert!(text.contains("in use"), "{text}");
        drop(first);
        Owner::acquire(&journal).expect("free again");
    }

    #[test]
    fn the_time_is_written_as_a_utc_date() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
