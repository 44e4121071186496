//! `ApiGatewayGateway`'s answers and retry schedule against a scripted HTTP server. Its runs
//! against the local stack over real WebSockets are in the workspace's `tests` crate
//! (`tests/tests/gateway_local.rs`): the local stack depends on this crate.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use cirrus_aws::{ApiGatewayGateway, Backoff, Config};
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{ConnectionGateway, PostOutcome};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

fn unknown() -> ConnectionId {
    ConnectionId::parse("NoSuchConn1=").unwrap()
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

/// GIVEN bob and alice connected (records in DynamoDB on moto) WHEN a frame to bob meets 410, and
/// later one to alice meets 503 on every attempt THEN bob's record (his only) is removed and
/// alice's is kept: a server error is retried a bounded number of times, then the frame is
/// dropped (no queue) and the client recovers it from history.
#[tokio::test]
async fn delivery_removes_a_gone_connection_and_keeps_a_failing_one() {
    use cirrus_core::ports::{Connection, ConnectionStore as _};
    use cirrus_core::service::Delivery;

    let store = Arc::new(support::fresh_store("gone").await);
    let now = now_ms();
    let bob = UserId::parse("bob").unwrap();
    let alice = UserId::parse("alice").unwrap();
    for (user, id) in [(&bob, "bobConn1="), (&alice, "aliceConn1=")] {
        store
            .put_connection(&Connection {
                id: ConnectionId::parse(id).unwrap(),
                user: user.clone(),
                platform: None,
                connected_at: now,
                expires_at: now + 60_000,
            })
            .await
            .unwrap();
    }
    let frame = Bytes::from_static(br#"{"type":"event","event":"msg.new","data":{"seq":1}}"#);

    let (gone, gone_count) = scripted(|_| 410, "").await;
    let delivery = Delivery::new(store.clone(), Arc::new(quick(&gone)), None);
    assert_eq!(delivery.to_user(&bob, frame.clone(), None, now).await.unwrap(), 0);
    assert_eq!(
        gone_count.load(Ordering::SeqCst),
        1,
        "410 is final, never retried"
    );
    assert!(
        store.connections_of(&bob, now).await.unwrap().is_empty(),
        "the gone connection is removed"
    );
    assert_eq!(
        store.connections_of(&alice, now).await.unwrap().len(),
        1,
        "nobody else's is"
    );

    let (failing, failing_count) = scripted(|_| 503, "").await;
    let delivery = Delivery::new(store.clone(), Arc::new(quick(&failing)), None);
    assert_eq!(delivery.to_user(&alice, frame, None, now).await.unwrap(), 0);
    assert_eq!(
        failing_count.load(Ordering::SeqCst),
        4,
        "503 is retried up to the backoff's attempts, no more"
    );
    assert_eq!(
        store.connections_of(&alice, now).await.unwrap().len(),
        1,
        "a failing connection is not removed"
    );
}
