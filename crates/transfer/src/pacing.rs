//! When to try again and how fast to send: retry backoff and the bandwidth cap.

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
/// second's worth. Shared by every stream, so the cap holds for the whole upload.
#[derive(Debug)]
pub struct Bandwidth {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bandwidth {
    pub fn new(bytes_per_second: u64, now: Instant) -> Bandwidth {
        let rate = bytes_per_second.max(1) as f64;
        Bandwidth { rate, tokens: rate, last: now }
    }

    /// Takes `bytes` from the bucket and says how long to wait before sending them
    /// (zero when they are there already). The debt is taken at once, so callers that
    /// ask together are spaced out rather than all waiting the same time.
    pub fn take(&mut self, bytes: u64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
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
    }
}
