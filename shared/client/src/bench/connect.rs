//! Opening the bench's connections, each with a freshly minted token.

use super::config::TOKEN_LIFETIME_SECS;
use crate::error::ClientError;
use crate::frame;
use cirrus_core::usersig::UserSigKey;
use futures_util::StreamExt as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A bench connection.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens one connection per user, `concurrency` at once, each with a fresh token: the sockets in
/// the users' order, or the first user that could not connect.
pub(crate) async fn connect_all(
    url: &str,
    key: &UserSigKey,
    users: impl IntoIterator<Item = String>,
    concurrency: usize,
) -> Result<Vec<WsStream>, (String, ClientError)> {
    let issued = now_secs();
    let jobs = users.into_iter().enumerate().map(|(slot, user)| {
        let token = key.mint(&user, issued, TOKEN_LIFETIME_SECS);
        let url = frame::connect_url(url, &token, Some("bench"));
        async move {
            let result = match url {
                Ok(url) => open(url).await,
                Err(reason) => Err(ClientError::InvalidUrl(reason)),
            };
            (slot, user, result)
        }
    });
    let mut connecting = futures_util::stream::iter(jobs).buffer_unordered(concurrency.max(1));
    let mut sockets = Vec::new();
    while let Some((slot, user, result)) = connecting.next().await {
        match result {
            Ok(socket) => sockets.push((slot, socket)),
            Err(source) => return Err((user, source)),
        }
    }
    sockets.sort_unstable_by_key(|&(slot, _)| slot);
    Ok(sockets.into_iter().map(|(_, socket)| socket).collect())
}

pub(super) async fn open(url: String) -> Result<WsStream, ClientError> {
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let attempt = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Err(_) => Err(ClientError::Timeout),
        Ok(Err(error)) => Err(error.into()),
        Ok(Ok((socket, _))) => Ok(socket),
    }
}

/// Seconds since the Unix epoch, for minting tokens.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
