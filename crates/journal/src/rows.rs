//! The queue as a host shows it: one row per asset, with each of its uploads at one
//! destination. Built from the journal alone, so a window that opens (or reconnects) late
//! renders the same rows as one that watched from the start.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::assets::AssetId;
use crate::error::Result;
use crate::open::{event, Journal};
use crate::paths::from_blob;
use crate::uploads::{UploadId, UploadState};

/// One asset in the queue (a RAW's camera JPEG is part of the RAW's row).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRow {
    pub asset: AssetId,
    /// Where it was last seen.
    pub path: Option<PathBuf>,
    pub rating: Option<i64>,
    /// Renditions that could not be developed, with why.
    pub develop_failed: Vec<(String, String)>,
    /// Renditions still to be developed.
    pub developing: Vec<String>,
    pub uploads: Vec<UploadRow>,
}

/// One upload of an asset: a rendition (`preset`) or the original (None).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRow {
    pub id: UploadId,
    pub preset: Option<String>,
    pub state: UploadState,
    /// Bytes the server acknowledged, of `size`.
    pub offset: u64,
    pub size: u64,
    pub last_error: Option<String>,
    /// The original of the camera JPEG shot with the RAW, not the RAW's.
    pub companion: bool,
}

/// One row's asset, with where it was last seen. Each of these three runs per row, ten
/// times a second for the rows that changed: each must find its rows by index (the test
/// below reads their query plans).
const ROW_ASSET: &str = "SELECT rating,
        (SELECT path FROM sources s WHERE s.asset_id = a.id ORDER BY rowid DESC LIMIT 1)
     FROM assets a WHERE id = ?1";
/// One row's renditions.
const ROW_RENDITIONS: &str = "SELECT preset, state, coalesce(error, '') FROM renditions WHERE asset_id = ?1";
/// One row's uploads at a destination, its camera JPEG's original among them. Written as
/// `IN (…)`, not `asset_id = ?1 OR …`, so SQLite can search `uploads_by_asset`.
const ROW_UPLOADS: &str = "SELECT id, preset, state, offset, size, last_error, asset_id <> ?1 FROM uploads
     WHERE asset_id IN (SELECT ?1 UNION ALL SELECT id FROM assets WHERE companion_of = ?1)
       AND destination = ?2 ORDER BY preset IS NULL, id";

impl Journal {
    /// The rows of `assets` (every asset when None, newest first, at most `limit`), with
    /// their uploads at `destination`.
    pub fn asset_rows(
        &self,
        destination: &str,
        assets: Option<&[AssetId]>,
        limit: usize,
    ) -> Result<Vec<AssetRow>> {
        let ids: Vec<i64> = match assets {
            Some(list) => list.iter().map(|a| a.0).collect(),
            None => {
                let mut stmt = self
                    .conn
                    .prepare("SELECT id FROM assets WHERE companion_of IS NULL ORDER BY id DESC LIMIT ?1")?;
                let rows = stmt.query_map([limit as i64], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            }
        };
        let mut rows = BTreeMap::new();
        let mut asset = self.conn.prepare(ROW_ASSET)?;
        let mut renditions = self.conn.prepare(ROW_RENDITIONS)?;
        let mut uploads = self.conn.prepare(ROW_UPLOADS)?;
        for id in ids {
            let found =
                asset.query_row([id], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?)));
            let (rating, path) = match found {
                Ok(found) => found,
                Err(rusqlite::Error::QueryReturnedNoRows) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut row = AssetRow {
                asset: AssetId(id),
                path: path.map(|b| from_blob(&b)),
                rating,
                develop_failed: Vec::new(),
                developing: Vec::new(),
                uploads: Vec::new(),
            };
            for r in renditions
                .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?
            {
                let (preset, state, error) = r?;
                match state.as_str() {
                    "failed" => row.develop_failed.push((preset, error)),
                    "pending" => row.developing.push(preset),
                    _ => {}
                }
            }
            for u in uploads.query_map((id, destination), |r| {
                Ok(UploadRow {
                    id: UploadId(r.get(0)?),
                    preset: r.get(1)?,
                    state: UploadState::parse(&r.get::<_, String>(2)?),
                    offset: r.get::<_, i64>(3)? as u64,
                    size: r.get::<_, i64>(4)? as u64,
                    last_error: r.get(5)?,
                    companion: r.get(6)?,
                })
            })? {
                row.uploads.push(u?);
            }
            rows.insert(std::cmp::Reverse(id), row);
        }
        Ok(rows.into_values().collect())
    }

    /// Drops the asset's uploads to `destination` (its camera JPEG's too) that are not
    /// verified (a person cancelled it); returns how many. Adding its file again plans them anew.
    pub fn cancel_uploads(&mut self, asset: AssetId, destination: &str) -> Result<u64> {
        self.change(|tx| {
            tx.execute(
                "DELETE FROM upload_parts WHERE upload_id IN
                   (SELECT id FROM uploads WHERE asset_id IN (SELECT id FROM assets WHERE id = ?1 OR companion_of = ?1)
                      AND destination = ?2 AND state <> 'verified')",
                (asset.0, destination),
            )?;
            let n = tx.execute(
                "DELETE FROM uploads WHERE asset_id IN (SELECT id FROM assets WHERE id = ?1 OR companion_of = ?1)
                   AND destination = ?2 AND state <> 'verified'",
                (asset.0, destination),
            )?;
            event(tx, "asset.cancelled", asset.0, Some(destination))?;
            Ok(n as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement a row runs finds its rows by index: no full scan of a table that
    /// grows with the queue.
    #[test]
    fn a_row_is_read_without_scanning_the_queue() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(&dir.path().join("journal.sqlite")).expect("journal");
        for sql in [ROW_ASSET, ROW_RENDITIONS, ROW_UPLOADS] {
            let mut stmt = journal.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("plan");
            let detail = |r: &rusqlite::Row<'_>| r.get::<_, String>(3);
            let rows = match stmt.parameter_count() {
                2 => stmt.query_map((1, "https://example.test/files"), detail),
                _ => stmt.query_map([1], detail),
            };
            let plan: Vec<String> = rows.expect("plan rows").collect::<rusqlite::Result<_>>().expect("plan");
            assert!(!plan.is_empty(), "{sql}");
            // A table scanned whole; "SCAN CONSTANT ROW" is the `SELECT ?1`, one row.
            let scans: Vec<&String> =
                plan.iter().filter(|step| step.starts_with("SCAN") && *step != "SCAN CONSTANT ROW").collect();
            assert!(scans.is_empty(), "{sql}\nscans: {scans:?}\nplan: {plan:?}");
            if sql == ROW_UPLOADS {
                assert!(plan.iter().any(|s| s.contains("uploads_by_asset")), "{plan:?}");
            }
        }
    }
}
