//! What the engine's tests share: our server in the test process, test files, settings.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wedsync_develop::{BackendChoice, BackendOptions, Developer};
use wedsync_engine::{Rules, Settings, Snapshot};
use wedsync_transfer::{Bandwidth, Destination, Pace, Policy};

/// Our server, serving from `data` until the runtime ends.
pub async fn server(data: &Path) -> (String, String) {
    let db = wedsync_ingest::open_db(data).expect("db");
    let token = wedsync_ingest::SqliteTokens::new(db).add("alice", false).expect("token");
    let ingest = wedsync_ingest::open_local(data, wedsync_ingest::Limits::default()).expect("ingest");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let url = format!("http://{}/files", listener.local_addr().expect("addr"));
    tokio::spawn(wedsync_ingest::serve(ingest, listener, std::future::pending()));
    (url, token)
}

pub use crate::photos::files;

pub fn settings(url: &str, token: &str, bytes_per_second: u64) -> Settings {
    let developer = Developer::new(&BackendOptions { choice: BackendChoice::Cpu, ..Default::default() });
    Settings {
        destination: Destination {
            endpoint: url.to_string(),
            token: Some(token.to_string()),
            chunk_size: 128 * 1024,
            parts: 1,
        },
        policy: Policy { streams: 2, ..Policy::default() },
        pace: Pace {
            bandwidth: Some(Arc::new(Mutex::new(Bandwidth::new(bytes_per_second, Instant::now())))),
            ..Pace::default()
        },
        rules: Rules { presets: Vec::new(), originals: true, backups: Vec::new(), ..Rules::default() },
        gallery: None,
        develop_threads: 1,
        developer: Arc::new(developer.expect("a CPU developer")),
    }
}

pub fn sent(snapshot: &Snapshot) -> u64 {
    snapshot.rows.iter().flat_map(|r| &r.uploads).map(|u| u.sent).sum()
}

pub async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
