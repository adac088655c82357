//! `upload`: record, develop and send, with development running ahead of the upload so the
//! link is busy as soon as the first rendition is ready.

use std::path::PathBuf;
use std::sync::Arc;

use wedsync_develop::{Developer, Preset};
use wedsync_journal::{Problem, Remaining};
use wedsync_transfer::{Destination, Pace, Policy, Summary};

use crate::error::Result;
use crate::home::Home;
use crate::queue::Events;
use crate::service::work::Rules;
use crate::service::{Engine, Intent, Settings};

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
    /// A file a source watches was still changing after the time limit (reported once; it
    /// is admitted when it settles).
    Unsettled {
        path: PathBuf,
        seconds: u64,
    },
    /// A card was mounted and is being read.
    CardFound {
        name: String,
        mount: PathBuf,
        files: u64,
    },
    /// A file could not be read whole because its card (or the file) went away: nothing of
    /// it was recorded; it is taken when the card comes back.
    Waiting {
        path: PathBuf,
        error: String,
    },
    /// The file's picture was recorded before in other bytes (its metadata was edited: a
    /// rating set in the camera, a caption): the same asset. `kept`: its original was on
    /// the server already and stands; else the newest bytes are the ones sent.
    Edited {
        path: PathBuf,
        kept: bool,
    },
    /// A camera JPEG shot with a RAW: kept with the RAW's asset (copied, sent as an
    /// original when originals are), not developed into a second photo.
    Grouped {
        path: PathBuf,
        raw: PathBuf,
    },
    /// A file a source's rules leave out (its kind, a rating below its minimum).
    Skipped {
        path: PathBuf,
        reason: String,
    },
    /// A card went away (unmounted, pulled).
    CardGone {
        mount: PathBuf,
    },
    /// A source cannot work as asked (no change events, no volume detection).
    SourceTrouble {
        source: String,
        error: String,
    },
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub files: usize,
    pub developed: usize,
    pub develop_failed: usize,
    /// Files not read whole because their card went away (not recorded; taken when it is
    /// back).
    pub waiting: usize,
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
/// the same destination: an engine started, the files added, run until idle.
pub async fn upload(home: &Home, request: UploadRequest, events: Events) -> Result<Report> {
    let UploadRequest {
        files,
        presets,
        originals,
        backups,
        destination,
        policy,
        pace,
        gallery,
        develop_threads,
        developer,
    } = request;
    let settings = Settings {
        destination,
        policy,
        pace,
        rules: Rules { presets, originals, backups, ..Rules::default() },
        gallery,
        develop_threads: develop_threads.clamp(1, files.len().max(1)),
        developer,
    };
    let engine = Engine::start(home, settings, events)?;
    engine.apply(Intent::AddPaths { paths: files, rules: None })?;
    engine.finish().await
}
