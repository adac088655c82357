use rusqlite::OptionalExtension;

use crate::error::Result;
use crate::open::{event, Journal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetId(pub i64);

/// A camera file as the caller found it; `sha256` is of its bytes (hex).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
    pub capture_time: Option<String>,
    pub camera: Option<String>,
    pub rating: Option<i64>,
}

impl Journal {
    /// The asset last seen at `path`, if the file's size and mtime are unchanged since:
    /// then its bytes need not be hashed again.
    pub fn known_source(&self, path: &str, size: u64, mtime_ns: i64) -> Result<Option<AssetId>> {
        let id = self
            .conn
            .query_row(
                "SELECT asset_id FROM sources WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3",
                (path, size as i64, mtime_ns),
                |r| r.get(0),
            )
            .optional()?;
        Ok(id.map(AssetId))
    }

    /// Records a camera file. The same bytes seen again — another slot, another name — are
    /// the same asset; the path is remembered either way.
    pub fn record_asset(&mut self, asset: &NewAsset) -> Result<AssetId> {
        self.change(|tx| {
            let existing: Option<i64> =
                tx.query_row("SELECT id FROM assets WHERE sha256 = ?1", [&asset.sha256], |r| r.get(0)).optional()?;
            let id = match existing {
                Some(id) => id,
                None => {
                    tx.execute(
                        "INSERT INTO assets (sha256, size, capture_time, camera, rating) VALUES (?1, ?2, ?3, ?4, ?5)",
                        (&asset.sha256, asset.size as i64, &asset.capture_time, &asset.camera, asset.rating),
                    )?;
                    let id = tx.last_insert_rowid();
                    event(tx, "asset.recorded", id, Some(&asset.path))?;
                    id
                }
            };
            tx.execute(
                "INSERT INTO sources (path, asset_id, size, mtime_ns) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (path) DO UPDATE SET asset_id = ?2, size = ?3, mtime_ns = ?4",
                (&asset.path, id, asset.size as i64, asset.mtime_ns),
            )?;
            Ok(AssetId(id))
        })
    }

    /// Where the asset was seen, most recently recorded first.
    pub fn source_paths(&self, asset: AssetId) -> Result<Vec<String>> {
        let mut stmt =
            self.conn.prepare("SELECT path FROM sources WHERE asset_id = ?1 ORDER BY rowid DESC")?;
        let rows = stmt.query_map([asset.0], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    /// The SHA-256 (hex) of the asset's bytes.
    pub fn asset_sha256(&self, asset: AssetId) -> Result<String> {
        self.conn
            .query_row("SELECT sha256 FROM assets WHERE id = ?1", [asset.0], |r| r.get(0))
            .optional()?
            .ok_or(crate::error::Error::NotFound { what: "asset", id: asset.0 })
    }
}
