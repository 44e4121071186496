//! [`RateLimiter`]: the token buckets of [`RateLimits`], held per connection, per user and per
//! administrator in the process that serves the requests. The local stack is one process, so its
//! buckets are exact; on Lambda each warm instance holds its own, and API Gateway's stage and route
//! throttles (template.yaml) bound the total.

use cirrus_core::error::{Error, Result};
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::rates::{Rate, RateClass, RateLimits};
use cirrus_core::service::Caller;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Keyed};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Checks between sweeps of the buckets that are full again (a bucket per connection and user
/// would otherwise outlive them).
const SWEEP_EVERY: u64 = 8192;

type Buckets<K, C> = Keyed<K, DefaultKeyedStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One class's buckets: per connection and per user.
struct Scoped<C: Clock> {
    connection: Option<Buckets<ConnectionId, C>>,
    user: Option<Buckets<UserId, C>>,
}

/// Every bucket of one process.
pub struct RateLimiter<C: Clock = DefaultClock> {
    clock: C,
    send: Scoped<C>,
    ping: Scoped<C>,
    other: Scoped<C>,
    rest: Option<Buckets<UserId, C>>,
    checks: AtomicU64,
}

impl RateLimiter {
    /// The buckets of `limits`, on the system clock.
    pub fn new(limits: &RateLimits) -> Self {
        Self::with_clock(limits, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// The buckets of `limits`, on `clock`.
    pub fn with_clock(limits: &RateLimits, clock: C) -> Self {
        let scoped = |class| {
            let rates = limits.of(class);
            Scoped {
                connection: rates.connection.map(|rate| buckets(rate, &clock)),
                user: rates.user.map(|rate| buckets(rate, &clock)),
            }
        };
        Self {
            send: scoped(RateClass::Send),
            ping: scoped(RateClass::Ping),
            other: scoped(RateClass::Other),
            rest: limits.rest.map(|rate| buckets(rate, &clock)),
            checks: AtomicU64::new(0),
            clock,
        }
    }

    /// Takes a token of `class` from the caller's connection bucket and user bucket, or refuses
    /// with `rate_limited` and the wait until the emptier one has a token again.
    pub fn check(&self, caller: &Caller, class: RateClass) -> Result<()> {
        self.sweep_now_and_then();
        let scoped = match class {
            RateClass::Send => &self.send,
            RateClass::Ping => &self.ping,
            RateClass::Other => &self.other,
        };
        if let (Some(buckets), Some(connection)) = (&scoped.connection, &caller.connection) {
            self.take(buckets, connection)?;
        }
        if let Some(buckets) = &scoped.user {
            self.take(buckets, &caller.user)?;
        }
        Ok(())
    }

    /// Takes a token from the administrator's REST bucket, or refuses with `rate_limited`.
    pub fn check_rest(&self, admin: &UserId) -> Result<()> {
        self.sweep_now_and_then();
        match &self.rest {
            Some(buckets) => self.take(buckets, admin),
            None => Ok(()),
        }
    }

    fn take<K: Hash + Eq + Clone>(&self, buckets: &Buckets<K, C>, key: &K) -> Result<()> {
        buckets.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            Error::RateLimited {
                // Rounded up, so that a client waiting exactly this long is let in.
                retry_after_ms: wait.as_micros().div_ceil(1000).max(1) as u64,
            }
        })
    }

    /// Every [`SWEEP_EVERY`] checks, forgets the buckets that have filled up again: one of those is
    /// the same as a new one, so only keys active in the last burst's time stay in memory.
    fn sweep_now_and_then(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for scoped in [&self.send, &self.ping, &self.other] {
                if let Some(buckets) = &scoped.connection {
                    buckets.retain_recent();
                }
                if let Some(buckets) = &scoped.user {
                    buckets.retain_recent();
                }
            }
            if let Some(buckets) = &self.rest {
                buckets.retain_recent();
            }
        }
    }

    /// How many keys hold a bucket now, over every class (for tests and figures).
    pub fn tracked(&self) -> usize {
        let scoped = |s: &Scoped<C>| {
            s.connection.as_ref().map_or(0, |b| b.len()) + s.user.as_ref().map_or(0, |b| b.len())
        };
        scoped(&self.send)
            + scoped(&self.ping)
            + scoped(&self.other)
            + self.rest.as_ref().map_or(0, |b| b.len())
    }
}

