//! The parts of an upload sent by concatenation: planned, each created and advanced on its
//! own, and forgotten once the final upload is made (or the upload starts over).

use rusqlite::{Row, Transaction};

use crate::error::{Error, Result};
use crate::open::{event, Journal};
use crate::uploads::{expect, UploadId, UploadState};

/// One stretch of an upload's bytes, sent as its own partial upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPart {
    pub part: usize,
    pub start: u64,
    pub length: u64,
    /// Known once the server created the partial upload.
    pub url: Option<String>,
    /// What the server last acknowledged of this part.
    pub offset: u64,
}

fn part_from_row(r: &Row) -> rusqlite::Result<UploadPart> {
    Ok(UploadPart {
        part: r.get::<_, i64>(0)? as usize,
        start: r.get::<_, i64>(1)? as u64,
        length: r.get::<_, i64>(2)? as u64,
        url: r.get(3)?,
        offset: r.get::<_, i64>(4)? as u64,
    })
}

/// The part's length, or an error naming the upload if it was never planned.
fn part_length(tx: &Transaction, id: UploadId, part: usize) -> Result<u64> {
    let length: Option<i64> = rusqlite::OptionalExtension::optional(tx.query_row(
        "SELECT length FROM upload_parts WHERE upload_id = ?1 AND part = ?2",
        (id.0, part as i64),
        |r| r.get(0),
    ))?;
    length.map(|l| l as u64).ok_or(Error::Transition {
        id: id.0,
        action: "record an unplanned part of",
        state: "queued".into(),
    })
}

impl Journal {
    /// The upload goes as these parts, each `(start, length)`, replacing any planned before.
    pub fn upload_parts_planned(&mut self, id: UploadId, parts: &[(u64, u64)]) -> Result<()> {
        self.change(|tx| {
            expect(tx, id, "split", &[UploadState::Queued])?;
            tx.execute("DELETE FROM upload_parts WHERE upload_id = ?1", [id.0])?;
            for (part, (start, length)) in parts.iter().enumerate() {
                tx.execute(
                    "INSERT INTO upload_parts (upload_id, part, start, length) VALUES (?1, ?2, ?3, ?4)",
                    (id.0, part as i64, *start as i64, *length as i64),
                )?;
            }
            tx.execute("UPDATE uploads SET offset = 0 WHERE id = ?1", [id.0])?;
            event(tx, "upload.parts", id.0, Some(&parts.len().to_string()))
        })
    }

    /// The server created the partial upload for `part` at `url` (again, if an earlier one
    /// vanished); its bytes go there from offset 0.
    pub fn upload_part_created(&mut self, id: UploadId, part: usize, url: &str) -> Result<()> {
        self.change(|tx| {
            expect(tx, id, "create a part of", &[UploadState::Queued])?;
            part_length(tx, id, part)?;
            tx.execute(
                "UPDATE upload_parts SET url = ?3, offset = 0 WHERE upload_id = ?1 AND part = ?2",
                (id.0, part as i64, url),
            )?;
            sum_parts(tx, id)
        })
    }

    /// The server acknowledged `offset` bytes of `part`. The upload's offset becomes the
    /// sum over its parts, so status and the bytes left stay right while parts are sent.
    pub fn upload_part_progress(&mut self, id: UploadId, part: usize, offset: u64) -> Result<()> {
        self.change(|tx| {
            expect(tx, id, "record progress of a part of", &[UploadState::Queued])?;
            if offset > part_length(tx, id, part)? {
                return Err(Error::Transition {
                    id: id.0,
                    action: "go past the end of a part of",
                    state: "queued".into(),
                });
            }
            tx.execute(
                "UPDATE upload_parts SET offset = ?3 WHERE upload_id = ?1 AND part = ?2",
                (id.0, part as i64, offset as i64),
            )?;
            sum_parts(tx, id)
        })
    }

    /// The planned parts of an upload, in order; empty if it goes whole.
    pub fn upload_parts(&self, id: UploadId) -> Result<Vec<UploadPart>> {
        let mut stmt = self.conn.prepare(
            "SELECT part, start, length, url, offset FROM upload_parts WHERE upload_id = ?1 ORDER BY part",
        )?;
        let rows = stmt.query_map([id.0], part_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

fn sum_parts(tx: &Transaction, id: UploadId) -> Result<()> {
    tx.execute(
        "UPDATE uploads SET offset = (SELECT coalesce(sum(offset), 0) FROM upload_parts WHERE upload_id = ?1)
         WHERE id = ?1",
        [id.0],
    )?;
    Ok(())
}
