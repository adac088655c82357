use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use crate::error::Result;
use crate::open::{event, Journal};
use crate::paths::{from_blob, to_blob};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssetId(pub i64);

/// A camera file as the caller found it; `sha256` is of its bytes (hex).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewAsset {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
    /// The SHA-256 (hex) of its image data alone, where its layout is known: bytes that
    /// differ only in metadata (a rating set in the camera later) are the same photograph.
    pub picture: Option<String>,
    pub capture_time: Option<String>,
    pub camera: Option<String>,
    /// The body's serial number where the file has one, else its model.
    pub body: Option<String>,
    pub rating: Option<i64>,
    /// The colour label an editor gave it.
    pub label: Option<String>,
    /// The RAW's asset, for the camera JPEG shot with it.
    pub companion_of: Option<AssetId>,
}

/// What the journal holds of an asset's file (see [`NewAsset`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetFacts {
    pub capture_time: Option<String>,
    pub camera: Option<String>,
    pub body: Option<String>,
    pub rating: Option<i64>,
    pub label: Option<String>,
}

/// What recording a camera file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub asset: AssetId,
    /// The path held other bytes before (a frame still being written when it was first
    /// hashed, a file edited in place) and no other path holds those: the earlier asset's
    /// unsent uploads were dropped, since its bytes exist nowhere any more. How many.
    pub superseded: u64,
    /// The bytes are new but the picture is an asset's already (its metadata was edited).
    pub edited: Option<Edited>,
}

