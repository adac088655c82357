//! The engine as a service: one per journal, for as long as its host runs (a `wedsync
//! upload`, a `wedsync watch` station, the desktop app). Hosts send [`Intent`]s and read
//! [`Snapshot`]s and a stream of coalesced [`Delta`]s; they never reach into the journal
//! or the scheduler. Inside: develop threads take camera files from a priority queue
//! ([`work`]), a transfer loop sends what the journal says is left ([`send`]), sources
//! feed files in as they appear ([`sources`]), and [`view`] turns changes into rows.

mod produce;
mod send;
pub mod sources;
pub mod view;
pub mod work;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use wedsync_develop::{Developer, Preset};
use wedsync_journal::{AssetId, Journal};
use wedsync_transfer::{Bandwidth, Destination, GateState, Pace, Policy, Summary};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::queue::{Events, Stop};
use crate::service::produce::locked;
use crate::service::sources::{RunningSource, Source};
use crate::service::view::{Delta, Snapshot, Totals, View};
use crate::service::work::{Rules, Work, WorkQueue};
use crate::upload::{Event, Report};

/// How the engine starts.
pub struct Settings {
    pub destination: Destination,
    pub policy: Policy,
    /// The stall timeout, the bandwidth cap (None: none, until [`Intent::SetBandwidth`]),
    /// the counter of bytes sent and the pause gate.
    pub pace: Pace,
    /// What is done with files added by path (sources have rules of their own).
    pub rules: Rules,
    /// Sent as `gallery` metadata, for the platform to file the uploads under.
    pub gallery: Option<String>,
    /// Threads developing at once.
    pub develop_threads: usize,
    /// Where the develop stages run (shared by the develop threads).
    pub developer: Arc<Developer>,
}

/// What a host asks of the engine.
#[derive(Debug, Clone)]
pub enum Intent {
    /// Camera files (folders already expanded), with the engine's rules unless given.
    AddPaths {
        paths: Vec<PathBuf>,
        rules: Option<Rules>,
    },
    /// A new source, or a source changed (the one of the same name is replaced).
    AddSource(Source),
    EnableSource {
        name: String,
        enabled: bool,
    },
    RemoveSource {
        name: String,
    },
    /// Nothing new is sent; requests in flight stop at their next chunk boundary.
    Pause,
    /// Everything continues, each upload from the server's offset.
    Resume,
    PauseAsset(i64),
    ResumeAsset(i64),
    /// Uploads refused so far are queued again.
    RetryFailed,
    /// The asset's unsent uploads are dropped (its file added again plans them anew).
    CancelAsset(i64),
    SetStreams(usize),
    /// Bytes a second; None: no cap.
    SetBandwidth(Option<u64>),
    /// The presets for files added by path from now on.
    SetPresets(Vec<Preset>),
    /// Where uploads go from now on; requests in flight to the old one finish first.
    SetDestination(Destination),
}

/// The state the engine's parts share.
pub(crate) struct Core {
    pub journal: Arc<Mutex<Journal>>,
    pub cache: PathBuf,
    pub events: Events,
    pub stop: Arc<Stop>,
    pub work: WorkQueue,
    pub developer: Arc<Developer>,
    pub view: View,
    pub counts: Counts,
    destination: RwLock<Destination>,
    generation: AtomicU64,
    rules: RwLock<Arc<Rules>>,
    gallery: Option<String>,
    pub streams: Arc<AtomicUsize>,
    /// Shared by every request: its bandwidth is always Some, so a cap can be set later.
    pub pace: Pace,
    held: Mutex<HashSet<AssetId>>,
    finishing: AtomicBool,
    closing: AtomicBool,
    pub unreachable: Mutex<Option<String>>,
    pub sources: Mutex<BTreeMap<String, RunningSource>>,
    /// A card was mounted: uploads left waiting for one are tried again.
    pub card_inserted: AtomicBool,
    /// Files whose card went away before they were read whole, until they are read.
    pub unread: Mutex<BTreeSet<PathBuf>>,
    /// The folder whose disk had no room for the last rendition, until one fits.
    pub disk_full: Mutex<Option<PathBuf>>,
}

#[derive(Default)]
pub(crate) struct Counts {
    pub files: AtomicUsize,
    pub developed: AtomicUsize,
    pub develop_failed: AtomicUsize,
    /// Files whose card went away before they were read whole.
    pub waiting: AtomicUsize,
}

impl Core {
    pub fn destination(&self) -> String {
        self.destination.read().map(|d| d.endpoint.clone()).unwrap_or_default()
    }

