//! Reconnection delays: capped exponential backoff with jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How long to wait before each reconnection attempt.
///
/// Attempt `n` (from 0) waits `min(max, initial * 2^n)`, scaled down by up to `jitter` (a fraction
/// in `0.0..=1.0`) at random, so clients dropped together do not return together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay before the first attempt, before jitter.
    pub initial: Duration,
    /// The cap on any delay.
    pub max: Duration,
    /// The fraction of each delay that is randomized away (0 = none, 1 = "full jitter").
    pub jitter: f64,
}

impl Default for Backoff {
    /// 250 ms, doubling up to 30 s, with half of each delay randomized.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (from 0), given a uniform random number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exponential = self
            .initial
            .checked_mul(2u32.saturating_pow(attempt.min(31)))
            .unwrap_or(self.max);
        let base = exponential.min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let random = random.clamp(0.0, 1.0);
        base.mul_f64(1.0 - jitter * random)
    }

    /// The delay before attempt `attempt` with fresh randomness.
    pub fn next_delay(&self, attempt: u32) -> Duration {
        self.delay(attempt, random_unit())
    }
}

/// A uniform random number in `[0, 1)`, from the standard library's per-process random hash keys.
pub(crate) fn random_unit() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x9E37_79B9_7F4A_7C15);
    // The top 53 bits make an exactly representable f64 in [0, 1).
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        // GIVEN no jitter WHEN attempts grow THEN delays double until they hit the cap.
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.0,
        };
        let delays: Vec<u128> = (0..6).map(|n| backoff.delay(n, 0.7).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(u32::MAX, 0.3), Duration::from_secs(1));
    }

    #[test]
    fn jitter_only_shortens_within_its_fraction() {
        let backoff = Backoff {
            initial: Duration::from_millis(1000),
            max: Duration::from_secs(10),
            jitter: 0.5,
        };
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(1000));
        assert_eq!(backoff.delay(0, 0.5), Duration::from_millis(750));
        assert_eq!(backoff.delay(0, 0.999_999).as_millis(), 500);
        for _ in 0..100 {
            let delay = backoff.next_delay(1);
            assert!(delay > Duration::from_millis(1000) && delay <= Duration::from_millis(2000));
        }
    }

    #[test]
    fn random_numbers_stay_in_range_and_vary() {
        let samples: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(samples.windows(2).any(|w| w[0] != w[1]));
    }
}
