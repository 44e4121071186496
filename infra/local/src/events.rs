//! Building the API Gateway events that the handlers receive on AWS, for in-process calls.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerRequestTypeRequestContext,
    ApiGatewayWebsocketProxyRequest,
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

fn query_map(query: &HashMap<String, String>) -> QueryMap {
    query
        .iter()
        .map(|(k, v)| (k.clone(), vec![v.clone()]))
        .collect::<HashMap<_, _>>()
        .into()
}
