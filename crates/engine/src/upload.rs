//! `upload`: record, develop and send, with development running ahead of the upload so the
//! link is busy as soon as the first rendition is ready.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wedsync_develop::{Developer, Preset, Rendition};
use wedsync_journal::{AssetId, Journal, NewAsset, NewUpload, Problem, Remaining};
use wedsync_transfer::{Destination, Pace, Policy, Summary, TusClient};

use crate::error::{Error, Result};
use crate::hash::{mtime_ns, sha256_file};
use crate::home::Home;
use crate::queue::{Events, JournalQueue, Stop};
use crate::settle::Stat;
use crate::sidecar::Sidecar;

/// What to upload and how.
pub struct UploadRequest {
    /// Camera files (folders already expanded by the caller).
    pub files: Vec<PathBuf>,
    /// Renditions to make and send, in this order; may be empty with `originals`.
    pub presets: Vec<Preset>,
    /// Also send the camera files, after every rendition.
    pub originals: bool,
    /// Local folders each camera file is first copied to, verified (see [`crate::backup`]).
    pub backups: Vec<PathBuf>,
    pub destination: Destination,
    pub policy: Policy,
    pub pace: Pace,
    /// Sent as `gallery` metadata, for the platform to file the uploads under.
    pub gallery: Option<String>,
    /// Threads developing at once.
    pub develop_threads: usize,
    /// Where the develop stages run (shared by the develop threads).
    pub developer: Arc<Developer>,
}

/// What happened, as it happens.
#[derive(Debug, Clone)]
pub enum Event {
    /// Uploads refused in an earlier run, queued again at the start of this one.
    Requeued {
        count: u64,
    },
    /// A verified copy of a camera file was made in a backup folder.
    BackedUp {
        path: PathBuf,
        copy: PathBuf,
    },
    /// A camera file is in the journal (`hashed` false: known from an earlier run).
    Recorded {
        path: PathBuf,
        hashed: bool,
    },
    /// The file at `path` holds other bytes than when it was last recorded, and the earlier
    /// bytes are nowhere else: their `uploads` still unsent were dropped.
    Superseded {
        path: PathBuf,
        uploads: u64,
    },
    Developed {
        path: PathBuf,
        preset: String,
        bytes: u64,
        cached: bool,
        /// Why the GPU was not used for this rendition, when it failed on it.
        fallback: Option<String>,
    },
    /// This file (or one rendition of it) could not be developed; the others go on.
    DevelopFailed {
        path: PathBuf,
        preset: Option<String>,
        error: String,
    },
    Verified {
        name: String,
        bytes: u64,
    },
    Retrying {
        name: String,
        error: String,
    },
    /// Left for the next run (failing repeatedly, or its file is not reachable now).
    Left {
        name: String,
        error: String,
    },
    UploadFailed {
        name: String,
        error: String,
    },
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub files: usize,
    pub developed: usize,
    pub develop_failed: usize,
    pub transfer: Summary,
    /// Set when the destination could not be reached at all; everything stays queued.
    pub unreachable: Option<String>,
    /// Why the run stopped before the end (the journal could not be written, the
    /// destination refused the token); what is left stays for the next run.
    pub stopped: Option<String>,
    /// What the journal says is left at the run's destination, after the run.
    pub remaining: Remaining,
    /// What needs a person, after the run: develop failures, refused and waiting uploads
    /// (the first hundred).
    pub problems: Vec<Problem>,
    pub seconds: f64,
}

