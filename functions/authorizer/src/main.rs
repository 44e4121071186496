//! Lambda `authorizer`: the WebSocket API's `$connect` REQUEST authorizer. Verifies the UserSig
//! in the `token` query parameter with `cirrus_handlers::Authorizer`; a refusal fails the
//! invocation with exactly `Unauthorized`, which API Gateway answers with 401.
//!
//! Environment: `CIRRUS_APP_ID`, and `CIRRUS_SECRET_KEY_PARAMETER` naming the SSM SecureString
//! that holds the app's secret key (read once per cold start), or, for local runs,
//! `CIRRUS_SECRET_KEY` itself.

use anyhow::Context as _;
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use cirrus_core::clock::SystemClock;
use cirrus_core::usersig::UserSigKey;
use cirrus_handlers::Authorizer;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app_id = std::env::var("CIRRUS_APP_ID")
        .context("CIRRUS_APP_ID is not set")?
        .parse::<u64>()
        .context("CIRRUS_APP_ID is not a number")?;
    let secret = cirrus_aws::secret_key_from_env().await?;
    let key = UserSigKey::new(app_id, secret);
    let authorizer = &Authorizer::new(key, Arc::new(SystemClock));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
            // Exactly `Unauthorized`: API Gateway's cue for 401.
            authorizer
                .authorize(&event.payload)
                .map_err(|refusal| Diagnostic {
                    error_type: "Unauthorized".to_owned(),
                    error_message: refusal.to_string(),
                })
        },
    ))
    .await
}
