//! One camera file taken in: recorded in the journal (hashed unless known unchanged),
//! copied to the backup folders, each rendition developed unless the cache has it, and
//! every upload planned.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wedsync_develop::{Preset, Rendition};
use wedsync_journal::{AssetId, Journal, NewAsset, NewUpload};

use crate::error::{Error, Result};
use crate::hash::{mtime_ns, sha256_file};
use crate::rename::Fields;
use crate::service::work::Work;
use crate::service::Core;
use crate::settle::Stat;
use crate::sidecar::Sidecar;
use crate::upload::Event;

/// The develop threads' loop: the most urgent file until the queue is closed or drained.
pub(crate) fn develop_thread(core: &Core) {
    while let Some(work) = core.work.take() {
        if !core.stop.is_set() {
            take_in(core, &work);
        }
        core.work.done();
    }
}

fn take_in(core: &Core, work: &Work) {
    match prepare(core, work) {
        Ok(()) => {}
        // The journal cannot be written: nothing more can be recorded, so the engine stops
        // here instead of failing every file the same way.
        Err(Error::Journal(e)) if e.is_storage() => core.stop.on_journal_error(&e),
        // Its card was pulled (or the file removed) before it was read whole: nothing of it
        // was recorded, and it is read again when the card comes back.
        Err(Error::Io { source, .. } | Error::Backup { source, .. }) if crate::volumes::is_gone(&source) => {
            core.counts.waiting.fetch_add(1, Ordering::Relaxed);
            let error = format!("{}: {source} — waiting for its card: reinsert it", work.path.display());
            (core.events)(Event::Waiting { path: work.path.clone(), error });
        }
        Err(error) => {
            core.counts.develop_failed.fetch_add(1, Ordering::Relaxed);
            (core.events)(Event::DevelopFailed {
                path: work.path.clone(),
                preset: None,
                error: error.to_string(),
            });
        }
    }
}

fn prepare(core: &Core, work: &Work) -> Result<()> {
    let path = work.path.as_path();
    let events = &core.events;
    let journal = &core.journal;
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() == 0 {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    let mtime_ns = mtime_ns(&meta);
    let known = locked(journal)?.known_source(path, meta.len(), mtime_ns)?;
    let rating = Sidecar::beside(path).and_then(|s| s.rating);
    if rating.unwrap_or(0) < work.rules.min_rating {
        let reason =
            format!("rated {} (this source takes {} and up)", rating.unwrap_or(0), work.rules.min_rating);
        (core.events)(Event::Skipped { path: path.to_path_buf(), reason });
        return Ok(());
    }
    // Capture time and body, for the journal and the rename template (none for a file
    // whose metadata cannot be read: it still develops and sends).
    let camera = (known.is_none() || work.rules.rename.is_some())
        .then(|| wedsync_develop::read_metadata(path).ok())
        .flatten();
    let capture_time = camera
        .as_ref()
        .and_then(|m| m.capture_time.as_deref())
        .and_then(|t| crate::rename::shift_time(t, work.rules.clock_offset));
    let body = camera.as_ref().and_then(|m| m.model.clone());
    let name = work.rules.rename.as_ref().map(|template| {
        template.render(&Fields {
            capture_time: capture_time.clone(),
            camera: body.clone(),
            seq: work.seq,
            original: path.file_stem().map_or(String::new(), |s| s.to_string_lossy().into_owned()),
            rating,
        })
    });
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
                capture_time,
                camera: body,
                rating,
            };
            let recorded = locked(journal)?.record_asset(&new)?;
            if recorded.superseded > 0 {
                events(Event::Superseded { path: path.to_path_buf(), uploads: recorded.superseded });
            }
            recorded.asset
        }
    };
    core.view.asset_seen(asset, work.source.as_deref());
    events(Event::Recorded { path: path.to_path_buf(), hashed: known.is_none() });
    if !core.work.claimed.lock().map_err(|_| Error::Poisoned)?.insert(asset) {
        // The same bytes are being developed and planned by another thread now.
        return Ok(());
    }
    let result = plan(core, work, asset, rating, meta.len(), name);
    if let Ok(mut claimed) = core.work.claimed.lock() {
        claimed.remove(&asset);
    }
    result
}

