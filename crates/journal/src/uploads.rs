use rusqlite::{Connection, OptionalExtension, Row, Transaction};

use crate::assets::AssetId;
use crate::error::{Error, Result};
use crate::open::{event, Journal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UploadId(pub i64);

/// `Queued` → `Sending` (the server made an upload URL) → `Verified`. A vanished or expired
/// upload URL goes back to `Queued`. `Failed`: refused (a wrong token, a request too large
/// for a proxy, a file that changed): not sent again in this run, but never given up: the
/// next run, or a retry, queues it again once the cause may be gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    Queued,
    Sending,
    Verified,
    Failed,
}

impl UploadState {
    pub(crate) fn parse(s: &str) -> UploadState {
        match s {
            "sending" => UploadState::Sending,
            "verified" => UploadState::Verified,
            "failed" => UploadState::Failed,
            _ => UploadState::Queued,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            UploadState::Queued => "queued",
            UploadState::Sending => "sending",
            UploadState::Verified => "verified",
            UploadState::Failed => "failed",
        }
    }
}

/// Bytes to send to a destination: a rendition (`preset`) or the camera original (None).
#[derive(Debug, Clone, PartialEq)]
pub struct NewUpload {
    pub asset: AssetId,
    pub preset: Option<String>,
    pub destination: String,
    pub sha256: String,
    pub size: u64,
    /// Higher goes first within its lane (renditions, then originals).
    pub priority: i64,
    /// The name (stem) it goes under, from a rename template; None: the camera's.
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: UploadId,
    pub asset: AssetId,
    pub preset: Option<String>,
    pub destination: String,
    pub sha256: String,
    pub size: u64,
    pub state: UploadState,
    pub url: Option<String>,
    /// What the server last acknowledged.
    pub offset: u64,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The name (stem) it goes under, from a rename template; None: the camera's.
    pub name: Option<String>,
}

/// What is left to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remaining {
    pub renditions_pending: u64,
    pub uploads_queued: u64,
    pub uploads_sending: u64,
    pub bytes_to_send: u64,
    /// Renditions that could not be developed and uploads refused.
    pub failed: u64,
    /// Of those, the uploads refused (tried again by the next run).
    pub uploads_refused: u64,
}

const UPLOAD_COLUMNS: &str =
    "id, asset_id, preset, destination, sha256, size, state, url, offset, attempts, last_error, name";

fn upload_from_row(r: &Row) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: UploadId(r.get(0)?),
        asset: AssetId(r.get(1)?),
        preset: r.get(2)?,
        destination: r.get(3)?,
        sha256: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        state: UploadState::parse(&r.get::<_, String>(6)?),
        url: r.get(7)?,
        offset: r.get::<_, i64>(8)? as u64,
        attempts: r.get::<_, i64>(9)? as u32,
        last_error: r.get(10)?,
        name: r.get(11)?,
    })
}

