//! The client: one background task owns the WebSocket, the pending-request map and the reconnect
//! loop ([`connection`]); [`Client`] handles talk to it over a channel.
//!
//! Over 600 lines because of its tests: the code is under 380 lines, and the tests beside it drive
//! the typed helpers against an in-test server; further actions go in their own modules (as `pins`).

mod connection;
mod pins;

use crate::backoff::Backoff;
use crate::error::{ClientError, Result};
use crate::frame;
use crate::types::{ConversationPage, HistoryPage, HistoryQuery, PinnedMessage, ReceivedMessage, SendAck};
use cirrus_core::element::Element;
use cirrus_core::ids::{ClientMsgId, ConversationId, UserId};
use cirrus_core::message::Target;
use cirrus_core::protocol::{Action, SignalEvent};
use connection::{Connection, open};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How often the background task forgets requests whose caller stopped waiting.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How long `close` waits for the server to answer the close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Requests queued between a caller and the background task before callers wait.
const COMMAND_BUFFER: usize = 1024;
/// Requests written before one flush, so reading never waits long behind writing.
const MAX_BATCH: usize = 64;

/// How to reach the server and how the connection behaves.
#[derive(Clone)]
pub struct ClientConfig {
    /// The WebSocket endpoint, e.g. `ws://127.0.0.1:8080` or `wss://…/prod`.
    pub url: String,
    /// The UserSig to connect with (sent as the `token` query parameter).
    pub token: String,
    /// Optional `platform` query parameter (e.g. `ios`, `web`, `cli`).
    pub platform: Option<String>,
    /// Reconnect after the connection drops (not after a 4xx rejection or [`Client::close`]).
    pub auto_reconnect: bool,
    /// Send `sys.ping` this often to stay under the server's idle timeout; `None` disables it.
    pub ping_interval: Option<Duration>,
    /// How long a request (and a connection attempt) may take.
    pub request_timeout: Duration,
    /// Delays between reconnection attempts.
    pub backoff: Backoff,
}

impl ClientConfig {
    /// A configuration with the defaults: auto-reconnect on, a ping every 5 minutes (the local
    /// stack and API Gateway close connections idle for 10), a 10 s request timeout.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: token.into(),
            platform: None,
            auto_reconnect: true,
            ping_interval: Some(Duration::from_secs(300)),
            request_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a credential: it never reaches a log.
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("platform", &self.platform)
            .field("auto_reconnect", &self.auto_reconnect)
            .field("ping_interval", &self.ping_interval)
            .field("request_timeout", &self.request_timeout)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// What the server pushed, or what happened to the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A `msg.new` event: a new message in one of this user's conversations.
    Message(Box<ReceivedMessage>),
    /// A `msg.edited` event: a message of one of this user's conversations at its new version
    /// (replace the one with the same msgId).
    Edited(Box<ReceivedMessage>),
    /// A `conv.pinned` event: a message of one of this user's conversations was pinned.
    Pinned(Box<PinnedMessage>),
    /// A `msg.signal` event: an online-only signal (someone typing, or the app's own kind).
    Signal(SignalEvent),
    /// Any other event, or a `msg.new` whose data this client version cannot read.
    Event {
        /// The event name.
        event: String,
        /// The event data as sent.
        data: Value,
    },
    /// The connection dropped; requests in flight failed with [`ClientError::Disconnected`].
    Disconnected {
        /// What happened, for display.
        reason: String,
        /// Whether the client is trying to reconnect; if not, the event stream ends next.
        reconnecting: bool,
    },
    /// The connection is back. Events pushed while it was down are not replayed: fetch
    /// `msg.history` after each conversation's last seen seq to fill the gap.
    Reconnected,
}

/// The `kind` of a typing signal ([`Client::signal`]).
pub const TYPING: &str = "typing";

/// The stream of [`ClientEvent`]s. It is unbounded so that a slow reader never stalls replies;
/// read it (or drop it). It ends when the client is closed or stops reconnecting.
pub type EventReceiver = mpsc::UnboundedReceiver<ClientEvent>;

enum Command {
    Request {
        id: u64,
        frame: String,
        reply: oneshot::Sender<Result<Value>>,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

/// A connection to a Cirrus server. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    next_id: Arc<AtomicU64>,
    request_timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.commands.is_closed())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendData<'a> {
    to: &'a Target,
    client_msg_id: &'a ClientMsgId,
    body: &'a [Element],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EditData<'a> {
    conversation_id: &'a ConversationId,
    seq: u64,
    version: u32,
    body: &'a [Element],
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_custom_data: Option<&'a str>,
}

#[derive(Serialize)]
struct SignalData<'a> {
    to: &'a Target,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryData<'a> {
    conversation_id: &'a ConversationId,
    #[serde(flatten)]
    query: HistoryQuery,
}

#[derive(Serialize)]
struct ConvListData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadData<'a> {
    conversation_id: &'a ConversationId,
    seq: u64,
}

