//! The journal as the scheduler's queue: the next upload is the journal's most urgent one
//! still to do, and every outcome goes back into it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wedsync_journal::{AssetId, Journal, Upload, UploadId, UploadState};
use wedsync_transfer::{Error, GateState, Job, Next, Part, Queue, Record, Sent, Task};

use crate::service::Core;
use crate::upload::Event;

/// Where the engine says what happens, as it happens (the CLI prints it; a station logs it).
pub type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// Why the run is stopping, once something makes going on pointless: the journal cannot
/// be written (every outcome would be lost, and retrying would only spin), or the
/// destination refused the token (every request would be refused the same way). The first
/// reason wins.
#[derive(Default)]
pub(crate) struct Stop(Mutex<Option<String>>);

impl Stop {
    pub fn set(&self, reason: String) {
        if let Ok(mut r) = self.0.lock() {
            r.get_or_insert(reason);
        }
    }

    /// Stops the run if `error` means the journal itself cannot be written or read; a
    /// refused change (an upload superseded meanwhile) is not a reason to stop.
    pub fn on_journal_error(&self, error: &wedsync_journal::Error) {
        if error.is_storage() {
            self.set(format!("the journal could not be written ({error})"));
        }
    }

    pub fn is_set(&self) -> bool {
        self.0.lock().map_or(true, |r| r.is_some())
    }

    pub fn reason(&self) -> Option<String> {
        self.0.lock().ok().and_then(|r| r.clone())
    }
}

/// What a person can do about a refusal, added to the message and kept in the journal, so
/// the run's output and `wedsync status` say it.
fn advice(error: &Error) -> Option<&'static str> {
    Some(match error {
        Error::Status { status: 401, .. } => {
            "the destination refused the token: fix --token (or WEDSYNC_TOKEN, or the configuration) and run again"
        }
        Error::Status { status: 403, .. } => "the token may not upload here: check its rights with the platform",
        Error::Status { status: 413, .. } => {
            "a request was too large for the server or a proxy: lower --chunk-mib (or --parts) and run again"
        }
        Error::Status { status: 412, .. } => {
            "the server (or a proxy) refused the request's preconditions: check the destination URL"
        }
        Error::Read { .. } => "the file could not be read: reinsert its card (or restore the file) and run again",
        Error::Changed { .. } => "the file changed after it was recorded: the next run records it as it is now",
        Error::Panicked(_) => "a bug in wedsync: please report it; the next run tries again",
        _ => return None,
    })
}

/// The message kept for a refused upload: the error and what to do.
fn explain(error: &Error) -> String {
    match advice(error) {
        Some(advice) => format!("{error} — {advice}"),
        None => error.to_string(),
    }
}

/// The journal as one transfer run's queue. A run ends when the engine stops, when the
/// destination changes (the next run goes to the new one), or, once the host asked to
/// finish, when nothing is left to send and nothing is being developed.
pub(crate) struct JournalQueue {
    pub core: Arc<Core>,
    /// The destination generation this run sends to.
    pub generation: u64,
    /// Uploads given up on in this run, and when: they stay queued, and an engine that
    /// keeps running tries them again after a while (a card reinserted, a network back).
    pub left: Mutex<HashMap<UploadId, Instant>>,
}

/// How long a long-running engine leaves an upload it gave up on before trying it again.
const RETRY_LEFT: Duration = Duration::from_secs(60);

impl JournalQueue {
    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Journal>> {
        self.core.journal.lock().ok()
    }

    fn stop(&self) -> &Stop {
        &self.core.stop
    }

    /// Records a change; a journal that cannot be written stops the run.
    fn write(&self, f: impl FnOnce(&mut Journal) -> wedsync_journal::Result<()>) {
        if let Some(mut journal) = self.lock() {
            if let Err(e) = f(&mut journal) {
                self.stop().on_journal_error(&e);
            }
        }
    }

    fn leave(&self, key: UploadId) {
        if let Ok(mut l) = self.left.lock() {
            l.insert(key, Instant::now());
        }
    }

    /// How messages name an upload, and its asset; takes the journal lock.
    fn name_of(&self, key: &UploadId) -> String {
        self.lock()
            .and_then(|j| {
                j.upload(*key).ok().map(|u| {
                    self.core.view.changed(u.asset);
                    describe(&j.source_paths(u.asset).unwrap_or_default(), &u)
                })
            })
            .unwrap_or_else(|| format!("upload {}", key.0))
    }