fn buckets<K: Hash + Eq + Clone, C: Clock + Clone>(rate: Rate, clock: &C) -> Buckets<K, C> {
    // Both are at least 1 (`Rate` is parsed so); the fallbacks only keep this total.
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_nanos(1_000_000_000 / u64::from(rate.per_second.max(1)));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst);
    Keyed::new(quota, DefaultKeyedStateStore::default(), clock.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::*;
    use cirrus_core::rates::ScopedRates;
    use governor::clock::FakeRelativeClock;

    fn caller(user: &str, connection: &str) -> Caller {
        Caller {
            user: UserId::parse(user).unwrap(),
            connection: Some(ConnectionId::parse(connection).unwrap()),
            guest: false,
        }
    }

    fn limits(send: ScopedRates) -> RateLimits {
        RateLimits {
            send,
            ..RateLimits::OFF
        }
    }

    fn retry_after(result: Result<()>) -> u64 {
        match result {
            Err(Error::RateLimited { retry_after_ms }) => retry_after_ms,
            other => panic!("expected rate_limited, got {other:?}"),
        }
    }

    #[test]
    fn a_connection_gets_its_burst_then_waits_for_the_refill() {
        // GIVEN 2 sends a second per connection, bursts of 3
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(
            &limits(ScopedRates {
                connection: Some(Rate::new(2, 3)),
                user: None,
            }),
            clock.clone(),
        );
        let alice = caller("alice", "c1");
        // WHEN alice sends 3 at once THEN they pass, and the 4th is refused for half a second
        for _ in 0..3 {
            limiter.check(&alice, RateClass::Send).unwrap();
        }
        assert_eq!(retry_after(limiter.check(&alice, RateClass::Send)), 500);
        // AND other classes are not limited by it
        limiter.check(&alice, RateClass::Ping).unwrap();
        limiter.check(&alice, RateClass::Other).unwrap();
        // AND once the wait has passed one more send goes through, and only one
        clock.advance(Duration::from_millis(500));
        limiter.check(&alice, RateClass::Send).unwrap();
        assert!(limiter.check(&alice, RateClass::Send).is_err());
    }

    #[test]
    fn a_user_bucket_spans_all_of_the_users_connections() {
        // GIVEN per-connection room for 10, per-user room for 4
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(
            &limits(ScopedRates {
                connection: Some(Rate::new(1, 10)),
                user: Some(Rate::new(1, 4)),
            }),
            clock,
        );
        // WHEN alice sends 2 on each of two connections THEN the user's fifth is refused
        for connection in ["c1", "c1", "c2", "c2"] {
            limiter
                .check(&caller("alice", connection), RateClass::Send)
                .unwrap();
        }
        assert!(retry_after(limiter.check(&caller("alice", "c3"), RateClass::Send)) > 0);
        // AND bob, on his own buckets, is not affected
        limiter.check(&caller("bob", "c4"), RateClass::Send).unwrap();
    }

    #[test]
    fn rest_calls_have_a_bucket_per_administrator() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(
            &RateLimits {
                rest: Some(Rate::new(10, 2)),
                ..RateLimits::OFF
            },
            clock,
        );
        let admin = UserId::parse("administrator").unwrap();
        limiter.check_rest(&admin).unwrap();
        limiter.check_rest(&admin).unwrap();
        assert_eq!(retry_after(limiter.check_rest(&admin)), 100);
        limiter.check_rest(&UserId::parse("ops").unwrap()).unwrap();
    }

    #[test]
    fn buckets_that_filled_up_again_are_forgotten() {
        // GIVEN one connection per check, as a server sees over a day
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(
            &limits(ScopedRates {
                connection: Some(Rate::new(100, 5)),
                user: None,
            }),
            clock.clone(),
        );
        for n in 0..SWEEP_EVERY - 1 {
            limiter
                .check(&caller("alice", &format!("c{n}")), RateClass::Send)
                .unwrap();
        }
        assert_eq!(limiter.tracked(), (SWEEP_EVERY - 1) as usize);
        // WHEN their buckets have refilled and the next sweep runs
        clock.advance(Duration::from_secs(1));
        limiter.check(&caller("alice", "last"), RateClass::Send).unwrap();
        // THEN only the newest key is left
        assert!(limiter.tracked() <= 1, "{} keys kept", limiter.tracked());
    }

    #[test]
    fn off_limits_nothing() {
        let limiter = RateLimiter::new(&RateLimits::OFF);
        let alice = caller("alice", "c1");
        for _ in 0..10_000 {
            limiter.check(&alice, RateClass::Send).unwrap();
        }
        assert_eq!(limiter.tracked(), 0);
    }
}
