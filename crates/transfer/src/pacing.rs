//! When to try again and how fast to send: retry backoff and the bandwidth cap.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exponential backoff with "full jitter" (a random wait between zero and the exponential
/// bound), so that many uploads failing together — the venue's Wi-Fi dropped — do not all
/// come back in the same instant.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// Waits up to `base`·2ⁿ after the n-th failure in a row, never more than `cap`.
    /// `seed` makes the jitter reproducible (tests); any value works.
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff { base, cap, attempt: 0, rng: seed | 1 }
    }

    /// The wait before the next attempt, after a failure.
    pub fn next_delay(&mut self) -> Duration {
        let bound = self.base.saturating_mul(1u32 << self.attempt.min(20)).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*: plenty for spreading retries.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let unit = (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        bound.mul_f64(unit)
    }

    /// Progress was made: the next failure starts from the base again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// A token bucket: at most `rate` bytes a second on average, in bursts of at most one
/// second's worth. Shared by every stream, so the cap holds for the whole upload. A bucket
/// without a rate lets everything through; the rate can be set while uploads run.
#[derive(Debug)]
pub struct Bandwidth {
    rate: Option<f64>,
    tokens: f64,
    last: Instant,
}

impl Bandwidth {
    pub fn new(bytes_per_second: u64, now: Instant) -> Bandwidth {
        let rate = bytes_per_second.max(1) as f64;
        Bandwidth { rate: Some(rate), tokens: rate, last: now }
    }

    /// A bucket with no cap, until [`Bandwidth::set_rate`] sets one.
    pub fn unlimited(now: Instant) -> Bandwidth {
        Bandwidth { rate: None, tokens: 0.0, last: now }
    }

    /// A new cap (None: none) for what is sent from now on.
    pub fn set_rate(&mut self, bytes_per_second: Option<u64>, now: Instant) {
        *self = match bytes_per_second {
            Some(rate) => Bandwidth::new(rate, now),
            None => Bandwidth::unlimited(now),
        };
    }

    /// Takes `bytes` from the bucket and says how long to wait before sending them
    /// (zero when they are there already). The debt is taken at once, so callers that
    /// ask together are spaced out rather than all waiting the same time.
    pub fn take(&mut self, bytes: u64, now: Instant) -> Duration {
        let Some(rate) = self.rate else { return Duration::ZERO };
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / rate)
        }
    }
}

/// Whether requests that carry file bytes may start: open, paused (they wait at the chunk
/// boundary, before the request, so nothing is cut mid-body), or closed for good (they end
/// with [`crate::Error::Parked`] and the file is left where the server has it). Shared by
/// every stream.
#[derive(Debug, Clone)]
pub struct Gate(Arc<tokio::sync::watch::Sender<GateState>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    Open,
    Paused,
    Closed,
}

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(tokio::sync::watch::Sender::new(GateState::Open)))
    }
}

impl Gate {
    pub fn set(&self, state: GateState) {
        self.0.send_replace(state);
    }

    pub fn state(&self) -> GateState {
        *self.0.borrow()
    }

    /// Waits while paused; `false` once closed.
    pub async fn pass(&self) -> bool {
        let mut states = self.0.subscribe();
        let open = match states.wait_for(|s| *s != GateState::Paused).await {
            Ok(state) => *state == GateState::Open,
            Err(_) => false,
        };
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_and_resets() {
        let (base, cap) = (Duration::from_millis(100), Duration::from_secs(5));
        let mut b = Backoff::new(base, cap, 42);
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let bound = base.saturating_mul(1 << n).min(cap);
            assert!(*d <= bound, "attempt {n}: {d:?} > {bound:?}");
        }
        // Jitter: not every delay is its bound, and they are not all equal.
        assert!(delays.iter().enumerate().any(|(n, d)| *d < base.saturating_mul(1 << n).min(cap)));
        assert!(delays.windows(2).any(|w| w[0] != w[1]));
        // The late ones are near the cap on average, the first one is not.
        let late: f64 = delays[8..].iter().map(Duration::as_secs_f64).sum::<f64>() / 4.0;
        assert!(late > 1.0 && delays[0] <= base, "late mean {late}, first {:?}", delays[0]);
        b.reset();
        assert!(b.next_delay() <= base);
        assert_eq!(b.attempts(), 1);
    }

    #[test]
    fn bandwidth_holds_the_average_rate_and_allows_one_seconds_burst() {
        let start = Instant::now();
        let mut bucket = Bandwidth::new(1_000_000, start);
        // A full second's worth goes at once.
        assert_eq!(bucket.take(1_000_000, start), Duration::ZERO);
        // Then 10 chunks of 250 kB asked for at the same instant wait 0.25 s, 0.5 s, … each.
        let waits: Vec<f64> = (0..10).map(|_| bucket.take(250_000, start).as_secs_f64()).collect();
        for (k, w) in waits.iter().enumerate() {
            assert!((w - 0.25 * (k + 1) as f64).abs() < 1e-6, "chunk {k}: {w}");
        }
        // After a long idle spell the bucket holds one second's worth, not more.
        let later = start + Duration::from_secs(60);
        assert_eq!(bucket.take(1_000_000, later), Duration::ZERO);
        assert!(bucket.take(1, later) > Duration::ZERO);
        // Lifted, then set again while running.
        bucket.set_rate(None, later);
        assert_eq!(bucket.take(1 << 40, later), Duration::ZERO);
        bucket.set_rate(Some(1_000), later);
        assert_eq!(bucket.take(1_000, later), Duration::ZERO);
        assert!((bucket.take(500, later).as_secs_f64() - 0.5).abs() < 1e-6);
    }

    #[tokio::test]
    async fn a_paused_gate_holds_requests_until_opened_and_a_closed_one_turns_them_away() {
        let gate = Gate::default();
        assert!(gate.pass().await);
        gate.set(GateState::Paused);
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a paused gate let a request through");
        gate.set(GateState::Open);
        assert!(waiting.await.expect("join"));
        gate.set(GateState::Paused);
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass().await }
        });
        gate.set(GateState::Closed);
        assert!(!waiting.await.expect("join"));
    }
}