/// Backups, renditions and uploads of a recorded asset.
fn plan(
    core: &Core,
    work: &Work,
    asset: AssetId,
    rating: Option<i64>,
    size: u64,
    name: Option<String>,
) -> Result<()> {
    let journal = &core.journal;
    // Backups first, as a photographer would; a failed one does not hold the uploads
    // back, but fails the file (reported once its uploads are planned).
    let backed_up = back_up(core, work, asset);
    let priority = work.priority.max(rating.unwrap_or(0));
    let destination = core.destination();
    for (preset, made) in work.rules.presets.iter().zip(renditions(core, work, asset, &destination)?) {
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
            name: name.clone(),
        };
        locked(journal)?.plan_upload(&new)?;
    }
    if work.rules.originals {
        let sha256 = locked(journal)?.asset_sha256(asset)?;
        let new = NewUpload { asset, preset: None, destination, sha256, size, priority, name };
        locked(journal)?.plan_upload(&new)?;
    }
    core.view.changed(asset);
    backed_up
}

/// A verified copy of the camera file in each backup folder, unless the journal has one
/// there already.
fn back_up(core: &Core, work: &Work, asset: AssetId) -> Result<()> {
    if work.rules.backups.is_empty() {
        return Ok(());
    }
    let journal = &core.journal;
    let sha256 = locked(journal)?.asset_sha256(asset)?;
    for folder in &work.rules.backups {
        let recorded = locked(journal)?.backups_in(asset, folder)?;
        if recorded.iter().any(|copy| copy.is_file()) {
            continue;
        }
        let copy = crate::backup::copy_verified(&work.path, folder, &sha256)
            .map_err(|source| Error::Backup { folder: folder.clone(), source })?;
        locked(journal)?.backup_verified(asset, folder, &copy)?;
        (core.events)(Event::BackedUp { path: work.path.clone(), copy });
    }
    Ok(())
}

/// Each preset's rendition (SHA-256 and size), in the rules' order: from the cache when an
/// earlier run made it, else developed now, all that are missing from one decode of the
/// file. `None` where one cannot be made (reported; the file's other work goes on).
fn renditions(
    core: &Core,
    work: &Work,
    asset: AssetId,
    destination: &str,
) -> Result<Vec<Option<(String, u64)>>> {
    let (journal, events, path) = (&core.journal, &core.events, work.path.as_path());
    let presets = &work.rules.presets;
    let mut made = vec![None; presets.len()];
    let mut missing = Vec::new();
    for (i, preset) in presets.iter().enumerate() {
        let id = locked(journal)?.plan_rendition(asset, &preset.name)?;
        let recorded = locked(journal)?.rendition(asset, &preset.name)?;
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
    core.view.changed(asset);
    let wanted: Vec<&Preset> = missing.iter().map(|&(i, _)| &presets[i]).collect();
    let developed: Vec<std::result::Result<Kept, String>> =
        match core.developer.develop_file_presets(path, &wanted) {
            Ok(renditions) => renditions
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()).and_then(|r| keep(&core.cache, r)))
                .collect(),
            Err(error) => wanted.iter().map(|_| Err(error.to_string())).collect(),
        };
    for ((i, id), developed) in missing.into_iter().zip(developed) {
        let preset = presets[i].name.clone();
        match developed {
            Ok(Kept { file, sha256, size, fallback }) => {
                locked(journal)?.rendition_ready(id, &file, &sha256, size)?;
                core.counts.developed.fetch_add(1, Ordering::Relaxed);
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
                core.counts.develop_failed.fetch_add(1, Ordering::Relaxed);
                events(Event::DevelopFailed { path: path.to_path_buf(), preset: Some(preset), error });
            }
        }
    }
    Ok(made)
}

struct Kept {
    file: PathBuf,
    sha256: String,
    size: u64,
    fallback: Option<String>,
}

/// A rendition written to the cache under its SHA-256.
fn keep(cache: &Path, rendition: Rendition) -> std::result::Result<Kept, String> {
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&rendition.jpeg));
    let file = cache.join(format!("{sha256}.jpg"));
    write_atomically(&file, &rendition.jpeg).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Kept { file, sha256, size: rendition.jpeg.len() as u64, fallback: rendition.fallback })
}

pub(crate) fn locked(journal: &Arc<Mutex<Journal>>) -> Result<std::sync::MutexGuard<'_, Journal>> {
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
