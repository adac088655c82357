//! The scheduler: many files at once over a few streams, the most urgent first, each file
//! retried with backoff until it is sent, refused for good, or has failed too often in a row
//! (then it is left, resumable, for the next run). Optionally it adapts the number of
//! streams to the throughput it measures.
//!
//! What to send, in what order, and what became of it is the [`Queue`]'s business (the
//! engine's journal); the scheduler only asks for the next file and reports.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::client::TusClient;
use crate::error::Error;
use crate::pacing::Backoff;
use crate::send::{send, Job, Part, Record, Sent};

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Files sent at once (at the start, with `adaptive`).
    pub streams: usize,
    /// Raise and lower the number of streams, between 1 and `max_streams`, by measured
    /// throughput.
    pub adaptive: bool,
    pub max_streams: usize,
    /// Failed attempts in a row without progress before a file is left for the next run.
    pub attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How often the adaptive mode measures and decides.
    pub window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            streams: 4,
            adaptive: false,
            max_streams: 16,
            attempts: 8,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            window: Duration::from_secs(3),
        }
    }
}

/// A file to send, and who records its progress (the journal).
pub struct Task<K> {
    pub key: K,
    pub job: Job,
    pub record: Box<dyn Record + Send>,
}

pub enum Next<K> {
    Task(Task<K>),
    /// Nothing to send now, but more may come (files still being developed).
    Later,
    /// Nothing left and nothing coming.
    Done,
}

/// The source of work and the sink of outcomes.
pub trait Queue: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Send + Sync + std::fmt::Debug + 'static;
    /// The most urgent file not in `busy`.
    fn next(&self, busy: &HashSet<Self::Key>) -> Next<Self::Key>;
    /// Every byte is on the server.
    fn sent(&self, key: &Self::Key, sent: &Sent);
    /// An attempt failed; another follows unless `giving_up`.
    fn attempt_failed(&self, key: &Self::Key, error: &Error, giving_up: bool);
    /// Refused: not tried again in this run.
    fn failed(&self, key: &Self::Key, error: &Error);
    /// Whether the run is to stop: no retry starts and no new file is taken (the journal
    /// cannot be written, the destination refused the token). Checked before every retry.
    fn stopped(&self) -> bool {
        false
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub sent: u64,
    pub failed: u64,
    /// Files left after too many failed attempts in a row (for the next run).
    pub left: u64,
    /// Bytes sent more than once (damaged chunks, offsets the server had moved past).
    pub resent: u64,
    /// The most streams used at once.
    pub peak_streams: usize,
}

struct Shared<Q: Queue> {
    client: TusClient,
    queue: Q,
    policy: Policy,
    busy: Mutex<HashSet<Q::Key>>,
    allowed: Arc<AtomicUsize>,
    summary: Mutex<Summary>,
    done: std::sync::atomic::AtomicBool,
}

/// Sends everything the queue hands out, then returns what happened.
pub async fn run<Q: Queue>(client: TusClient, queue: Q, policy: Policy) -> Summary {
    let streams = Arc::new(AtomicUsize::new(policy.streams));
    run_with(client, queue, policy, streams).await
}

/// [`run`], with the number of files sent at once read from `streams` as it goes, so a
/// host can change it while the run lasts (up to `policy.max_streams`; the adaptive mode
/// writes it too).
pub async fn run_with<Q: Queue>(
    client: TusClient,
    queue: Q,
    policy: Policy,
    streams: Arc<AtomicUsize>,
) -> Summary {
    let max = policy.max_streams.max(1);
    let first = streams.load(Ordering::Acquire).clamp(1, max);
    streams.store(first, Ordering::Release);
    // One worker per possible stream; those above the allowed count wait.
    let workers = max.max(first);
    let shared = Arc::new(Shared {
        client,
        queue,
        policy,
        busy: Mutex::new(HashSet::new()),
        allowed: streams,
        summary: Mutex::new(Summary { peak_streams: first, ..Summary::default() }),
        done: std::sync::atomic::AtomicBool::new(false),
    });
    let adapter = shared.policy.adaptive.then(|| tokio::spawn(adapt(shared.clone())));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..workers {
        tasks.spawn(worker(shared.clone(), index));
    }
    while tasks.join_next().await.is_some() {}
    if let Some(a) = adapter {
        a.abort();
    }
    let summary = shared.summary.lock().map(|s| s.clone()).unwrap_or_default();
    summary
}

/// How long an idle worker waits before asking the queue again.
const POLL: Duration = Duration::from_millis(50);

