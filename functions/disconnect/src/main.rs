//! Lambda `disconnect`: the WebSocket `$disconnect` route, which drops the connection record and,
//! when that changes the user's presence, tells their subscribers (`presence.changed`) over
//! `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, the connections endpoint) and the
//! settings of `cirrus_handlers::Settings` (docs/settings.md).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use cirrus_aws::Push;
use cirrus_core::service::{PresenceService, SessionService};
use cirrus_handlers::Settings;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    cirrus_handlers::logging::init_lambda();
    let settings = Settings::from_env()?;
    let sdk = cirrus_aws::sdk_config().await;
    let ports = settings.apply(cirrus_aws::ports(&sdk, Push::Required).await?);
    // Only the session service (and the presence it announces through).
    let presence = Arc::new(PresenceService::from_ports(&ports));
    let sessions = &SessionService::from_ports(&ports, presence);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(cirrus_handlers::disconnect::disconnect(sessions, event.payload).await)
        },
    ))
    .await
}
