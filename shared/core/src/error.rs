//! The one error type of the core, and its mapping to stable client-facing codes.

use crate::ids::InvalidId;
use crate::usersig::UserSigError;
use serde::Serialize;

/// A boxed error from an adapter (database, AWS SDK, …); never shown to clients.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a core operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The frame is not a JSON object.
    #[error("the frame is not valid JSON: {0}")]
    BadJson(#[source] serde_json::Error),
    /// The frame names an action this server does not have.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(String),
    /// A field is present but its value is not acceptable.
    #[error("invalid field: {0}")]
    InvalidField(String),
    /// An identifier failed validation.
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    /// A message element failed validation.
    #[error("invalid element {index}: {reason}")]
    InvalidElement {
        /// Position of the element in the body.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The message body is larger than the configured limit.
    #[error("message body is {size} bytes, over the {limit}-byte limit")]
    BodyTooLarge {
        /// Serialized size of the body.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// A per-user limit would be exceeded.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The user does not take friends (their profile says `deny_any`).
    #[error("this user does not accept friends")]
    FriendAddDenied,
    /// Already friends both ways.
    #[error("already friends")]
    AlreadyFriends,
    /// The caller blocked this user (unblock them first).
    #[error("you blocked this user")]
    Blocked,
    /// The message holds a word the app's filter refuses.
    #[error("the message contains a word this app does not allow")]
    SensitiveContent,
    /// The recipient does not take messages from the caller (said without naming why).
    #[error("the recipient does not accept your messages")]
    PeerRefused,
    /// The app's server refused the operation through a before-callback (its `ErrorInfo`).
    #[error("refused by the app: {0}")]
    CallbackRefused(String),
    /// A before-callback that fails closed brought no answer, so the operation was refused.
    #[error("the app's server did not answer; try again later")]
    CallbackFailed,
    /// The recall window for this message has passed (only an administrator may still recall it).
    #[error("the message is older than the recall window")]
    RecallExpired,
    /// The edit window for this message has passed (only an administrator may still edit it).
    #[error("the message is older than the edit window")]
    EditExpired,
    /// The conversation has as many pinned messages as it may keep.
    #[error("the conversation has {max} pinned messages already; unpin one first")]
    PinsFull {
        /// The most a conversation keeps.
        max: usize,
    },
    /// The message was recalled: it can no longer be edited or reacted to.
    #[error("the message was recalled")]
    Recalled,
    /// An edit named another version than the message's: someone edited it meanwhile.
    #[error("the message is at version {current}; fetch it and edit that version")]
    StaleVersion {
        /// The message's version now.
        current: u32,
    },
    /// A message refers to media that has not been uploaded (and checked) yet, or that the
    /// sender did not upload.
    #[error("media `{0}` is not uploaded, or not yours")]
    MediaNotReady(String),
    /// The caller is muted in this group (or the group is muted for members).
    #[error("you are muted in this group")]
    Muted,
    /// Guests may not do this (live rooms only, or as the app allows).
    #[error("guests may not use `{0}`")]
    GuestNotAllowed(&'static str),
    /// Too many requests of this kind, from this connection or user: try again after the wait.
    #[error("too many requests; try again in {retry_after_ms} ms")]
    RateLimited {
        /// How long until the request would be accepted, in ms.
        retry_after_ms: u64,
    },
    /// The caller's credentials were refused.
    #[error(transparent)]
    Unauthorized(#[from] UserSigError),
    /// The storage backend failed; details go to the log only.
    #[error("storage backend failure")]
    Store(#[source] BoxError),
    /// The connection gateway failed; details go to the log only.
    #[error("connection gateway failure")]
    Gateway(#[source] BoxError),
}

impl Error {
    /// Wraps an adapter's storage error.
    pub fn store(err: impl Into<BoxError>) -> Self {
        Self::Store(err.into())
    }

    /// Wraps an adapter's gateway error.
    pub fn gateway(err: impl Into<BoxError>) -> Self {
        Self::Gateway(err.into())
    }

    /// Classifies a failure to deserialize an action's `data` into missing or invalid fields.
    pub fn from_data(err: serde_json::Error) -> Self {
        let text = err.to_string();
        // serde's derive reports absent fields with this fixed wording (`de::Error::missing_field`).
        match text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(field) => Self::MissingField(field.to_owned()),
            None => Self::InvalidField(text),
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadJson(_) => ErrorCode::BadJson,
            Self::UnknownAction(_) => ErrorCode::UnknownAction,
            Self::MissingField(_) => ErrorCode::MissingField,
            Self::InvalidField(_) => ErrorCode::InvalidField,
            Self::InvalidId(id) => id.code(),
            Self::InvalidElement { .. } => ErrorCode::InvalidElement,
            Self::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::GuestNotAllowed(_) => ErrorCode::GuestNotAllowed,
            Self::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Self::FriendAddDenied => ErrorCode::FriendAddDenied,
            Self::AlreadyFriends => ErrorCode::AlreadyFriends,
            Self::Blocked => ErrorCode::Blocked,
            Self::PeerRefused => ErrorCode::PeerRefused,
            Self::SensitiveContent => ErrorCode::SensitiveContent,
            Self::CallbackRefused(_) => ErrorCode::CallbackRefused,
            Self::CallbackFailed => ErrorCode::CallbackFailed,
            Self::RecallExpired => ErrorCode::RecallExpired,
            Self::EditExpired => ErrorCode::EditExpired,
            Self::Recalled => ErrorCode::Recalled,
            Self::PinsFull { .. } => ErrorCode::PinsFull,
            Self::StaleVersion { .. } => ErrorCode::StaleVersion,
            Self::MediaNotReady(_) => ErrorCode::MediaNotReady,
            Self::Muted => ErrorCode::Muted,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Store(_) | Self::Gateway(_) => ErrorCode::Internal,
        }
    }

    /// The message shown to clients: the detail for input errors, a generic text for backend faults.
    pub fn client_message(&self) -> String {
        match self {
            Self::Store(_) | Self::Gateway(_) => "internal error; try again later".to_owned(),
            other => other.to_string(),
        }
    }

    /// How long a refused request should wait before it is tried again, in ms, when it was refused
    /// for its rate.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        }
    }

    /// Whether this is a server-side fault (logged at error level) rather than bad input.
    pub fn is_internal(&self) -> bool {
        self.code() == ErrorCode::Internal
    }
}

/// Stable error codes of the wire protocol (documented in `docs/protocol.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a JSON object.
    BadJson,
    /// No such action.
    UnknownAction,
    /// A required field is absent.
    MissingField,
    /// A field has an unacceptable value.
    InvalidField,
    /// A user id is malformed.
    InvalidUserId,
    /// A conversation id is malformed.
    InvalidConversationId,
    /// A group id is malformed.
    InvalidGroupId,
    /// A client message id is malformed.
    InvalidClientMsgId,
    /// A message element is malformed.
    InvalidElement,
    /// The message body is over the size limit.
    BodyTooLarge,
    /// The target does not exist.
    NotFound,
    /// The caller may not do this.
    Forbidden,
    /// The caller is a guest and guests may not do this.
    GuestNotAllowed,
    /// A per-user limit would be exceeded.
    LimitExceeded,
    /// The user does not accept friends.
    FriendAddDenied,
    /// Already friends both ways.
    AlreadyFriends,
    /// The caller blocked that user.
    Blocked,
    /// The recipient does not accept the caller's messages.
    PeerRefused,
    /// The message holds a word the app's filter refuses.
    SensitiveContent,
    /// The app's server refused it through a callback.
    CallbackRefused,
    /// The app's server did not answer a callback that fails closed.
    CallbackFailed,
    /// The recall window has passed.
    RecallExpired,
    /// The edit window has passed.
    EditExpired,
    /// The message was recalled.
    Recalled,
    /// The conversation's pinned messages are at their limit.
    PinsFull,
    /// The edit named a version the message is no longer at.
    StaleVersion,
    /// Referenced media is not uploaded, or not the sender's.
    MediaNotReady,
    /// The caller is muted in the group.
    Muted,
    /// Credentials were refused.
    Unauthorized,
    /// Too many requests: wait `retryAfterMs` and try again.
    RateLimited,
    /// A server-side fault.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::UnknownAction => "unknown_action",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::InvalidUserId => "invalid_user_id",
            Self::InvalidConversationId => "invalid_conversation_id",
            Self::InvalidGroupId => "invalid_group_id",
            Self::InvalidClientMsgId => "invalid_client_msg_id",
            Self::InvalidElement => "invalid_element",
            Self::BodyTooLarge => "body_too_large",
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::GuestNotAllowed => "guest_not_allowed",
            Self::LimitExceeded => "limit_exceeded",
            Self::FriendAddDenied => "friend_add_denied",
            Self::AlreadyFriends => "already_friends",
            Self::Blocked => "blocked",
            Self::PeerRefused => "peer_refused",
            Self::SensitiveContent => "sensitive_content",
            Self::CallbackRefused => "callback_refused",
            Self::CallbackFailed => "callback_failed",
            Self::RecallExpired => "recall_expired",
            Self::EditExpired => "edit_expired",
            Self::Recalled => "recalled",
            Self::PinsFull => "pins_full",
            Self::StaleVersion => "stale_version",
            Self::MediaNotReady => "media_not_ready",
            Self::Muted => "muted",
            Self::Unauthorized => "unauthorized",
            Self::RateLimited => "rate_limited",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        count: u32,
    }

    #[test]
    fn serde_missing_field_becomes_missing_field_code() {
        // GIVEN data without a required field
        let err = serde_json::from_str::<Probe>(r#"{"name":"x"}"#).unwrap_err();
        // WHEN it is classified
        let err = Error::from_data(err);
        // THEN the code names it as missing, with the field's name
        assert_eq!(err.code(), ErrorCode::MissingField);
        assert_eq!(err.to_string(), "missing field `count`");
    }

    #[test]
    fn serde_type_mismatch_becomes_invalid_field() {
        let err = serde_json::from_str::<Probe>(r#"{"name":"x","count":"many"}"#).unwrap_err();
        assert_eq!(Error::from_data(err).code(), ErrorCode::InvalidField);
    }

    #[test]
    fn backend_faults_are_sanitized_for_clients() {
        let err = Error::store(std::io::Error::other("disk /var/secret full"));
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(!err.client_message().contains("secret"));
    }
}
