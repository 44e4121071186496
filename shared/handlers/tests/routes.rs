//! The handlers over a real SQLite store and a recording gateway, called with API Gateway events.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use bytes::Bytes;
use cirrus_core::clock::{SystemClock, UuidIds};
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{ConnectionGateway, ConnectionStore, ConversationStore, PostOutcome};
use cirrus_core::service::{Ports, Stores};
use cirrus_embedded::SqliteStore;
use cirrus_handlers::{Deps, GroupRoutes, SocialRoutes};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Records every post; connections listed in `gone` answer like API Gateway's 410.
#[derive(Default)]
struct RecordingGateway {
    posts: Mutex<Vec<(String, String)>>,
    gone: Mutex<HashSet<String>>,
}

#[async_trait]
impl ConnectionGateway for RecordingGateway {
    async fn post(&self, connection: &ConnectionId, data: Bytes) -> cirrus_core::Result<PostOutcome> {
        if self.gone.lock().unwrap().contains(connection.as_str()) {
            return Ok(PostOutcome::Gone);
        }
        let text = String::from_utf8(data.to_vec()).unwrap();
        self.posts.lock().unwrap().push((connection.to_string(), text));
        Ok(PostOutcome::Delivered)
    }

    async fn close(&self, _connection: &ConnectionId) -> cirrus_core::Result<()> {
        Ok(())
    }
}

struct World {
    deps: Deps,
    store: Arc<SqliteStore>,
    gateway: Arc<RecordingGateway>,
}

fn world() -> World {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let gateway = Arc::new(RecordingGateway::default());
    let ports = Ports::new(
        Stores::of(store.clone()),
        gateway.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidIds),
    );
    World {
        deps: Deps::new(&ports),
        store,
        gateway,
    }
}

fn event(
    route: &str,
    connection: &str,
    user: Option<&str>,
    body: Option<Value>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut context = json!({"routeKey": route, "connectionId": connection, "eventType": "MESSAGE",
                              "connectedAt": 1_764_000_000_000_i64, "requestTimeEpoch": 1_764_000_000_000_i64});
    if let Some(user) = user {
        context["authorizer"] = json!({"userId": user, "principalId": user});
    }
    serde_json::from_value(json!({
        "requestContext": context,
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    }))
    .unwrap()
}

fn body(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

async fn connect(world: &World, connection: &str, user: &str) {
    let response = cirrus_handlers::connect::connect(
        &world.deps.services.sessions,
        event("$connect", connection, Some(user), None),
    )
    .await;
    assert_eq!(response.status_code, 200);
}

fn send(text: &str, to: &str, id: &str) -> Value {
    json!({"action": "msg.send", "reqId": id, "data": {"to": {"type": "c2c", "id": to}, "clientMsgId": id,
           "body": [{"type": "text", "text": text}]}})
}

#[tokio::test]
async fn a_gone_connection_is_removed_and_nobody_elses() {
    // GIVEN bob on two connections, one of which has silently died, and alice
    let world = world();
    connect(&world, "alice-1", "alice").await;
    connect(&world, "bob-live", "bob").await;
    connect(&world, "bob-dead", "bob").await;
    world.gateway.gone.lock().unwrap().insert("bob-dead".to_owned());

    // WHEN alice sends bob a message
    let response = cirrus_handlers::route(
        &world.deps,
        event(
            "msg.send",
            "alice-1",
            Some("alice"),
            Some(send("hi", "bob", "m1")),
        ),
    )
    .await;
    assert_eq!(body(&response)["ok"], true);

    // THEN the live connection got it
    let posts = world.gateway.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].0, "bob-live");
    // AND exactly the dead connection's record is gone; the sender's and the live one stay
    let bob = UserId::parse("bob").unwrap();
    let alice = UserId::parse("alice").unwrap();
    let left: Vec<_> = world
        .store
        .connections_of(&bob, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(left, ["bob-live"]);
    assert_eq!(world.store.connections_of(&alice, 0).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_reply_is_the_route_response_and_carries_the_req_id() {
    let world = world();
    connect(&world, "c1", "alice").await;
    let response = cirrus_handlers::route(
        &world.deps,
        event(
            "sys.ping",
            "c1",
            Some("alice"),
            Some(json!({"action": "sys.ping", "reqId": "p-1"})),
        ),
    )
    .await;
    assert_eq!(response.status_code, 200);
    let reply = body(&response);
    assert_eq!(
        (
            reply["type"].as_str(),
            reply["reqId"].as_str(),
            reply["ok"].as_bool()
        ),
        (Some("reply"), Some("p-1"), Some(true))
    );
}

#[tokio::test]
async fn requests_without_an_authorizer_context_are_unauthorized() {
    let world = world();
    let response = cirrus_handlers::route(
        &world.deps,
        event("msg.send", "c1", None, Some(send("hi", "bob", "x"))),
    )
    .await;
    assert_eq!(body(&response)["error"]["code"], "unauthorized");
    let response =
        cirrus_handlers::connect::connect(&world.deps.services.sessions, event("$connect", "c1", None, None))
            .await;
    assert_eq!(response.status_code, 401);
    assert!(
        world
            .store
            .get_connection(&ConnectionId::parse("c1").unwrap(), 0)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn disconnect_forgets_the_connection() {
    let world = world();
    connect(&world, "c1", "alice").await;
    let id = ConnectionId::parse("c1").unwrap();
    assert!(world.store.get_connection(&id, 0).await.unwrap().is_some());
    let response = cirrus_handlers::disconnect::disconnect(
        &world.deps.services.sessions,
        event("$disconnect", "c1", Some("alice"), None),
    )
    .await;
    assert_eq!(response.status_code, 200);
    assert!(world.store.get_connection(&id, 0).await.unwrap().is_none());
}

#[tokio::test]
async fn each_function_serves_its_own_actions_and_no_other() {
    // GIVEN the routes of the social and group functions, each over only its own services, and a
    // connected alice
    let world = world();
    connect(&world, "alice-1", "alice").await;
    let ports = Ports::new(
        Stores::of(world.store.clone()),
        world.gateway.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidIds),
    );
    let social = SocialRoutes::build(&ports);
    let group = GroupRoutes::build(&ports);
    let profile = json!({"action": "profile.get", "reqId": "p", "data": {"userIds": ["alice"]}});

    // WHEN the social function is sent a message and a profile read, and the group function the
    // profile read
    let send_to_social = cirrus_handlers::route(
        &social,
        event(
            "msg.send",
            "alice-1",
            Some("alice"),
            Some(send("hi", "bob", "m1")),
        ),
    )
    .await;
    let profile_to_social = cirrus_handlers::route(
        &social,
        event("profile.get", "alice-1", Some("alice"), Some(profile.clone())),
    )
    .await;
    let profile_to_group = cirrus_handlers::route(
        &group,
        event("profile.get", "alice-1", Some("alice"), Some(profile)),
    )
    .await;

    // THEN each answers only what it serves; the others are unknown actions and nothing is stored
    assert_eq!(body(&send_to_social)["error"]["code"], "unknown_action");
    assert_eq!(
        body(&profile_to_social)["ok"],
        true,
        "{:?}",
        body(&profile_to_social)
    );
    assert_eq!(body(&profile_to_group)["error"]["code"], "unknown_action");
    let alice = UserId::parse("alice").unwrap();
    let conversations = world.store.list_conversations(&alice, None, 10).await.unwrap();
    assert!(conversations.is_empty(), "{conversations:?}");
}
