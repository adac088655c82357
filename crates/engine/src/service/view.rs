//! What a host shows: rows (one per asset, with each upload's progress and speed),
//! totals (with rate and ETA), cards and sources. A [`Snapshot`] renders a window from
//! scratch; [`Delta`]s say what changed since, coalesced to at most ten a second so a UI
//! with 10,000 rows is never flooded. Rows are always read from the journal, so a delta's
//! row is exactly what a snapshot taken then would hold.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::broadcast;
use wedsync_journal::{AssetId, AssetRow, Journal, UploadId, UploadState};

/// How often at most deltas go out.
pub const DELTA_EVERY: Duration = Duration::from_millis(100);

/// One asset in the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Row {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub asset: i64,
    /// The camera file's name, and where it was last seen.
    pub name: String,
    pub path: Option<PathBuf>,
    /// The source that found it in this engine's life, if any.
    pub source: Option<String>,
    /// `developing`, `queued`, `sending`, `paused`, `waiting`, `failed` or `done`.
    pub state: &'static str,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub rating: Option<i64>,
    pub uploads: Vec<UploadProgress>,
}

/// One rendition's (or the original's) way to the destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct UploadProgress {
    /// The preset, `original`, or `camera JPEG` (the original of the JPEG shot with a RAW).
    pub what: String,
    /// `developing`, `queued`, `sending`, `verified`, `failed` or `develop failed`.
    pub state: &'static str,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub sent: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// Over the last delta interval, while it sends.
    pub bytes_per_second: f64,
    pub error: Option<String>,
}

/// The whole queue at a glance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Totals {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub uploads_verified: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub uploads_left: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub uploads_failed: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes_left: u64,
    /// Camera files waiting to be taken in (recorded, developed).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub files_waiting: usize,
    pub bytes_per_second: f64,
    /// Seconds to send what is left at the current rate; None while nothing moves.
    pub eta_seconds: Option<f64>,
    pub paused: bool,
    /// Why the destination cannot be reached now, while it cannot.
    pub unreachable: Option<String>,
    /// Why the engine stopped, once it has.
    pub stopped: Option<String>,
    /// What holds work back now and what to do (a full disk, a card removed mid-read, a
    /// GPU that fell back to the CPU); each goes by itself when its cause does.
    pub warnings: Vec<String>,
}

/// A source as a host lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SourceRow {
    pub name: String,
    /// `folder` or `cards`.
    pub kind: &'static str,
    pub paths: Vec<PathBuf>,
    pub enabled: bool,
    /// Files taken from it in this engine's life.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub admitted: u64,
    /// Files that never settled (still being written after the time limit).
    pub unsettled: Vec<PathBuf>,
}

/// A card as a host lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CardRow {
    pub id: String,
    pub label: Option<String>,
    pub mounted_at: Option<PathBuf>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub files: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub safe: u64,
    pub all_safe: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Snapshot {
    pub rows: Vec<Row>,
    pub totals: Totals,
    pub sources: Vec<SourceRow>,
    pub cards: Vec<CardRow>,
}

/// What changed: these rows as they are now (replacing the ones with the same `asset`),
/// the totals, and the cards and sources whole when any of them changed (else null).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Delta {
    pub rows: Vec<Row>,
    pub totals: Totals,
    pub cards: Option<Vec<CardRow>>,
    pub sources: Option<Vec<SourceRow>>,
}

/// Changes noted by the engine's parts, turned into deltas by [`View::tick`].
pub(crate) struct View {
    dirty: Mutex<HashSet<AssetId>>,
    any: AtomicBool,
    sources: Mutex<HashMap<AssetId, String>>,
    deltas: broadcast::Sender<Delta>,
    /// Each sending upload's offset at the last tick, for its speed.
    last: Mutex<HashMap<UploadId, (u64, Instant)>>,
    rate: Mutex<Rate>,
    /// The cards and sources as the last delta left them, so only changes are sent.
    shown: Mutex<(Vec<CardRow>, Vec<SourceRow>)>,
}

impl View {
    pub fn new() -> View {
        View {
            dirty: Mutex::default(),
            any: AtomicBool::new(true),
            sources: Mutex::default(),
            deltas: broadcast::channel(256).0,
            last: Mutex::default(),
            rate: Mutex::default(),
            shown: Mutex::default(),
        }
    }

    /// The asset's row is to be sent again.
    pub fn changed(&self, asset: AssetId) {
        if let Ok(mut d) = self.dirty.lock() {
            d.insert(asset);
        }
        self.any.store(true, Ordering::Release);
    }

    /// The totals are to be sent again (pause, a destination that went away).
    pub fn touched(&self) {
        self.any.store(true, Ordering::Release);
    }

