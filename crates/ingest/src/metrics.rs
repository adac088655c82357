//! Counters for `/metrics` (Prometheus text format) and the admin's statistics. Each
//! process counts its own ([`Metrics`]); a [`Report`] is what it has counted, and the
//! [`Totals`] are every instance's reports summed (on the cluster store, through the shared
//! database; on the local store, this process's alone).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the PATCH latency histogram.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

/// How often an instance sharing a store reports its counters, besides whenever it answers
/// for them; one that has not reported for [`REPORTS_LIVE`] is taken to be gone (its counts
/// stay in the sums, its transfers in flight do not).
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
pub const REPORTS_LIVE: Duration = Duration::from_secs(20);

/// Series name (with its labels, as `/metrics` prints them) → count.
pub type Counters = BTreeMap<String, u64>;

/// What one process has counted since it started, and the request bodies streaming to it now.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub counters: Counters,
    pub in_flight: u64,
}

/// Reports summed across the instances sharing a store.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Counters of every instance that ever reported (a stopped one's counts still happened).
    pub counters: Counters,
    /// Bodies streaming now to the instances that reported lately.
    pub in_flight: u64,
    /// Instances that reported lately.
    pub instances: u64,
}

impl Totals {
    /// This process's report, as the totals of a store no other process shares.
    pub fn alone(report: Report) -> Totals {
        Totals { counters: report.counters, in_flight: report.in_flight, instances: 1 }
    }

    /// Adds `report` to these totals; its transfers count if `live`.
    pub fn add(&mut self, report: &Report, live: bool) {
        for (name, n) in &report.counters {
            *self.counters.entry(name.clone()).or_insert(0) += n;
        }
        if live {
            self.in_flight += report.in_flight;
            self.instances += 1;
        }
    }

