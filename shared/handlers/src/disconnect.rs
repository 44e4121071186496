//! Route `$disconnect`: forget the connection.

use crate::context::connection_id;
use crate::response;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use cirrus_core::service::SessionService;

/// Route `$disconnect`: removes the connection record. API Gateway ignores the response, so failures
/// are only logged; the record's TTL removes it eventually.
// The connection id is a capability (anyone holding it may post to the socket through
// `@connections`), so it is in the span at debug only, not in INFO lines.
#[tracing::instrument(level = "debug", skip_all, fields(connection = ?request.request_context.connection_id))]
pub async fn disconnect(
    sessions: &SessionService,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let result = async { sessions.disconnect(&connection_id(&request)?).await }.await;
    match result {
        Ok(Some(connection)) => tracing::info!(user = %connection.user, "disconnected"),
        Ok(None) => tracing::debug!("disconnect of an unknown connection"),
        Err(err) => tracing::error!(error = ?err, "disconnect failed"),
    }
    response(200, None)
}
