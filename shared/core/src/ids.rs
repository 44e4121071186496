//! Validated identifiers. Each is parsed once, at the edge, and trusted everywhere after.

use crate::error::ErrorCode;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// An identifier that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidId {
    /// Which kind of identifier.
    pub kind: IdKind,
    /// What rule it broke.
    pub reason: &'static str,
}

impl InvalidId {
    /// The client error code for this kind of identifier.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            IdKind::User => ErrorCode::InvalidUserId,
            IdKind::Group => ErrorCode::InvalidGroupId,
            IdKind::Conversation => ErrorCode::InvalidConversationId,
            IdKind::ClientMsg => ErrorCode::InvalidClientMsgId,
            IdKind::Connection | IdKind::Msg => ErrorCode::InvalidField,
        }
    }
}

/// The kinds of identifier, for error reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// [`UserId`].
    User,
    /// [`GroupId`].
    Group,
    /// [`ConversationId`].
    Conversation,
    /// [`ClientMsgId`].
    ClientMsg,
    /// [`ConnectionId`].
    Connection,
    /// [`MsgId`].
    Msg,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::User => "user id",
            Self::Group => "group id",
            Self::Conversation => "conversation id",
            Self::ClientMsg => "clientMsgId",
            Self::Connection => "connection id",
            Self::Msg => "message id",
        })
    }
}

/// Characters allowed in user and group ids (Tencent IM's recommended set).
fn is_account_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'@')
}

fn check(kind: IdKind, raw: &str, max: usize, allowed: fn(u8) -> bool) -> Result<(), InvalidId> {
    let fail = |reason| Err(InvalidId { kind, reason });
    if raw.is_empty() {
        return fail("must not be empty");
    }
    if raw.len() > max {
        return fail("too long");
    }
    if !raw.bytes().all(allowed) {
        return fail("contains a character that is not allowed");
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $max:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates `raw` and wraps it.
            pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidId> {
                let raw = raw.into();
                check($kind, &raw, $max, $allowed)?;
                Ok(Self(raw))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// A user account id: 1–32 bytes of letters, digits, `_`, `-`, `.` and `@`.
    UserId, IdKind::User, 32, is_account_char
);
id_type!(
    /// A group id: 1–48 bytes of letters, digits, `_`, `-`, `.` and `@`.
    GroupId, IdKind::Group, 48, is_account_char
);
id_type!(
    /// A client-chosen message id, the idempotency key of `msg.send`: 1–64 printable ASCII bytes.
    ClientMsgId, IdKind::ClientMsg, 64, |c| c.is_ascii_graphic()
);
id_type!(
    /// A WebSocket connection id as API Gateway assigns it (base64-like text).
    ConnectionId, IdKind::Connection, 128, |c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'=' | b'_' | b'-' | b'.')
);
id_type!(
    /// A server-assigned message id.
    MsgId, IdKind::Msg, 64, |c| c.is_ascii_alphanumeric() || c == b'-'
);

impl ConnectionId {
    /// What logs say instead of the id: the first 8 hex digits of its SHA-256. Lines about one
    /// connection still match each other, but whoever reads them cannot post to or close the
    /// socket through `@connections`.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.as_str().as_bytes());
        hex::encode(&digest[..4])
    }
}

/// A conversation as one participant sees it: `C2C<peerUserId>` or `GROUP<groupId>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversationId {
    /// One-to-one conversation with this peer.
    C2c(UserId),
    /// Group conversation.
    Group(GroupId),
}

