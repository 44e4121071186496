//! Lambda `push`: the push and fan-out queues' consumer (SQS event sources with partial batch
//! responses). Offline notifications go to the app's webhook; frames the gateway deferred, and
//! live-room frames shard by shard, are posted over `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, the connections endpoint) and the
//! settings of `cirrus_handlers::Settings`: `CIRRUS_PUSH_WEBHOOK_URL` (unset: offline push is off,
//! its jobs are consumed and dropped), the signing secret in `CIRRUS_PUSH_WEBHOOK_SECRET` or the
//! SSM SecureString that `CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER` names (read once per cold start),
//! `CIRRUS_PUSH_WEBHOOK_TIMEOUT`.

use aws_lambda_events::sqs::SqsEvent;
use cirrus_aws::Push;
use cirrus_core::ports::PushProvider;
use cirrus_handlers::Settings;
use cirrus_handlers::push::PushDeps;
use cirrus_handlers::webhook::{WebhookConfig, WebhookProvider, WebhookSecret};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    cirrus_handlers::logging::init_lambda();
    let settings = Settings::from_env()?;
    let sdk = cirrus_aws::sdk_config().await;
    let ports = settings.apply(cirrus_aws::ports(&sdk, Push::Required).await?);
    let provider: Option<Arc<dyn PushProvider>> = match &settings.push_webhook {
        Some(webhook) => {
            let secret = cirrus_aws::read_secret(&sdk, &webhook.secret).await?;
            let webhook = WebhookProvider::new(WebhookConfig {
                timeout: webhook.timeout,
                ..WebhookConfig::new(&webhook.url, WebhookSecret::new(secret))
            })?;
            tracing::info!(host = webhook.host(), "offline push to the webhook");
            Some(Arc::new(webhook))
        }
        None => None,
    };
    let deps = &PushDeps::of(&ports, provider);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(cirrus_handlers::push::push(deps, event.payload).await)
    }))
    .await
}
