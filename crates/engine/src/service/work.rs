//! The develop side of the engine: camera files waiting to be recorded, backed up,
//! developed and planned for upload, most urgent first, and the threads that do it.

use std::collections::{BinaryHeap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use wedsync_develop::Preset;
use wedsync_journal::AssetId;

use crate::kinds::Files;
use crate::rename::Template;
use crate::volumes::Safety;

/// What a source asks of its files.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Renditions to make and send, in this order; may be empty with `originals`.
    pub presets: Vec<Preset>,
    /// Also send the camera files, after every rendition.
    pub originals: bool,
    /// Local folders each camera file is first copied to, verified (see [`crate::backup`]).
    pub backups: Vec<PathBuf>,
    /// Which photos it takes: RAW, RAW+JPEG or all.
    pub files: Files,
    /// Also take videos (copied and sent as originals, never developed).
    pub videos: bool,
    /// Files rated below this (XMP sidecar, else the file's own rating) are not taken; 0
    /// takes all.
    pub min_rating: i64,
    /// The names uploads go under; None: the camera's.
    pub rename: Option<Template>,
    /// Seconds added to the capture time (a second shooter's body whose clock is off).
    pub clock_offset: i64,
    /// What makes a file on a card safe to format (cards sources).
    pub safe: Safety,
}

/// One camera file to take in.
#[derive(Debug, Clone)]
pub struct Work {
    pub path: PathBuf,
    pub rules: Arc<Rules>,
    /// Higher first: the newest tethered frame, then rated picks, then the rest.
    pub priority: i64,
    /// The source that found it, for the queue's rows.
    pub source: Option<String>,
    /// Its number in its source (or among the paths added), for `{seq}`.
    pub seq: u64,
}

/// Ordered by priority, then by arrival (first come, first served among equals).
struct Queued {
    priority: i64,
    seq: u64,
    work: Work,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.priority, self.seq) == (other.priority, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority.cmp(&other.priority).then(other.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Queued>,
    seq: u64,
    /// Files being worked on now.
    active: usize,
    /// No more files will be added: threads end when the queue is empty.
    draining: bool,
    /// Stop now: threads end after the file in hand.
    closed: bool,
}

/// The files waiting, shared by the develop threads and whoever adds files.
#[derive(Default)]
pub(crate) struct WorkQueue {
    state: Mutex<State>,
    changed: Condvar,
    /// Assets a develop thread is working on now: the same bytes given twice at once (a
    /// file named twice, a copy on the second card) are developed once; given again later,
    /// the cache and the journal have them.
    pub claimed: Mutex<HashSet<AssetId>>,
}

impl WorkQueue {
    pub fn push(&self, work: Work) {
        if let Ok(mut s) = self.state.lock() {
            if s.closed {
                return;
            }
            s.seq += 1;
            let seq = s.seq;
            s.heap.push(Queued { priority: work.priority, seq, work });
        }
        self.changed.notify_one();
    }

    /// The most urgent file, waiting for one; None when the queue is closed, or drained
    /// and empty.
    pub fn take(&self) -> Option<Work> {
        let mut s = self.state.lock().ok()?;
        loop {
            if s.closed {
                return None;
            }
            if let Some(q) = s.heap.pop() {
                s.active += 1;
                return Some(q.work);
            }
            if s.draining {
                return None;
            }
            s = self.changed.wait(s).ok()?;
        }
    }

    /// The file taken by [`WorkQueue::take`] is done with.
    pub fn done(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.active = s.active.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    /// Files waiting or in hand: an empty upload queue may fill again.
    pub fn busy(&self) -> bool {
        self.state.lock().is_ok_and(|s| !s.heap.is_empty() || s.active > 0)
    }

    /// Files waiting (not those in hand).
    pub fn waiting(&self) -> usize {
        self.state.lock().map_or(0, |s| s.heap.len())
    }

    /// Drops the waiting files `drop` says to (a cancelled asset's, a removed source's).
    pub fn remove(&self, drop: impl Fn(&Work) -> bool) {
        if let Ok(mut s) = self.state.lock() {
            let kept: Vec<Queued> =
                std::mem::take(&mut s.heap).into_iter().filter(|q| !drop(&q.work)).collect();
            s.heap = kept.into_iter().collect();
        }
    }

    /// No more files: threads end once the queue is empty.
    pub fn drain(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.draining = true;
        }
        self.changed.notify_all();
    }

    /// Stop taking files; the ones waiting stay unrecorded (a later start finds them again).
    pub fn close(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.closed = true;
            s.heap.clear();
        }
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(name: &str, priority: i64) -> Work {
        Work { path: PathBuf::from(name), rules: Arc::default(), priority, source: None, seq: 0 }
    }

    #[test]
    fn the_most_urgent_file_comes_first_and_equals_in_arrival_order() {
        let queue = WorkQueue::default();
        for (name, priority) in [("backlog1", 0), ("backlog2", 0), ("pick", 3), ("tethered", 1_000_000)] {
            queue.push(work(name, priority));
        }
        queue.drain();
        let order: Vec<Work> = std::iter::from_fn(|| queue.take()).collect();
        let names: Vec<&str> = order.iter().map(|p| p.path.to_str().unwrap_or("")).collect();
        assert_eq!(names, ["tethered", "pick", "backlog1", "backlog2"]);
    }
}
