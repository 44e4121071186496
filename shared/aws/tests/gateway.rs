//! `ApiGatewayGateway` against the local stack started in-process (it serves
//! `/{stage}/@connections/{id}` as API Gateway does and ignores SigV4), over real WebSockets;
//! plus its retry schedule against a scripted HTTP server.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use cirrus_aws::{ApiGatewayGateway, Backoff, Config};
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{ConnectionGateway, PostOutcome};
use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
use cirrus_local::{LocalConfig, LocalStack};
use futures_util::StreamExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
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
    config.connections_endpoint = Some(format!("{}/local", stack.http_url()));
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
async fn info_reads_api_gateways_answer() {
    // GetConnection's answer as API Gateway sends it (the SDK model's JSON names).
    let (endpoint, count) = scripted(
        |_| 200,
        r#"{"connectedAt":"2026-01-02T03:04:05.678Z","lastActiveAt":"2026-01-02T03:05:00.000Z",
            "identity":{"sourceIp":"192.0.2.7","userAgent":"probe/1"}}"#,
    )
    .await;
    let info = quick(&endpoint).info(&unknown()).await.unwrap().unwrap();
    assert_eq!(
        info,
        cirrus_aws::ConnectionInfo {
            connected_at: 1_767_323_045_678,
            last_active_at: 1_767_323_100_000,
            source_ip: Some("192.0.2.7".to_owned()),
            user_agent: Some("probe/1".to_owned()),
        }
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
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

/// An HTTP/1.1 server answering request `n` (0-based, over any connection) with `status(n)`
/// (and `ok_body` when that is 200); returns its endpoint and the request counter.
async fn scripted(status: fn(u32) -> u16, ok_body: &'static str) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/stage", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU32::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move { serve(stream, &counter, status, ok_body).await });
        }
    });
    (endpoint, count)
}

async fn serve(
    mut stream: TcpStream,
    counter: &AtomicU32,
    status: fn(u32) -> u16,
    ok_body: &'static str,
) -> Option<()> {
    let mut buffer = Vec::new();
    loop {
        support::next_request(&mut stream, &mut buffer).await?;

        let code = status(counter.fetch_add(1, Ordering::SeqCst));
        let body = if code == 200 {
            ok_body.to_owned()
        } else {
            format!(r#"{{"message":"status {code}"}}"#)
        };
        let response = format!(
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.ok()?;
    }
}

fn quick(endpoint: &str) -> ApiGatewayGateway {
    ApiGatewayGateway::new(&cirrus_aws::moto::offline_sdk(), endpoint).with_backoff(Backoff {
        attempts: 4,
        base: Duration::from_millis(5),
        max: Duration::from_millis(20),
    })
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let (endpoint, count) = scripted(
        |n| match n {
            0 => 429,
            1 => 503,
            _ => 200,
        },
        "",
    )
    .await;
    let outcome = quick(&endpoint)
        .post(&unknown(), Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(outcome, PostOutcome::Delivered);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn persistent_throttling_defers_a_post_and_fails_a_close() {
    // GIVEN an API that throttles every call
    let (endpoint, count) = scripted(|_| 429, "").await;
    let gateway = quick(&endpoint);
    // WHEN a post is still throttled after every attempt THEN it is deferred (for the queue)
    let outcome = gateway.post(&unknown(), Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(outcome, PostOutcome::Deferred);
    assert_eq!(count.load(Ordering::SeqCst), 4, "every attempt made, no more");
    // AND a close, which nothing can defer, is a gateway error
    let err = gateway.close(&unknown()).await.unwrap_err();
    assert!(matches!(err, cirrus_core::Error::Gateway(_)), "{err:?}");
}

#[tokio::test]
async fn a_post_refused_for_good_is_an_error_not_deferred() {
    let (endpoint, count) = scripted(|_| 413, "").await;
    let err = quick(&endpoint)
        .post(&unknown(), Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, cirrus_core::Error::Gateway(_)), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (endpoint, count) = scripted(|_| 403, "").await;
    let err = quick(&endpoint).close(&unknown()).await.unwrap_err();
    assert!(matches!(err, cirrus_core::Error::Gateway(_)), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn gone_status_is_gone_for_every_operation() {
    let (endpoint, count) = scripted(|_| 410, "").await;
    let gateway = quick(&endpoint);
    assert_eq!(
        gateway.post(&unknown(), Bytes::from_static(b"x")).await.unwrap(),
        PostOutcome::Gone
    );
    gateway.close(&unknown()).await.unwrap();
    assert_eq!(gateway.info(&unknown()).await.unwrap(), None);
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "a gone connection is not retried"
    );
}

/// GIVEN bob connected (his record in DynamoDB on moto) and an API that throttles every post
/// WHEN a frame is delivered to him THEN nothing is delivered now, and the frame is on the push
/// queue (SQS on moto) as a `redeliver` job for his connection, byte for byte.
#[tokio::test]
async fn a_deferred_post_is_handed_to_the_push_queue() {
    use cirrus_aws::{DynamoStore, SqsQueue, create_queues_and_bucket, create_tables, moto};
    use cirrus_core::ports::{Connection, ConnectionStore as _};
    use cirrus_core::service::Delivery;

    let prefix = format!("defer-{}", std::process::id());
    let sdk = moto::sdk();
    let tables = Config::with_prefix(&prefix);
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    create_tables(&dynamo, &tables).await.unwrap();
    let store = Arc::new(DynamoStore::new(dynamo, tables));
    let resources = create_queues_and_bucket(&sdk, &prefix).await.unwrap();
    let queue = Arc::new(SqsQueue::new(
        &sdk,
        &resources.push_queue_url,
        &resources.fanout_queue_url,
    ));
    let bob = UserId::parse("bob").unwrap();
    let connection = ConnectionId::parse("bobConn1=").unwrap();
    let now = now_ms();
    store
        .put_connection(&Connection {
            id: connection.clone(),
            user: bob.clone(),
            platform: None,
            connected_at: now,
            expires_at: now + 60_000,
        })
        .await
        .unwrap();
    let (endpoint, count) = scripted(|_| 429, "").await;
    let delivery = Delivery::new(store, Arc::new(quick(&endpoint)), Some(queue.clone()));

    let frame = r#"{"type":"event","event":"msg.new","data":{"seq":1,"text":"héllo"}}"#;
    let delivered = delivery
        .to_user(&bob, Bytes::from_static(frame.as_bytes()), None, now)
        .await
        .unwrap();

    assert_eq!(delivered, 0);
    assert_eq!(
        count.load(Ordering::SeqCst),
        4,
        "the gateway tried every attempt first"
    );
    let received = queue
        .client()
        .receive_message()
        .queue_url(&resources.push_queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let jobs: Vec<serde_json::Value> = received
        .messages()
        .iter()
        .map(|message| serde_json::from_str(message.body().unwrap()).unwrap())
        .collect();
    assert_eq!(
        jobs,
        [serde_json::json!({"kind": "redeliver", "connectionId": "bobConn1=", "frame": frame})]
    );
}
