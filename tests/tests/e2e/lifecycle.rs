//! Connection lifecycle: disconnect, idle timeout, graceful shutdown, many connections.

use cirrus_core::ids::UserId;
use cirrus_tests::TestStack;
use serde_json::json;
use std::time::Duration;

async fn records(stack: &TestStack, user: &str) -> usize {
    let user = UserId::parse(user).unwrap();
    stack
        .stack
        .connections()
        .connections_of(&user, 0)
        .await
        .unwrap()
        .len()
}

async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn closing_a_socket_removes_only_its_record() {
    // GIVEN alice on two devices
    let stack = TestStack::start(crate::BACKEND).await;
    let phone = stack.connect("alice").await;
    let mut laptop = stack.connect("alice").await;
    assert_eq!(records(&stack, "alice").await, 2);
    // WHEN the phone disconnects
    phone.close().await;
    // THEN only its record goes, and the laptop still gets messages
    assert!(eventually(async || records(&stack, "alice").await == 1).await);
    let mut bob = stack.connect("bob").await;
    bob.send_text("alice", "b", "still there?").await;
    assert_eq!(laptop.event("msg.new").await["body"][0]["text"], "still there?");
}

#[tokio::test]
async fn idle_sockets_are_closed_and_activity_keeps_them_open() {
    // GIVEN a stack with a short idle timeout (long enough that a ping every 150 ms keeps a
    // socket open on a loaded CI machine)
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.socket_limits.idle_timeout = Duration::from_millis(1500)
    })
    .await;
    let mut busy = stack.connect("busy").await;
    let mut idle = stack.connect("idle").await;
    // WHEN one pings every 150 ms for over two idle timeouts and the other stays silent
    for _ in 0..22 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        busy.ok("sys.ping", json!({})).await;
    }
    // THEN the silent one was closed with 1001 (going away) and its record removed
    assert_eq!(idle.closed().await, Some(1001));
    assert!(eventually(async || records(&stack, "idle").await == 0).await);
    // AND the busy one is still open
    busy.ok("sys.ping", json!({})).await;
}

#[tokio::test]
async fn sockets_are_closed_at_the_maximum_duration() {
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.socket_limits.max_duration = Duration::from_millis(300)
    })
    .await;
    let mut socket = stack.connect("alice").await;
    socket.ok("sys.ping", json!({})).await;
    assert_eq!(socket.closed().await, Some(1001));
}

#[tokio::test]
async fn shutdown_closes_every_socket_and_clears_the_records() {
    // GIVEN two users online
    let stack = TestStack::start(crate::BACKEND).await;
    let mut alice = stack.connect("alice").await;
    let mut bob = stack.connect("bob").await;
    let store = stack.stack.connections().clone();
    // WHEN the stack shuts down
    let shutdown = tokio::spawn(stack.stack.shutdown());
    // THEN both sockets are closed with 1001
    assert_eq!(alice.closed().await, Some(1001));
    assert_eq!(bob.closed().await, Some(1001));
    shutdown.await.unwrap();
    // AND $disconnect ran for each before the store closed
    for user in ["alice", "bob"] {
        let user = UserId::parse(user).unwrap();
        assert!(
            store
                .connections_of(&user, 0)
                .await
                .map(|c| c.is_empty())
                .unwrap_or(true)
        );
    }
}

#[tokio::test]
async fn a_thousand_connections_are_served_at_once() {
    // GIVEN 1,000 users connected at the same time (100 on moto, a single Python process that
    // answers about a thousand requests a second: a ring of 1,000 first messages is 8,000 calls)
    let users: usize = match crate::BACKEND {
        cirrus_tests::Backend::Sqlite => 1000,
        cirrus_tests::Backend::Aws => 100,
    };
    let stack = TestStack::start(crate::BACKEND).await;
    let mut sockets = Vec::new();
    for chunk in (0..users).collect::<Vec<_>>().chunks(100) {
        let connects = chunk
            .iter()
            .map(|i| stack.connect_query(format!("token={}", stack.token(&format!("u{i}")))));
        for socket in futures_util::future::join_all(connects).await {
            sockets.push(socket.expect("connected"));
        }
    }
    assert_eq!(stack.stack.open_sockets(), users);
    // What this test shows is that every connection is served, not how fast: under the rest of
    // the suite's load, moto has taken over the usual 5 s to answer one of 100 first sends.
    for socket in &mut sockets {
        socket.allow_wait(Duration::from_secs(30));
    }
    // WHEN each sends a message to the next one
    let sends = sockets.iter_mut().enumerate().map(|(i, socket)| async move {
        socket
            .send_text(&format!("u{}", (i + 1) % users), "ring", "pass it on")
            .await
    });
    let acks = futures_util::future::join_all(sends).await;
    assert!(acks.iter().all(|ack| ack["seq"] == 1));
    // THEN every one of them receives one
    let receives = sockets
        .iter_mut()
        .map(|socket| async move { socket.event("msg.new").await });
    let received = futures_util::future::join_all(receives).await;
    assert!(
        received
            .iter()
            .all(|message| message["body"][0]["text"] == "pass it on")
    );
}