async fn worker<Q: Queue>(shared: Arc<Shared<Q>>, index: usize) {
    loop {
        if shared.done.load(Ordering::Acquire) {
            return;
        }
        if index >= shared.allowed.load(Ordering::Acquire) {
            tokio::time::sleep(POLL).await;
            continue;
        }
        if shared.queue.stopped() && shared.busy.lock().is_ok_and(|b| b.is_empty()) {
            shared.done.store(true, Ordering::Release);
            return;
        }
        let next = {
            let Ok(mut busy) = shared.busy.lock() else { return };
            match shared.queue.next(&busy) {
                Next::Task(task) => {
                    busy.insert(task.key.clone());
                    Some(task)
                }
                Next::Done if busy.is_empty() => {
                    shared.done.store(true, Ordering::Release);
                    return;
                }
                Next::Done | Next::Later => None,
            }
        };
        let Some(task) = next else {
            tokio::time::sleep(POLL).await;
            continue;
        };
        let key = task.key.clone();
        // A bug in one transfer (a panic) fails that upload; the worker, the key it held
        // and the rest of the run go on.
        let outcome = match AssertUnwindSafe(attempts(&shared, task, index as u64)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                shared.queue.failed(&key, &Error::Panicked(what));
                Outcome::Failed
            }
        };
        if let Ok(mut summary) = shared.summary.lock() {
            match outcome {
                Outcome::Sent(resent) => {
                    summary.sent += 1;
                    summary.resent += resent;
                }
                Outcome::Failed => summary.failed += 1,
                Outcome::Left => summary.left += 1,
            }
        }
        if let Ok(mut busy) = shared.busy.lock() {
            busy.remove(&key);
        }
    }
}

enum Outcome {
    Sent(u64),
    Failed,
    Left,
}

/// Records through to the journal, and notes what the retry loop needs: the upload URL
/// (and the parts' URLs) once made, and whether an attempt moved an offset past the
/// furthest one seen.
struct Tracking {
    inner: Box<dyn Record + Send>,
    url: Option<String>,
    parts: Vec<Part>,
    /// The furthest offset seen of the whole upload (key None) and of each part.
    furthest: HashMap<Option<usize>, u64>,
    progressed: bool,
}

impl Tracking {
    fn reached(&mut self, key: Option<usize>, offset: u64) {
        match self.furthest.get(&key) {
            Some(&f) if offset <= f => {}
            seen => {
                self.progressed |= seen.is_some();
                self.furthest.insert(key, offset);
            }
        }
    }
}

impl Record for Tracking {
    fn created(&mut self, url: &str) -> Result<(), String> {
        self.url = Some(url.to_string());
        self.inner.created(url)
    }

    fn acknowledged(&mut self, offset: u64) -> Result<(), String> {
        self.reached(None, offset);
        self.inner.acknowledged(offset)
    }

    fn restarted(&mut self, reason: &str) -> Result<(), String> {
        self.url = None;
        self.parts.clear();
        self.furthest.clear();
        self.inner.restarted(reason)
    }

    fn parts_planned(&mut self, parts: &[(u64, u64)]) -> Result<(), String> {
        self.parts = parts.iter().map(|&(start, length)| Part { start, length, url: None }).collect();
        self.inner.parts_planned(parts)
    }

    fn part_created(&mut self, part: usize, url: &str) -> Result<(), String> {
        if let Some(p) = self.parts.get_mut(part) {
            p.url = Some(url.to_string());
        }
        self.inner.part_created(part, url)
    }

    fn part_acknowledged(&mut self, part: usize, offset: u64) -> Result<(), String> {
        self.reached(Some(part), offset);
        self.inner.part_acknowledged(part, offset)
    }

    fn parked(&self) -> bool {
        self.inner.parked()
    }
}

