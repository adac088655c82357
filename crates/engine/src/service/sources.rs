//! Sources: where camera files come from without anyone typing a path. A watched folder
//! (tethering, hot folder) is read by rescanning ([`crate::hotfolder`]): at start, every few
//! seconds, and at once when the platform's watcher (`notify`: inotify, FSEvents,
//! ReadDirectoryChanges; polling for network shares) says something changed or overflowed;
//! a close-write event (Linux) takes a frame through the short confirmation instead of
//! the quiet spell. Cards are found as the OS mounts them ([`crate::volumes`]) and read once
//! per mount. Each source runs on a thread of its own and feeds the engine's work queue.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use wedsync_journal::Journal;

use crate::error::{Error, Result};
use crate::hotfolder::HotFolder;
use crate::service::view::{CardRow, SourceRow};
use crate::service::work::{Rules, Work};
use crate::service::Core;
use crate::settle::Settle;
use crate::upload::Event;
use crate::volumes::Safety;

/// A source as a host defines it.
#[derive(Debug, Clone)]
pub struct Source {
    /// Unique among the engine's sources.
    pub name: String,
    pub kind: SourceKind,
    pub rules: Rules,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub enum SourceKind {
    /// A tethering or hot folder. `poll`: no change events (network shares).
    Folder { path: PathBuf, poll: bool, settle: Settle },
    /// Cards mounted at or below these roots (every mount with a DCIM folder when empty).
    Cards { roots: Vec<PathBuf> },
}

/// A source and the thread that reads it.
pub(crate) struct RunningSource {
    source: Source,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Mutex<Stats>>,
}

#[derive(Default)]
struct Stats {
    admitted: u64,
    unsettled: Vec<PathBuf>,
}

/// How often a watched folder is rescanned when nothing is happening.
const RESCAN: Duration = Duration::from_secs(10);
/// How soon after a change event the folder is looked at again.
const SOON: Duration = Duration::from_millis(250);

/// A tethered frame's priority: its admission time in ms, so the newest goes first and
/// every tethered frame goes before rated picks (ratings are 1–5) and the rest (0).
fn tethered_priority() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_millis() as i64)
}

pub(crate) fn add(core: &Arc<Core>, source: Source) -> Result<()> {
    if source.name.trim().is_empty() {
        return Err(Error::Source { name: source.name, reason: "a source needs a name".into() });
    }
    if let SourceKind::Folder { path, .. } = &source.kind {
        if !path.is_dir() {
            return Err(Error::Source {
                name: source.name.clone(),
                reason: format!("{} is not a folder", path.display()),
            });
        }
    }
    let _ = remove(core, &source.name);
    let mut running =
        RunningSource { source, stop: Arc::new(AtomicBool::new(false)), thread: None, stats: Arc::default() };
    if running.source.enabled {
        running.thread = Some(spawn(core, &running)?);
    }
    core.sources.lock().map_err(|_| Error::Poisoned)?.insert(running.source.name.clone(), running);
    Ok(())
}

pub(crate) fn enable(core: &Arc<Core>, name: &str, enabled: bool) -> Result<()> {
    let source = {
        let sources = core.sources.lock().map_err(|_| Error::Poisoned)?;
        let running = sources.get(name).ok_or_else(|| unknown(name))?;
        Source { enabled, ..running.source.clone() }
    };
    add(core, source)
}

pub(crate) fn remove(core: &Core, name: &str) -> Result<()> {
    let running = core.sources.lock().map_err(|_| Error::Poisoned)?.remove(name);
    let mut running = running.ok_or_else(|| unknown(name))?;
    stop(&mut running);
    // Its files not taken in yet are dropped; they are found again if it comes back.
    core.work.remove(|w| w.source.as_deref() == Some(name));
    Ok(())
}

pub(crate) fn stop_all(core: &Core) {
    if let Ok(mut sources) = core.sources.lock() {
        for running in sources.values_mut() {
            stop(running);
        }
    }
}