#[derive(Deserialize)]
struct PingData {
    time: i64,
}

impl Client {
    /// Connects, then hands the socket to a background task on the current Tokio runtime.
    ///
    /// The first connection is not retried: a refused upgrade is [`ClientError::Rejected`] with
    /// the HTTP status (401/403 for a bad token), anything else a transport error.
    pub async fn connect(config: ClientConfig) -> Result<(Client, EventReceiver)> {
        let url = frame::connect_url(&config.url, &config.token, config.platform.as_deref())
            .map_err(ClientError::InvalidUrl)?;
        let socket = open(url.clone(), config.request_timeout).await?;
        let (commands, command_rx) = mpsc::channel(COMMAND_BUFFER);
        let (event_tx, events) = mpsc::unbounded_channel();
        let task = Connection {
            url,
            auto_reconnect: config.auto_reconnect,
            ping_interval: config.ping_interval.filter(|p| !p.is_zero()),
            connect_timeout: config.request_timeout,
            backoff: config.backoff,
            commands: command_rx,
            events: event_tx,
            pending: HashMap::new(),
            next_ping: 0,
        };
        tokio::spawn(task.run(socket));
        let client = Client {
            commands,
            next_id: Arc::new(AtomicU64::new(1)),
            request_timeout: config.request_timeout,
        };
        Ok((client, events))
    }