/// One upload by id, through the journal's connection or a transaction on it.
fn load(conn: &Connection, id: UploadId) -> Result<Upload> {
    conn.query_row(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ?1"), [id.0], upload_from_row)
        .optional()?
        .ok_or(Error::NotFound { what: "upload", id: id.0 })
}

/// Loads the upload and checks it is in one of `from`, or names the refused `action`.
pub(crate) fn expect(
    tx: &Transaction,
    id: UploadId,
    action: &'static str,
    from: &[UploadState],
) -> Result<Upload> {
    let upload = load(tx, id)?;
    if !from.contains(&upload.state) {
        return Err(Error::Transition { id: id.0, action, state: upload.state.name().to_string() });
    }
    Ok(upload)
}

impl Journal {
    /// Plans sending these bytes to the destination, once: if the same content is already
    /// planned, sending or verified there, that upload is returned instead; one refused
    /// earlier is queued again.
    pub fn plan_upload(&mut self, new: &NewUpload) -> Result<UploadId> {
        self.change(|tx| {
            let existing: Option<(i64, String)> = tx
                .query_row(
                    "SELECT id, state FROM uploads WHERE destination = ?1 AND sha256 = ?2",
                    (&new.destination, &new.sha256),
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, state)) = existing {
                if state == UploadState::Failed.name() {
                    requeue(tx, id)?;
                }
                return Ok(UploadId(id));
            }
            tx.execute(
                "INSERT INTO uploads (asset_id, preset, destination, sha256, size, state, priority, name)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
                (
                    new.asset.0,
                    &new.preset,
                    &new.destination,
                    &new.sha256,
                    new.size as i64,
                    new.priority,
                    &new.name,
                ),
            )?;
            let id = tx.last_insert_rowid();
            event(tx, "upload.planned", id, Some(&new.destination))?;
            Ok(UploadId(id))
        })
    }

    pub fn upload(&self, id: UploadId) -> Result<Upload> {
        load(&self.conn, id)
    }

    /// The server created the upload at `url`; bytes go there from offset 0.
    pub fn upload_created(&mut self, id: UploadId, url: &str) -> Result<()> {
        self.change(|tx| {
            expect(tx, id, "create", &[UploadState::Queued])?;
            tx.execute(
                "UPDATE uploads SET state = 'sending', url = ?2, offset = 0 WHERE id = ?1",
                (id.0, url),
            )?;
            // A concatenation's final upload: its parts are the server's business now.
            tx.execute("DELETE FROM upload_parts WHERE upload_id = ?1", [id.0])?;
            event(tx, "upload.created", id.0, Some(url))
        })
    }

    /// The server acknowledged `offset` bytes (from a PATCH reply or a HEAD). It is recorded
    /// as the server says, even if lower than before: the server's offset is the truth.
    pub fn upload_progress(&mut self, id: UploadId, offset: u64) -> Result<()> {
        self.change(|tx| {
            let upload = expect(tx, id, "record progress of", &[UploadState::Sending])?;
            if offset > upload.size {
                return Err(Error::Transition {
                    id: id.0,
                    action: "go past the end of",
                    state: "sending".into(),
                });
            }
            tx.execute("UPDATE uploads SET offset = ?2 WHERE id = ?1", (id.0, offset as i64))?;
            Ok(())
        })
    }

    /// Every byte is on the server and it confirmed the content.
    pub fn upload_verified(&mut self, id: UploadId) -> Result<()> {
        self.change(|tx| {
            let upload = expect(tx, id, "verify", &[UploadState::Sending])?;
            if upload.offset != upload.size {
                return Err(Error::Transition { id: id.0, action: "verify", state: "incomplete".into() });
            }
            tx.execute("UPDATE uploads SET state = 'verified', last_error = NULL WHERE id = ?1", [id.0])?;
            event(tx, "upload.verified", id.0, None)
        })
    }

    /// An attempt failed in a way worth retrying (network, 5xx); the upload stays where it is.
    pub fn upload_attempt_failed(&mut self, id: UploadId, error: &str) -> Result<()> {
        self.change(|tx| {
            expect(tx, id, "retry", &[UploadState::Queued, UploadState::Sending])?;
            tx.execute(
                "UPDATE uploads SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                (id.0, error),
            )?;
            event(tx, "upload.retry", id.0, Some(error))
        })
    }

    /// The upload URL (or a part's) is gone (expired, 404, 410): start again with a new one,
    /// and with no parts.
    pub fn upload_restarted(&mut self, id: UploadId, error: &str) -> Result<()> {
        self.change(|tx| {
            expect(tx, id, "restart", &[UploadState::Queued, UploadState::Sending])?;
            tx.execute("DELETE FROM upload_parts WHERE upload_id = ?1", [id.0])?;
            tx.execute(
                "UPDATE uploads SET state = 'queued', url = NULL, offset = 0, attempts = attempts + 1,
                 last_error = ?2 WHERE id = ?1",
                (id.0, error),
            )?;
            event(tx, "upload.restarted", id.0, Some(error))
        })
    }

    /// Refused for good (the server rejected the file); a person has to look.
    pub fn upload_failed(&mut self, id: UploadId, error: &str) -> Result<()> {
        self.change(|tx| {
            expect(tx, id, "fail", &[UploadState::Queued, UploadState::Sending])?;
            tx.execute("UPDATE uploads SET state = 'failed', last_error = ?2 WHERE id = ?1", (id.0, error))?;
            event(tx, "upload.failed", id.0, Some(error))
        })
    }

    /// Queues again every upload at `destination` refused earlier, and returns how many:
    /// what a new run (or a retry) does first, so nothing is given up for good.
    pub fn retry_refused(&mut self, destination: &str) -> Result<u64> {
        self.change(|tx| {
            let mut stmt =
                tx.prepare("SELECT id FROM uploads WHERE destination = ?1 AND state = 'failed'")?;
            let ids: Vec<i64> =
                stmt.query_map([destination], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            for id in &ids {
                requeue(tx, *id)?;
            }
            Ok(ids.len() as u64)
        })
    }

    /// Whether these bytes are already verified at the destination.
    pub fn is_verified(&self, destination: &str, sha256: &str) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM uploads WHERE destination = ?1 AND sha256 = ?2 AND state = 'verified'",
            (destination, sha256),
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Uploads still to do at `destination`: renditions before originals, then by priority,
    /// then oldest first.
    pub fn pending_uploads(&self, destination: &str, limit: usize) -> Result<Vec<Upload>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE destination = ?1 AND state IN ('queued', 'sending')
             ORDER BY preset IS NULL, priority DESC, id LIMIT ?2"
        ))?;
        let rows = stmt.query_map((destination, limit as i64), upload_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// What is left, at every destination.
    pub fn remaining(&self) -> Result<Remaining> {
        self.remaining_in(None)
    }

    /// What is left of the uploads to `destination` (and the renditions to develop).
    pub fn remaining_at(&self, destination: &str) -> Result<Remaining> {
        self.remaining_in(Some(destination))
    }

    fn remaining_in(&self, destination: Option<&str>) -> Result<Remaining> {
        let renditions_pending: i64 =
            self.conn
                .query_row("SELECT count(*) FROM renditions WHERE state = 'pending'", [], |r| r.get(0))?;
        let (queued, sending, bytes): (i64, i64, i64) = self.conn.query_row(
            "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'sending'),
                    coalesce(sum(size - offset) FILTER (WHERE state IN ('queued', 'sending')), 0)
             FROM uploads WHERE ?1 IS NULL OR destination = ?1",
            [destination],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (renditions_failed, refused): (i64, i64) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM renditions WHERE state = 'failed'),
                    (SELECT count(*) FROM uploads WHERE state = 'failed' AND (?1 IS NULL OR destination = ?1))",
            [destination],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Remaining {
            renditions_pending: renditions_pending as u64,
            uploads_queued: queued as u64,
            uploads_sending: sending as u64,
            bytes_to_send: bytes as u64,
            failed: (renditions_failed + refused) as u64,
            uploads_refused: refused as u64,
        })
    }
}