    /// One counter, by its series name.
    pub fn get(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

const REQUESTS: &str = "wedsync_ingest_requests_total";
const PATCH_SECONDS: &str = "wedsync_ingest_patch_seconds";
/// The PATCH durations' sum is counted in whole microseconds, so that it adds up exactly.
const PATCH_SUM_US: &str = "wedsync_ingest_patch_seconds_sum_us";

/// The plain counters: series name and help ([`Metrics::fields`] counts them, in this order).
const COUNTERS: [(&str, &str); 12] = [
    ("wedsync_ingest_uploads_created_total", "Uploads created."),
    ("wedsync_ingest_uploads_completed_total", "Uploads completed and verified."),
    ("wedsync_ingest_uploads_quarantined_total", "Uploads whose SHA-256 did not match."),
    ("wedsync_ingest_uploads_terminated_total", "Uploads deleted by their owner."),
    ("wedsync_ingest_uploads_expired_total", "Unfinished uploads removed after expiry."),
    ("wedsync_ingest_bytes_received_total", "Upload bytes stored."),
    ("wedsync_ingest_checksum_mismatches_total", "Chunks discarded for a bad checksum."),
    ("wedsync_ingest_checksums_verified_total", "Chunks whose checksum matched."),
    ("wedsync_ingest_uploads_failed_total", "Final uploads that could never be made."),
    ("wedsync_ingest_verifications_total", "Whole-upload checks run (once per upload)."),
    (
        "wedsync_ingest_concat_bytes_copied_total",
        "Bytes of final uploads joined inside the object store (S3 UploadPartCopy).",
    ),
    (
        "wedsync_ingest_concat_bytes_streamed_total",
        "Bytes of final uploads joined by streaming their parts through the server.",
    ),
];

/// A PATCH latency bucket's series name.
fn bucket_name(i: usize) -> String {
    let le = BUCKETS.get(i).map_or("+Inf".to_string(), |v| v.to_string());
    format!("{PATCH_SECONDS}_bucket{{le=\"{le}\"}}")
}

#[derive(Default)]
pub struct Metrics {
    pub created: AtomicU64,
    pub completed: AtomicU64,
    pub quarantined: AtomicU64,
    pub terminated: AtomicU64,
    pub expired: AtomicU64,
    pub bytes_received: AtomicU64,
    pub checksum_mismatches: AtomicU64,
    pub checksums_verified: AtomicU64,
    /// Final uploads that could never be made.
    pub failed: AtomicU64,
    /// Whole-upload checks run (one per upload, however many requests ask).
    pub verifications: AtomicU64,
    /// Bytes of final uploads joined inside the object store, and through this server.
    pub concat_bytes_copied: AtomicU64,
    pub concat_bytes_streamed: AtomicU64,
    /// (method, status) → count.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// PATCH durations: counts per bucket (+Inf last), sum in microseconds.
    patch_buckets: [AtomicU64; BUCKETS.len() + 1],
    patch_sum_us: AtomicU64,
}

impl Metrics {
    pub fn request(&self, method: &str, status: u16, took: Duration) {
        // Labels from a fixed set: a client's made-up method is "other", whatever it is.
        const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"];
        let label = METHODS.into_iter().find(|m| *m == method).unwrap_or("other");
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((label, status)).or_insert(0) += 1;
        }
        if method == "PATCH" {
            let s = took.as_secs_f64();
            let i = BUCKETS.iter().position(|b| s <= *b).unwrap_or(BUCKETS.len());
            self.patch_buckets[i].fetch_add(1, Ordering::Relaxed);
            self.patch_sum_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        }
    }

    /// The fields, in [`COUNTERS`]' order.
    fn fields(&self) -> [&AtomicU64; COUNTERS.len()] {
        [
            &self.created,
            &self.completed,
            &self.quarantined,
            &self.terminated,
            &self.expired,
            &self.bytes_received,
            &self.checksum_mismatches,
            &self.checksums_verified,
            &self.failed,
            &self.verifications,
            &self.concat_bytes_copied,
            &self.concat_bytes_streamed,
        ]
    }

    /// Every series this process has counted, by name; the histogram's buckets cumulative,
    /// as printed (sums of cumulative buckets are cumulative).
    pub fn counters(&self) -> Counters {
        let mut out = Counters::new();
        for ((name, _), v) in COUNTERS.iter().zip(self.fields()) {
            out.insert(name.to_string(), v.load(Ordering::Relaxed));
        }
        if let Ok(map) = self.requests.lock() {
            for ((method, status), n) in map.iter() {
                out.insert(format!("{REQUESTS}{{method=\"{method}\",status=\"{status}\"}}"), *n);
            }
        }
        let mut cumulative = 0;
        for (i, b) in self.patch_buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            out.insert(bucket_name(i), cumulative);
        }
        out.insert(PATCH_SUM_US.to_string(), self.patch_sum_us.load(Ordering::Relaxed));
        out
    }
}

/// The Prometheus text exposition of `counters` (see [`Metrics::counters`]), with `gauges`
/// added as they are.
pub fn render(counters: &Counters, gauges: &[(&str, &str, u64)]) -> String {
    let get = |name: &str| counters.get(name).copied().unwrap_or(0);
    let mut out = String::new();
    for (name, help) in COUNTERS {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", get(name));
    }
    for (name, help, v) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    let _ = writeln!(out, "# HELP {REQUESTS} Requests by method and status.\n# TYPE {REQUESTS} counter");
    for (series, n) in counters.range(format!("{REQUESTS}{{")..format!("{REQUESTS}|")) {
        let _ = writeln!(out, "{series} {n}");
    }
    let _ =
        writeln!(out, "# HELP {PATCH_SECONDS} PATCH request durations.\n# TYPE {PATCH_SECONDS} histogram");
    for i in 0..=BUCKETS.len() {
        let series = bucket_name(i);
        let _ = writeln!(out, "{series} {}", get(&series));
    }
    let count = get(&bucket_name(BUCKETS.len()));
    let sum = get(PATCH_SUM_US) as f64 / 1e6;
    let _ = writeln!(out, "{PATCH_SECONDS}_sum {sum}\n{PATCH_SECONDS}_count {count}");
    out
}
