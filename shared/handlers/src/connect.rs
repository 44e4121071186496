//! Route `$connect`: record the authorized connection.

use crate::context::{caller, connection_id};
use crate::response;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use cirrus_core::Error;

use cirrus_core::service::SessionService;

/// Route `$connect`: records the connection of the user the authorizer admitted. Any status but 200
/// makes API Gateway refuse the upgrade.
// The connection id is a capability (anyone holding it may post to the socket through
// `@connections`), so it is in the span at debug only, not in INFO lines.
#[tracing::instrument(level = "debug", skip_all, fields(connection = ?request.request_context.connection_id))]
pub async fn connect(
    sessions: &SessionService,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let platform = request
        .query_string_parameters
        .first("platform")
        .map(str::to_owned);
    let result = async {
        let caller = caller(&request)?;
        sessions
            .connect(connection_id(&request)?, caller.user, platform, caller.guest)
            .await
    }
    .await;
    match result {
        Ok(connection) => {
            tracing::info!(user = %connection.user, platform = ?connection.platform, "connected");
            response(200, None)
        }
        Err(err) => {
            let status = match &err {
                Error::Unauthorized(_) => 401,
                err if err.is_internal() => 500,
                _ => 400,
            };
            if status == 500 {
                tracing::error!(error = ?err, "connect failed");
            } else {
                tracing::info!(error = %err, "connect refused");
            }
            response(status, Some(err.client_message()))
        }
    }
}
