//! Protection against heavy or hostile clients: per-token request rate and transfers in
//! flight, a global cap on transfers (503 + Retry-After beyond it, instead of collapse).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::TusError;

/// The server's limits. `Default` is what `wedsync serve` starts with. The README has a
/// table of them: name, default, flag, and what a client gets past each.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest upload accepted (`Tus-Max-Size`), finals included once their parts' lengths
    /// are known.
    pub max_size: u64,
    /// Request bodies one token may stream at once.
    pub transfers_per_token: usize,
    /// Request bodies streaming at once, all tokens together; past it, 503.
    pub max_transfers: usize,
    /// Sustained requests per second per token, and the burst above it.
    pub requests_per_second: f64,
    pub burst: f64,
    /// Requests with a missing or wrong token per second per client address, and the burst
    /// above it: past it, 429 without asking the token table.
    pub failed_auth_per_second: f64,
    pub failed_auth_burst: f64,
    /// Uploads one token may have receiving bytes at once; past it, 429 on creation.
    pub unfinished_per_token: u64,
    /// Parts one final upload may list (each at most once).
    pub max_parts: usize,
    /// A request body that sends nothing for this long is cut off (bytes so far are kept).
    pub body_idle_timeout: Duration,
    /// A connection must deliver its first bytes, and then a request's whole header,
    /// within this long (silent and slow-header clients hold sockets without ever
    /// reaching a handler).
    pub header_timeout: Duration,
    /// A connection with no request in flight and nothing read or written for this long is
    /// closed (HTTP/1 keep-alive and HTTP/2 alike); HTTP/2 peers are also pinged.
    pub idle_timeout: Duration,
    /// Connections served at once; `None`: derived from the descriptor limit
    /// ([`connection_cap`]). Past it, a connection gets `/healthz` and 503 for anything
    /// else, once; past an eighth more, it is closed at once.
    pub max_connections: Option<usize>,
    /// Free space below which new uploads are refused (507) and `/healthz` says the
    /// storage is full; appends and deletions still run.
    pub min_free_space: u64,
    /// On SIGTERM, requests in progress get this long; then the server exits whatever
    /// clients do.
    pub shutdown_grace: Duration,
    /// An unfinished upload is removed this long after its last write.
    pub expire_after: Duration,
    /// How often expired uploads are swept.
    pub sweep_every: Duration,
    /// How long an upload's last PATCH waits for its finish (object made, SHA-256 checked)
    /// before it is acknowledged anyway, the finish going on in the background: its bytes
    /// are durable, and under load the finish can queue behind many others.
    pub finish_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 4 << 30,
            transfers_per_token: 1024,
            max_transfers: 4096,
            requests_per_second: 500.0,
            burst: 2000.0,
            failed_auth_per_second: 10.0,
            failed_auth_burst: 100.0,
            unfinished_per_token: 10_000,
            max_parts: 1000,
            body_idle_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
            min_free_space: 64 << 20,
            shutdown_grace: Duration::from_secs(20),
            expire_after: Duration::from_secs(24 * 3600),
            sweep_every: Duration::from_secs(60),
            finish_wait: Duration::from_secs(10),
        }
    }
}

/// The most connections served at once when the limits do not say: half the descriptors
/// left after a reserve of 64 (each connection may hold an upload's file open besides its
/// socket), less an eighth kept for the connections over the cap that still get
/// `/healthz`, and at most 16,384.
pub fn connection_cap(descriptors: u64) -> usize {
    let budget = descriptors.saturating_sub(64) / 2;
    (budget - budget / 8).clamp(8, 16_384) as usize
}

/// The process's descriptor limit, raised first to the hard limit where the soft one is
/// lower (as Go's runtime does): a server is expected to hold many sockets.
#[cfg(unix)]
pub fn descriptor_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read or write one rlimit we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    // rlim_t is not u64 on every Unix.
    #[allow(clippy::unnecessary_cast)]
    let limit = limit.rlim_cur as u64;
    limit
}

/// Windows has no such limit on sockets; the cap then comes from the 16,384 ceiling.
#[cfg(not(unix))]
pub fn descriptor_limit() -> u64 {
    u64::MAX
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64) -> Bucket {
        Bucket { tokens: burst.max(1.0), at: Instant::now() }
    }

    /// The tokens it holds now, refilled at `rate` up to `burst`.
    fn level(&self, rate: f64, burst: f64) -> f64 {
        (self.tokens + self.at.elapsed().as_secs_f64() * rate).min(burst.max(1.0))
    }
}

/// Takes one token from `b`, or says when to come back.
fn take(b: &mut Bucket, rate: f64, burst: f64) -> Result<(), TusError> {
    b.tokens = b.level(rate, burst);
    b.at = Instant::now();
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        Ok(())
    } else {
        let wait = if rate > 0.0 { ((1.0 - b.tokens) / rate).ceil() as u64 } else { 60 };
        Err(TusError::TooManyRequests { retry_after: wait.max(1) })
    }
}

/// The counters behind [`Limits`].
pub(crate) struct Guards {
    limits: Limits,
    transfers: Arc<AtomicUsize>,
    per_token: Arc<Mutex<HashMap<i64, usize>>>,
    buckets: Mutex<HashMap<i64, Bucket>>,
    /// Failed authentications per client address.
    failures: Mutex<HashMap<std::net::IpAddr, Bucket>>,
}

/// Addresses whose failed authentications are tracked at once; past it the table is
/// pruned of full buckets, then cleared (a bound on memory, whatever clients send).
const TRACKED_ADDRESSES: usize = 10_000;