    pub fn full_destination(&self) -> Option<Destination> {
        self.destination.read().ok().map(|d| d.clone())
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn gallery(&self) -> Option<String> {
        self.gallery.clone()
    }

    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn finishing(&self) -> bool {
        self.finishing.load(Ordering::Acquire)
    }

    pub fn held(&self) -> HashSet<AssetId> {
        self.held.lock().map(|h| h.clone()).unwrap_or_default()
    }

    pub fn sent_bytes(&self) -> u64 {
        self.pace.sent.load(Ordering::Relaxed)
    }

    pub fn add(&self, work: Work) {
        self.counts.files.fetch_add(1, Ordering::Relaxed);
        self.work.push(work);
        self.view.touched();
    }

    fn totals(&self, journal: &Journal) -> Result<Totals> {
        let destination = self.destination();
        let remaining = journal.remaining_at(&destination)?;
        let rate = self.view.rate(self.sent_bytes());
        let left = remaining.bytes_to_send;
        Ok(Totals {
            uploads_verified: journal.verified_count(&destination)?,
            uploads_left: remaining.uploads_queued + remaining.uploads_sending,
            uploads_failed: remaining.failed,
            bytes_left: left,
            files_waiting: self.work.waiting(),
            bytes_per_second: rate,
            eta_seconds: (rate > 1.0 && left > 0).then(|| left as f64 / rate),
            paused: self.pace.gate.state() == GateState::Paused,
            unreachable: self.unreachable.lock().ok().and_then(|u| u.clone()),
            stopped: self.stop.reason(),
            warnings: self.warnings(),
        })
    }

    /// What holds work back now, each with what to do; each goes when its cause does.
    fn warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self.developer.fallback().into_iter().collect();
        if let Some(folder) = self.disk_full.lock().ok().and_then(|f| f.clone()) {
            warnings.push(format!(
                "The disk holding {} is full: photos wait to be developed. Free some space (Settings, \
                 Clear cache, frees sent renditions); they go on by themselves.",
                folder.display()
            ));
        }
        let unread = self.unread.lock().map(|u| u.iter().cloned().collect::<Vec<_>>()).unwrap_or_default();
        if let Some(first) = unread.first() {
            let name =
                first.file_name().map_or(first.display().to_string(), |n| n.to_string_lossy().into_owned());
            let (count, more) = match unread.len() {
                1 => ("1 photo".to_string(), String::new()),
                n => (format!("{n} photos"), format!(" and {} more", n - 1)),
            };
            warnings.push(format!(
                "{count} ({name}{more}) could not be read: the card was removed. Put it back in and do not \
                 format it; they are taken in by themselves."
            ));
        }
        warnings
    }

    /// The rows of `changed` and the totals, as they are now.
    fn delta(&self, changed: &[AssetId]) -> Result<Delta> {
        let held = self.held();
        let journal = locked(&self.journal)?;
        let rows = if changed.is_empty() {
            Vec::new()
        } else {
            self.view.rows(&journal, &self.destination(), Some(changed), changed.len(), &held)?
        };
        let totals = self.totals(&journal)?;
        let cards = sources::card_rows(self, &journal)?;
        drop(journal);
        let (cards, sources) = self.view.unless_shown(cards, sources::rows(self));
        Ok(Delta { rows, totals, cards, sources })
    }
}

/// A running engine. Dropping it without [`Engine::finish`] or [`Engine::shutdown`]
/// leaves its threads to end with the process; what the journal holds is safe either way.
pub struct Engine {
    core: Arc<Core>,
    develop: Vec<std::thread::JoinHandle<()>>,
    transfer: tokio::task::JoinHandle<(Summary, Option<String>)>,
    started: Instant,
}

/// How long a shutdown waits for requests in flight to reach a chunk boundary (a station
/// must exit within 20 s of SIGTERM; the develop threads finish their file meanwhile).
const PARK_WITHIN: Duration = Duration::from_secs(12);

/// Rows a snapshot holds at most (the newest assets).
pub const SNAPSHOT_ROWS: usize = 20_000;

