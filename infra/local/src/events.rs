//! Building the API Gateway events that the handlers receive on AWS, for in-process calls.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerRequestTypeRequestContext,
    ApiGatewayV2httpRequest, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::query_map::QueryMap;
use cirrus_core::ids::ConnectionId;
use serde_json::Value;
use std::collections::HashMap;

/// The stage name the local stack pretends to serve.
pub const STAGE: &str = "local";

/// The `$connect` authorizer event for a request with these query parameters and headers.
pub fn authorizer_request(
    query: &HashMap<String, String>,
    headers: &http::HeaderMap,
) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut context = ApiGatewayCustomAuthorizerRequestTypeRequestContext::default();
    context.stage = Some(STAGE.to_owned());
    let mut request = ApiGatewayCustomAuthorizerRequestTypeRequest::default();
    request.type_ = Some("REQUEST".to_owned());
    request.method_arn = Some(format!(
        "arn:aws:execute-api:local:000000000000:cirrus/{STAGE}/$connect"
    ));
    request.query_string_parameters = query_map(query);
    request.headers = headers.clone();
    request.request_context = context;
    request
}

/// A WebSocket proxy event for `route_key` on `connection`, carrying the authorizer context.
pub fn websocket_request(
    route_key: &str,
    event_type: &'static str,
    connection: &ConnectionId,
    authorizer: &HashMap<String, Value>,
    body: Option<String>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut request = ApiGatewayWebsocketProxyRequest::default();
    request.request_context.route_key = Some(route_key.to_owned());
    request.request_context.event_type = Some(event_type.to_owned());
    request.request_context.connection_id = Some(connection.to_string());
    request.request_context.stage = Some(STAGE.to_owned());
    request.request_context.authorizer.fields = authorizer.clone();
    request.body = body;
    request
}

/// The `$connect` event, which also carries the query string.
pub fn connect_request(
    connection: &ConnectionId,
    authorizer: &HashMap<String, Value>,
    query: &HashMap<String, String>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut request = websocket_request("$connect", "CONNECT", connection, authorizer, None);
    request.query_string_parameters = query_map(query);
    request
}

/// An HTTP API (payload format 2.0) event for one request to the `$default` stage.
pub fn http_request(
    method: http::Method,
    path: &str,
    raw_query: Option<&str>,
    headers: &http::HeaderMap,
    body: Option<String>,
    source_ip: Option<String>,
) -> ApiGatewayV2httpRequest {
    let mut request = ApiGatewayV2httpRequest::default();
    request.version = Some("2.0".to_owned());
    request.route_key = Some("$default".to_owned());
    request.raw_path = Some(path.to_owned());
    request.raw_query_string = Some(raw_query.unwrap_or_default().to_owned());
    request.query_string_parameters = raw_query
        .map(|raw| raw.parse::<QueryMap>().unwrap_or_default())
        .unwrap_or_default();
    request.headers = headers.clone();
    request.body = body;
    request.request_context.route_key = Some("$default".to_owned());
    request.request_context.stage = Some("$default".to_owned());
    request.request_context.http.method = method;
    request.request_context.http.path = Some(path.to_owned());
    request.request_context.http.source_ip = source_ip;
    request
}

fn query_map(query: &HashMap<String, String>) -> QueryMap {
    query
        .iter()
        .map(|(k, v)| (k.clone(), vec![v.clone()]))
        .collect::<HashMap<_, _>>()
        .into()
}

#[cfg(test)]
mod samples {
    //! The sample events under `infra/events/` (for `cargo lambda invoke --data-file`) are exactly
    //! what this module builds, so they stay what the functions really receive.
    //! `CIRRUS_WRITE_EVENTS=1 cargo test -p cirrus-local samples` rewrites them.

    use super::*;
    use cirrus_core::usersig::{DEV_APP_ID, DEV_SECRET_KEY, UserSigKey};
    use std::path::PathBuf;

    /// 2025-11-01, with a 20-year lifetime: the sample token stays valid.
    const MINTED_AT: i64 = 1_761_955_200;
    const LIFETIME: i64 = 20 * 365 * 24 * 3600;

    fn samples() -> Vec<(&'static str, Value)> {
        let token = UserSigKey::new(DEV_APP_ID, DEV_SECRET_KEY).mint("alice", MINTED_AT, LIFETIME);
        let query = HashMap::from([
            ("token".to_owned(), token),
            ("platform".to_owned(), "web".to_owned()),
        ]);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static("cirrus-sample"),
        );
        let connection = ConnectionId::parse("c-sample-alice".to_owned()).expect("a valid id");
        let context = HashMap::from([("userId".to_owned(), Value::from("alice"))]);
        let send = r#"{"action":"msg.send","reqId":"r1","data":{"to":{"type":"c2c","id":"bob"},"clientMsgId":"sample-1","body":[{"type":"text","text":"hello from a sample event"}]}}"#;
        let as_json = |event: &dyn erased::Event| event.json();
        vec![
            ("authorizer.json", as_json(&authorizer_request(&query, &headers))),
            (
                "connect.json",
                as_json(&connect_request(&connection, &context, &query)),
            ),
            (
                "message-send.json",
                as_json(&websocket_request(
                    "msg.send",
                    "MESSAGE",
                    &connection,
                    &context,
                    Some(send.to_owned()),
                )),
            ),
            (
                "disconnect.json",
                as_json(&websocket_request(
                    "$disconnect",
                    "DISCONNECT",
                    &connection,
                    &context,
                    None,
                )),
            ),
        ]
    }

    mod erased {
        /// Any event type, as JSON.
        pub trait Event {
            fn json(&self) -> serde_json::Value;
        }
        impl<T: serde::Serialize> Event for T {
            fn json(&self) -> serde_json::Value {
                serde_json::to_value(self).expect("events serialize")
            }
        }
    }

    #[test]
    fn sample_events_are_what_the_stack_sends() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
        for (file, event) in samples() {
            let path = dir.join(file);
            if std::env::var_os("CIRRUS_WRITE_EVENTS").is_some() {
                let text = serde_json::to_string_pretty(&event).expect("JSON") + "\n";
                std::fs::write(&path, text).expect("write the sample");
            }
            let stored: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("the sample exists"))
                    .expect("the sample is JSON");
            assert_eq!(
                stored,
                event,
                "{} is stale: rewrite it (see the module doc)",
                path.display()
            );
        }
    }
}
