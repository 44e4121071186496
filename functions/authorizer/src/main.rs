//! Lambda `authorizer`: the WebSocket API's `$connect` REQUEST authorizer. Verifies the UserSig
//! in the `token` query parameter with `cirrus_handlers::Authorizer`; a refusal fails the
//! invocation with exactly `Unauthorized`, which API Gateway answers with 401.
//!
//! Tokens revoked on the user's account (logout, admin kick, password change) are refused too, and
//! guest tokens only while `CIRRUS_GUESTS` is on.
//!
//! Environment: the settings of `cirrus_handlers::Settings`: `CIRRUS_APP_ID`, and
//! `CIRRUS_SECRET_KEY_PARAMETER` naming the SSM SecureString that holds the app's secret key (read
//! once per cold start), or, for local runs, `CIRRUS_SECRET_KEY` itself; `CIRRUS_GUESTS`; and
//! `cirrus_aws::Config::from_env` (the Users table).

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use cirrus_core::clock::SystemClock;
use cirrus_handlers::Authorizer;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    cirrus_handlers::logging::init_lambda();
    let settings = cirrus_handlers::Settings::from_env()?;
    // One AWS configuration for both clients (SSM for the key, DynamoDB for revocation).
    let sdk = cirrus_aws::sdk_config().await;
    let key = cirrus_aws::usersig_key(&sdk, settings.app_id, settings.secret_key.as_ref()).await?;
    let accounts = Arc::new(cirrus_aws::DynamoStore::from_sdk(&sdk)?);
    let guests = settings.limits.accounts.guests;
    let authorizer = &Authorizer::new(key, Arc::new(SystemClock))
        .with_accounts(accounts)
        .with_guests(guests);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
            // Exactly `Unauthorized`: API Gateway's cue for 401.
            authorizer
                .authorize(&event.payload)
                .await
                .map_err(|refusal| Diagnostic {
                    error_type: "Unauthorized".to_owned(),
                    error_message: refusal.to_string(),
                })
        },
    ))
    .await
}
