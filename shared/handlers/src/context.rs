//! Reading the caller out of API Gateway's request context.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use cirrus_core::error::{Error, Result};
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::service::Caller;
use cirrus_core::usersig::UserSigError;

/// The authorizer context key holding the authenticated user id.
pub const USER_ID_KEY: &str = "userId";
/// The authorizer context key holding the caller's role (`user` or `guest`).
pub const ROLE_KEY: &str = "role";
/// The role of guest tokens.
pub const GUEST_ROLE: &str = "guest";

/// The connection id of a WebSocket event.
pub fn connection_id(request: &ApiGatewayWebsocketProxyRequest) -> Result<ConnectionId> {
    let raw = request
        .request_context
        .connection_id
        .as_deref()
        .unwrap_or_default();
    Ok(ConnectionId::parse(raw)?)
}

/// The authenticated caller: the user id the authorizer put in the context at `$connect`.
pub fn caller(request: &ApiGatewayWebsocketProxyRequest) -> Result<Caller> {
    let user = request
        .request_context
        .authorizer
        .fields
        .get(USER_ID_KEY)
        .and_then(|value| value.as_str())
        .ok_or(Error::Unauthorized(UserSigError::Malformed))?;
    let fields = &request.request_context.authorizer.fields;
    let guest = fields.get(ROLE_KEY).and_then(|v| v.as_str()) == Some(GUEST_ROLE);
    Ok(Caller {
        user: UserId::parse(user)?,
        connection: Some(connection_id(request)?),
        guest,
    })
}