/// One file until it is sent, refused, or failed `attempts` times in a row.
async fn attempts<Q: Queue>(shared: &Shared<Q>, task: Task<Q::Key>, seed: u64) -> Outcome {
    let Task { key, mut job, record } = task;
    let policy = &shared.policy;
    let mut tracking = Tracking {
        inner: record,
        url: job.url.clone(),
        parts: job.parts.clone(),
        furthest: HashMap::new(),
        progressed: false,
    };
    let mut backoff =
        Backoff::new(policy.backoff_base, policy.backoff_cap, seed.wrapping_mul(0x9e37_79b9) + 1);
    loop {
        tracking.progressed = false;
        job.url = tracking.url.clone();
        job.parts = tracking.parts.clone();
        let error = match send(&shared.client, &job, &mut tracking).await {
            Ok(sent) => {
                shared.queue.sent(&key, &sent);
                return Outcome::Sent(sent.resent);
            }
            // Expired or deleted under us, or quarantined (bytes damaged on the way or by an
            // earlier run): a new upload, as a fresh attempt that reads and checks the
            // file again.
            Err(e @ (Error::Gone { .. } | Error::Quarantined { .. })) => {
                if let Err(e) = tracking.restarted(&e.to_string()) {
                    let error = Error::Record(e);
                    shared.queue.failed(&key, &error);
                    return Outcome::Failed;
                }
                e
            }
            // Stopped between chunks: left as the server has it, not a failed attempt.
            Err(Error::Parked) => return Outcome::Left,
            Err(e) if e.is_transient() => e,
            Err(e) => {
                shared.queue.failed(&key, &e);
                return Outcome::Failed;
            }
        };
        if tracking.progressed {
            backoff.reset();
        }
        let giving_up = backoff.attempts() + 1 >= policy.attempts || shared.queue.stopped();
        shared.queue.attempt_failed(&key, &error, giving_up);
        if giving_up {
            return Outcome::Left;
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// The adaptive mode: every window, compare throughput with the window before and keep
/// moving the stream count in the direction that helped.
async fn adapt<Q: Queue>(shared: Arc<Shared<Q>>) {
    let sent = shared.client.pace().sent.clone();
    let max = shared.policy.max_streams.max(1);
    let mut climb = Climb::new(shared.allowed.load(Ordering::Acquire), max);
    let (mut last_bytes, mut last_at) = (sent.load(Ordering::Relaxed), Instant::now());
    loop {
        tokio::time::sleep(shared.policy.window).await;
        let (bytes, at) = (sent.load(Ordering::Relaxed), Instant::now());
        let rate = (bytes - last_bytes) as f64 / at.duration_since(last_at).as_secs_f64();
        (last_bytes, last_at) = (bytes, at);
        let streams = climb.decide(rate);
        shared.allowed.store(streams, Ordering::Release);
        if let Ok(mut summary) = shared.summary.lock() {
            summary.peak_streams = summary.peak_streams.max(streams);
        }
    }
}

/// Hill climbing on the stream count: a step that raised throughput by more than 5 % is
/// repeated, one that lowered it by more than 5 % is undone and the direction reversed;
/// in between, the count stays.
#[derive(Debug, Clone)]
pub struct Climb {
    streams: usize,
    max: usize,
    up: bool,
    last: Option<f64>,
}

impl Climb {
    pub fn new(streams: usize, max: usize) -> Climb {
        Climb { streams: streams.clamp(1, max.max(1)), max: max.max(1), up: true, last: None }
    }

    /// The stream count for the next window, given the throughput of the one that ended.
    pub fn decide(&mut self, rate: f64) -> usize {
        let step = match self.last {
            None => true,
            Some(last) if rate > last * 1.05 => true,
            Some(last) if rate < last * 0.95 => {
                self.up = !self.up;
                true
            }
            Some(_) => false,
        };
        self.last = Some(rate);
        let target = if self.up { self.streams + 1 } else { self.streams.saturating_sub(1) };
        if step && (1..=self.max).contains(&target) {
            self.streams = target;
        }
        self.streams
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Throughput rises with streams up to 6, then falls (a congested link).
    fn link(streams: usize) -> f64 {
        let s = streams as f64;
        if s <= 6.0 {
            s * 10.0
        } else {
            60.0 - (s - 6.0) * 8.0
        }
    }

    #[test]
    fn climbing_settles_near_the_best_stream_count() {
        let mut climb = Climb::new(2, 16);
        let mut streams = 2;
        let mut seen = Vec::new();
        for _ in 0..30 {
            streams = climb.decide(link(streams));
            seen.push(streams);
        }
        let tail = &seen[20..];
        assert!(tail.iter().all(|s| (5..=7).contains(s)), "{seen:?}");
        assert!(seen.iter().all(|s| (1..=16).contains(s)));
    }

    #[test]
    fn climbing_stays_within_its_bounds() {
        let mut climb = Climb::new(3, 4);
        let counts: Vec<usize> = (1..20).map(|k| climb.decide(k as f64 * 100.0)).collect();
        assert!(counts.iter().all(|s| (1..=4).contains(s)), "{counts:?}");
        assert_eq!(*counts.last().expect("counts"), 4, "{counts:?}");
    }
}
