//! The scheduler (`run`) against @tus/server: regressions from attacking `wedsync upload`
//! (issue 14).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wedsync_transfer::{
    run, Bandwidth, Destination, Error, Job, Next, Pace, Policy, Queue, Record, Sent, Task,
};

use crate::support::{photo_bytes, tus_node_server};

/// Hands out one task per file and notes every outcome.
struct Files {
    tasks: Mutex<Vec<Task<usize>>>,
    outcomes: Mutex<Vec<String>>,
}

impl Queue for Files {
    type Key = usize;

    fn next(&self, _busy: &HashSet<usize>) -> Next<usize> {
        match self.tasks.lock().expect("lock").pop() {
            Some(task) => Next::Task(task),
            None => Next::Done,
        }
    }
    fn sent(&self, key: &usize, _sent: &Sent) {
        self.outcomes.lock().expect("lock").push(format!("{key} sent"));
    }
    fn attempt_failed(&self, key: &usize, error: &Error, _giving_up: bool) {
        self.outcomes.lock().expect("lock").push(format!("{key} attempt failed: {error}"));
    }
    fn failed(&self, key: &usize, error: &Error) {
        self.outcomes.lock().expect("lock").push(format!("{key} failed: {error}"));
    }
}

/// Records nothing; panics on creation when told to (a bug in one transfer).
struct Quiet {
    panic: bool,
}

impl Record for Quiet {
    fn created(&mut self, _url: &str) -> Result<(), String> {
        assert!(!self.panic, "a bug while recording the creation");
        Ok(())
    }
    fn acknowledged(&mut self, _offset: u64) -> Result<(), String> {
        Ok(())
    }
    fn restarted(&mut self, _reason: &str) -> Result<(), String> {
        Ok(())
    }
    fn parts_planned(&mut self, _parts: &[(u64, u64)]) -> Result<(), String> {
        Ok(())
    }
    fn part_created(&mut self, _part: usize, _url: &str) -> Result<(), String> {
        Ok(())
    }
    fn part_acknowledged(&mut self, _part: usize, _offset: u64) -> Result<(), String> {
        Ok(())
    }
}

/// `count` files of `len` bytes as tasks; the `panicking` one panics when recording.
fn files(dir: &std::path::Path, count: usize, len: usize, panicking: Option<usize>) -> Files {
    let tasks = (0..count)
        .map(|key| {
            let path = dir.join(format!("IMG_{key}.JPG"));
            std::fs::write(&path, photo_bytes(len, key as u64 + 1)).expect("write");
            let job = Job {
                path,
                length: len as u64,
                metadata: vec![("filename".into(), format!("IMG_{key}.JPG"))],
                url: None,
                parts: Vec::new(),
                sha256: None,
            };
            Task {
                key,
                job,
                record: Box::new(Quiet { panic: panicking == Some(key) }) as Box<dyn Record + Send>,
            }
        })
        .collect();
    Files { tasks: Mutex::new(tasks), outcomes: Mutex::new(Vec::new()) }
}

async fn client(endpoint: &str, pace: Pace) -> wedsync_transfer::TusClient {
    let destination =
        Destination { endpoint: endpoint.into(), token: None, chunk_size: 256 * 1024, parts: 1 };
    let mut client = wedsync_transfer::TusClient::connect(destination).await.expect("OPTIONS");
    client.set_pace(pace);
    client
}

/// Regression (issue 14, defect 4): a panic in one transfer left its key busy for ever and
/// the run never ended.
#[tokio::test]
async fn a_panic_in_one_transfer_fails_that_upload_and_the_run_still_ends() {
    let store = tempfile::tempdir().expect("store");
    let peer = tus_node_server(store.path());
    let dir = tempfile::tempdir().expect("files");
    let queue = files(dir.path(), 3, 10_000, Some(1));
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        run(client(&peer.endpoint, Pace::default()).await, queue, Policy { streams: 2, ..Policy::default() }),
    )
    .await
    .expect("the run ended");
    assert_eq!((summary.sent, summary.failed), (2, 1), "{summary:?}");
}

/// Regression (issue 14, defect 10): waiting for our own bandwidth cap was counted as a
/// stall, so at a low cap with several streams every request was cut.
#[tokio::test]
async fn waiting_for_the_bandwidth_cap_is_not_a_stall() {
    let store = tempfile::tempdir().expect("store");
    let peer = tus_node_server(store.path());
    let dir = tempfile::tempdir().expect("files");
    let queue = Arc::new(files(dir.path(), 4, 150_000, None));
    // 100 kB/s shared by 4 streams: a 64 KiB piece waits up to ~2.6 s for its turn, longer
    // than the 1 s stall timeout.
    let pace = Pace {
        stall: Duration::from_secs(1),
        bandwidth: Some(Arc::new(Mutex::new(Bandwidth::new(100_000, Instant::now())))),
        ..Pace::default()
    };
    let shared = SharedFiles(queue.clone());
    let summary =
        run(client(&peer.endpoint, pace).await, shared, Policy { streams: 4, ..Policy::default() }).await;
    let outcomes = queue.outcomes.lock().expect("lock").clone();
    assert_eq!(summary.sent, 4, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.ends_with(" sent")), "a request was cut while it waited: {outcomes:?}");
}

/// The queue behind an `Arc`, so the test can read the outcomes after the run.
struct SharedFiles(Arc<Files>);

impl Queue for SharedFiles {
    type Key = usize;
    fn next(&self, busy: &HashSet<usize>) -> Next<usize> {
        self.0.next(busy)
    }
    fn sent(&self, key: &usize, sent: &Sent) {
        self.0.sent(key, sent)
    }
    fn attempt_failed(&self, key: &usize, error: &Error, giving_up: bool) {
        self.0.attempt_failed(key, error, giving_up)
    }
    fn failed(&self, key: &usize, error: &Error) {
        self.0.failed(key, error)
    }
}