    /// The file and metadata for `upload`, or why there is none now.
    fn task(&self, journal: &Journal, upload: &Upload) -> Result<Task<UploadId>, String> {
        let sources = journal.source_paths(upload.asset).map_err(|e| e.to_string())?;
        let (path, filename, filetype) = match &upload.preset {
            Some(preset) => {
                let rendition = journal.rendition(upload.asset, preset).map_err(|e| e.to_string())?;
                let (path, _, _) = rendition.and_then(|r| r.file).ok_or("its rendition is not developed")?;
                let stem = upload.name.clone().unwrap_or_else(|| stem(sources.first()));
                (path, format!("{stem}_{preset}.jpg"), "image/jpeg".to_string())
            }
            None => {
                // The original from wherever it still is with the size recorded (a card
                // may have been pulled; another slot or a copy may hold the same bytes).
                let path = sources
                    .iter()
                    .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() == upload.size))
                    .ok_or(
                        "waiting for its card: the original is at none of its known paths — reinsert the card \
                         and run again",
                    )?;
                let name = match (&upload.name, path.extension()) {
                    (Some(name), Some(ext)) => format!("{name}.{}", ext.to_string_lossy()),
                    (Some(name), None) => name.clone(),
                    (None, _) => {
                        path.file_name().map_or("original".into(), |n| n.to_string_lossy().into_owned())
                    }
                };
                (path.clone(), name, "application/octet-stream".to_string())
            }
        };
        let asset = journal.asset_sha256(upload.asset).map_err(|e| e.to_string())?;
        let mut metadata = vec![
            ("filename".to_string(), filename),
            ("filetype".to_string(), filetype),
            ("sha256".to_string(), upload.sha256.clone()),
            ("asset".to_string(), asset),
            ("preset".to_string(), upload.preset.clone().unwrap_or_else(|| "original".into())),
        ];
        if let Some(gallery) = self.core.gallery() {
            metadata.push(("gallery".to_string(), gallery));
        }
        let parts = journal
            .upload_parts(upload.id)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|p| Part { start: p.start, length: p.length, url: p.url })
            .collect();
        Ok(Task {
            key: upload.id,
            job: Job {
                path,
                length: upload.size,
                metadata,
                url: upload.url.clone(),
                parts,
                sha256: Some(upload.sha256.clone()),
            },
            record: Box::new(JournalRecord { core: self.core.clone(), id: upload.id, asset: upload.asset }),
        })
    }

    /// Whether this run is over: the engine stops, or sends elsewhere now.
    fn over(&self) -> bool {
        self.stop().is_set() || self.core.closing() || self.core.generation() != self.generation
    }
}

fn stem(path: Option<&PathBuf>) -> String {
    path.and_then(|p| p.file_stem()).map_or("asset".into(), |s| s.to_string_lossy().into_owned())
}

/// "IMG_0001.CR2 (web)" for messages.
pub(crate) fn describe(sources: &[PathBuf], upload: &Upload) -> String {
    let name = sources
        .first()
        .and_then(|p| p.file_name())
        .map_or(format!("asset {}", upload.asset.0), |n| n.to_string_lossy().into_owned());
    format!("{name} ({})", upload.preset.as_deref().unwrap_or("original"))
}

impl Queue for JournalQueue {
    type Key = UploadId;

    fn next(&self, busy: &HashSet<UploadId>) -> Next<UploadId> {
        if self.over() {
            return Next::Done;
        }
        // Paused: nothing new starts (what is in flight parks at its next chunk boundary).
        if self.core.pace.gate.state() == GateState::Paused {
            return Next::Later;
        }
        let finishing = self.core.finishing();
        let held = self.core.held();
        let Some(mut journal) = self.lock() else { return Next::Done };
        let Ok(mut left) = self.left.lock() else { return Next::Done };
        if !finishing {
            left.retain(|_, at| at.elapsed() < RETRY_LEFT);
        }
        // A card came back: what waited for one is tried again now.
        if self.core.card_inserted.swap(false, std::sync::atomic::Ordering::AcqRel) {
            left.clear();
        }
        let limit = busy.len() + left.len() + 8 * held.len() + 1;
        let pending = match journal.pending_uploads(&self.core.destination(), limit) {
            Ok(p) => p,
            // Asking again would fail the same way, every poll, for ever.
            Err(e) => {
                self.stop().set(format!("the journal could not be read ({e})"));
                return Next::Done;
            }
        };
        let developing = self.core.work.busy();
        let more_may_come = developing || !finishing;
        match pending
            .iter()
            .find(|u| !busy.contains(&u.id) && !left.contains_key(&u.id) && !held.contains(&u.asset))
        {
            None if more_may_come => Next::Later,
            None => Next::Done,
            // Originals wait until every rendition is developed and queued: the renditions
            // are what the gallery needs tonight.
            Some(upload) if upload.preset.is_none() && developing => Next::Later,
            Some(upload) => match self.task(&journal, upload) {
                Ok(task) => Next::Task(task),
                Err(why) => {
                    let name = describe(&journal.source_paths(upload.asset).unwrap_or_default(), upload);
                    // Kept, so that `wedsync status` says what the upload waits on.
                    if let Err(e) = journal.upload_attempt_failed(upload.id, &why) {
                        self.stop().on_journal_error(&e);
                    }
                    self.core.view.changed(upload.asset);
                    (self.core.events)(Event::Left { name, error: why });
                    left.insert(upload.id, Instant::now());
                    Next::Later
                }
            },
        }
    }

