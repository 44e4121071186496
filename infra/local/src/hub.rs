//! The registry of live sockets, and the connection gateway over it (`@connections` in-process).

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use cirrus_core::Result;
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{ConnectionGateway, PostOutcome};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use tokio::sync::mpsc;

/// Frames queued per socket before it counts as a slow consumer and is closed.
pub const OUTBOUND_QUEUE: usize = 4096;

/// Something to write to a socket.
#[derive(Debug)]
pub enum Outbound {
    /// A text frame.
    Text(Utf8Bytes),
    /// A binary frame.
    Binary(Bytes),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// What the hub knows of one socket.
#[derive(Debug)]
pub struct Socket {
    /// Queue to the socket's task.
    pub tx: mpsc::Sender<Outbound>,
    /// The authenticated user.
    pub user: UserId,
    /// Connect time.
    pub connected_at: SystemTime,
    /// Last inbound frame, ms since the epoch.
    pub last_active_ms: AtomicI64,
    /// Peer address.
    pub source_ip: Option<SocketAddr>,
    /// The client's User-Agent header.
    pub user_agent: Option<String>,
}

/// Live sockets by connection id.
#[derive(Debug, Default)]
pub struct Hub {
    sockets: RwLock<HashMap<ConnectionId, Arc<Socket>>>,
}

impl Hub {
    /// Adds a socket.
    pub fn insert(&self, id: ConnectionId, socket: Arc<Socket>) {
        self.write().insert(id, socket);
    }

    /// Removes a socket.
    pub fn remove(&self, id: &ConnectionId) -> Option<Arc<Socket>> {
        self.write().remove(id)
    }

    /// Looks a socket up.
    pub fn get(&self, id: &ConnectionId) -> Option<Arc<Socket>> {
        self.read().get(id).cloned()
    }

    /// How many sockets are open.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no socket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks every socket to close with `code`.
    pub fn close_all(&self, code: u16, reason: &'static str) {
        for socket in self.read().values() {
            let _ = socket.tx.try_send(Outbound::Close(code, reason));
        }
    }

    /// Queues a frame; `Gone` when no such socket is open.
    pub fn post(&self, id: &ConnectionId, frame: Outbound) -> PostOutcome {
        let Some(socket) = self.get(id) else {
            return PostOutcome::Gone;
        };
        match socket.tx.try_send(frame) {
            Ok(()) => PostOutcome::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // A client that does not read its frames is cut off, as a server must; it reconnects
                // and fills the gap from history.
                tracing::warn!(connection = %id, "slow consumer: closing the connection");
                let socket_tx = socket.tx.clone();
                tokio::spawn(async move {
                    let _ = socket_tx.send(Outbound::Close(1008, "slow consumer")).await;
                });
                PostOutcome::Delivered
            }
            Err(mpsc::error::TrySendError::Closed(_)) => PostOutcome::Gone,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ConnectionId, Arc<Socket>>> {
        self.sockets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ConnectionId, Arc<Socket>>> {
        self.sockets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The connection gateway of the local stack: posts go straight to the socket's queue.
#[derive(Debug, Clone)]
pub struct LocalGateway {
    hub: Arc<Hub>,
}

impl LocalGateway {
    /// A gateway over `hub`.
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

#[async_trait]
impl ConnectionGateway for LocalGateway {
    async fn post(&self, connection: &ConnectionId, data: Bytes) -> Result<PostOutcome> {
        let frame = match Utf8Bytes::try_from(data) {
            Ok(text) => Outbound::Text(text),
            Err(_) => return Err(cirrus_core::Error::gateway("frame is not UTF-8 text")),
        };
        Ok(self.hub.post(connection, frame))
    }

    async fn close(&self, connection: &ConnectionId) -> Result<()> {
        self.hub
            .post(connection, Outbound::Close(1000, "closed by server"));
        Ok(())
    }
}

/// Milliseconds since the epoch, for activity stamps.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl Socket {
    /// Records inbound activity.
    pub fn touch(&self) {
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
    }
}
