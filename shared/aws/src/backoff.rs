//! [`Backoff`]: the retry schedule of the connection gateway and the queue, drawn by `backon`.

use backon::{BackoffBuilder as _, ExponentialBuilder};
use std::time::Duration;

/// How often and how patiently a throttled or failing call is tried again: capped exponential
/// waits, each jittered down by up to half so that callers refused together spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Calls made in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second call; it doubles before each further one.
    pub base: Duration,
    /// The longest wait between two calls.
    pub max: Duration,
}

/// How often and how patiently the items a batch call (`BatchWriteItem`, `BatchGetItem`) left
/// unprocessed (throttled) are sent again: 8 calls in all, about 50, 100, 200, 400 ms … apart, at
/// most 1 s (about 4 s at worst).
pub(crate) const UNPROCESSED: Backoff = Backoff {
    attempts: 8,
    base: Duration::from_millis(50),
    max: Duration::from_secs(1),
};

impl Default for Backoff {
    /// 4 calls, waiting about 50, 100 and 200 ms between them (at most 1 s).
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(50),
            max: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The waits between the calls, in order: `attempts - 1` of them, the `n`-th within
    /// `[w/2, w]` for `w = min(base · 2^(n-1), max)`.
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let retries = usize::try_from(self.attempts.max(1) - 1).unwrap_or(usize::MAX);
        self.schedule().with_max_times(retries).build()
    }

    /// backon's jitter adds up to the whole wait, so it draws from half of ours: half the base
    /// (no more than half the cap, as backon does not cap its first wait) doubling up to half the
    /// cap, plus up to as much again.
    fn schedule(&self) -> ExponentialBuilder {
        ExponentialBuilder::new()
            .with_min_delay(self.base.min(self.max) / 2)
            .with_max_delay(self.max / 2)
            .with_factor(2.0)
            .with_jitter()
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use backon::BackoffBuilder as _;
    use std::time::Duration;

    impl Backoff {
        /// The wait after the `failed`-th call (1-based), however many calls `attempts` allows.
        fn delay(&self, failed: u32) -> Duration {
            let index = usize::try_from(failed - 1).unwrap();
            self.schedule().without_max_times().build().nth(index).unwrap()
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_half_jitter() {
        // GIVEN 10 ms doubling, capped at 50 ms
        let backoff = Backoff {
            attempts: 10,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        // WHEN each wait is drawn many times THEN it lies in [exp/2, exp]
        for (failed, exp) in [(1, 10), (2, 20), (3, 40), (4, 50), (9, 50), (40, 50)] {
            for _ in 0..50 {
                let delay = backoff.delay(failed).as_millis();
                assert!(
                    (exp / 2..=exp).contains(&delay),
                    "wait after call {failed}: {delay} ms, expected {}..={exp}",
                    exp / 2
                );
            }
        }
    }

    #[test]
    fn given_a_backoff_when_delays_grow_then_they_stay_within_cap() {
        let backoff = Backoff {
            attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        for (failed, full) in [(1, 100), (2, 200), (3, 300), (9, 300)] {
            let wait = backoff.delay(failed);
            let full = Duration::from_millis(full);
            assert!(wait >= full / 2 && wait <= full, "{failed}: {wait:?}");
        }
    }

    #[test]
    fn given_attempts_when_delays_are_drawn_then_one_fewer_than_the_calls() {
        let backoff = |attempts| Backoff {
            attempts,
            ..Backoff::default()
        };
        assert_eq!(backoff(4).delays().count(), 3);
        assert_eq!(backoff(1).delays().count(), 0);
        // 0 is taken as 1: the first call is always made.
        assert_eq!(backoff(0).delays().count(), 0);
    }

    #[test]
    fn given_a_base_over_the_cap_when_the_first_wait_is_drawn_then_it_is_capped() {
        let backoff = Backoff {
            attempts: 2,
            base: Duration::from_millis(500),
            max: Duration::from_millis(40),
        };
        for _ in 0..50 {
            let wait = backoff.delays().next().unwrap();
            assert!(
                wait >= Duration::from_millis(20) && wait <= Duration::from_millis(40),
                "{wait:?}"
            );
        }
    }
}
