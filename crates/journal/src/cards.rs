//! Cards the engine has read, remembered while they are out of the reader.

use std::path::{Path, PathBuf};

use crate::assets::AssetId;
use crate::error::Result;
use crate::open::{event, Journal};
use crate::paths::{from_blob, to_blob};

/// A card as the journal remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCard {
    pub id: String,
    pub label: Option<String>,
    pub capacity: u64,
    /// Where it was last mounted.
    pub mount: PathBuf,
    pub mounted: bool,
    /// Its files below `mount`: path, size, mtime (ns).
    pub files: Vec<(PathBuf, u64, i64)>,
}

impl Journal {
    /// The card is mounted at `card.mount` now, holding `card.files` (which replace what it
    /// held before).
    pub fn card_seen(&mut self, card: &KnownCard) -> Result<()> {
        self.change(|tx| {
            tx.execute(
                "INSERT INTO cards (id, label, capacity, mount, mounted) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (id) DO UPDATE SET label = ?2, capacity = ?3, mount = ?4, mounted = 1,
                   last_seen = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (&card.id, &card.label, card.capacity as i64, to_blob(&card.mount)),
            )?;
            // Another card last seen at this mount point is not there now.
            tx.execute(
                "UPDATE cards SET mounted = 0 WHERE mount = ?1 AND id <> ?2",
                (to_blob(&card.mount), &card.id),
            )?;
            tx.execute("DELETE FROM card_files WHERE card_id = ?1", [&card.id])?;
            let mut insert =
                tx.prepare("INSERT INTO card_files (card_id, path, size, mtime_ns) VALUES (?1, ?2, ?3, ?4)")?;
            for (path, size, mtime_ns) in &card.files {
                insert.execute((&card.id, to_blob(path), *size as i64, mtime_ns))?;
            }
            event(tx, "card.seen", 0, Some(&card.id))
        })
    }

    /// Whatever card was mounted at `mount` is out now.
    pub fn card_gone(&mut self, mount: &Path) -> Result<()> {
        self.change(|tx| {
            tx.execute("UPDATE cards SET mounted = 0 WHERE mount = ?1", [to_blob(mount)])?;
            event(tx, "card.gone", 0, Some(&mount.to_string_lossy()))
        })
    }

    /// Every card remembered, most recently seen first.
    pub fn known_cards(&self) -> Result<Vec<KnownCard>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, label, capacity, mount, mounted FROM cards ORDER BY last_seen DESC")?;
        let cards = stmt
            .query_map([], |r| {
                Ok(KnownCard {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    capacity: r.get::<_, i64>(2)? as u64,
                    mount: from_blob(&r.get::<_, Vec<u8>>(3)?),
                    mounted: r.get::<_, i64>(4)? == 1,
                    files: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut files = self
            .conn
            .prepare("SELECT path, size, mtime_ns FROM card_files WHERE card_id = ?1 ORDER BY path")?;
        cards
            .into_iter()
            .map(|mut card| {
                card.files = files
                    .query_map([&card.id], |r| {
                        Ok((from_blob(&r.get::<_, Vec<u8>>(0)?), r.get::<_, i64>(1)? as u64, r.get(2)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(card)
            })
            .collect()
    }

    /// How many verified backup copies of the asset were recorded.
    pub fn backup_count(&self, asset: AssetId) -> Result<u64> {
        let n: i64 =
            self.conn
                .query_row("SELECT count(*) FROM backups WHERE asset_id = ?1", [asset.0], |r| r.get(0))?;
        Ok(n as u64)
    }
}
