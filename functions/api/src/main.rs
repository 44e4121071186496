//! Lambda `api`: the HTTP API. The server REST API (`/v4/...`, administrator only) and the login
//! endpoints (`/v1/auth/...`: hosted accounts, ID tokens, guests), each answering with a UserSig.
//!
//! Environment: `cirrus_aws::Config::from_env` (tables; `CIRRUS_CONNECTIONS_ENDPOINT` to close
//! kicked connections), `CIRRUS_APP_ID` and the secret key as for the authorizer, and the account
//! settings of `cirrus_handlers::settings` (`CIRRUS_ADMIN_USER`, `CIRRUS_HOSTED_ACCOUNTS`,
//! `CIRRUS_GUESTS`, `CIRRUS_GUEST_C2C`, `CIRRUS_OIDC_ISSUERS`).

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use cirrus_aws::Push;
use cirrus_handlers::{Api, Deps, settings};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let key = cirrus_aws::usersig_key_from_env().await?;
    let mut ports = cirrus_aws::ports_from_env(Push::Required).await?;
    settings::limits_from_env(&mut ports.limits)?;
    let api = &Api::new(Deps::new(ports), key, settings::oidc_issuers_from_env()?)?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, Error>(api.handle(event.payload).await)
        },
    ))
    .await
}