/// A refused upload back in the queue, where it stood (its URL and offset are kept: the
/// server may still have the bytes), with a fresh count of attempts.
fn requeue(tx: &Transaction, id: i64) -> Result<()> {
    tx.execute(
        "UPDATE uploads SET state = CASE WHEN url IS NULL THEN 'queued' ELSE 'sending' END, attempts = 0
         WHERE id = ?1 AND state = 'failed'",
        [id],
    )?;
    event(tx, "upload.requeued", id, None)
}

impl Journal {
    /// Uploads verified at `destination`.
    pub fn verified_count(&self, destination: &str) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM uploads WHERE destination = ?1 AND state = 'verified'",
            [destination],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Whether the camera original of `asset` is verified at some destination: the test of
    /// a card file being safe to format.
    pub fn original_verified(&self, asset: AssetId) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM uploads WHERE asset_id = ?1 AND preset IS NULL AND state = 'verified'",
            [asset.0],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// The content hashes of renditions not yet verified anywhere, and of every upload not
    /// yet verified: the cache files that must be kept, since the photo they came from may
    /// be gone (a card formatted) by the time they are sent.
    pub fn unsent_sha256s(&self) -> Result<std::collections::HashSet<String>> {
        let mut query = self.conn.prepare(
            "SELECT sha256 FROM uploads WHERE state <> 'verified'
             UNION
             SELECT sha256 FROM renditions WHERE state = 'ready' AND sha256 NOT IN
                 (SELECT sha256 FROM uploads WHERE state = 'verified')",
        )?;
        let hashes = query.query_map([], |r| r.get::<_, String>(0))?;
        Ok(hashes.collect::<rusqlite::Result<_>>()?)
    }

    /// Events of one kind in the log.
    pub fn event_count(&self, kind: &str) -> Result<u64> {
        let n: i64 =
            self.conn.query_row("SELECT count(*) FROM events WHERE kind = ?1", [kind], |r| r.get(0))?;
        Ok(n as u64)
    }
}
