//! Rate limits: token buckets per connection, per user and per administrator, one set for each
//! class of request. The buckets themselves live where requests arrive (the handlers); this is
//! their configuration, part of [`Limits`](crate::limits::Limits).

use std::fmt;
use std::str::FromStr;

/// A token bucket: refilled at `per_second` tokens a second, holding at most `burst`; each
/// request takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added each second (the sustained rate).
    pub per_second: u32,
    /// Tokens the bucket holds (the largest burst after a quiet spell).
    pub burst: u32,
}

impl Rate {
    /// `per_second` a second, bursts of `burst`.
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// How a setting writes a bucket: `RATE:BURST` (`20:100`: 20 a second, bursts of 100), or `off`.
impl FromStr for Rate {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (rate, burst) = raw
            .split_once(':')
            .ok_or_else(|| format!("`{raw}` is not RATE:BURST (such as 20:100) or off"))?;
        let count = |part: &str| {
            part.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{part}` is not a whole number from 1 to {}", u32::MAX))
        };
        Ok(Self::new(count(rate)?, count(burst)?))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.per_second, self.burst)
    }
}

/// The kinds of request that have buckets of their own, so that a client's heartbeats never
/// starve its sends and a flood of one kind is refused without touching the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// `msg.send`: writes a message and fans it out, the costliest request.
    Send,
    /// `sys.ping`: the heartbeat.
    Ping,
    /// Every other action.
    Other,
}

/// The buckets of one class: one per connection and one per user (over all of the user's
/// connections, so more devices do not multiply the rate). `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopedRates {
    /// Each connection's bucket.
    pub connection: Option<Rate>,
    /// Each user's bucket.
    pub user: Option<Rate>,
}

/// Every rate limit. The defaults let a person type, a client sync and reconnect, and a bot
/// send steadily, while a client looping on one action is refused within a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `msg.send`.
    pub send: ScopedRates,
    /// `sys.ping`.
    pub ping: ScopedRates,
    /// Every other WebSocket action.
    pub other: ScopedRates,
    /// Each administrator's REST calls (`/v4/...`), whatever the command (Tencent's REST API
    /// allows 200 calls a second by default).
    pub rest: Option<Rate>,
}

impl RateLimits {
    /// No limit anywhere.
    pub const OFF: Self = Self {
        send: ScopedRates {
            connection: None,
            user: None,
        },
        ping: ScopedRates {
            connection: None,
            user: None,
        },
        other: ScopedRates {
            connection: None,
            user: None,
        },
        rest: None,
    };

    /// The buckets of `class`.
    pub fn of(&self, class: RateClass) -> ScopedRates {
        match class {
            RateClass::Send => self.send,
            RateClass::Ping => self.ping,
            RateClass::Other => self.other,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            send: ScopedRates {
                connection: Some(Rate::new(20, 100)),
                user: Some(Rate::new(50, 200)),
            },
            ping: ScopedRates {
                connection: Some(Rate::new(5, 20)),
                user: Some(Rate::new(20, 60)),
            },
            other: ScopedRates {
                connection: Some(Rate::new(50, 200)),
                user: Some(Rate::new(100, 400)),
            },
            rest: Some(Rate::new(200, 400)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_written_rate_colon_burst() {
        assert_eq!("20:100".parse::<Rate>(), Ok(Rate::new(20, 100)));
        assert_eq!(" 1 : 5 ".trim().parse::<Rate>(), Ok(Rate::new(1, 5)));
        assert_eq!(Rate::new(3, 7).to_string().parse::<Rate>(), Ok(Rate::new(3, 7)));
        for bad in ["20", "0:10", "10:0", "-1:5", "a:b", "20:100:3", ""] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn each_class_has_its_own_buckets() {
        let limits = RateLimits::default();
        assert_eq!(limits.of(RateClass::Send), limits.send);
        assert_eq!(limits.of(RateClass::Ping), limits.ping);
        assert_eq!(limits.of(RateClass::Other), limits.other);
        assert_eq!(RateLimits::OFF.of(RateClass::Send).connection, None);
    }
}
