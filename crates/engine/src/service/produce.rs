//! One camera file taken in: recorded in the journal (hashed unless known unchanged),
//! copied to the backup folders, each rendition developed unless the cache has it, and
//! every upload planned.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wedsync_develop::{Preset, Rendition};
use wedsync_journal::{AssetFacts, AssetId, Edited, Journal, NewAsset, NewUpload};

use crate::error::{Error, Result};
use crate::hash::{mtime_ns, picture_sha256, sha256_bytes, sha256_file};
use crate::kinds::Kind;
use crate::rename::Fields;
use crate::service::work::Work;
use crate::service::Core;
use crate::settle::Stat;
use crate::sidecar::Sidecar;
use crate::upload::Event;

/// How long a file that found the disk full waits before it is tried again.
const DISK_FULL_RETRY_SECONDS: u64 = 5;

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
    let prepared = prepare(core, work);
    if let Ok(mut unread) = core.unread.lock() {
        match &prepared {
            Err(error) if error.is_gone() => unread.insert(work.path.clone()),
            _ => unread.remove(&work.path),
        };
    }
    if let Ok(mut full) = core.disk_full.lock() {
        *full = match &prepared {
            Err(Error::DiskFull { folder }) => Some(folder.clone()),
            _ => None,
        };
    }
    match prepared {
        Ok(()) => {}
        // No room in the cache: a running station's file waits a while and is taken in
        // again, until there is room (or the engine stops: the journal has it planned for
        // the next start). A one-off run says so and ends.
        Err(Error::DiskFull { .. }) if !core.finishing() => {
            for _ in 0..DISK_FULL_RETRY_SECONDS {
                if core.closing() || core.stop.is_set() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            core.work.push(work.clone());
        }
        // The journal cannot be written: nothing more can be recorded, so the engine stops
        // here instead of failing every file the same way.
        Err(Error::Journal(e)) if e.is_storage() => core.stop.on_journal_error(&e),
        // Its card was pulled (or the file removed) before it was read whole: nothing of it
        // was recorded, and it is read again when the card comes back.
        Err(error) if error.is_gone() => {
            core.counts.waiting.fetch_add(1, Ordering::Relaxed);
            let error = match error {
                Error::Io { .. } => format!("{error} — waiting for its card: reinsert it"),
                other => format!("{}: {other} — waiting for its card: reinsert it", work.path.display()),
            };
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
    let rules = &work.rules;
    let skip = |reason: String| (core.events)(Event::Skipped { path: path.to_path_buf(), reason });
    // A file named by hand whose extension is not a camera file's is tried as a RAW: the
    // decoder says what it is.
    let kind = Kind::of(path).unwrap_or(Kind::Raw);
    if let Some(reason) = rules.files.leaves_out(kind, true, rules.videos) {
        skip(reason.into());
        return Ok(());
    }
    let file = look(core, work, path, kind)?;
    // A camera JPEG shot with a RAW beside it (same capture time and body) is part of the
    // RAW's asset: recorded with it, copied and sent as an original, never developed.
    let raw = match (kind, crate::kinds::raw_beside(path)) {
        (Kind::Jpeg, Some(raw)) => match look(core, work, &raw, Kind::Raw) {
            Ok(raw_file) if same_frame(&file.facts, &raw_file.facts) => Some((raw, raw_file)),
            Ok(_) => None,
            Err(e) if e.is_gone() => return Err(e),
            // A RAW that cannot be read leaves its JPEG a photo of its own.
            Err(_) => None,
        },
        _ => None,
    };
    if let Some(reason) = rules.files.leaves_out(kind, raw.is_some(), rules.videos) {
        skip(reason.into());
        return Ok(());
    }
    let rating = file.facts.rating;
    if rating.unwrap_or(0) < rules.min_rating {
        skip(format!("rated {} (this source takes {} and up)", rating.unwrap_or(0), rules.min_rating));
        return Ok(());
    }
    let companion_of = match &raw {
        Some((raw, raw_file)) => Some(record(core, raw, raw_file, None)?),
        None => None,
    };
    let asset = record(core, path, &file, companion_of)?;
    if let Some((raw, _)) = &raw {
        (core.events)(Event::Grouped { path: path.to_path_buf(), raw: raw.clone() });
    }
    // The queue shows a RAW's JPEG on the RAW's row.
    let row = companion_of.unwrap_or(asset);
    core.view.asset_seen(row, work.source.as_deref());
    (core.events)(Event::Recorded { path: path.to_path_buf(), hashed: file.known.is_none() });
    if !core.work.claimed.lock().map_err(|_| Error::Poisoned)?.insert(asset) {
        // The same bytes are being developed and planned by another thread now.
        return Ok(());
    }
    let name = rules.rename.as_ref().map(|template| {
        template.render(&Fields {
            capture_time: file.facts.capture_time.clone(),
            camera: file.facts.camera.clone(),
            seq: work.seq,
            original: path.file_stem().map_or(String::new(), |s| s.to_string_lossy().into_owned()),
            rating,
        })
    });
    // Only a photo of its own is developed: a RAW's JPEG and a video go as they are.
    let develops = kind == Kind::Raw || (kind == Kind::Jpeg && raw.is_none());
    let result = plan(core, work, (asset, row), develops, rating, file.size, name);
    if let Ok(mut claimed) = core.work.claimed.lock() {
        claimed.remove(&asset);
    }
    result
}

/// A camera file looked at: known from an earlier reading (same path, size and mtime) or
/// read whole now, hashed and inspected.
struct Looked {
    size: u64,
    mtime_ns: i64,
    known: Option<AssetId>,
    sha256: String,
    picture: Option<String>,
    facts: AssetFacts,
}

fn look(core: &Core, work: &Work, path: &Path, kind: Kind) -> Result<Looked> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() == 0 {
        return Err(Error::Empty { path: path.to_path_buf() });
    }
    let mtime_ns = mtime_ns(&meta);
    let sidecar = Sidecar::beside(path);
    let known = locked(&core.journal)?.known_source(path, meta.len(), mtime_ns)?;
    if let Some(asset) = known {
        let mut facts = locked(&core.journal)?.asset_facts(asset)?;
        if let Some(sidecar) = sidecar {
            facts.rating = sidecar.rating.or(facts.rating);
            facts.label = sidecar.label.or(facts.label);
        }
        return Ok(Looked { size: meta.len(), mtime_ns, known, sha256: String::new(), picture: None, facts });
    }
    // A video is hashed as it streams by; a photo is read whole once, for its hash, its
    // picture and its metadata.
    let (sha256, picture, facts) = if kind == Kind::Video {
        (sha256_file(path).map_err(io)?, None, AssetFacts::default())
    } else {
        let bytes = Arc::new(std::fs::read(path).map_err(io)?);
        let sha256 = sha256_bytes(&bytes);
        let inspected = wedsync_develop::inspect(path, &bytes);
        let embedded = inspected.xmp.as_deref().map(Sidecar::parse).unwrap_or_default();
        let camera = inspected.metadata.as_ref().and_then(|m| m.model.clone());
        let facts = AssetFacts {
            capture_time: inspected
                .metadata
                .as_ref()
                .and_then(|m| m.capture_time.as_deref())
                .and_then(|t| crate::rename::shift_time(t, work.rules.clock_offset)),
            body: inspected.body_serial.or(inspected.exif_model).or_else(|| camera.clone()),
            camera,
            rating: sidecar.as_ref().and_then(|s| s.rating).or(embedded.rating).or(inspected.exif_rating),
            label: sidecar.and_then(|s| s.label).or(embedded.label),
        };
        // The picture is its image data, taken by one body at one moment: two bodies'
        // frames are never one picture, whatever their bytes.
        let picture = inspected.image_data.as_deref().map(|ranges| {
            let when = facts.capture_time.as_deref().unwrap_or("");
            format!("{}/{when}/{}", picture_sha256(&bytes, ranges), facts.body.as_deref().unwrap_or(""))
        });
        (sha256, picture, facts)
    };
    // A file still being written (a tethered frame) is not recorded: its hash would name
    // bytes that are about to change.
    if Stat::of(path).map_err(io)? != Stat::from(&meta) {
        return Err(Error::StillWriting { path: path.to_path_buf() });
    }
    Ok(Looked { size: meta.len(), mtime_ns, known, sha256, picture, facts })
}

/// Whether two files are one frame: taken at the same moment by the same body (as each
/// file names it: its serial number where the file has one, else its model). Names alone
/// never say so: two bodies' `IMG_0001` are two frames.
fn same_frame(a: &AssetFacts, b: &AssetFacts) -> bool {
    a.capture_time.is_some() && a.capture_time == b.capture_time && a.body.is_some() && a.body == b.body
}

/// The file in the journal: its asset, recorded now unless it was known.
fn record(core: &Core, path: &Path, file: &Looked, companion_of: Option<AssetId>) -> Result<AssetId> {
    if let Some(asset) = file.known {
        return Ok(asset);
    }
    let new = NewAsset {
        path: path.to_path_buf(),
        size: file.size,
        mtime_ns: file.mtime_ns,
        sha256: file.sha256.clone(),
        picture: file.picture.clone(),
        capture_time: file.facts.capture_time.clone(),
        camera: file.facts.camera.clone(),
        body: file.facts.body.clone(),
        rating: file.facts.rating,
        label: file.facts.label.clone(),
        companion_of,
    };
    let recorded = locked(&core.journal)?.record_asset(&new)?;
    if recorded.superseded > 0 {
        (core.events)(Event::Superseded { path: path.to_path_buf(), uploads: recorded.superseded });
    }
    if let Some(edited) = recorded.edited {
        (core.events)(Event::Edited { path: path.to_path_buf(), kept: edited == Edited::Kept });
    }
    Ok(recorded.asset)
}

/// Backups, renditions and uploads of a recorded asset.
/// `row`: the asset whose row shows it (the RAW's, for its camera JPEG); `develops`: it is
/// a photo of its own, to be developed into the presets' renditions.
fn plan(
    core: &Core,
    work: &Work,
    (asset, row): (AssetId, AssetId),
    develops: bool,
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
    let presets: &[Preset] = if develops { &work.rules.presets } else { &[] };
    for (preset, made) in presets.iter().zip(renditions(core, work, presets, asset, &destination)?) {
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
    core.view.changed(row);
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
    presets: &[Preset],
    asset: AssetId,
    destination: &str,
) -> Result<Vec<Option<(String, u64)>>> {
    let (journal, events, path) = (&core.journal, &core.events, work.path.as_path());
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
    let developed: Vec<std::result::Result<Kept, Unmade>> =
        match core.developer.develop_file_presets(path, &wanted) {
            Ok(renditions) => renditions
                .into_iter()
                .map(|r| r.map_err(|e| Unmade::Failed(e.to_string())).and_then(|r| keep(&core.cache, r)))
                .collect(),
            Err(error) => wanted.iter().map(|_| Err(Unmade::Failed(error.to_string()))).collect(),
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
            // No room for it: the file waits (it is taken in again once there is room).
            Err(Unmade::DiskFull) => return Err(Error::DiskFull { folder: core.cache.clone() }),
            Err(Unmade::Failed(error)) => {
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

/// Why a rendition was not made: it cannot be (said, the file's other work goes on), or
/// the cache's disk has no room for it now (the file waits).
enum Unmade {
    Failed(String),
    DiskFull,
}

/// A rendition written to the cache under its SHA-256.
fn keep(cache: &Path, rendition: Rendition) -> std::result::Result<Kept, Unmade> {
    let sha256 = sha256_bytes(&rendition.jpeg);
    let file = cache.join(format!("{sha256}.jpg"));
    write_atomically(&file, &rendition.jpeg).map_err(|e| match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => Unmade::DiskFull,
        _ => Unmade::Failed(format!("{}: {e}", file.display())),
    })?;
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
