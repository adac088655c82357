use std::path::PathBuf;

use crate::error::Result;
use crate::open::Journal;
use crate::paths::from_blob;

/// Uploads at one destination, by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationStatus {
    pub destination: String,
    pub verified: u64,
    pub queued: u64,
    pub sending: u64,
    pub failed: u64,
    /// Bytes the server has not acknowledged yet, of uploads still to do.
    pub bytes_left: u64,
}

/// Something that needs a person: a rendition that could not be developed, an upload
/// refused (tried again by the next run), or one waiting after an error (a pulled card, a
/// network that failed too often).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `develop`, `refused` or `waiting`.
    pub kind: &'static str,
    /// A source path of the asset.
    pub path: PathBuf,
    /// The preset, or `original`.
    pub what: String,
    pub error: String,
}

impl Journal {
    /// Every destination with uploads, and how they stand.
    pub fn destinations(&self) -> Result<Vec<DestinationStatus>> {
        let mut stmt = self.conn.prepare(
            "SELECT destination,
                    count(*) FILTER (WHERE state = 'verified'), count(*) FILTER (WHERE state = 'queued'),
                    count(*) FILTER (WHERE state = 'sending'), count(*) FILTER (WHERE state = 'failed'),
                    coalesce(sum(size - offset) FILTER (WHERE state IN ('queued', 'sending')), 0)
             FROM uploads GROUP BY destination ORDER BY destination",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DestinationStatus {
                destination: r.get(0)?,
                verified: r.get::<_, i64>(1)? as u64,
                queued: r.get::<_, i64>(2)? as u64,
                sending: r.get::<_, i64>(3)? as u64,
                failed: r.get::<_, i64>(4)? as u64,
                bytes_left: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Up to `limit` problems, failures first; of uploads, those to `destination` only
    /// when given.
    pub fn problems(&self, destination: Option<&str>, limit: usize) -> Result<Vec<Problem>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, (SELECT path FROM sources s WHERE s.asset_id = p.asset_id ORDER BY rowid DESC LIMIT 1),
                    what, error FROM (
                 SELECT 0 AS rank, 'develop' AS kind, asset_id, preset AS what, error FROM renditions
                 WHERE state = 'failed'
                 UNION ALL
                 SELECT 1, 'refused', asset_id, coalesce(preset, 'original'), last_error FROM uploads
                 WHERE state = 'failed' AND (?2 IS NULL OR destination = ?2)
                 UNION ALL
                 SELECT 2, 'waiting', asset_id, coalesce(preset, 'original'), last_error FROM uploads
                 WHERE state IN ('queued', 'sending') AND last_error IS NOT NULL
                   AND (?2 IS NULL OR destination = ?2)
             ) p ORDER BY rank LIMIT ?1",
        )?;
        let rows = stmt.query_map((limit as i64, destination), |r| {
            let kind = match r.get::<_, String>(0)?.as_str() {
                "develop" => "develop",
                "refused" => "refused",
                _ => "waiting",
            };
            Ok(Problem {
                kind,
                path: r.get::<_, Option<Vec<u8>>>(1)?.map(|b| from_blob(&b)).unwrap_or_default(),
                what: r.get(2)?,
                error: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Assets (photographs: a RAW's camera JPEG is part of the RAW's) and renditions
    /// recorded, and renditions ready.
    pub fn counts(&self) -> Result<(u64, u64, u64)> {
        let (assets, renditions, ready): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM assets WHERE companion_of IS NULL), (SELECT count(*) FROM renditions),
                    (SELECT count(*) FROM renditions WHERE state = 'ready')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok((assets as u64, renditions as u64, ready as u64))
    }
}
