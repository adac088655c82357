//! Counters for `/metrics` (Prometheus text format) and the admin's statistics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the PATCH latency histogram.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

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

    /// The Prometheus text exposition; `gauges` are added as they are.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let counters = [
            ("wedsync_ingest_uploads_created_total", "Uploads created.", &self.created),
            ("wedsync_ingest_uploads_completed_total", "Uploads completed and verified.", &self.completed),
            (
                "wedsync_ingest_uploads_quarantined_total",
                "Uploads whose SHA-256 did not match.",
                &self.quarantined,
            ),
            ("wedsync_ingest_uploads_terminated_total", "Uploads deleted by their owner.", &self.terminated),
            (
                "wedsync_ingest_uploads_expired_total",
                "Unfinished uploads removed after expiry.",
                &self.expired,
            ),
            ("wedsync_ingest_bytes_received_total", "Upload bytes stored.", &self.bytes_received),
            (
                "wedsync_ingest_checksum_mismatches_total",
                "Chunks discarded for a bad checksum.",
                &self.checksum_mismatches,
            ),
            (
                "wedsync_ingest_checksums_verified_total",
                "Chunks whose checksum matched.",
                &self.checksums_verified,
            ),
            ("wedsync_ingest_uploads_failed_total", "Final uploads that could never be made.", &self.failed),
            (
                "wedsync_ingest_verifications_total",
                "Whole-upload checks run (once per upload).",
                &self.verifications,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let name = "wedsync_ingest_requests_total";
        let _ = writeln!(out, "# HELP {name} Requests by method and status.\n# TYPE {name} counter");
        if let Ok(map) = self.requests.lock() {
            for ((method, status), n) in map.iter() {
                let _ = writeln!(out, "{name}{{method=\"{method}\",status=\"{status}\"}} {n}");
            }
        }
        let name = "wedsync_ingest_patch_seconds";
        let _ = writeln!(out, "# HELP {name} PATCH request durations.\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in self.patch_buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), |v| v.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.patch_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
        out
    }
}
