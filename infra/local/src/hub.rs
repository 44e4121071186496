//! The registry of live sockets, and the connection gateway over it (`@connections` in-process).

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use cirrus_core::Result;
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{ConnectionGateway, PostOutcome};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use tokio::sync::{Notify, mpsc};

/// Frames queued per socket before it counts as a slow consumer and is closed.
pub const OUTBOUND_QUEUE: usize = 4096;

/// Bytes of frames queued per socket before it counts as a slow consumer and is closed: with
/// [`OUTBOUND_QUEUE`], what bounds the memory a client that stops reading can hold.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// The close code of a connection cut off for not reading its frames (1008: policy violation).
pub const SLOW_CONSUMER: (u16, &str) = (1008, "slow consumer");

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

impl Outbound {
    /// The bytes the frame holds while it waits in a socket's queue.
    fn queued_bytes(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Binary(data) => data.len(),
            Self::Close(_, reason) => reason.len(),
        }
    }
}

/// What the hub knows of one socket.
#[derive(Debug)]
pub struct Socket {
    /// Queue to the socket's task.
    tx: mpsc::Sender<Outbound>,
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
    /// Bytes of the frames in the queue.
    queued_bytes: AtomicUsize,
    /// Set once the socket is cut off as a slow consumer: later posts are dropped.
    cut_off: AtomicBool,
    /// Wakes the socket's task to close at once, whatever it is waiting on.
    kill: Notify,
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

    /// Queues a frame; `Gone` when no such socket is open, or when it is (now) cut off for not
    /// reading its frames: its queue holds [`OUTBOUND_QUEUE`] frames or [`MAX_QUEUED_BYTES`].
    pub fn post(&self, id: &ConnectionId, frame: Outbound) -> PostOutcome {
        let Some(socket) = self.get(id) else {
            return PostOutcome::Gone;
        };
        socket.queue(frame)
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
    /// A socket of `user`, with the sending side of its task's queue.
    pub fn new(
        tx: mpsc::Sender<Outbound>,
        user: UserId,
        source_ip: Option<SocketAddr>,
        user_agent: Option<String>,
    ) -> Self {
        Self {
            tx,
            user,
            connected_at: SystemTime::now(),
            last_active_ms: AtomicI64::new(now_ms()),
            source_ip,
            user_agent,
            queued_bytes: AtomicUsize::new(0),
            cut_off: AtomicBool::new(false),
            kill: Notify::new(),
        }
    }

    /// Records inbound activity.
    pub fn touch(&self) {
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
    }

    fn queue(&self, frame: Outbound) -> PostOutcome {
        if self.cut_off.load(Ordering::Acquire) {
            return PostOutcome::Gone;
        }
        let bytes = frame.queued_bytes();
        if self.queued_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes > MAX_QUEUED_BYTES {
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            return self.cut_off();
        }
        match self.tx.try_send(frame) {
            Ok(()) => PostOutcome::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                self.cut_off()
            }
            Err(mpsc::error::TrySendError::Closed(_)) => PostOutcome::Gone,
        }
    }

    /// A client that does not read its frames is cut off, as a server must: told once, its task
    /// woken to close with [`SLOW_CONSUMER`] whatever it is doing, and everything posted from now
    /// on dropped. The client reconnects and fills the gap from history.
    fn cut_off(&self) -> PostOutcome {
        if !self.cut_off.swap(true, Ordering::AcqRel) {
            tracing::warn!(user = %self.user, "slow consumer: closing the connection");
            self.kill.notify_one();
        }
        PostOutcome::Gone
    }

    /// Takes a frame out of the queue's count as the socket's task writes it.
    pub fn written(&self, frame: &Outbound) {
        self.queued_bytes
            .fetch_sub(frame.queued_bytes(), Ordering::AcqRel);
    }

    /// Resolves when the socket has been cut off as a slow consumer.
    pub async fn killed(&self) {
        self.kill.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(capacity: usize) -> (Arc<Socket>, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity);
        let user = UserId::parse("alice").unwrap();
        (Arc::new(Socket::new(tx, user, None, None)), rx)
    }

    fn text(bytes: usize) -> Outbound {
        Outbound::Text(Utf8Bytes::from("x".repeat(bytes)))
    }

    #[tokio::test]
    async fn a_socket_that_does_not_read_is_cut_off_at_its_byte_bound_once() {
        // GIVEN a socket whose task never takes a frame out of its queue
        let (socket, _rx) = socket(OUTBOUND_QUEUE);
        // WHEN 64 KiB frames keep coming
        let outcomes: Vec<PostOutcome> = (0..40).map(|_| socket.queue(text(64 * 1024))).collect();
        // THEN 16 of them (1 MiB) are queued, every later one is dropped as gone, and the task is
        // woken to close
        let delivered = outcomes.iter().filter(|o| **o == PostOutcome::Delivered).count();
        assert_eq!(delivered, MAX_QUEUED_BYTES / (64 * 1024));
        assert!(outcomes[delivered..].iter().all(|o| *o == PostOutcome::Gone));
        assert!(socket.queued_bytes.load(Ordering::Acquire) <= MAX_QUEUED_BYTES);
        tokio::time::timeout(std::time::Duration::from_secs(5), socket.killed())
            .await
            .expect("the socket's task is woken");
        // AND even a small frame is dropped from now on
        assert_eq!(socket.queue(text(1)), PostOutcome::Gone);
    }

    #[tokio::test]
    async fn a_socket_is_cut_off_when_its_queue_is_full_of_small_frames() {
        let (socket, _rx) = socket(8);
        let outcomes: Vec<PostOutcome> = (0..9).map(|_| socket.queue(text(10))).collect();
        assert_eq!(outcomes[..8], [PostOutcome::Delivered; 8]);
        assert_eq!(outcomes[8], PostOutcome::Gone);
        tokio::time::timeout(std::time::Duration::from_secs(5), socket.killed())
            .await
            .expect("the socket's task is woken");
    }

    #[tokio::test]
    async fn frames_written_make_room_again() {
        // GIVEN a socket holding its whole byte budget
        let (socket, mut rx) = socket(OUTBOUND_QUEUE);
        for _ in 0..16 {
            assert_eq!(socket.queue(text(64 * 1024)), PostOutcome::Delivered);
        }
        // WHEN its task writes one frame
        let frame = rx.recv().await.unwrap();
        socket.written(&frame);
        // THEN one more fits, and the socket was never cut off
        assert_eq!(socket.queue(text(64 * 1024)), PostOutcome::Delivered);
        assert!(!socket.cut_off.load(Ordering::Acquire));
    }
}