/// Records, develops and uploads `request.files`, finishing whatever earlier runs left at
/// the same destination.
pub async fn upload(home: &Home, request: UploadRequest, events: Events) -> Result<Report> {
    let started = Instant::now();
    let mut journal = Journal::open(&home.journal())?;
    let endpoint = request.destination.endpoint.clone();
    // Nothing is given up for good: what was refused before is tried again now.
    let requeued = journal.retry_refused(&endpoint)?;
    if requeued > 0 {
        events(Event::Requeued { count: requeued });
    }
    let journal = Arc::new(Mutex::new(journal));
    let producing = Arc::new(AtomicBool::new(true));
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(Stop::default());
    let request = Arc::new(request);

    let producer = {
        let (journal, producing, counts, request, events, stop) = (
            journal.clone(),
            producing.clone(),
            counts.clone(),
            request.clone(),
            events.clone(),
            stop.clone(),
        );
        let cache = home.cache();
        tokio::task::spawn_blocking(move || {
            produce(&Producer {
                journal: &journal,
                cache: &cache,
                request: &request,
                counts: &counts,
                events: &events,
                stop: &stop,
            });
            producing.store(false, Ordering::Release);
        })
    };

    let connected = TusClient::connect(request.destination.clone()).await;
    let (transfer, unreachable) = match connected {
        Ok(mut client) => {
            client.set_pace(request.pace.clone());
            let queue = JournalQueue {
                journal: journal.clone(),
                destination: endpoint,
                producing,
                gallery: request.gallery.clone(),
                events,
                left: Mutex::new(Default::default()),
                stop: stop.clone(),
            };
            (wedsync_transfer::run(client, queue, request.policy.clone()).await, None)
        }
        Err(e) => (Summary::default(), Some(e.to_string())),
    };
    producer.await.map_err(|e| Error::Task(format!("developing: {e}")))?;
    let journal = locked(&journal)?;
    Ok(Report {
        files: request.files.len(),
        developed: counts.developed.load(Ordering::Relaxed),
        develop_failed: counts.failed.load(Ordering::Relaxed),
        transfer,
        unreachable,
        stopped: stop.reason(),
        remaining: journal.remaining_at(&request.destination.endpoint)?,
        problems: journal.problems(Some(&request.destination.endpoint), 100)?,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[derive(Default)]
struct Counts {
    next: AtomicUsize,
    developed: AtomicUsize,
    failed: AtomicUsize,
    /// Assets taken by a develop thread in this run: the same bytes given twice (a file
    /// named twice, a copy on the second card) are developed once.
    claimed: Mutex<HashSet<AssetId>>,
}

/// Runs `develop_threads` threads over the files until all are recorded, developed and
/// planned for upload, or the run stops.
fn produce(producer: &Producer<'_>) {
    let Producer { request, counts, events, stop, .. } = *producer;
    std::thread::scope(|scope| {
        for _ in 0..request.develop_threads.clamp(1, request.files.len().max(1)) {
            scope.spawn(|| loop {
                if stop.is_set() {
                    return;
                }
                let i = counts.next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = request.files.get(i) else { return };
                match producer.prepare(path) {
                    Ok(()) => {}
                    // The journal cannot be written: nothing more can be recorded, so the
                    // run stops here instead of failing every file the same way.
                    Err(Error::Journal(e)) if e.is_storage() => stop.on_journal_error(&e),
                    Err(error) => {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                        events(Event::DevelopFailed {
                            path: path.clone(),
                            preset: None,
                            error: error.to_string(),
                        });
                    }
                }
            });
        }
    });
}

/// What the develop threads share.
#[derive(Clone, Copy)]
struct Producer<'a> {
    journal: &'a Mutex<Journal>,
    cache: &'a Path,
    request: &'a UploadRequest,
    counts: &'a Counts,
    events: &'a Events,
    stop: &'a Stop,
}

impl Producer<'_> {
    /// One camera file: recorded (hashed unless known unchanged), each rendition developed
    /// unless the cache has it, and every upload planned.
    fn prepare(&self, path: &Path) -> Result<()> {
        let Producer { journal, request, events, counts, .. } = *self;
        let io = |source| Error::Io { path: path.to_path_buf(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() == 0 {
            return Err(Error::Empty { path: path.to_path_buf() });
        }
        let mtime_ns = mtime_ns(&meta);
        let known = locked(journal)?.known_source(path, meta.len(), mtime_ns)?;
        let rating = Sidecar::beside(path).and_then(|s| s.rating);
        let asset = match known {
            Some(asset) => asset,
            None => {
                let sha256 = sha256_file(path).map_err(io)?;
                // A file still being written (a tethered frame) is not recorded: its hash
                // would name bytes that are about to change.
                if Stat::of(path).map_err(io)? != Stat::from(&meta) {
                    return Err(Error::StillWriting { path: path.to_path_buf() });
                }
                let new = NewAsset {
                    path: path.to_path_buf(),
                    size: meta.len(),
                    mtime_ns,
                    sha256,
                    capture_time: None,
                    camera: None,
                    rating,
                };
                let recorded = locked(journal)?.record_asset(&new)?;
                if recorded.superseded > 0 {
                    events(Event::Superseded { path: path.to_path_buf(), uploads: recorded.superseded });
                }
                recorded.asset
            }
        };
        events(Event::Recorded { path: path.to_path_buf(), hashed: known.is_none() });
        if !counts.claimed.lock().map_err(|_| Error::Poisoned)?.insert(asset) {
            // The same bytes are already being developed and planned by this run.
            return Ok(());
        }
        // Backups first, as a photographer would; a failed one does not hold the uploads
        // back, but fails the file (reported once its uploads are planned).
        let backed_up = self.back_up(path, asset);
        let priority = rating.unwrap_or(0);
        let destination = &request.destination.endpoint;
        for (preset, made) in request.presets.iter().zip(self.renditions(path, asset)?) {
            let Some((sha256, size)) = made else {
                continue;
            };
            let new = NewUpload {
                asset,
                preset: Some(preset.name.clone()),
                destination: destination.clone(),
                sha256,
                size,
                priority,
            };
            locked(journal)?.plan_upload(&new)?;
        }
        if request.originals {
            let sha256 = locked(journal)?.asset_sha256(asset)?;
            let new = NewUpload {
                asset,
                preset: None,
                destination: destination.clone(),
                sha256,
                size: meta.len(),
                priority,
            };
            locked(journal)?.plan_upload(&new)?;
        }
        backed_up
    }

    /// A verified copy of the camera file in each backup folder, unless the journal has one
    /// there already.
    fn back_up(&self, path: &Path, asset: AssetId) -> Result<()> {
        let Producer { journal, request, events, .. } = *self;
        if request.backups.is_empty() {
            return Ok(());
        }
        let sha256 = locked(journal)?.asset_sha256(asset)?;
        for folder in &request.backups {
            let recorded = locked(journal)?.backups_in(asset, folder)?;
            if recorded.iter().any(|copy| copy.is_file()) {
                continue;
            }
            let copy = crate::backup::copy_verified(path, folder, &sha256)
                .map_err(|source| Error::Backup { folder: folder.clone(), source })?;
            locked(journal)?.backup_verified(asset, folder, &copy)?;
            events(Event::BackedUp { path: path.to_path_buf(), copy });
        }
        Ok(())
    }

    /// Each preset's rendition (SHA-256 and size), in the request's order: from the cache
    /// when an earlier run made it, else developed now, all that are missing from one decode
    /// of the file. `None` where one cannot be made (reported; the file's other work goes on).
    fn renditions(&self, path: &Path, asset: AssetId) -> Result<Vec<Option<(String, u64)>>> {
        let Producer { journal, request, counts, events, .. } = *self;
        let mut made = vec![None; request.presets.len()];
        let mut missing = Vec::new();
        for (i, preset) in request.presets.iter().enumerate() {
            let id = locked(journal)?.plan_rendition(asset, &preset.name)?;
            let recorded = locked(journal)?.rendition(asset, &preset.name)?;
            let destination = &request.destination.endpoint;
            let usable = |file: &Path, sha256: &str, size: u64| {
                // Already verified there, its cached file is never read again: no need to
                // hash it (a rerun over a whole wedding would read every rendition).
                locked(journal).is_ok_and(|j| j.is_verified(destination, sha256).unwrap_or(false))
                    || cached_intact(file, sha256, size)
            };
            match recorded.and_then(|r| r.file) {
                Some((file, sha256, size)) if usable(&file, &sha256, size) => {
                    events(Event::Developed {
                        path: path.to_path_buf(),
                        preset: preset.name.clone(),
                        bytes: size,
                        cached: true,
                        fallback: None,
                    });
                    made[i] = Some((sha256, size));
                }
                _ => missing.push((i, id)),
            }
        }
        if missing.is_empty() {
            return Ok(made);
        }
        let presets: Vec<&Preset> = missing.iter().map(|&(i, _)| &request.presets[i]).collect();
        let developed: Vec<std::result::Result<Kept, String>> =
            match request.developer.develop_file_presets(path, &presets) {
                Ok(renditions) => renditions
                    .into_iter()
                    .map(|r| r.map_err(|e| e.to_string()).and_then(|r| self.keep(r)))
                    .collect(),
                Err(error) => presets.iter().map(|_| Err(error.to_string())).collect(),
            };
        for ((i, id), developed) in missing.into_iter().zip(developed) {
            let preset = request.presets[i].name.clone();
            match developed {
                Ok(Kept { file, sha256, size, fallback }) => {
                    locked(journal)?.rendition_ready(id, &file, &sha256, size)?;
                    counts.developed.fetch_add(1, Ordering::Relaxed);
                    events(Event::Developed {
                        path: path.to_path_buf(),
                        preset,
                        bytes: size,
                        cached: false,
                        fallback,
                    });
                    made[i] = Some((sha256, size));
                }
                Err(error) => {
                    locked(journal)?.rendition_failed(id, &error)?;
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    events(Event::DevelopFailed { path: path.to_path_buf(), preset: Some(preset), error });
                }
            }
        }
        Ok(made)
    }

    /// A rendition written to the cache under its SHA-256.
    fn keep(&self, rendition: Rendition) -> std::result::Result<Kept, String> {
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&rendition.jpeg));
        let file = self.cache.join(format!("{sha256}.jpg"));
        write_atomically(&file, &rendition.jpeg).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(Kept { file, sha256, size: rendition.jpeg.len() as u64, fallback: rendition.fallback })
    }
}

struct Kept {
    file: PathBuf,
    sha256: String,
    size: u64,
    fallback: Option<String>,
}

fn locked(journal: &Mutex<Journal>) -> Result<std::sync::MutexGuard<'_, Journal>> {
    journal.lock().map_err(|_| Error::Poisoned)
}

/// Whether a cached rendition still holds the bytes recorded for it. The size is not
/// enough: a flipped byte would be sent as is and quarantined by the server. A damaged or
/// missing file is removed and developed again.
fn cached_intact(file: &Path, sha256: &str, size: u64) -> bool {
    let intact = std::fs::metadata(file).is_ok_and(|m| m.len() == size)
        && sha256_file(file).is_ok_and(|found| found == sha256);
    if !intact {
        let _ = std::fs::remove_file(file);
    }
    intact
}

/// Written under a temporary name of its own and renamed, so the cache never holds half a
/// file and two writers never share a temporary file.
fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let partial = target.with_extension(format!("{}-{n}.partial", std::process::id()));
    let written = std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::File::open(&partial)?.sync_all())
        .and_then(|()| std::fs::rename(&partial, target));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
