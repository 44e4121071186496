//! Lambda `push`: the push and fan-out queues' consumer (SQS event sources with partial batch
//! responses). Offline notifications go to the app's webhook; frames the gateway deferred, and
//! live-room frames shard by shard, are posted over `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, the connections endpoint),
//! `CIRRUS_PUSH_WEBHOOK_URL` (empty: offline push is off, its jobs are consumed and dropped),
//! the signing secret in `CIRRUS_PUSH_WEBHOOK_SECRET` or the SSM SecureString that
//! `CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER` names (read once per cold start, only with a URL).

use aws_lambda_events::sqs::SqsEvent;
use cirrus_aws::Push;
use cirrus_core::ports::PushProvider;
use cirrus_handlers::push::PushDeps;
use cirrus_handlers::webhook::{WebhookConfig, WebhookProvider, WebhookSecret};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let ports = cirrus_aws::ports_from_env(Push::Required).await?;
    let provider: Option<Arc<dyn PushProvider>> = match env("CIRRUS_PUSH_WEBHOOK_URL") {
        Some(url) => {
            let webhook = WebhookProvider::new(WebhookConfig::new(url, webhook_secret().await?))?;
            tracing::info!(host = webhook.host(), "offline push to the webhook");
            Some(Arc::new(webhook))
        }
        None => None,
    };
    let deps = &PushDeps {
        gateway: ports.gateway,
        provider,
        rooms: ports.rooms,
        groups: ports.groups,
        connections: ports.connections,
        queue: ports.queue,
        clock: ports.clock,
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(cirrus_handlers::push::push(deps, event.payload).await)
    }))
    .await
}

/// `CIRRUS_PUSH_WEBHOOK_SECRET`, else the decrypted SSM parameter that
/// `CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER` names (as the UserSig key is read).
async fn webhook_secret() -> Result<WebhookSecret, Error> {
    if let Some(secret) = env("CIRRUS_PUSH_WEBHOOK_SECRET") {
        return Ok(WebhookSecret::new(secret));
    }
    let name = env("CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER").ok_or(
        "CIRRUS_PUSH_WEBHOOK_URL needs CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER (or CIRRUS_PUSH_WEBHOOK_SECRET)",
    )?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let output = aws_sdk_ssm::Client::new(&sdk)
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|err| {
            format!(
                "cannot read SSM parameter `{name}`: {}",
                aws_sdk_ssm::Error::from(err)
            )
        })?;
    output
        .parameter()
        .and_then(|parameter| parameter.value())
        .filter(|secret| !secret.is_empty())
        .map(WebhookSecret::new)
        .ok_or_else(|| format!("SSM parameter `{name}` has no value").into())
}

/// An environment variable; unset and empty are the same.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