/// A WebSocket opened by hand over TCP (a receive buffer of `recv_buffer` bytes if given), past
/// the upgrade, for what a well-behaved client library will not do.
async fn raw_socket(stack: &TestStack, user: &str, recv_buffer: Option<u32>) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let url = stack.stack.ws_url();
    let addr: std::net::SocketAddr = url.trim_start_matches("ws://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    let mut tcp = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /?token={} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        stack.token(user)
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_closed_with_1007() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // GIVEN an open socket
    let stack = TestStack::start(crate::BACKEND).await;
    let mut tcp = raw_socket(&stack, "alice", None).await;
    // WHEN it sends a (masked) text frame holding bytes that are no UTF-8
    let mask = [1u8, 2, 3, 4];
    let payload: Vec<u8> = [0xff, 0xfe, 0xfd]
        .iter()
        .zip(mask.iter().cycle())
        .map(|(b, m)| b ^ m)
        .collect();
    let mut frame = vec![0x81, 0x80 | 3];
    frame.extend_from_slice(&mask);
    frame.extend_from_slice(&payload);
    tcp.write_all(&frame).await.unwrap();
    // THEN the server closes it with 1007 (RFC 6455 §7.4.1), not by dropping TCP
    let mut header = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut header))
        .await
        .expect("the server answers")
        .expect("a close frame, not a dropped connection");
    assert_eq!(header[0], 0x88, "a close frame");
    let mut code = [0u8; 2];
    tcp.read_exact(&mut code).await.unwrap();
    assert_eq!(u16::from_be_bytes(code), 1007);
    assert!(eventually(async || records(&stack, "alice").await == 0).await);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_the_rest_go_on() {
    // GIVEN slow, who connected and then stopped reading (a small receive buffer, never read),
    // and bob, with no rate limit in the way of bob's flood
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.limits.rates = cirrus_core::rates::RateLimits::OFF;
    })
    .await;
    let slow = raw_socket(&stack, "slow", Some(4096)).await;
    let mut bob = stack.connect("bob").await;
    // WHEN bob sends slow about 6 MB of messages, more than the kernel's socket buffers and a
    // connection's queue hold together
    let text = "x".repeat(10 * 1024);
    for n in 0..600 {
        bob.send_text("slow", &format!("m{n}"), &text).await;
    }
    // THEN the server closes slow's connection (its record goes with it) within the write timeout
    let mut gone = false;
    for _ in 0..300 {
        if records(&stack, "slow").await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the slow consumer is still connected");
    // AND every message is stored for slow to fetch after reconnecting, and bob is served as before
    let mut back = stack.connect("slow").await;
    let history = back
        .ok("msg.history", json!({"conversationId": "C2Cbob", "limit": 100}))
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 100);
    bob.ok("sys.ping", json!({})).await;
    drop(slow);
}

#[tokio::test]
async fn clients_that_reset_during_the_handshake_leave_no_connection_behind() {
    use tokio::io::AsyncWriteExt as _;
    // GIVEN a stack, and 200 clients that each send their upgrade request and reset the TCP
    // connection at once, before the answer
    let stack = TestStack::start(crate::BACKEND).await;
    let addr: std::net::SocketAddr = stack.stack.ws_url().trim_start_matches("ws://").parse().unwrap();
    let resets = (0..200).map(|n| {
        let token = stack.token(&format!("ghost{}", n % 10));
        async move {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let request = format!(
                "GET /?token={token} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            );
            tcp.write_all(request.as_bytes()).await.unwrap();
            // A zero linger resets the connection on drop (it never blocks, which is what the
            // deprecation warns of for a non-zero one).
            #[allow(deprecated)]
            tcp.set_linger(Some(Duration::ZERO)).unwrap();
        }
    });
    futures_util::future::join_all(resets).await;
    // THEN, once the server has dealt with them, none of those users is left online
    let mut left = usize::MAX;
    for _ in 0..200 {
        left = 0;
        for n in 0..10 {
            left += records(&stack, &format!("ghost{n}")).await;
        }
        if left == 0 && stack.stack.open_sockets() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "connections left behind by resets");
    assert_eq!(stack.stack.open_sockets(), 0);
}

#[tokio::test]
async fn half_sent_handshakes_are_closed_and_do_not_keep_clients_out() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // GIVEN a stack that gives a connection 500 ms for its request headers, and 200 connections
    // that each send half an upgrade request and then nothing
    let stack = TestStack::start_with(crate::BACKEND, |config| {
        config.socket_limits.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let addr: std::net::SocketAddr = stack.stack.ws_url().trim_start_matches("ws://").parse().unwrap();
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /?token=").await.unwrap();
        stalled.push(tcp);
    }
    // WHEN a real client connects meanwhile
    let mut alice = stack.connect("alice").await;
    // THEN it is served, and the server closes every stalled connection (EOF, nothing answered)
    alice.ok("sys.ping", json!({})).await;
    for mut tcp in stalled {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a half-sent handshake was left open");
    }
}