    /// Sends `action` with `data` and waits for its reply's data.
    ///
    /// An error reply is [`ClientError::Server`]; no reply within the request timeout is
    /// [`ClientError::Timeout`]; a connection lost before the reply is
    /// [`ClientError::Disconnected`] (the request may or may not have been executed).
    pub async fn request(&self, action: &str, data: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = frame::request_frame(action, &frame::req_id(id), &data);
        let (reply, answer) = oneshot::channel();
        let deadline = Instant::now() + self.request_timeout;
        match timeout_at(
            deadline,
            self.commands.send(Command::Request { id, frame, reply }),
        )
        .await
        {
            Err(_) => return Err(ClientError::Timeout),
            Ok(Err(_)) => return Err(ClientError::Closed),
            Ok(Ok(())) => {}
        }
        match timeout_at(deadline, answer).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(Err(_)) => Err(ClientError::Closed),
            Ok(Ok(result)) => result,
        }
    }

    async fn typed<T: for<'de> Deserialize<'de>>(&self, action: Action, data: impl Serialize) -> Result<T> {
        let data = serde_json::to_value(data)?;
        let reply = self.request(action.name(), data).await?;
        Ok(serde_json::from_value(reply)?)
    }

    /// `msg.send`: sends `body` to `to`. Retrying with the same `client_msg_id` is safe: the
    /// server answers a retry with the first ack instead of storing a second message.
    pub async fn send(&self, to: &Target, body: &[Element], client_msg_id: &ClientMsgId) -> Result<SendAck> {
        self.typed(
            Action::MsgSend,
            SendData {
                to,
                client_msg_id,
                body,
            },
        )
        .await
    }

    /// `msg.send` of one text element to `peer`, with a fresh clientMsgId.
    pub async fn send_text(&self, peer: &UserId, text: &str) -> Result<SendAck> {
        let to = Target::C2c(peer.clone());
        let body = [Element::Text {
            text: text.to_owned(),
        }];
        self.send(&to, &body, &new_client_msg_id()?).await
    }

    /// `msg.signal`: tells the live connections of `to` something that is not stored, such as
    /// [`TYPING`] (send it when the user starts typing and every few seconds while they go
    /// on). `data` is the app's, at most 1 KB.
    pub async fn signal(&self, to: &Target, kind: &str, data: Option<&str>) -> Result<()> {
        let data = serde_json::to_value(SignalData { to, kind, data })?;
        self.request(Action::MsgSignal.name(), data).await.map(drop)
    }

    /// `msg.edit`: replaces the body (and cloudCustomData) of one of the user's own messages,
    /// naming the `version` it edits ([`ReceivedMessage::version`]); an edit of a version that is
    /// no longer the latest fails with the server's `stale_version`. Answers the message as edited.
    pub async fn edit(
        &self,
        conversation: &ConversationId,
        seq: u64,
        version: u32,
        body: &[Element],
        cloud_custom_data: Option<&str>,
    ) -> Result<ReceivedMessage> {
        let data = EditData {
            conversation_id: conversation,
            seq,
            version,
            body,
            cloud_custom_data,
        };
        self.typed(Action::MsgEdit, data).await
    }

    /// `msg.history`: one page of a conversation by seq range.
    pub async fn history(&self, conversation: &ConversationId, query: HistoryQuery) -> Result<HistoryPage> {
        self.typed(
            Action::MsgHistory,
            HistoryData {
                conversation_id: conversation,
                query,
            },
        )
        .await
    }

    /// `conv.list`: one page of this user's conversations, most recent first.
    pub async fn conversations(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<ConversationPage> {
        self.typed(Action::ConvList, ConvListData { cursor, limit }).await
    }

    /// `conv.read`: marks everything up to and including `seq` as read.
    pub async fn read(&self, conversation: &ConversationId, seq: u64) -> Result<()> {
        let data = serde_json::to_value(ReadData {
            conversation_id: conversation,
            seq,
        })?;
        self.request(Action::ConvRead.name(), data).await.map(drop)
    }

    /// `sys.ping`: the server's time, ms since the epoch.
    pub async fn ping(&self) -> Result<i64> {
        let reply: PingData = self.typed(Action::SysPing, serde_json::Map::new()).await?;
        Ok(reply.time)
    }

    /// Closes the connection (with a WebSocket close handshake) and stops reconnecting; every
    /// clone of this client is closed. Closing a closed client is a no-op.
    pub async fn close(&self) -> Result<()> {
        let (done, closed) = oneshot::channel();
        if self.commands.send(Command::Close { done }).await.is_ok() {
            // The task answers once the socket is closed; if it is gone already, so is the socket.
            let _ = closed.await;
        }
        Ok(())
    }

    /// True once the client is closed or has given up reconnecting.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// A fresh, time-ordered clientMsgId.
fn new_client_msg_id() -> Result<ClientMsgId> {
    Ok(ClientMsgId::parse(uuid::Uuid::now_v7().simple().to_string())?)
}

#[cfg(test)]
mod tests {
    use super::connection::to_event;
    use super::*;
    use futures_util::{SinkExt as _, StreamExt as _};
    use serde_json::json;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    use tokio_tungstenite::tungstenite::http;

    type ServerSocket = WebSocketStream<TcpStream>;

    async fn listener() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        (listener, url)
    }

    /// Accepts one upgrade, checking that the token arrived in the query string.
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    async fn accept(listener: &TcpListener) -> ServerSocket {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio_tungstenite::accept_hdr_async(tcp, |request: &Request, response: Response| {
            let query = request.uri().query().unwrap_or_default();
            assert!(query.contains("token=tok"), "{query}");
            Ok(response)
        })
        .await
        .unwrap()
    }

    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    async fn reject(listener: &TcpListener, status: u16) {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = tokio_tungstenite::accept_hdr_async(tcp, move |_: &Request, _: Response| {
            let response: ErrorResponse = http::Response::builder().status(status).body(None).unwrap();
            Err(response)
        })
        .await;
    }

    /// Reads the next request frame as JSON.
    async fn next_request(socket: &mut ServerSocket) -> Value {
        loop {
            match socket.next().await.unwrap().unwrap() {
                WsMessage::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                WsMessage::Close(_) => panic!("client closed"),
                _ => {}
            }
        }
    }

    async fn reply(socket: &mut ServerSocket, request: &Value, data: Value) {
        let frame = json!({"type": "reply", "reqId": request["reqId"], "ok": true, "data": data});
        socket.send(WsMessage::text(frame.to_string())).await.unwrap();
    }

    fn config(url: &str) -> ClientConfig {
        ClientConfig {
            auto_reconnect: false,
            request_timeout: Duration::from_secs(5),
            backoff: Backoff {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(50),
            },
            ..ClientConfig::new(url, "tok")
        }
    }

    #[tokio::test]
    async fn replies_are_matched_by_req_id_even_out_of_order() {
        // GIVEN a server that answers two requests in reverse order, the second with an error
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let mut socket = accept(&listener).await;
            let first = next_request(&mut socket).await;
            let second = next_request(&mut socket).await;
            assert_eq!(first["action"], "sys.ping");
            let error = json!({"type": "reply", "reqId": second["reqId"], "ok": false,
                               "error": {"code": "not_found", "message": "no such conversation"}});
            socket.send(WsMessage::text(error.to_string())).await.unwrap();
            reply(&mut socket, &first, json!({"time": 42})).await;
            socket
        });
        let (client, _events) = Client::connect(config(&url)).await.unwrap();
        // WHEN both are in flight at once
        let conversation = ConversationId::parse("C2Cbob").unwrap();
        let (ping, history) = tokio::join!(client.ping(), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            client.history(&conversation, HistoryQuery::default()).await
        });
        // THEN each caller gets its own answer
        assert_eq!(ping.unwrap(), 42);
        let error = history.unwrap_err();
        assert_eq!(error.code(), Some("not_found"), "{error}");
        drop(server.await.unwrap());
    }

    #[tokio::test]
    async fn typed_helpers_send_the_documented_data() {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let mut socket = accept(&listener).await;
            let send = next_request(&mut socket).await;
            assert_eq!(send["action"], "msg.send");
            assert_eq!(send["data"]["to"], json!({"type": "c2c", "id": "bob"}));
            assert_eq!(send["data"]["body"], json!([{"type": "text", "text": "hello"}]));
            assert!(send["data"]["clientMsgId"].as_str().unwrap().len() >= 16);
            reply(
                &mut socket,
                &send,
                json!({"msgId": "m1", "seq": 1, "time": 7, "conversationId": "C2Cbob"}),
            )
            .await;
            let list = next_request(&mut socket).await;
            assert_eq!(list["data"], json!({"limit": 5}));
            reply(&mut socket, &list, json!({"conversations": [], "cursor": "c2"})).await;
            let read = next_request(&mut socket).await;
            assert_eq!(read["data"], json!({"conversationId": "C2Cbob", "seq": 1}));
            reply(&mut socket, &read, json!({})).await;
            let history = next_request(&mut socket).await;
            assert_eq!(
                history["data"],
                json!({"conversationId": "C2Cbob", "beforeSeq": 9, "limit": 2})
            );
            reply(&mut socket, &history, json!({"messages": [], "complete": true})).await;
            socket
        });
        let (client, _events) = Client::connect(config(&url)).await.unwrap();
        let bob = UserId::parse("bob").unwrap();
        let ack = client.send_text(&bob, "hello").await.unwrap();
        assert_eq!(
            (ack.seq, ack.conversation_id.to_string()),
            (1, "C2Cbob".to_owned())
        );
        let page = client.conversations(None, Some(5)).await.unwrap();
        assert_eq!(page.cursor.as_deref(), Some("c2"));
        client.read(&ack.conversation_id, 1).await.unwrap();
        let query = HistoryQuery {
            before_seq: Some(9),
            after_seq: None,
            limit: Some(2),
        };
        let history = client.history(&ack.conversation_id, query).await.unwrap();
        assert!(history.complete && history.messages.is_empty());
        drop(server.await.unwrap());
    }

    #[tokio::test]
    async fn events_arrive_typed_and_a_drop_fails_requests_in_flight() {
        // GIVEN a server that pushes two events, then drops the connection while a request waits
        let (listener, url) = listener().await;
        tokio::spawn(async move {
            let mut socket = accept(&listener).await;
            let message = json!({"msgId": "m1", "seq": 1, "conversationId": "C2Calice", "from": "alice",
                "to": {"type": "c2c", "id": "bob"}, "time": 1, "clientMsgId": "c1",
                "body": [{"type": "text", "text": "hi"}]});
            for frame in [
                json!({"type": "event", "event": "msg.new", "data": message}),
                json!({"type": "event", "event": "friend.added", "data": {"userId": "carol"}}),
            ] {
                socket.send(WsMessage::text(frame.to_string())).await.unwrap();
            }
            let _request = next_request(&mut socket).await;
            drop(socket);
        });
        let (client, mut events) = Client::connect(config(&url)).await.unwrap();
        // WHEN a request is in flight as the socket drops
        let result = client.ping().await;
        // THEN the request fails as Disconnected and the events tell the story in order
        assert!(matches!(result, Err(ClientError::Disconnected)), "{result:?}");
        let Some(ClientEvent::Message(message)) = events.recv().await else {
            panic!("expected a message")
        };
        assert_eq!(message.summary(), "hi");
        assert!(
            matches!(events.recv().await, Some(ClientEvent::Event { ref event, .. }) if event == "friend.added")
        );
        assert!(matches!(
            events.recv().await,
            Some(ClientEvent::Disconnected {
                reconnecting: false,
                ..
            })
        ));
        assert_eq!(events.recv().await, None);
        assert!(matches!(client.ping().await, Err(ClientError::Closed)));
    }

    #[tokio::test]
    async fn a_refused_upgrade_surfaces_its_status() {
        let (listener, url) = listener().await;
        tokio::spawn(async move { reject(&listener, 401).await });
        let result = Client::connect(config(&url)).await;
        assert!(matches!(result, Err(ClientError::Rejected(401))), "{result:?}");
    }

    #[tokio::test]
    async fn the_client_reconnects_and_stops_at_a_rejection() {
        // GIVEN auto-reconnect and a server that drops the first connection, accepts the second,
        // closes it with a code, then refuses the third with 403
        let (listener, url) = listener().await;
        tokio::spawn(async move {
            drop(accept(&listener).await);
            let mut socket = accept(&listener).await;
            let request = next_request(&mut socket).await;
            reply(&mut socket, &request, json!({"time": 9})).await;
            let close = tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: 1009.into(),
                reason: "too big".into(),
            };
            socket.close(Some(close)).await.unwrap();
            reject(&listener, 403).await;
        });
        let config = ClientConfig {
            auto_reconnect: true,
            ..config(&url)
        };
        let (client, mut events) = Client::connect(config).await.unwrap();
        // WHEN the connection comes and goes
        let first = events.recv().await;
        assert!(
            matches!(
                first,
                Some(ClientEvent::Disconnected {
                    reconnecting: true,
                    ..
                })
            ),
            "{first:?}"
        );
        assert_eq!(events.recv().await, Some(ClientEvent::Reconnected));
        // THEN requests work again after the reconnection
        assert_eq!(client.ping().await.unwrap(), 9);
        let Some(ClientEvent::Disconnected {
            reason,
            reconnecting: true,
        }) = events.recv().await
        else {
            panic!("expected a reconnecting disconnect")
        };
        assert!(reason.contains("1009"), "{reason}");
        // AND a 403 on reconnection ends the client
        let last = events.recv().await;
        assert!(
            matches!(last, Some(ClientEvent::Disconnected { ref reason, reconnecting: false }) if reason.contains("403")),
            "{last:?}"
        );
        assert_eq!(events.recv().await, None);
        assert!(client.is_closed());
    }

    #[tokio::test]
    async fn unanswered_requests_time_out_and_pings_keep_the_connection_alive() {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let mut socket = accept(&listener).await;
            let mut actions = Vec::new();
            for _ in 0..3 {
                let request = next_request(&mut socket).await;
                actions.push(request["action"].as_str().unwrap().to_owned());
                if request["reqId"].as_str().unwrap().starts_with('p') {
                    // Keep-alive pings are answered; the stray reply must be ignored.
                    reply(&mut socket, &request, json!({"time": 1})).await;
                }
            }
            (socket, actions)
        });
        let config = ClientConfig {
            request_timeout: Duration::from_millis(300),
            ping_interval: Some(Duration::from_millis(100)),
            ..config(&url)
        };
        let (client, _events) = Client::connect(config).await.unwrap();
        let result = client.request("conv.list", json!({})).await;
        assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
        let (_socket, actions) = server.await.unwrap();
        assert_eq!(actions[0], "conv.list");
        assert_eq!(&actions[1..], ["sys.ping", "sys.ping"]);
    }

    #[tokio::test]
    async fn close_says_goodbye_and_later_requests_fail() {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let mut socket = accept(&listener).await;
            loop {
                match socket.next().await {
                    Some(Ok(WsMessage::Close(_))) => return true,
                    Some(Ok(_)) => {}
                    _ => return false,
                }
            }
        });
        let (client, mut events) = Client::connect(config(&url)).await.unwrap();
        let clone = client.clone();
        client.close().await.unwrap();
        assert!(server.await.unwrap(), "the server saw a close frame");
        assert!(matches!(clone.ping().await, Err(ClientError::Closed)));
        assert_eq!(events.recv().await, None);
        client.close().await.unwrap();
    }

    #[test]
    fn unreadable_msg_new_data_is_passed_on_raw() {
        let event = to_event("msg.new".into(), json!({"seq": "not a number"}));
        assert!(matches!(event, ClientEvent::Event { ref event, .. } if event == "msg.new"));
    }

    #[test]
    fn config_debug_hides_the_token() {
        let config = ClientConfig::new("ws://h", "secret-token");
        assert!(!format!("{config:?}").contains("secret-token"));
    }
}