fn stop(running: &mut RunningSource) {
    running.stop.store(true, Ordering::Release);
    if let Some(thread) = running.thread.take() {
        let _ = thread.join();
    }
}

fn unknown(name: &str) -> Error {
    Error::Source { name: name.to_string(), reason: "no such source".into() }
}

pub(crate) fn rows(core: &Core) -> Vec<SourceRow> {
    let Ok(sources) = core.sources.lock() else { return Vec::new() };
    sources
        .values()
        .map(|r| {
            let stats = r.stats.lock();
            let (kind, paths) = match &r.source.kind {
                SourceKind::Folder { path, .. } => ("folder", vec![path.clone()]),
                SourceKind::Cards { roots } => ("cards", roots.clone()),
            };
            SourceRow {
                name: r.source.name.clone(),
                kind,
                paths,
                enabled: r.source.enabled,
                admitted: stats.as_ref().map_or(0, |s| s.admitted),
                unsettled: stats.map(|s| s.unsettled.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// Every card the journal remembers (mounted now or not), with how many of its files are
/// safe under the cards source's policy.
pub(crate) fn card_rows(core: &Core, journal: &Journal) -> Result<Vec<CardRow>> {
    let policy = core
        .sources
        .lock()
        .map_err(|_| Error::Poisoned)?
        .values()
        .find(|r| matches!(r.source.kind, SourceKind::Cards { .. }))
        .map_or(Safety::default(), |r| r.source.rules.safe);
    let mut rows = Vec::new();
    for card in journal.known_cards()? {
        let safe = crate::volumes::safe_count(journal, &card, policy)?;
        let files = card.files.len() as u64;
        rows.push(CardRow {
            id: card.id,
            label: card.label,
            mounted_at: card.mounted.then_some(card.mount),
            files,
            safe,
            all_safe: files > 0 && safe == files,
        });
    }
    Ok(rows)
}

fn spawn(core: &Arc<Core>, running: &RunningSource) -> Result<std::thread::JoinHandle<()>> {
    let (core, source, stop, stats) =
        (core.clone(), running.source.clone(), running.stop.clone(), running.stats.clone());
    std::thread::Builder::new()
        .name(format!("source-{}", source.name))
        .spawn(move || match &source.kind {
            SourceKind::Folder { path, poll, settle } => {
                watch_folder(&core, &source, path, *poll, *settle, &stop, &stats)
            }
            SourceKind::Cards { roots } => watch_cards(&core, &source, roots, &stop),
        })
        .map_err(|e| Error::Task(format!("starting source {}: {e}", running.source.name)))
}

/// Change events as the watcher delivers them.
type Changes = Receiver<notify::Result<notify::Event>>;

/// The platform's change events for `path`, or None (then rescans alone find the files).
fn watcher(core: &Core, source: &Source, path: &Path, poll: bool) -> Option<(Box<dyn Watcher>, Changes)> {
    let (tx, rx) = channel();
    let made: notify::Result<Box<dyn Watcher>> = if poll {
        let config = notify::Config::default().with_poll_interval(Duration::from_secs(2));
        notify::PollWatcher::new(tx, config).map(|w| Box::new(w) as Box<dyn Watcher>)
    } else {
        notify::recommended_watcher(tx).map(|w| Box::new(w) as Box<dyn Watcher>)
    };
    let watching = made.and_then(|mut w| w.watch(path, RecursiveMode::Recursive).map(|()| w));
    match watching {
        Ok(w) => Some((w, rx)),
        Err(e) => {
            (core.events)(Event::SourceTrouble {
                source: source.name.clone(),
                error: format!(
                    "no change events for {} ({e}): rescanning every {}s",
                    path.display(),
                    RESCAN.as_secs()
                ),
            });
            None
        }
    }
}

fn watch_folder(
    core: &Core,
    source: &Source,
    path: &Path,
    poll: bool,
    settle: Settle,
    stop: &AtomicBool,
    stats: &Mutex<Stats>,
) {
    let rules = Arc::new(source.rules.clone());
    let mut folder = HotFolder::new(path.to_path_buf(), settle, crate::kinds::is_camera_file);
    let events = watcher(core, source, path, poll);
    let mut next_scan = Instant::now();
    let mut reported: HashSet<PathBuf> = HashSet::new();
    while !stop.load(Ordering::Acquire) {
        let mut closed = VecDeque::new();
        match &events {
            Some((_, rx)) => match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(event)) => {
                    if event.need_rescan() {
                        next_scan = Instant::now();
                    }
                    match event.kind {
                        EventKind::Access(AccessKind::Close(AccessMode::Write)) => closed.extend(event.paths),
                        EventKind::Create(_) | EventKind::Modify(_) => {
                            next_scan = next_scan.min(Instant::now() + SOON);
                        }
                        _ => {}
                    }
                }
                Ok(Err(_)) => next_scan = Instant::now(),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(50)),
            },
            None => std::thread::sleep(Duration::from_millis(50)),
        }
        let now = Instant::now();
        for path in closed {
            folder.closed(&path, now);
        }
        let found = if now >= next_scan {
            let found = folder.scan(now);
            next_scan = now + if folder.pending() > 0 { SOON } else { RESCAN };
            found
        } else {
            folder.check_closed(now)
        };
        for (path, _) in found.admitted {
            let seq = stats.lock().map_or(0, |mut s| {
                s.admitted += 1;
                s.admitted
            });
            let source = Some(source.name.clone());
            core.add(Work { path, rules: rules.clone(), priority: tethered_priority(), source, seq });
        }
        for (path, since) in found.unsettled {
            if reported.insert(path.clone()) {
                (core.events)(Event::Unsettled { path: path.clone(), seconds: since.as_secs() });
                if let Ok(mut s) = stats.lock() {
                    s.unsettled.push(path);
                }
            }
        }
    }
}

fn watch_cards(core: &Core, source: &Source, roots: &[PathBuf], stop: &AtomicBool) {
    let rules = Arc::new(source.rules.clone());
    let mut volumes = match crate::volumes::system() {
        Ok(v) => v,
        Err(e) => {
            let error = format!("cards cannot be detected here: {e}");
            return (core.events)(Event::SourceTrouble { source: source.name.clone(), error });
        }
    };
    let mut read: HashSet<PathBuf> = HashSet::new();
    // Remembered, so that a card that is out is still listed with its safe files.
    let remember = |f: &dyn Fn(&mut Journal) -> wedsync_journal::Result<()>| {
        let done = core.journal.lock().map_err(|_| Error::Poisoned).and_then(|mut j| Ok(f(&mut j)?));
        if let Err(e) = done {
            let error = format!("remembering a card: {e}");
            (core.events)(Event::SourceTrouble { source: source.name.clone(), error });
        }
    };
    while !stop.load(Ordering::Acquire) {
        let mounted = volumes.mounted().unwrap_or_default();
        let cards = crate::volumes::cards(&mounted, roots);
        let now: HashSet<PathBuf> = cards.iter().map(|c| c.volume.mount_point.clone()).collect();
        for card in &cards {
            let mount = card.volume.mount_point.clone();
            if !read.insert(mount.clone()) {
                continue;
            }
            (core.events)(Event::CardFound { name: card.name(), mount: mount.clone(), files: card.files });
            remember(&|j| j.card_seen(&card.known()));
            core.card_inserted.store(true, Ordering::Release);
            for (i, path) in
                crate::volumes::dcim_photos(&mount, crate::kinds::is_camera_file).into_iter().enumerate()
            {
                let source = Some(source.name.clone());
                core.add(Work { path, rules: rules.clone(), priority: 0, source, seq: i as u64 + 1 });
            }
        }
        for gone in read.iter().filter(|m| !now.contains(*m)).cloned().collect::<Vec<_>>() {
            read.remove(&gone);
            remember(&|j| j.card_gone(&gone));
            core.view.touched();
            (core.events)(Event::CardGone { mount: gone });
        }
        let _ = volumes.wait(Duration::from_millis(500));
    }
}
