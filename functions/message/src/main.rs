//! Lambda `message`: every WebSocket message route (`$default` and one per action), which
//! runs the action and pushes deliveries over `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, optional endpoints) and the
//! settings of `cirrus_handlers::Settings` (docs/settings.md).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use cirrus_aws::Push;
use cirrus_handlers::{MessageRoutes, Settings};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    cirrus_handlers::logging::init_lambda();
    let settings = Settings::from_env()?;
    let sdk = cirrus_aws::sdk_config().await;
    let ports = cirrus_aws::with_media(cirrus_aws::ports(&sdk, Push::Required).await?, &sdk)?;
    let routes = &MessageRoutes::build(&settings.apply(ports));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(cirrus_handlers::route(routes, event.payload).await)
        },
    ))
    .await
}