    /// Notes which source found the asset.
    pub fn asset_seen(&self, asset: AssetId, source: Option<&str>) {
        if let (Some(source), Ok(mut s)) = (source, self.sources.lock()) {
            s.insert(asset, source.to_string());
        }
        self.changed(asset);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Delta> {
        self.deltas.subscribe()
    }

    /// Rows for `assets` (all, newest first, up to `limit`, when None).
    pub fn rows(
        &self,
        journal: &Journal,
        destination: &str,
        assets: Option<&[AssetId]>,
        limit: usize,
        held: &HashSet<AssetId>,
    ) -> wedsync_journal::Result<Vec<Row>> {
        let sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        let mut last = self.last.lock().map(|l| l.clone()).unwrap_or_default();
        let now = Instant::now();
        let rows = journal
            .asset_rows(destination, assets, limit)?
            .into_iter()
            .map(|r| row(r, &sources, held, &mut last, now))
            .collect();
        if let Ok(mut l) = self.last.lock() {
            *l = last;
        }
        Ok(rows)
    }

    /// Measures the send rate from the byte counter, in a moving window.
    pub fn rate(&self, sent: u64) -> f64 {
        self.rate.lock().map_or(0.0, |mut r| r.sample(sent, Instant::now()))
    }

    /// Takes the changes since the last tick; None when there were none.
    pub fn take_changes(&self) -> Option<Vec<AssetId>> {
        if !self.any.swap(false, Ordering::AcqRel) {
            return None;
        }
        let dirty = self.dirty.lock().map(|mut d| std::mem::take(&mut *d)).unwrap_or_default();
        Some(dirty.into_iter().collect())
    }

    /// `cards` and `sources` where they differ from what the last delta said.
    pub fn unless_shown(
        &self,
        cards: Vec<CardRow>,
        sources: Vec<SourceRow>,
    ) -> (Option<Vec<CardRow>>, Option<Vec<SourceRow>>) {
        let Ok(mut shown) = self.shown.lock() else { return (Some(cards), Some(sources)) };
        let cards = (shown.0 != cards).then(|| {
            shown.0 = cards.clone();
            cards
        });
        let sources = (shown.1 != sources).then(|| {
            shown.1 = sources.clone();
            sources
        });
        (cards, sources)
    }

    pub fn publish(&self, delta: Delta) {
        // No subscriber is fine: nobody is watching.
        let _ = self.deltas.send(delta);
    }
}

/// Bytes a second over the last few seconds.
#[derive(Default)]
struct Rate {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl Rate {
    fn sample(&mut self, sent: u64, now: Instant) -> f64 {
        self.samples.push_back((now, sent));
        while self.samples.len() > 2 && now.duration_since(self.samples[0].0) > Duration::from_secs(5) {
            self.samples.pop_front();
        }
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, b0)), Some(&(t1, b1))) if t1 > t0 => {
                (b1 - b0) as f64 / t1.duration_since(t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

fn row(
    r: AssetRow,
    sources: &HashMap<AssetId, String>,
    held: &HashSet<AssetId>,
    last: &mut HashMap<UploadId, (u64, Instant)>,
    now: Instant,
) -> Row {
    let mut uploads: Vec<UploadProgress> = r
        .uploads
        .iter()
        .map(|u| {
            let speed = match last.insert(u.id, (u.offset, now)) {
                Some((before, at)) if u.offset > before && now > at => {
                    (u.offset - before) as f64 / now.duration_since(at).as_secs_f64()
                }
                _ => 0.0,
            };
            if u.state == UploadState::Verified {
                last.remove(&u.id);
            }
            UploadProgress {
                what: match (&u.preset, u.companion) {
                    (Some(preset), _) => preset.clone(),
                    (None, false) => "original".into(),
                    (None, true) => "camera JPEG".into(),
                },
                state: match u.state {
                    UploadState::Queued if u.last_error.is_some() => "waiting",
                    other => other.name(),
                },
                sent: u.offset,
                size: u.size,
                bytes_per_second: speed,
                error: u.last_error.clone(),
            }
        })
        .collect();
    for preset in &r.developing {
        uploads.push(UploadProgress {
            what: preset.clone(),
            state: "developing",
            sent: 0,
            size: 0,
            bytes_per_second: 0.0,
            error: None,
        });
    }
    for (preset, error) in &r.develop_failed {
        uploads.push(UploadProgress {
            what: preset.clone(),
            state: "develop failed",
            sent: 0,
            size: 0,
            bytes_per_second: 0.0,
            error: Some(error.clone()),
        });
    }
    let has = |state: &str| uploads.iter().any(|u| u.state == state);
    let state = if held.contains(&r.asset) && !uploads.iter().all(|u| u.state == "verified") {
        "paused"
    } else if has("failed") || has("develop failed") {
        "failed"
    } else if has("developing") {
        "developing"
    } else if has("waiting") {
        "waiting"
    } else if has("sending") {
        "sending"
    } else if has("queued") || uploads.is_empty() {
        "queued"
    } else {
        "done"
    };
    let name = r
        .path
        .as_ref()
        .and_then(|p| p.file_name())
        .map_or(format!("asset {}", r.asset.0), |n| n.to_string_lossy().into_owned());
    Row {
        asset: r.asset.0,
        name,
        path: r.path.clone(),
        source: sources.get(&r.asset).cloned(),
        state,
        rating: r.rating,
        uploads,
    }
}

/// The coalescing loop: every [`DELTA_EVERY`], if anything changed, one delta.
pub(crate) async fn publish_deltas(core: Arc<super::Core>) {
    let mut tick = tokio::time::interval(DELTA_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0;
    loop {
        tick.tick().await;
        // Bytes going out change the totals' rate and ETA even when no row changed.
        let moving = std::mem::replace(&mut sent, core.sent_bytes()) != sent;
        let changes = core.view.take_changes();
        if changes.is_none() && !moving {
            if core.closing() {
                return;
            }
            continue;
        }
        let core2 = core.clone();
        let changes = changes.unwrap_or_default();
        let delta = tokio::task::spawn_blocking(move || core2.delta(&changes)).await;
        if let Ok(Ok(delta)) = delta {
            core.view.publish(delta);
        }
    }
}