/// One streaming request body; releases its place when dropped.
pub(crate) struct Transfer {
    owner: i64,
    transfers: Arc<AtomicUsize>,
    per_token: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Drop for Transfer {
    fn drop(&mut self) {
        self.transfers.fetch_sub(1, Ordering::AcqRel);
        if let Ok(mut map) = self.per_token.lock() {
            if let Some(n) = map.get_mut(&self.owner) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&self.owner);
                }
            }
        }
    }
}

impl Guards {
    pub(crate) fn new(limits: Limits) -> Guards {
        Guards {
            limits,
            transfers: Arc::new(AtomicUsize::new(0)),
            per_token: Arc::new(Mutex::new(HashMap::new())),
            buckets: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn transfers_in_flight(&self) -> usize {
        self.transfers.load(Ordering::Acquire)
    }

    /// Takes one request from `owner`'s bucket, or says when to come back.
    pub(crate) fn rate(&self, owner: i64) -> Result<(), TusError> {
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        let (rate, burst) = (self.limits.requests_per_second, self.limits.burst);
        take(buckets.entry(owner).or_insert_with(|| Bucket::full(burst)), rate, burst)
    }

    /// Whether `address` may try a token now: its failed attempts so far are within the
    /// rate. Addresses the server cannot tell (requests not from a socket) are not limited.
    pub(crate) fn may_try(&self, address: Option<std::net::IpAddr>) -> Result<(), TusError> {
        let Some(address) = address else { return Ok(()) };
        let Ok(failures) = self.failures.lock() else { return Ok(()) };
        match failures.get(&address) {
            Some(b) if b.level(self.limits.failed_auth_per_second, self.limits.failed_auth_burst) < 1.0 => {
                Err(TusError::TooManyRequests { retry_after: 1 })
            }
            _ => Ok(()),
        }
    }

    /// Charges a failed authentication to `address`.
    pub(crate) fn failed(&self, address: Option<std::net::IpAddr>) {
        let Some(address) = address else { return };
        let Ok(mut failures) = self.failures.lock() else { return };
        let (rate, burst) = (self.limits.failed_auth_per_second, self.limits.failed_auth_burst);
        if failures.len() >= TRACKED_ADDRESSES && !failures.contains_key(&address) {
            failures.retain(|_, b| b.level(rate, burst) < burst);
            if failures.len() >= TRACKED_ADDRESSES {
                failures.clear();
            }
        }
        let _ = take(failures.entry(address).or_insert_with(|| Bucket::full(burst)), rate, burst);
    }

    /// A place for one streaming body of `owner`'s.
    pub(crate) fn transfer(&self, owner: i64) -> Result<Transfer, TusError> {
        if self.transfers.fetch_add(1, Ordering::AcqRel) >= self.limits.max_transfers {
            self.transfers.fetch_sub(1, Ordering::AcqRel);
            return Err(TusError::Overloaded { retry_after: 2 });
        }
        let guard = Transfer { owner, transfers: self.transfers.clone(), per_token: self.per_token.clone() };
        let Ok(mut map) = self.per_token.lock() else { return Ok(guard) };
        let n = map.entry(owner).or_insert(0);
        if *n >= self.limits.transfers_per_token {
            drop(map);
            // Dropping the guard would decrement the per-token count we did not take.
            self.transfers.fetch_sub(1, Ordering::AcqRel);
            std::mem::forget(guard);
            return Err(TusError::TooManyRequests { retry_after: 1 });
        }
        *n += 1;
        Ok(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_are_capped_per_token_and_released_on_drop() {
        let g = Guards::new(Limits { transfers_per_token: 2, max_transfers: 3, ..Limits::default() });
        let a1 = g.transfer(1).unwrap();
        let _a2 = g.transfer(1).unwrap();
        assert!(matches!(g.transfer(1), Err(TusError::TooManyRequests { .. })));
        let _b1 = g.transfer(2).unwrap();
        assert!(matches!(g.transfer(3), Err(TusError::Overloaded { .. })));
        drop(a1);
        assert_eq!(g.transfers_in_flight(), 2);
        assert!(g.transfer(1).is_ok());
    }

    #[test]
    fn failed_authentications_are_limited_per_address_in_a_bounded_table() {
        let g = Guards::new(Limits {
            failed_auth_per_second: 0.001,
            failed_auth_burst: 2.0,
            ..Limits::default()
        });
        let a = Some(std::net::IpAddr::from([10, 0, 0, 1]));
        assert!(g.may_try(a).is_ok());
        g.failed(a);
        g.failed(a);
        assert!(matches!(g.may_try(a), Err(TusError::TooManyRequests { .. })));
        assert!(g.may_try(Some(std::net::IpAddr::from([10, 0, 0, 2]))).is_ok(), "per address");
        assert!(g.may_try(None).is_ok());
        for i in 0..(TRACKED_ADDRESSES as u32 + 10) {
            g.failed(Some(std::net::IpAddr::from(i.to_be_bytes())));
        }
        assert!(g.failures.lock().unwrap().len() <= TRACKED_ADDRESSES);
    }

    #[test]
    fn the_connection_cap_follows_the_descriptor_limit() {
        assert_eq!(connection_cap(1024), 420);
        assert_eq!(connection_cap(0), 8);
        assert_eq!(connection_cap(1 << 20), 16_384);
    }

    #[test]
    fn rate_allows_the_burst_then_refuses() {
        let g = Guards::new(Limits { requests_per_second: 0.001, burst: 3.0, ..Limits::default() });
        for _ in 0..3 {
            assert!(g.rate(7).is_ok());
        }
        assert!(matches!(g.rate(7), Err(TusError::TooManyRequests { .. })));
        assert!(g.rate(8).is_ok(), "buckets are per token");
    }
}
