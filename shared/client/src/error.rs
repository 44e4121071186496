//! The client's one error type.

use cirrus_core::ids::InvalidId;
use tokio_tungstenite::tungstenite;

/// A result with [`ClientError`] as the default error.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything that can go wrong between a call on the client and the server's reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered the request with an error reply.
    #[error("{code}: {message}")]
    Server {
        /// Stable machine-readable code, e.g. `forbidden` or `invalid_user_id`.
        code: String,
        /// Human-readable detail.
        message: String,
    },
    /// No reply arrived within the configured request timeout.
    #[error("the request timed out")]
    Timeout,
    /// The connection dropped while the request was in flight (or before it could be sent).
    #[error("the connection to the server was lost")]
    Disconnected,
    /// The client was closed (by [`crate::Client::close`], or because it gave up reconnecting).
    #[error("the client is closed")]
    Closed,
    /// The server refused the WebSocket upgrade with this HTTP status (401/403: a bad token).
    #[error("the server refused the connection with HTTP {0}")]
    Rejected(u16),
    /// The URL is not a `ws://` or `wss://` URL the client can connect to.
    #[error("invalid server url: {0}")]
    InvalidUrl(String),
    /// A transport failure: TCP, TLS or the WebSocket protocol.
    #[error("websocket error: {0}")]
    WebSocket(Box<tungstenite::Error>),
    /// The server's frame or reply data does not have the documented shape.
    #[error("unexpected data from the server: {0}")]
    Decode(#[from] serde_json::Error),
    /// An identifier given to a typed helper is not valid.
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
}

impl ClientError {
    /// The server's error code, if this is an error reply.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// True when retrying later may succeed (timeouts, drops, transport errors, server-side
    /// `internal` errors); false for rejections, bad input and a closed client.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout | Self::Disconnected | Self::WebSocket(_) => true,
            Self::Server { code, .. } => code == "internal",
            Self::Rejected(status) => !is_fatal_status(*status),
            Self::Closed | Self::InvalidUrl(_) | Self::Decode(_) | Self::InvalidId(_) => false,
        }
    }
}

/// Whether a refused upgrade with this status should stop reconnection attempts: client errors
/// (400–499) other than 408 Request Timeout and 429 Too Many Requests. 401/403 mean a bad token.
pub(crate) fn is_fatal_status(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

impl From<tungstenite::Error> for ClientError {
    fn from(error: tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::Http(response) => Self::Rejected(response.status().as_u16()),
            tungstenite::Error::Url(url) => Self::InvalidUrl(url.to_string()),
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => Self::Disconnected,
            other => Self::WebSocket(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tokens_are_fatal_but_overload_is_not() {
        // GIVEN refused upgrades WHEN classified THEN only client errors other than 408/429 are fatal.
        for status in [400, 401, 403, 404] {
            assert!(is_fatal_status(status), "{status}");
            assert!(!ClientError::Rejected(status).is_transient());
        }
        for status in [408, 429, 500, 502, 503] {
            assert!(!is_fatal_status(status), "{status}");
            assert!(ClientError::Rejected(status).is_transient());
        }
    }

    #[test]
    fn server_errors_show_their_code() {
        let error = ClientError::Server {
            code: "forbidden".into(),
            message: "not a member".into(),
        };
        assert_eq!(error.to_string(), "forbidden: not a member");
        assert_eq!(error.code(), Some("forbidden"));
        assert_eq!(ClientError::Timeout.code(), None);
    }
}
