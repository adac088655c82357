use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};

use crate::error::{Error, Result};
use crate::owner::Owner;

/// Numbered migrations, applied in order; `PRAGMA user_version` records the last one run.
/// A released migration is never edited: a change is a new file.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_initial.sql"),
    include_str!("../migrations/002_upload_priority.sql"),
    include_str!("../migrations/003_upload_parts.sql"),
    include_str!("../migrations/004_paths_as_bytes.sql"),
    include_str!("../migrations/005_backups.sql"),
    include_str!("../migrations/006_upload_names.sql"),
    include_str!("../migrations/007_cards.sql"),
    include_str!("../migrations/008_frames.sql"),
    include_str!("../migrations/009_row_lookups.sql"),
];

/// The schema version this program writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The journal's one writing connection, or a read-only one. Readers (`wedsync status`,
/// the app, a progress line) may open the same file at the same time; WAL lets them read
/// while the owner writes.
pub struct Journal {
    pub(crate) conn: Connection,
    /// Held by the writer for as long as it lives; `None` for a reader.
    _owner: Option<Owner>,
}

/// How long a statement waits for another connection's lock before failing.
const BUSY: Duration = Duration::from_secs(10);

impl Journal {
    /// Opens (creating if need be) the journal at `path` as its one writer, and brings its
    /// schema up to date. Refused with [`Error::InUse`], naming the owner, while another
    /// process has it open for writing; the lock is taken before anything is written.
    pub fn open(path: &Path) -> Result<Journal> {
        let owner = Owner::acquire(path)?;
        let open_err = |source| Error::Open { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(open_err)?;
        // First, so that every statement after it (switching to WAL included) waits for a
        // reader's lock instead of failing at once.
        conn.busy_timeout(BUSY).map_err(open_err)?;
        // WAL: a crash never leaves a half-written page, and readers never block the writer.
        // synchronous=FULL: a committed change survives power loss, not only a crash.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(Error::TooNew { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
        }
        migrate(&mut conn, found)?;
        Ok(Journal { conn, _owner: Some(owner) })
    }

    /// Opens the journal at `path` for reading only, while its owner (if any) goes on
    /// writing: no lock, no migration, nothing created. A journal that does not exist yet,
    /// or that its owner has not yet brought to this program's schema, is an error that
    /// says so.
    pub fn open_read_only(path: &Path) -> Result<Journal> {
        if !path.exists() {
            return Err(Error::Missing { path: path.to_path_buf() });
        }
        let open_err = |source| Error::Open { path: path.to_path_buf(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY).map_err(open_err)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(Error::TooNew { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
        }
        if found < SCHEMA_VERSION {
            return Err(Error::NotMigrated { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
        }
        Ok(Journal { conn, _owner: None })
    }

    /// Runs `f` in one transaction and commits; on error nothing of it is kept.
    pub(crate) fn change<T>(&mut self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn migrate(conn: &mut Connection, from: i64) -> Result<()> {
    for (version, sql) in (1..).zip(MIGRATIONS).skip(from as usize) {
        let run = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        run(conn).map_err(|source| Error::Migrate { version, source })?;
    }
    Ok(())
}

/// Appends an event; called inside the transaction of the change it records.
pub(crate) fn event(tx: &Transaction, kind: &str, subject: i64, detail: Option<&str>) -> Result<()> {
    tx.execute("INSERT INTO events (kind, subject, detail) VALUES (?1, ?2, ?3)", (kind, subject, detail))?;
    Ok(())
}

/// Checks that hold after any crash, each as (description, query counting violations).
const INVARIANTS: &[(&str, &str)] = &[
    (
        "uploads without their planned event",
        "SELECT count(*) FROM uploads u WHERE NOT EXISTS
        (SELECT 1 FROM events e WHERE e.kind = 'upload.planned' AND e.subject = u.id)",
    ),
    (
        "verified uploads without their verified event",
        "SELECT count(*) FROM uploads u WHERE u.state = 'verified'
        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = 'upload.verified' AND e.subject = u.id)",
    ),
    (
        "uploads being sent without a URL",
        "SELECT count(*) FROM uploads WHERE state = 'sending' AND url IS NULL",
    ),
    (
        "upload parts kept after their final upload was made",
        "SELECT count(*) FROM upload_parts p JOIN uploads u ON u.id = p.upload_id WHERE u.url IS NOT NULL",
    ),
    (
        "ready renditions without their ready event",
        "SELECT count(*) FROM renditions r WHERE r.state = 'ready'
        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = 'rendition.ready' AND e.subject = r.id)",
    ),
    (
        "sources of missing assets",
        "SELECT count(*) FROM sources s WHERE NOT EXISTS
        (SELECT 1 FROM assets a WHERE a.id = s.asset_id)",
    ),
];

impl Journal {
    /// What is wrong with the file, if anything: SQLite's integrity and foreign-key checks
    /// and the journal's own invariants. Empty for a healthy journal.
    pub fn consistency_problems(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let integrity: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if integrity != "ok" {
            problems.push(format!("integrity check: {integrity}"));
        }
        let dangling: i64 =
            self.conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
        if dangling > 0 {
            problems.push(format!("{dangling} rows referring to missing rows"));
        }
        for (what, sql) in INVARIANTS {
            let n: i64 = self.conn.query_row(sql, [], |r| r.get(0))?;
            if n > 0 {
                problems.push(format!("{n} {what}"));
            }
        }
        Ok(problems)
    }
}