impl Engine {
    /// Opens the journal (one engine per journal: a second gets a message naming the first)
    /// and starts the develop threads and the uploads. Call inside a Tokio runtime.
    pub fn start(home: &Home, settings: Settings, events: Events) -> Result<Engine> {
        let mut journal = Journal::open(&home.journal())?;
        let endpoint = settings.destination.endpoint.clone();
        // Nothing is given up for good: what was refused before is tried again now.
        let requeued = journal.retry_refused(&endpoint)?;
        if requeued > 0 {
            events(Event::Requeued { count: requeued });
        }
        let now = Instant::now();
        let pace = Pace {
            bandwidth: Some(
                settings
                    .pace
                    .bandwidth
                    .clone()
                    .unwrap_or_else(|| Arc::new(Mutex::new(Bandwidth::unlimited(now)))),
            ),
            ..settings.pace.clone()
        };
        let core = Arc::new(Core {
            journal: Arc::new(Mutex::new(journal)),
            cache: home.cache(),
            events,
            stop: Arc::new(Stop::default()),
            work: WorkQueue::default(),
            developer: settings.developer.clone(),
            view: View::new(),
            counts: Counts::default(),
            destination: RwLock::new(settings.destination.clone()),
            generation: AtomicU64::new(0),
            rules: RwLock::new(Arc::new(settings.rules.clone())),
            gallery: settings.gallery.clone(),
            streams: Arc::new(AtomicUsize::new(settings.policy.streams)),
            pace: pace.clone(),
            held: Mutex::default(),
            finishing: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            unreachable: Mutex::new(None),
            sources: Mutex::default(),
            card_inserted: AtomicBool::new(false),
            unread: Mutex::default(),
            disk_full: Mutex::default(),
        });
        let develop = (0..settings.develop_threads.max(1))
            .map(|i| {
                let core = core.clone();
                std::thread::Builder::new()
                    .name(format!("develop-{i}"))
                    .spawn(move || produce::develop_thread(&core))
                    .map_err(|e| Error::Task(format!("starting a develop thread: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let transfer = tokio::spawn(send::transfer(core.clone(), settings.policy.clone()));
        tokio::spawn(view::publish_deltas(core.clone()));
        Ok(Engine { core, develop, transfer, started: now })
    }

    /// Does what a host asks. Errors name what was wrong (a source's invalid path, an
    /// unknown asset); nothing else is changed by a refused intent.
    pub fn apply(&self, intent: Intent) -> Result<()> {
        let core = &self.core;
        match intent {
            Intent::AddPaths { paths, rules } => {
                let rules = match rules {
                    Some(rules) => Arc::new(rules),
                    None => core.rules.read().map_err(|_| Error::Poisoned)?.clone(),
                };
                for (i, path) in paths.into_iter().enumerate() {
                    core.add(Work {
                        path,
                        rules: rules.clone(),
                        priority: 0,
                        source: None,
                        seq: i as u64 + 1,
                    });
                }
            }
            Intent::AddSource(source) => sources::add(core, source)?,
            Intent::EnableSource { name, enabled } => sources::enable(core, &name, enabled)?,
            Intent::RemoveSource { name } => sources::remove(core, &name)?,
            Intent::Pause => core.pace.gate.set(GateState::Paused),
            Intent::Resume => core.pace.gate.set(GateState::Open),
            Intent::PauseAsset(asset) | Intent::ResumeAsset(asset) => {
                let hold = matches!(intent, Intent::PauseAsset(_));
                // A RAW's camera JPEG is held with it: they are one photo.
                let mut assets = locked(&core.journal)?.companions(AssetId(asset))?;
                assets.push(AssetId(asset));
                let mut held = core.held.lock().map_err(|_| Error::Poisoned)?;
                for a in assets {
                    if hold {
                        held.insert(a);
                    } else {
                        held.remove(&a);
                    }
                }
                core.view.changed(AssetId(asset));
            }
            Intent::RetryFailed => {
                let n = locked(&core.journal)?.retry_refused(&core.destination())?;
                if n > 0 {
                    (core.events)(Event::Requeued { count: n });
                }
            }
            Intent::CancelAsset(asset) => {
                locked(&core.journal)?.cancel_uploads(AssetId(asset), &core.destination())?;
                core.view.changed(AssetId(asset));
            }
            Intent::SetStreams(n) => core.streams.store(n.max(1), Ordering::Release),
            Intent::SetBandwidth(rate) => {
                if let Some(bucket) = &core.pace.bandwidth {
                    bucket.lock().map_err(|_| Error::Poisoned)?.set_rate(rate, Instant::now())
                }
            }
            Intent::SetPresets(presets) => {
                let mut rules = core.rules.write().map_err(|_| Error::Poisoned)?;
                *rules = Arc::new(Rules { presets, ..(**rules).clone() });
            }
            Intent::SetDestination(destination) => {
                *core.destination.write().map_err(|_| Error::Poisoned)? = destination;
                core.generation.fetch_add(1, Ordering::AcqRel);
            }
        }
        core.view.touched();
        Ok(())
    }

    /// Everything a host needs to draw the queue from scratch.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let core = &self.core;
        let held = core.held();
        let journal = locked(&core.journal)?;
        let rows = core.view.rows(&journal, &core.destination(), None, SNAPSHOT_ROWS, &held)?;
        let totals = core.totals(&journal)?;
        let cards = sources::card_rows(core, &journal)?;
        drop(journal);
        Ok(Snapshot { rows, totals, sources: sources::rows(core), cards })
    }

    /// Where the asset's camera file was last seen, if anywhere (for its thumbnail).
    pub fn asset_path(&self, asset: i64) -> Result<Option<PathBuf>> {
        let journal = locked(&self.core.journal)?;
        let rows = journal.asset_rows(&self.core.destination(), Some(&[AssetId(asset)]), 1)?;
        Ok(rows.into_iter().next().and_then(|r| r.path))
    }

    /// What the rendition cache holds, and how much of it waits to be sent.
    pub fn cache_usage(&self) -> Result<crate::cache::CacheUsage> {
        let unsent = locked(&self.core.journal)?.unsent_sha256s()?;
        crate::cache::usage(&self.core.cache, &unsent)
    }

    /// Clears the cache of what can be made again (never a rendition waiting to be sent);
    /// what is left.
    pub fn clear_cache(&self) -> Result<crate::cache::CacheUsage> {
        // The journal stays locked throughout, so no rendition is recorded meanwhile.
        let journal = locked(&self.core.journal)?;
        crate::cache::clear(&self.core.cache, &journal.unsent_sha256s()?)
    }

    /// The presets files added by path are developed to now, in order.
    pub fn presets_in_use(&self) -> Vec<String> {
        self.core.rules.read().map(|r| r.presets.iter().map(|p| p.name.clone()).collect()).unwrap_or_default()
    }

    /// Coalesced changes from now on (at most ten a second). A receiver that falls behind
    /// gets `Lagged`: it takes a snapshot and goes on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Delta> {
        self.core.view.subscribe()
    }

    /// Runs until everything added is taken in and sent (or left for a later run), then
    /// stops: what `wedsync upload` does.
    pub async fn finish(self) -> Result<Report> {
        self.core.finishing.store(true, Ordering::Release);
        self.core.work.drain();
        self.end(None).await
    }

    /// Stops admitting work, parks uploads at their next chunk boundary and ends, leaving
    /// the rest for the next start: what a station does on SIGTERM. Files in the develop
    /// threads' hands are finished first (a few seconds at most).
    pub async fn shutdown(self) -> Result<Report> {
        sources::stop_all(&self.core);
        self.core.closing.store(true, Ordering::Release);
        self.core.work.close();
        self.core.pace.gate.set(GateState::Closed);
        self.end(Some(PARK_WITHIN)).await
    }

    /// Waits for the uploads to end (at most `limit`: then they are cut where they stand,
    /// which the journal allows at any point) and for the develop threads.
    async fn end(self, limit: Option<Duration>) -> Result<Report> {
        let Engine { core, develop, mut transfer, started } = self;
        let ended = match limit {
            Some(limit) => match tokio::time::timeout(limit, &mut transfer).await {
                Ok(ended) => ended,
                Err(_) => {
                    transfer.abort();
                    Ok((Summary::default(), None))
                }
            },
            None => transfer.await,
        };
        let (transfer, unreachable) = ended.map_err(|e| Error::Task(format!("uploading: {e}")))?;
        let joined = tokio::task::spawn_blocking(move || {
            for thread in develop {
                let _ = thread.join();
            }
        });
        joined.await.map_err(|e| Error::Task(format!("developing: {e}")))?;
        sources::stop_all(&core);
        core.closing.store(true, Ordering::Release);
        let journal = locked(&core.journal)?;
        let destination = core.destination();
        Ok(Report {
            files: core.counts.files.load(Ordering::Relaxed),
            developed: core.counts.developed.load(Ordering::Relaxed),
            develop_failed: core.counts.develop_failed.load(Ordering::Relaxed),
            waiting: core.counts.waiting.load(Ordering::Relaxed),
            transfer,
            unreachable,
            stopped: core.stop.reason(),
            remaining: journal.remaining_at(&destination)?,
            problems: journal.problems(Some(&destination), 100)?,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
