//! Protection against heavy or hostile clients: per-token request rate and transfers in
//! flight, a global cap on transfers (503 + Retry-After beyond it, instead of collapse).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::TusError;

/// The server's limits. `Default` is what `wedsync serve` starts with.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest upload accepted (`Tus-Max-Size`).
    pub max_size: u64,
    /// Request bodies one token may stream at once.
    pub transfers_per_token: usize,
    /// Request bodies streaming at once, all tokens together; past it, 503.
    pub max_transfers: usize,
    /// Sustained requests per second per token, and the burst above it.
    pub requests_per_second: f64,
    pub burst: f64,
    /// A request body that sends nothing for this long is cut off (bytes so far are kept).
    pub body_idle_timeout: Duration,
    /// A connection must deliver a request's whole header within this long (slow-header
    /// clients hold sockets without ever reaching a handler).
    pub header_timeout: Duration,
    /// An unfinished upload is removed this long after its last write.
    pub expire_after: Duration,
    /// How often expired uploads are swept.
    pub sweep_every: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 4 << 30,
            transfers_per_token: 1024,
            max_transfers: 4096,
            requests_per_second: 500.0,
            burst: 2000.0,
            body_idle_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(15),
            expire_after: Duration::from_secs(24 * 3600),
            sweep_every: Duration::from_secs(60),
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The counters behind [`Limits`].
pub(crate) struct Guards {
    limits: Limits,
    transfers: Arc<AtomicUsize>,
    per_token: Arc<Mutex<HashMap<i64, usize>>>,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

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
        let now = Instant::now();
        let (rate, burst) = (self.limits.requests_per_second, self.limits.burst.max(1.0));
        let b = buckets.entry(owner).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = if rate > 0.0 { ((1.0 - b.tokens) / rate).ceil() as u64 } else { 60 };
            Err(TusError::TooManyRequests { retry_after: wait.max(1) })
        }
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
    fn rate_allows_the_burst_then_refuses() {
        let g = Guards::new(Limits { requests_per_second: 0.001, burst: 3.0, ..Limits::default() });
        for _ in 0..3 {
            assert!(g.rate(7).is_ok());
        }
        assert!(matches!(g.rate(7), Err(TusError::TooManyRequests { .. })));
        assert!(g.rate(8).is_ok(), "buckets are per token");
    }
}
