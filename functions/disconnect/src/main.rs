//! Lambda `disconnect`: the WebSocket `$disconnect` route, which drops the connection record and,
//! when that changes the user's presence, tells their subscribers (`presence.changed`) over
//! `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, the connections endpoint).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use cirrus_aws::Push;
use cirrus_handlers::Deps;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deps = &Deps::new(cirrus_aws::ports_from_env(Push::Required).await?);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(cirrus_handlers::disconnect::disconnect(deps, event.payload).await)
        },
    ))
    .await
}
