use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use crate::error::Result;
use crate::open::{event, Journal};
use crate::paths::{from_blob, to_blob};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetId(pub i64);

/// A camera file as the caller found it; `sha256` is of its bytes (hex).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
    pub capture_time: Option<String>,
    pub camera: Option<String>,
    pub rating: Option<i64>,
}

/// What recording a camera file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub asset: AssetId,
    /// The path held other bytes before (a frame still being written when it was first
    /// hashed, a file edited in place) and no other path holds those: the earlier asset's
    /// unsent uploads were dropped, since its bytes exist nowhere any more. How many.
    pub superseded: u64,
}

impl Journal {
    /// The asset last seen at `path`, if the file's size and mtime are unchanged since:
    /// then its bytes need not be hashed again.
    pub fn known_source(&self, path: &Path, size: u64, mtime_ns: i64) -> Result<Option<AssetId>> {
        let id = self
            .conn
            .query_row(
                "SELECT asset_id FROM sources WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3",
                (to_blob(path), size as i64, mtime_ns),
                |r| r.get(0),
            )
            .optional()?;
        Ok(id.map(AssetId))
    }

    /// Records a camera file. The same bytes seen again — another slot, another name — are
    /// the same asset; the path is remembered either way. A path that held other bytes
    /// before moves to the new asset, and the old asset is superseded if no path holds it.
    pub fn record_asset(&mut self, asset: &NewAsset) -> Result<Recorded> {
        let path = to_blob(&asset.path);
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
                    event(tx, "asset.recorded", id, Some(&asset.path.to_string_lossy()))?;
                    id
                }
            };
            let before: Option<i64> =
                tx.query_row("SELECT asset_id FROM sources WHERE path = ?1", [&path], |r| r.get(0)).optional()?;
            tx.execute(
                "INSERT INTO sources (path, asset_id, size, mtime_ns) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (path) DO UPDATE SET asset_id = ?2, size = ?3, mtime_ns = ?4",
                (&path, id, asset.size as i64, asset.mtime_ns),
            )?;
            let mut superseded = 0;
            if let Some(old) = before.filter(|&old| old != id) {
                let still_somewhere: bool =
                    tx.query_row("SELECT count(*) > 0 FROM sources WHERE asset_id = ?1", [old], |r| r.get(0))?;
                if !still_somewhere {
                    let mut stmt =
                        tx.prepare("SELECT id FROM uploads WHERE asset_id = ?1 AND state <> 'verified'")?;
                    let dropped: Vec<i64> =
                        stmt.query_map([old], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                    for upload in &dropped {
                        tx.execute("DELETE FROM uploads WHERE id = ?1", [upload])?;
                        event(tx, "upload.superseded", *upload, Some(&format!("asset {id}")))?;
                    }
                    superseded = dropped.len() as u64;
                }
            }
            Ok(Recorded { asset: AssetId(id), superseded })
        })
    }

    /// Where the asset was seen, most recently recorded first.
    pub fn source_paths(&self, asset: AssetId) -> Result<Vec<PathBuf>> {
        let mut stmt =
            self.conn.prepare("SELECT path FROM sources WHERE asset_id = ?1 ORDER BY rowid DESC")?;
        let rows = stmt.query_map([asset.0], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.map(|r| r.map(|b| from_blob(&b))).collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// A verified copy of the asset's bytes now lies at `copy`, in the backup folder
    /// `folder`.
    pub fn backup_verified(&mut self, asset: AssetId, folder: &Path, copy: &Path) -> Result<()> {
        let (folder, copy) = (to_blob(folder), to_blob(copy));
        self.change(|tx| {
            tx.execute(
                "INSERT INTO backups (path, asset_id, folder) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE SET asset_id = ?2, folder = ?3",
                (&copy, asset.0, &folder),
            )?;
            event(tx, "asset.backed_up", asset.0, Some(&from_blob(&copy).to_string_lossy()))
        })
    }

    /// Where the asset's verified copies in `folder` were recorded.
    pub fn backups_in(&self, asset: AssetId, folder: &Path) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare("SELECT path FROM backups WHERE asset_id = ?1 AND folder = ?2")?;
        let rows = stmt.query_map((asset.0, to_blob(folder)), |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.map(|r| r.map(|b| from_blob(&b))).collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The SHA-256 (hex) of the asset's bytes.
    pub fn asset_sha256(&self, asset: AssetId) -> Result<String> {
        self.conn
            .query_row("SELECT sha256 FROM assets WHERE id = ?1", [asset.0], |r| r.get(0))
            .optional()?
            .ok_or(crate::error::Error::NotFound { what: "asset", id: asset.0 })
    }
}
