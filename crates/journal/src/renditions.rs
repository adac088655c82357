use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use crate::assets::AssetId;
use crate::error::{Error, Result};
use crate::open::{event, Journal};
use crate::paths::{from_blob, to_blob};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenditionId(pub i64);

/// A rendition as recorded; `file` is set once it is ready.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    pub id: RenditionId,
    pub state: String,
    pub file: Option<(PathBuf, String, u64)>,
}

impl Journal {
    /// The rendition of `asset` with `preset`, planned (pending) if it was not already.
    pub fn plan_rendition(&mut self, asset: AssetId, preset: &str) -> Result<RenditionId> {
        self.change(|tx| {
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM renditions WHERE asset_id = ?1 AND preset = ?2",
                    (asset.0, preset),
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = existing {
                return Ok(RenditionId(id));
            }
            tx.execute(
                "INSERT INTO renditions (asset_id, preset, state) VALUES (?1, ?2, 'pending')",
                (asset.0, preset),
            )?;
            let id = tx.last_insert_rowid();
            event(tx, "rendition.planned", id, Some(preset))?;
            Ok(RenditionId(id))
        })
    }

    /// The rendition of `asset` with `preset`, if planned; `file` is (cache path, SHA-256,
    /// size) when it is ready.
    pub fn rendition(&self, asset: AssetId, preset: &str) -> Result<Option<Rendition>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, state, cache_path, sha256, size FROM renditions WHERE asset_id = ?1 AND preset = ?2",
                (asset.0, preset),
                |r| {
                    let file = match (r.get::<_, Option<Vec<u8>>>(2)?, r.get::<_, Option<String>>(3)?) {
                        (Some(path), Some(sha)) if r.get::<_, String>(1)? == "ready" => {
                            Some((from_blob(&path), sha, r.get::<_, i64>(4)? as u64))
                        }
                        _ => None,
                    };
                    Ok(Rendition { id: RenditionId(r.get(0)?), state: r.get(1)?, file })
                },
            )
            .optional()?)
    }

    /// The rendition's file is in the cache, complete, with this hash and size.
    pub fn rendition_ready(
        &mut self,
        id: RenditionId,
        cache_path: &Path,
        sha256: &str,
        size: u64,
    ) -> Result<()> {
        let cache_path = to_blob(cache_path);
        self.change(|tx| {
            let n = tx.execute(
                "UPDATE renditions SET state = 'ready', cache_path = ?2, sha256 = ?3, size = ?4, error = NULL
                 WHERE id = ?1",
                (id.0, &cache_path, sha256, size as i64),
            )?;
            if n == 0 {
                return Err(Error::NotFound { what: "rendition", id: id.0 });
            }
            event(tx, "rendition.ready", id.0, Some(sha256))
        })
    }

    /// Developing failed for a reason that retrying will not fix (a corrupt file).
    pub fn rendition_failed(&mut self, id: RenditionId, error: &str) -> Result<()> {
        self.change(|tx| {
            let n = tx
                .execute("UPDATE renditions SET state = 'failed', error = ?2 WHERE id = ?1", (id.0, error))?;
            if n == 0 {
                return Err(Error::NotFound { what: "rendition", id: id.0 });
            }
            event(tx, "rendition.failed", id.0, Some(error))
        })
    }
}