impl ConversationId {
    /// Parses the wire form.
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        let invalid = |reason| InvalidId {
            kind: IdKind::Conversation,
            reason,
        };
        if let Some(peer) = raw.strip_prefix("C2C") {
            UserId::parse(peer)
                .map(Self::C2c)
                .map_err(|_| invalid("C2C peer is not a valid user id"))
        } else if let Some(group) = raw.strip_prefix("GROUP") {
            GroupId::parse(group)
                .map(Self::Group)
                .map_err(|_| invalid("GROUP id is not a valid group id"))
        } else {
            Err(invalid("must start with C2C or GROUP"))
        }
    }

    /// The conversation kind.
    pub fn kind(&self) -> ConversationKind {
        match self {
            Self::C2c(_) => ConversationKind::C2c,
            Self::Group(_) => ConversationKind::Group,
        }
    }

    /// The peer user or group id, as text.
    pub fn peer(&self) -> &str {
        match self {
            Self::C2c(user) => user.as_str(),
            Self::Group(group) => group.as_str(),
        }
    }

    /// The shared message stream behind this conversation, as seen by `viewer`.
    pub fn stream(&self, viewer: &UserId) -> StreamKey {
        match self {
            Self::C2c(peer) => StreamKey::c2c(viewer, peer),
            Self::Group(group) => StreamKey::group(group),
        }
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::C2c(peer) => write!(f, "C2C{peer}"),
            Self::Group(group) => write!(f, "GROUP{group}"),
        }
    }
}

impl Serialize for ConversationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConversationId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Whether a conversation is one-to-one or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// One-to-one.
    C2c,
    /// Group.
    Group,
}

impl ConversationKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::C2c => "c2c",
            Self::Group => "group",
        }
    }
}

/// The storage key of a message stream: one per C2C pair (shared by both sides) or per group.
///
/// Sequence numbers are allocated per stream. The key is internal and never sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey(String);

impl StreamKey {
    /// The stream of the one-to-one conversation between `a` and `b`, the same from either side.
    pub fn c2c(a: &UserId, b: &UserId) -> Self {
        // ':' cannot occur in a user id, so the pair is unambiguous.
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        Self(format!("c2c:{lo}:{hi}"))
    }

    /// The stream of a group.
    pub fn group(group: &GroupId) -> Self {
        Self(format!("group:{group}"))
    }

    /// Rebuilds a key read back from storage.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_connection_fingerprint_is_short_stable_and_not_the_id() {
        let id = ConnectionId::parse("L0SM9cOFvHcCIhw=").unwrap();
        let print = id.fingerprint();
        assert_eq!(print.len(), 8);
        assert!(print.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(print, id.fingerprint());
        assert!(!id.as_str().contains(&print));
        assert_ne!(
            print,
            ConnectionId::parse("L0SM9cOFvHcCIhx=").unwrap().fingerprint()
        );
    }

    use super::*;

    #[test]
    fn user_ids_follow_the_account_rules() {
        assert!(UserId::parse("alice_01@example.com").is_ok());
        assert_eq!(UserId::parse("").unwrap_err().reason, "must not be empty");
        assert_eq!(UserId::parse("a".repeat(33)).unwrap_err().reason, "too long");
        assert!(UserId::parse("a".repeat(32)).is_ok());
        for bad in ["has space", "colon:x", "slash/x", "中文", "semi;"] {
            assert!(UserId::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn conversation_ids_round_trip_and_reject_garbage() {
        for raw in ["C2Cbob", "GROUPg-1"] {
            assert_eq!(ConversationId::parse(raw).unwrap().to_string(), raw);
        }
        for bad in ["", "C2C", "bob", "GROUP", "C2Cb b", "c2cbob"] {
            let err = ConversationId::parse(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidConversationId, "{bad}");
        }
    }

    #[test]
    fn c2c_stream_is_the_same_from_both_sides() {
        let (a, b) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        assert_eq!(StreamKey::c2c(&a, &b), StreamKey::c2c(&b, &a));
        let from_alice = ConversationId::C2c(b.clone()).stream(&a);
        let from_bob = ConversationId::C2c(a.clone()).stream(&b);
        assert_eq!(from_alice, from_bob);
        assert_ne!(from_alice, StreamKey::c2c(&a, &a));
    }

    #[test]
    fn ids_deserialize_with_validation() {
        assert!(serde_json::from_str::<UserId>(r#""ok""#).is_ok());
        assert!(serde_json::from_str::<UserId>(r#""not ok""#).is_err());
    }
}
