//! Lambda `message`: every WebSocket message route (`$default` and one per action), which
//! runs the action and pushes deliveries over `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, optional endpoints).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use cirrus_aws::Push;
use cirrus_handlers::Deps;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let mut ports = cirrus_aws::ports_from_env(Push::Required).await?;
    // Guests' one-to-one messaging and the logout's revocation follow the account settings.
    cirrus_handlers::settings::limits_from_env(&mut ports.limits)?;
    ports.filter = cirrus_handlers::settings::word_filter_from_env()?;
    let deps = &Deps::new(ports);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(cirrus_handlers::message::message(deps, event.payload).await)
        },
    ))
    .await
}