    fn sent(&self, key: &UploadId, _sent: &Sent) {
        let result = self.lock().map(|mut j| {
            j.upload_verified(*key)
                .and_then(|()| j.upload(*key))
                .map(|u| (describe(&j.source_paths(u.asset).unwrap_or_default(), &u), u.size))
        });
        match result {
            Some(Ok((name, bytes))) => {
                self.name_of(key);
                (self.core.events)(Event::Verified { name, bytes })
            }
            Some(Err(e)) => {
                // Not handed out again in this run: it would only fail the same way.
                self.leave(*key);
                (self.core.events)(Event::UploadFailed {
                    name: self.name_of(key),
                    error: format!("journal: {e}"),
                })
            }
            None => {}
        }
    }

    fn attempt_failed(&self, key: &UploadId, error: &Error, giving_up: bool) {
        self.write(|j| j.upload_attempt_failed(*key, &error.to_string()));
        let name = self.name_of(key);
        if giving_up {
            self.leave(*key);
            (self.core.events)(Event::Left { name, error: error.to_string() });
        } else {
            (self.core.events)(Event::Retrying { name, error: error.to_string() });
        }
    }

    fn failed(&self, key: &UploadId, error: &Error) {
        // Its card was pulled mid-read: not refused, waiting (tried again when a card comes
        // back, or after a while).
        if let Error::Read { source, .. } = error {
            if crate::volumes::is_gone(source) {
                let message = format!("{error} — waiting for its card: reinsert it");
                self.write(|j| j.upload_attempt_failed(*key, &message));
                self.leave(*key);
                (self.core.events)(Event::Left { name: self.name_of(key), error: message });
                return;
            }
        }
        let message = explain(error);
        self.write(|j| j.upload_failed(*key, &message));
        if let Error::Status { status: 401, .. } = error {
            self.stop().set("the destination refused the token (401)".into());
        }
        (self.core.events)(Event::UploadFailed { name: self.name_of(key), error: message });
    }

    fn stopped(&self) -> bool {
        self.over()
    }
}

/// Records one upload's progress in the journal, each fact before the next request.
struct JournalRecord {
    core: Arc<Core>,
    id: UploadId,
    asset: AssetId,
}

impl JournalRecord {
    fn with(&self, f: impl FnOnce(&mut Journal) -> wedsync_journal::Result<()>) -> Result<(), String> {
        let mut journal =
            self.core.journal.lock().map_err(|_| "the journal lock was poisoned".to_string())?;
        self.core.view.changed(self.asset);
        f(&mut journal).map_err(|e| {
            self.core.stop.on_journal_error(&e);
            e.to_string()
        })
    }
}

impl Record for JournalRecord {
    fn created(&mut self, url: &str) -> Result<(), String> {
        self.with(|j| j.upload_created(self.id, url))
    }

    fn acknowledged(&mut self, offset: u64) -> Result<(), String> {
        self.with(|j| j.upload_progress(self.id, offset))
    }

    fn restarted(&mut self, reason: &str) -> Result<(), String> {
        self.with(|j| j.upload_restarted(self.id, reason))
    }

    fn parts_planned(&mut self, parts: &[(u64, u64)]) -> Result<(), String> {
        self.with(|j| j.upload_parts_planned(self.id, parts))
    }

    fn part_created(&mut self, part: usize, url: &str) -> Result<(), String> {
        self.with(|j| j.upload_part_created(self.id, part, url))
    }

    fn part_acknowledged(&mut self, part: usize, offset: u64) -> Result<(), String> {
        self.with(|j| j.upload_part_progress(self.id, part, offset))
    }

    /// Its photo was paused, or its upload cancelled (gone from the journal).
    fn parked(&self) -> bool {
        self.core.held().contains(&self.asset)
            || self.core.journal.lock().is_ok_and(|j| {
                j.upload(self.id)
                    .map_or(true, |u| !matches!(u.state, UploadState::Queued | UploadState::Sending))
            })
    }
}
