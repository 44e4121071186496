//! Lambda `api`: the HTTP API. The server REST API (`/v4/...`, administrator only) and the login
//! endpoints (`/v1/auth/...`: hosted accounts, ID tokens, guests), each answering with a UserSig;
//! one axum router, served through `lambda_http` (HTTP API events, payload format 2.0).
//!
//! Environment: `cirrus_aws::Config::from_env` (tables; `CIRRUS_CONNECTIONS_ENDPOINT` to close
//! kicked connections) and the settings of `cirrus_handlers::Settings` (`CIRRUS_APP_ID`, the
//! secret key or its SSM parameter, the account settings, `CIRRUS_OIDC_ISSUERS`, the word filter
//! that REST sends pass through too).

use cirrus_aws::Push;
use cirrus_handlers::{Api, Deps, Settings};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    cirrus_handlers::logging::init_lambda();
    let settings = Settings::from_env()?;
    let sdk = cirrus_aws::sdk_config().await;
    let key = cirrus_aws::usersig_key(&sdk, settings.app_id, settings.secret_key.as_ref()).await?;
    // No media store: the TIM elements REST messages take (text, custom, face, location) carry no
    // media ids, so the api function does not link S3.
    let ports = settings.apply(cirrus_aws::ports(&sdk, Push::Required).await?);
    let api = Api::new(Deps::new(&ports), key, settings.oidc_issuers)?;
    lambda_http::run(api.router()).await
}
