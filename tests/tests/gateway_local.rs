//! `cirrus_aws::ApiGatewayGateway` against the local stack started in-process (it serves
//! `/{stage}/@connections/{id}` as API Gateway does and ignores SigV4), over real WebSockets. It
//! lives here, not in `shared/aws`, because the local stack depends on `cirrus-aws`; the
//! gateway's retry schedule is tested there, against a scripted HTTP server.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use cirrus_aws::{ApiGatewayGateway, Config};
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{ConnectionGateway, PostOutcome};
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use cirrus_local::{LocalConfig, LocalStack};
use futures_util::StreamExt as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

/// The local stack and a gateway on its `local` stage.
async fn start() -> (LocalStack, ApiGatewayGateway) {
    let stack = LocalStack::start(LocalConfig::for_tests()).await.unwrap();
    let mut config = Config::with_prefix("unused");
    config.connections_endpoint = Some(format!("{}/local", stack.connections_url()));
    let gateway = ApiGatewayGateway::from_config(&cirrus_aws::moto::offline_sdk(), &config).unwrap();
    (stack, gateway)
}

/// Connects `user` with a development token; returns the socket and its connection id.
async fn connect(stack: &LocalStack, user: &str) -> (Socket, ConnectionId) {
    let token = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY).mint(user, now_ms() / 1000, 3600);
    let (socket, _) = connect_async(format!("{}/?token={token}", stack.ws_url()))
        .await
        .unwrap();
    let user = UserId::parse(user).unwrap();
    let connections = stack.connections().connections_of(&user, 0).await.unwrap();
    assert_eq!(connections.len(), 1, "one connection recorded: {connections:?}");
    (socket, connections[0].id.clone())
}

/// The next frame other than ping/pong, within [`WAIT`].
async fn next_frame(socket: &mut Socket) -> Message {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame within the wait")
            .expect("the socket is open")
            .unwrap();
        if !matches!(frame, Message::Ping(_) | Message::Pong(_)) {
            return frame;
        }
    }
}

fn unknown() -> ConnectionId {
    ConnectionId::parse("NoSuchConn1=").unwrap()
}

#[tokio::test]
async fn post_delivers_the_exact_bytes() {
    let (stack, gateway) = start().await;
    let (mut socket, id) = connect(&stack, "alice").await;

    let text = r#"{"type":"event","event":"msg.new","data":{"text":"héllo ✓"}}"#;
    let outcome = gateway
        .post(&id, Bytes::from_static(text.as_bytes()))
        .await
        .unwrap();
    assert_eq!(outcome, PostOutcome::Delivered);
    match next_frame(&mut socket).await {
        Message::Text(got) => assert_eq!(got.as_str(), text),
        other => panic!("expected a text frame, got {other:?}"),
    }

    // Not UTF-8: the same bytes arrive, as a binary frame.
    let binary: &[u8] = &[0, 159, 146, 150, 255, 10];
    let outcome = gateway.post(&id, Bytes::from_static(binary)).await.unwrap();
    assert_eq!(outcome, PostOutcome::Delivered);
    match next_frame(&mut socket).await {
        Message::Binary(got) => assert_eq!(&got[..], binary),
        other => panic!("expected a binary frame, got {other:?}"),
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn post_to_an_unknown_connection_is_gone() {
    let (stack, gateway) = start().await;
    let outcome = gateway.post(&unknown(), Bytes::from_static(b"{}")).await.unwrap();
    assert_eq!(outcome, PostOutcome::Gone);
    // Closing a connection that is gone is not an error either.
    gateway.close(&unknown()).await.unwrap();
    stack.shutdown().await;
}

#[tokio::test]
async fn info_is_none_for_an_unknown_connection() {
    let (stack, gateway) = start().await;
    assert_eq!(gateway.info(&unknown()).await.unwrap(), None);
    stack.shutdown().await;
}

#[tokio::test]
async fn info_describes_a_live_connection() {
    let (stack, gateway) = start().await;
    let before = now_ms();
    let (_socket, id) = connect(&stack, "alice").await;
    let after = now_ms();

    let info = gateway.info(&id).await.unwrap().expect("the connection is live");
    assert!(
        (before - 1000..=after + 1000).contains(&info.connected_at),
        "connected at {} not within [{before}, {after}]",
        info.connected_at
    );
    assert!(info.last_active_at >= info.connected_at - 1000, "{info:?}");
    assert!(info.last_active_at <= now_ms() + 1000, "{info:?}");
    assert_eq!(info.source_ip.as_deref(), Some("127.0.0.1"));
    stack.shutdown().await;
}

#[tokio::test]
async fn close_sends_a_close_frame_and_later_posts_are_gone() {
    let (stack, gateway) = start().await;
    let (mut socket, id) = connect(&stack, "alice").await;
    let (mut other, other_id) = connect(&stack, "bob").await;

    gateway.close(&id).await.unwrap();
    match next_frame(&mut socket).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a close frame, got {other:?}"),
    }

    // The stack forgets the connection once its socket task ends.
    let deadline = Instant::now() + WAIT;
    loop {
        match gateway.post(&id, Bytes::from_static(b"late")).await.unwrap() {
            PostOutcome::Gone => break,
            PostOutcome::Delivered => {
                assert!(Instant::now() < deadline, "posts still delivered after close");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            PostOutcome::Deferred => panic!("the local stack never throttles"),
        }
    }
    assert_eq!(gateway.info(&id).await.unwrap(), None);

    // Only that connection was closed.
    let outcome = gateway
        .post(&other_id, Bytes::from_static(b"still here"))
        .await
        .unwrap();
    assert_eq!(outcome, PostOutcome::Delivered);
    assert_eq!(next_frame(&mut other).await, Message::text("still here"));
    stack.shutdown().await;
}