/// What became of an asset whose picture came back in other bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    /// Its original was not yet on a server: the asset is the new bytes now, and its
    /// unsent original uploads (of the old bytes) were dropped, so the newest are sent.
    Adopted,
    /// Its original is verified on a server already: that stands, and the picture is not
    /// sent a second time.
    Kept,
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
    /// the same asset, and so is the same picture in other bytes (see [`Edited`]); the path
    /// is remembered either way. A path that held another photograph before moves to this
    /// one, and the old asset is superseded if no path holds it.
    pub fn record_asset(&mut self, asset: &NewAsset) -> Result<Recorded> {
        let path = to_blob(&asset.path);
        self.change(|tx| {
            let by_bytes: Option<i64> =
                tx.query_row("SELECT id FROM assets WHERE sha256 = ?1", [&asset.sha256], |r| r.get(0)).optional()?;
            let by_picture = || -> rusqlite::Result<Option<i64>> {
                let Some(picture) = &asset.picture else { return Ok(None) };
                tx.query_row("SELECT id FROM assets WHERE picture = ?1 ORDER BY id LIMIT 1", [picture], |r| r.get(0))
                    .optional()
            };
            let mut edited = None;
            let id = match by_bytes {
                Some(id) => id,
                None => match by_picture()? {
                    Some(id) => {
                        edited = Some(adopt_edit(tx, id, asset)?);
                        id
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO assets (sha256, size, capture_time, camera, rating, picture, label, companion_of, body)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                            (
                                &asset.sha256,
                                asset.size as i64,
                                &asset.capture_time,
                                &asset.camera,
                                asset.rating,
                                &asset.picture,
                                &asset.label,
                                asset.companion_of.map(|a| a.0),
                                &asset.body,
                            ),
                        )?;
                        let id = tx.last_insert_rowid();
                        event(tx, "asset.recorded", id, Some(&asset.path.to_string_lossy()))?;
                        id
                    }
                },
            };
            if let Some(raw) = asset.companion_of.filter(|raw| raw.0 != id) {
                tx.execute("UPDATE assets SET companion_of = ?2 WHERE id = ?1", (id, raw.0))?;
            }
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
                    superseded = drop_unsent(tx, old, "upload.superseded", false)?;
                }
            }
            Ok(Recorded { asset: AssetId(id), superseded, edited })
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

    /// The RAW's asset when this one is the camera JPEG shot with it.
    pub fn companion_of(&self, asset: AssetId) -> Result<Option<AssetId>> {
        let raw: Option<i64> = self
            .conn
            .query_row("SELECT companion_of FROM assets WHERE id = ?1", [asset.0], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(raw.map(AssetId))
    }

    /// What was recorded of the asset's file when it was first read.
    pub fn asset_facts(&self, asset: AssetId) -> Result<AssetFacts> {
        self.conn
            .query_row(
                "SELECT capture_time, camera, body, rating, label FROM assets WHERE id = ?1",
                [asset.0],
                |r| {
                    Ok(AssetFacts {
                        capture_time: r.get(0)?,
                        camera: r.get(1)?,
                        body: r.get(2)?,
                        rating: r.get(3)?,
                        label: r.get(4)?,
                    })
                },
            )
            .optional()?
            .ok_or(crate::error::Error::NotFound { what: "asset", id: asset.0 })
    }

    /// The camera JPEGs shot with the RAW of this asset.
    pub fn companions(&self, asset: AssetId) -> Result<Vec<AssetId>> {
        let mut stmt = self.conn.prepare("SELECT id FROM assets WHERE companion_of = ?1")?;
        let rows = stmt.query_map([asset.0], |r| r.get(0))?;
        Ok(rows.map(|r| r.map(AssetId)).collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The SHA-256 (hex) of the asset's bytes.
    pub fn asset_sha256(&self, asset: AssetId) -> Result<String> {
        self.conn
            .query_row("SELECT sha256 FROM assets WHERE id = ?1", [asset.0], |r| r.get(0))
            .optional()?
            .ok_or(crate::error::Error::NotFound { what: "asset", id: asset.0 })
    }
}

/// The picture of asset `id` came back in other bytes (`asset`): until its original is
/// verified on a server the asset takes the newest bytes, else the verified original stands.
/// The rating and label are the newest either way.
fn adopt_edit(tx: &rusqlite::Transaction, id: i64, asset: &NewAsset) -> Result<Edited> {
    tx.execute(
        "UPDATE assets SET rating = coalesce(?2, rating), label = coalesce(?3, label) WHERE id = ?1",
        (id, asset.rating, &asset.label),
    )?;
    let sent: bool = tx.query_row(
        "SELECT count(*) > 0 FROM uploads WHERE asset_id = ?1 AND preset IS NULL AND state = 'verified'",
        [id],
        |r| r.get(0),
    )?;
    let detail = format!("{}: {}", asset.path.to_string_lossy(), asset.sha256);
    if sent {
        event(tx, "asset.edited.kept", id, Some(&detail))?;
        return Ok(Edited::Kept);
    }
    tx.execute(
        "UPDATE assets SET sha256 = ?2, size = ?3 WHERE id = ?1",
        (id, &asset.sha256, asset.size as i64),
    )?;
    drop_unsent(tx, id, "upload.edited", true)?;
    event(tx, "asset.edited", id, Some(&detail))?;
    Ok(Edited::Adopted)
}

/// Drops the asset's uploads that are not verified (only its originals when
/// `originals_only`), with their parts; returns how many.
fn drop_unsent(tx: &rusqlite::Transaction, asset: i64, kind: &str, originals_only: bool) -> Result<u64> {
    let mut stmt = tx.prepare(
        "SELECT id FROM uploads WHERE asset_id = ?1 AND state <> 'verified' AND (?2 = 0 OR preset IS NULL)",
    )?;
    let dropped: Vec<i64> =
        stmt.query_map((asset, originals_only), |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    for upload in &dropped {
        tx.execute("DELETE FROM upload_parts WHERE upload_id = ?1", [upload])?;
        tx.execute("DELETE FROM uploads WHERE id = ?1", [upload])?;
        event(tx, kind, *upload, Some(&format!("asset {asset}")))?;
    }
    Ok(dropped.len() as u64)
}
