//! Lambda `group`: the group routes (`group.*`): management, membership and the notifications
//! and tips they send over `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, the connections endpoint) and
//! the limits of `cirrus_handlers::settings`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use cirrus_aws::Push;
use cirrus_handlers::Deps;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let mut ports = cirrus_aws::ports_from_env(Push::Required).await?;
    cirrus_handlers::settings::limits_from_env(&mut ports.limits)?;
    let deps = &Deps::new(ports);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            // The same route handler as the message function: API Gateway sends this function
            // only the group actions.
            Ok::<_, Error>(cirrus_handlers::message::message(deps, event.payload).await)
        },
    ))
    .await
}
