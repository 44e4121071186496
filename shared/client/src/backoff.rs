//! Reconnection delays: capped exponential backoff with jitter, drawn by `backon`.

use backon::{BackoffBuilder as _, ExponentialBuilder};
use std::time::Duration;

/// How long to wait before each reconnection attempt.
///
/// Attempt `n` (from 0) waits between half of and all of `min(max, initial · 2^n)`, at random, so
/// clients dropped together do not return together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The longest delay before the first attempt.
    pub initial: Duration,
    /// The cap on any delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 125 to 250 ms, doubling up to 15 to 30 s.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delays before each attempt, without end.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        // backon's jitter adds up to the whole delay, so it draws from half of ours: half the
        // initial delay (no more than half the cap: backon does not cap the first) doubling up to
        // half the cap, plus up to as much again.
        ExponentialBuilder::new()
            .with_min_delay(self.initial.min(self.max) / 2)
            .with_max_delay(self.max / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_each_within_its_upper_half() {
        // GIVEN delays from 100 ms up to 1 s WHEN attempts grow THEN the n-th lies in the upper
        // half of min(1 s, 100 ms · 2^n), for as long as attempts go on
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let delays: Vec<Duration> = backoff.delays().take(40).collect();
            assert_eq!(delays.len(), 40);
            for (n, delay) in delays.iter().enumerate() {
                let full =
                    Duration::from_millis(100 * 2u64.pow(n.min(10) as u32)).min(Duration::from_secs(1));
                assert!(
                    *delay >= full / 2 && *delay <= full,
                    "attempt {n}: {delay:?} for {full:?}"
                );
            }
        }
    }

    #[test]
    fn clients_dropped_together_spread_out() {
        // GIVEN many clients with the same backoff WHEN each draws its first delay THEN they differ
        let backoff = Backoff::default();
        let firsts: Vec<Duration> = (0..64).filter_map(|_| backoff.delays().next()).collect();
        assert_eq!(firsts.len(), 64);
        assert!(firsts.windows(2).any(|pair| pair[0] != pair[1]));
    }

    #[test]
    fn a_first_delay_above_the_cap_is_capped() {
        let backoff = Backoff {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(1),
        };
        let first = backoff.delays().next().unwrap_or_default();
        assert!(
            first >= Duration::from_millis(500) && first <= Duration::from_secs(1),
            "{first:?}"
        );
    }
}
