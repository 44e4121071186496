//! The multi-device policy: how many connections a user may hold at once, and which of the older
//! ones a new login displaces. Connections are grouped by the platform the client gave at connect
//! (`web`, `ios`, `android`, `windows`, `mac`, `linux` or any other name); a client that gave none
//! counts as the platform `unknown`.

use crate::ports::Connection;
use std::fmt;
use std::str::FromStr;

/// The platform a connection without one counts as.
pub const UNKNOWN_PLATFORM: &str = "unknown";

/// How many connections a user may hold; checked when a new one connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePolicy {
    /// One connection in all: a new login displaces every other (`single`).
    Single,
    /// One connection per platform: a new login displaces the other one on its platform
    /// (`per-platform`), as Tencent IM's default multi-platform mode does.
    OnePerPlatform,
    /// Up to `per_platform` connections on each platform; a new login beyond that displaces the
    /// oldest ones there (`multiple:N`, `multiple` alone meaning 10).
    Multiple {
        /// Connections allowed per platform, at least 1.
        per_platform: u32,
    },
}

impl Default for DevicePolicy {
    /// `multiple:10`: several tabs and devices per platform, as most apps expect.
    fn default() -> Self {
        Self::Multiple { per_platform: 10 }
    }
}

/// The platform of `connection`, for grouping.
pub fn platform_of(connection: &Connection) -> &str {
    connection.platform.as_deref().unwrap_or(UNKNOWN_PLATFORM)
}

impl DevicePolicy {
    /// The connections among `others` (the user's other live connections) that `new` displaces,
    /// oldest first.
    pub fn displaced<'a>(&self, new: &Connection, others: &'a [Connection]) -> Vec<&'a Connection> {
        // The store may already list the new connection among the user's: it never counts.
        // Oldest first; ties by id so every replica of the decision picks the same ones.
        let mut older: Vec<&Connection> = others.iter().filter(|other| other.id != new.id).collect();
        older.sort_by(|a, b| (a.connected_at, a.id.as_str()).cmp(&(b.connected_at, b.id.as_str())));
        let same_platform = |other: &&Connection| platform_of(other) == platform_of(new);
        match self {
            Self::Single => older,
            Self::OnePerPlatform => older.into_iter().filter(same_platform).collect(),
            Self::Multiple { per_platform } => {
                let mut peers: Vec<&Connection> = older.into_iter().filter(same_platform).collect();
                let keep = usize::try_from(per_platform.saturating_sub(1)).unwrap_or(usize::MAX);
                peers.truncate(peers.len().saturating_sub(keep));
                peers
            }
        }
    }
}

impl fmt::Display for DevicePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Single => f.write_str("single"),
            Self::OnePerPlatform => f.write_str("per-platform"),
            Self::Multiple { per_platform } => write!(f, "multiple:{per_platform}"),
        }
    }
}

impl FromStr for DevicePolicy {
    type Err = String;

    /// `single`, `per-platform`, `multiple` or `multiple:N` (N from 1 to 1000).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("device policy must be single, per-platform or multiple[:N], not {text:?}");
        match text {
            "single" => Ok(Self::Single),
            "per-platform" => Ok(Self::OnePerPlatform),
            "multiple" => Ok(Self::default()),
            _ => {
                let count = text.strip_prefix("multiple:").ok_or_else(bad)?;
                let per_platform: u32 = count.parse().map_err(|_| bad())?;
                if !(1..=1000).contains(&per_platform) {
                    return Err(bad());
                }
                Ok(Self::Multiple { per_platform })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ConnectionId, UserId};

    fn connection(id: &str, platform: Option<&str>, connected_at: i64) -> Connection {
        Connection {
            id: ConnectionId::parse(id.to_owned()).unwrap(),
            user: UserId::parse("alice".to_owned()).unwrap(),
            platform: platform.map(str::to_owned),
            connected_at,
            expires_at: connected_at + 1000,
        }
    }

    fn ids(list: Vec<&Connection>) -> Vec<&str> {
        list.into_iter().map(|c| c.id.as_str()).collect()
    }

    /// GIVEN alice on web (t1, t2), ios (t3) and an unnamed client (t4)
    /// WHEN a new web login arrives THEN each policy displaces exactly its rows.
    #[test]
    fn each_policy_displaces_what_its_rule_says() {
        let others = vec![
            connection("web1", Some("web"), 1),
            connection("web2", Some("web"), 2),
            connection("ios1", Some("ios"), 3),
            connection("anon", None, 4),
        ];
        let new_web = connection("web3", Some("web"), 5);
        let new_anon = connection("anon2", None, 5);
        let cases: Vec<(DevicePolicy, &Connection, Vec<&str>)> = vec![
            (
                DevicePolicy::Single,
                &new_web,
                vec!["web1", "web2", "ios1", "anon"],
            ),
            (DevicePolicy::OnePerPlatform, &new_web, vec!["web1", "web2"]),
            (DevicePolicy::OnePerPlatform, &new_anon, vec!["anon"]),
            (
                DevicePolicy::Multiple { per_platform: 1 },
                &new_web,
                vec!["web1", "web2"],
            ),
            (DevicePolicy::Multiple { per_platform: 2 }, &new_web, vec!["web1"]),
            (DevicePolicy::Multiple { per_platform: 3 }, &new_web, vec![]),
            (DevicePolicy::Multiple { per_platform: 2 }, &new_anon, vec![]),
        ];
        for (policy, new, expected) in cases {
            assert_eq!(
                ids(policy.displaced(new, &others)),
                expected,
                "{policy} for {}",
                new.id
            );
        }
    }

    #[test]
    fn the_new_connection_never_displaces_itself() {
        let new = connection("web1", Some("web"), 1);
        assert!(
            DevicePolicy::Single
                .displaced(&new, std::slice::from_ref(&new))
                .is_empty()
        );
    }

    #[test]
    fn policies_parse_and_print_back() {
        for text in [
            "single",
            "per-platform",
            "multiple:1",
            "multiple:10",
            "multiple:1000",
        ] {
            let policy: DevicePolicy = text.parse().unwrap();
            assert_eq!(policy.to_string(), text);
        }
        assert_eq!("multiple".parse::<DevicePolicy>(), Ok(DevicePolicy::default()));
        for bad in ["", "many", "multiple:0", "multiple:1001", "multiple:x", "Single"] {
            assert!(bad.parse::<DevicePolicy>().is_err(), "{bad:?} parsed");
        }
    }
}
