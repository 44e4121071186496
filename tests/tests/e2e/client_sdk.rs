//! The Rust client SDK against the real local stack: requests, events, errors, reconnect.

use cirrus_client::{Client, ClientConfig, ClientError, ClientEvent, EventReceiver, HistoryQuery};
use cirrus_core::ids::{ConversationId, UserId};
use cirrus_local::{LocalStack, Storage};
use cirrus_tests::{Backend, TestStack};
use std::time::Duration;

async fn client(stack: &TestStack, user: &str) -> (Client, EventReceiver) {
    Client::connect(ClientConfig::new(stack.stack.ws_url(), stack.token(user)))
        .await
        .expect("client connects")
}

async fn next_message(events: &mut EventReceiver) -> cirrus_client::ReceivedMessage {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(ClientEvent::Message(message))) => return *message,
            Ok(Some(_)) => {}
            Ok(None) => panic!("event stream ended"),
            Err(_) => panic!("no message within 5 s"),
        }
    }
}

fn user(raw: &str) -> UserId {
    UserId::parse(raw).unwrap()
}

#[tokio::test]
async fn the_sdk_sends_receives_pages_and_reads() {
    // GIVEN alice and bob on the SDK
    let stack = TestStack::start(crate::BACKEND).await;
    let (alice, _alice_events) = client(&stack, "alice").await;
    let (bob, mut bob_events) = client(&stack, "bob").await;

    // WHEN alice sends two messages
    let first = alice.send_text(&user("bob"), "one").await.unwrap();
    let second = alice.send_text(&user("bob"), "two").await.unwrap();

    // THEN bob receives them as typed messages, in seq order
    assert_eq!((first.seq, second.seq), (1, 2));
    let received = next_message(&mut bob_events).await;
    assert_eq!(
        (received.msg_id.clone(), received.from.clone()),
        (first.msg_id.clone(), user("alice"))
    );
    assert_eq!(next_message(&mut bob_events).await.seq, 2);
    // AND history, the list and the read pointer work through the typed helpers
    let from_alice = ConversationId::C2c(user("alice"));
    let page = bob
        .history(
            &from_alice,
            HistoryQuery {
                after_seq: Some(1),
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [2]);
    let list = bob.conversations(None, None).await.unwrap();
    assert_eq!(list.conversations[0].last_seq - list.conversations[0].read_seq, 2);
    bob.read(&from_alice, 2).await.unwrap();
    assert_eq!(
        bob.conversations(None, None).await.unwrap().conversations[0].read_seq,
        2
    );
    // AND a server error arrives as a typed error with its code
    let err = bob
        .request("msg.history", serde_json::json!({"conversationId": "nope"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Server { code, .. } if code == "invalid_conversation_id"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_sdk_signals_typing_and_receives_it_typed() {
    // GIVEN alice and bob on the SDK
    let stack = TestStack::start(crate::BACKEND).await;
    let (alice, _alice_events) = client(&stack, "alice").await;
    let (_bob, mut bob_events) = client(&stack, "bob").await;

    // WHEN alice signals that she is typing, then waves with data
    let to_bob = cirrus_client::Target::C2c(user("bob"));
    alice.signal(&to_bob, cirrus_client::TYPING, None).await.unwrap();
    alice.signal(&to_bob, "app.wave", Some("{}")).await.unwrap();

    // THEN bob gets both as typed signals, in order
    let mut signals = Vec::new();
    while signals.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), bob_events.recv()).await {
            Ok(Some(ClientEvent::Signal(signal))) => signals.push(signal),
            Ok(Some(_)) => {}
            other => panic!("no signal within 5 s: {other:?}"),
        }
    }
    assert_eq!(signals[0].kind, "typing");
    assert_eq!(signals[0].from, user("alice"));
    assert_eq!(signals[0].conversation_id, ConversationId::C2c(user("alice")));
    assert_eq!(
        (signals[1].kind.as_str(), signals[1].data.as_deref()),
        ("app.wave", Some("{}"))
    );
    // AND a refused signal comes back as the server's error
    let nobody = cirrus_client::Target::C2c(user("nobody"));
    let refused = alice
        .signal(&nobody, cirrus_client::TYPING, None)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ClientError::Server { ref code, .. } if code == "not_found"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_sdk_pins_lists_and_unpins_and_receives_the_pin_typed() {
    // GIVEN alice and bob on the SDK, and a message from alice to bob
    let stack = TestStack::start(crate::BACKEND).await;
    let (alice, _alice_events) = client(&stack, "alice").await;
    let (bob, mut bob_events) = client(&stack, "bob").await;
    let sent = alice.send_text(&user("bob"), "pin me").await.unwrap();
    next_message(&mut bob_events).await;

    // WHEN alice pins it
    let to_bob = ConversationId::C2c(user("bob"));
    let pin = alice.pin(&to_bob, sent.seq).await.unwrap();

    // THEN the answer carries the message, and bob gets the pin typed, from his side
    assert_eq!((pin.seq, pin.pinned_by.clone()), (sent.seq, user("alice")));
    assert_eq!(
        pin.message.as_ref().map(|m| m.msg_id.clone()),
        Some(sent.msg_id.clone())
    );
    let seen = loop {
        match tokio::time::timeout(Duration::from_secs(5), bob_events.recv()).await {
            Ok(Some(ClientEvent::Pinned(pin))) => break *pin,
            Ok(Some(_)) => {}
            other => panic!("no conv.pinned within 5 s: {other:?}"),
        }
    };
    assert_eq!(seen.conversation_id, ConversationId::C2c(user("alice")));
    assert_eq!(seen.pinned_at, pin.pinned_at);
    // AND both list it, and unpinning answers whether it was pinned
    let from_alice = ConversationId::C2c(user("alice"));
    assert_eq!(bob.pins(&from_alice).await.unwrap(), vec![seen]);
    assert!(bob.unpin(&from_alice, sent.seq).await.unwrap());
    assert!(!bob.unpin(&from_alice, sent.seq).await.unwrap());
    assert_eq!(alice.pins(&to_bob).await.unwrap(), vec![]);
}

#[tokio::test]
async fn a_refused_token_is_reported_with_its_status() {
    let stack = TestStack::start(crate::BACKEND).await;
    let result = Client::connect(ClientConfig::new(stack.stack.ws_url(), "garbage")).await;
    assert!(
        matches!(result, Err(ClientError::Rejected(401))),
        "{:?}",
        result.err()
    );
}

#[tokio::test]
async fn the_sdk_reconnects_after_a_restart_and_fills_the_gap_from_history() {
    // GIVEN a stack on a file store and bob connected with auto-reconnect
    let dir = tempfile::tempdir().unwrap();
    // (On the AWS backend the tables outlive the stack just as the file does.)
    let storage = match crate::BACKEND {
        Backend::Sqlite => Storage::Dir(dir.path().to_owned()),
        Backend::Aws => Backend::Aws.storage(),
    };
    let first = TestStack::start_with(crate::BACKEND, |config| config.storage = storage.clone()).await;
    let ws_addr = first.stack.ws_addr();
    let mut config = ClientConfig::new(first.stack.ws_url(), first.token("bob"));
    config.backoff.initial = Duration::from_millis(50);
    let (bob, mut events) = Client::connect(config).await.unwrap();

    // WHEN the server restarts on the same address, and alice writes while bob was away
    first.stack.shutdown().await;
    let second = LocalStack::start({
        let mut config = cirrus_local::LocalConfig::for_tests();
        config.storage = storage.clone();
        config.ws_addr = ws_addr;
        config
    })
    .await
    .unwrap();
    let mut saw_disconnect = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("reconnects")
        {
            Some(ClientEvent::Disconnected { reconnecting, .. }) => {
                assert!(reconnecting);
                saw_disconnect = true;
            }
            Some(ClientEvent::Reconnected) => break,
            Some(_) => {}
            None => panic!("event stream ended"),
        }
    }
    assert!(saw_disconnect);
    let alice_token = cirrus_core::usersig::UserSigKey::new(
        cirrus_core::usersig::DEV_APP_ID,
        cirrus_core::usersig::DEV_SECRET_KEY,
    )
    .mint("alice", cirrus_tests::now_secs(), 60);
    let (alice, _alice_events) = Client::connect(ClientConfig::new(second.ws_url(), alice_token))
        .await
        .unwrap();
    alice
        .send_text(&user("bob"), "while you were away")
        .await
        .unwrap();

    // THEN bob's client works again and the message is live and in history
    assert_eq!(next_message(&mut events).await.seq, 1);
    let page = bob
        .history(&ConversationId::C2c(user("alice")), HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    second.shutdown().await;
}
