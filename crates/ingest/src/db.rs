//! The SQLite state database shared by the local store and the token table: one
//! connection, WAL, `synchronous = FULL` (a committed offset survives power loss, not just
//! a killed process), numbered migrations.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Schema steps, applied in order; `PRAGMA user_version` records how many ran. A released
/// step is never edited: a change is a new step at the end.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE uploads (
        id       TEXT PRIMARY KEY,
        owner    INTEGER NOT NULL,
        length   INTEGER,
        offset   INTEGER NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL,
        concat   TEXT NOT NULL DEFAULT 'none',
        parts    TEXT,
        state    TEXT NOT NULL DEFAULT 'receiving',
        note     TEXT,
        created  INTEGER NOT NULL,
        expires  INTEGER
     );
     CREATE INDEX uploads_state ON uploads (state, expires);
     CREATE TABLE tokens (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL,
        hash     TEXT NOT NULL UNIQUE,
        admin    INTEGER NOT NULL,
        created  INTEGER NOT NULL,
        revoked  INTEGER
     );",
    // The `Idempotency-Key` a POST came with: unique per owner among uploads that are not
    // quarantined (a quarantined upload frees its key for the resend of good bytes).
    "ALTER TABLE uploads ADD COLUMN idempotency_key TEXT;
     CREATE UNIQUE INDEX uploads_idempotency_key ON uploads (owner, idempotency_key)
        WHERE idempotency_key IS NOT NULL AND state != 'quarantined';",
    // A failed final frees its key as a quarantined upload does; the cap on unfinished
    // uploads per token counts by owner and state.
    "DROP INDEX uploads_idempotency_key;
     CREATE UNIQUE INDEX uploads_idempotency_key ON uploads (owner, idempotency_key)
        WHERE idempotency_key IS NOT NULL AND state NOT IN ('quarantined', 'failed');
     CREATE INDEX uploads_owner_state ON uploads (owner, state);",
];

/// A shared connection. Calls from async code go through [`Db::call`], which runs them on
/// the blocking pool.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(Db { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` with the connection, on this thread (for the command line).
    pub fn with<R>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>) -> Result<R> {
        let mut conn = self.conn.lock().map_err(|_| Error::Task("state database lock poisoned".into()))?;
        Ok(f(&mut conn)?)
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.with(f)).await.map_err(|e| Error::Task(e.to_string()))?
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
