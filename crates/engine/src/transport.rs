//! How files are sent — chunk size, partial uploads, streams, bandwidth, stall timeout,
//! attempts and develop threads — from `config.toml` with a host's overrides on top
//! (the CLI's flags; the app's settings). One place, so every host sends the same way.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wedsync_transfer::{Bandwidth, Destination, Pace, Policy};

use crate::config::Config;

const DEFAULT_CHUNK_MIB: f64 = 8.0;
const DEFAULT_PARTS: usize = 4;
pub(crate) const DEFAULT_STREAMS: usize = 4;
const DEFAULT_STALL_SECONDS: u64 = 30;
const DEFAULT_ATTEMPTS: u32 = 8;

/// What a host sets over the configuration; None: the configuration's, else the default.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub streams: Option<usize>,
    pub adaptive: bool,
    pub limit_mbit: Option<f64>,
    pub chunk_mib: Option<f64>,
    pub parts: Option<usize>,
    pub stall_seconds: Option<u64>,
    pub attempts: Option<u32>,
    pub jobs: Option<usize>,
}

pub struct Transport {
    pub chunk_size: u64,
    pub parts: usize,
    pub pace: Pace,
    pub policy: Policy,
    /// The bandwidth cap in bytes a second (as the pace holds it); None: none.
    pub limit_bytes: Option<u64>,
    /// Files developed at once.
    pub jobs: usize,
}

impl Transport {
    pub fn new(config: &Config, given: &Overrides) -> Transport {
        let destination = config.destination.as_ref();
        let chunk_mib =
            given.chunk_mib.or(destination.and_then(|d| d.chunk_mib)).unwrap_or(DEFAULT_CHUNK_MIB);
        let chunk_size = (chunk_mib * 1024.0 * 1024.0).round().max(1.0) as u64;
        let parts = given.parts.or(destination.and_then(|d| d.parts)).unwrap_or(DEFAULT_PARTS).max(1);
        let limit_mbit = given.limit_mbit.or(config.upload.limit_mbit).unwrap_or(0.0);
        let limit_bytes = (limit_mbit > 0.0).then_some((limit_mbit * 125_000.0) as u64);
        let pace = Pace {
            stall: Duration::from_secs(given.stall_seconds.unwrap_or(DEFAULT_STALL_SECONDS).max(1)),
            bandwidth: limit_bytes.map(|bytes| Arc::new(Mutex::new(Bandwidth::new(bytes, Instant::now())))),
            ..Pace::default()
        };
        let streams = given.streams.or(config.upload.streams).unwrap_or(DEFAULT_STREAMS).max(1);
        let policy = Policy {
            streams,
            adaptive: given.adaptive || config.upload.adaptive.unwrap_or(false),
            max_streams: streams.max(16),
            attempts: given.attempts.unwrap_or(DEFAULT_ATTEMPTS).max(1),
            ..Policy::default()
        };
        // One file per core: one image's `web` develop keeps about 1.2 cores busy, and
        // sending needs little CPU. Measured on 2 cores, 40 RAW frames to `web`: 10.1 s
        // with one job, 6.9 s with two.
        let jobs = given.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Transport { chunk_size, parts, pace, policy, limit_bytes, jobs }
    }

    /// The destination at `endpoint`, sent to in this transport's chunks and parts.
    pub fn destination(&self, endpoint: String, token: Option<String>) -> Destination {
        Destination { endpoint, token, chunk_size: self.chunk_size, parts: self.parts }
    }
}
