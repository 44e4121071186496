//! Lambda `push`: the push and fan-out queues' consumer (SQS event sources with partial batch
//! responses). Offline notifications go to each registered device of the recipient through its
//! provider (APNs, FCM or the app's webhook); frames the gateway deferred, and live-room frames
//! shard by shard, are posted over `CIRRUS_CONNECTIONS_ENDPOINT` (required).
//!
//! Environment: `cirrus_aws::Config::from_env` (the table names, the connections endpoint) and the
//! settings of `cirrus_handlers::Settings` (docs/settings.md, "Offline push"): the webhook
//! (`CIRRUS_PUSH_WEBHOOK_URL`, its secret or `_SECRET_PARAMETER`, `CIRRUS_PUSH_WEBHOOK_TIMEOUT`),
//! APNs (`CIRRUS_APNS_KEY_PARAMETER`, `CIRRUS_APNS_KEY_ID`, `CIRRUS_APNS_TEAM_ID`,
//! `CIRRUS_APNS_TOPIC`, `CIRRUS_APNS_ENDPOINT`) and FCM (`CIRRUS_FCM_SERVICE_ACCOUNT_PARAMETER`,
//! `CIRRUS_FCM_ENDPOINT`). Each SSM SecureString is read once per cold start; a provider left
//! unset skips its devices.

use aws_lambda_events::sqs::SqsEvent;
use cirrus_aws::Push;
use cirrus_core::ports::PushProvider;
use cirrus_core::service::push_routing::PushProviders;
use cirrus_handlers::Settings;
use cirrus_handlers::push::PushDeps;
use cirrus_handlers::webhook::{WebhookConfig, WebhookProvider, WebhookSecret};
use cirrus_push::apns::{ApnsConfig, ApnsProvider};
use cirrus_push::fcm::{FcmConfig, FcmProvider, ServiceAccount};
use cirrus_push::{DEFAULT_TIMEOUT, KeyMaterial};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    cirrus_handlers::logging::init_lambda();
    let settings = Settings::from_env()?;
    let sdk = cirrus_aws::sdk_config().await;
    let ports = settings.apply(cirrus_aws::ports(&sdk, Push::Required).await?);
    let mut providers = PushProviders::default();
    if let Some(webhook) = &settings.push_webhook {
        let secret = cirrus_aws::read_secret(&sdk, &webhook.secret).await?;
        let webhook = WebhookProvider::new(WebhookConfig {
            timeout: webhook.timeout,
            ..WebhookConfig::new(&webhook.url, WebhookSecret::new(secret))
        })?;
        tracing::info!(host = webhook.host(), "offline push to the webhook");
        providers.webhook = Some(Arc::new(webhook));
    }
    if let Some(apns) = &settings.push_apns {
        let key = cirrus_aws::read_secret(&sdk, &apns.key).await?;
        let provider = ApnsProvider::new(ApnsConfig {
            endpoint: apns.endpoint.clone(),
            key_id: apns.key_id.clone(),
            team_id: apns.team_id.clone(),
            key: KeyMaterial::new(key),
            topic: apns.topic.clone(),
            timeout: DEFAULT_TIMEOUT,
        })?;
        tracing::info!(endpoint = %apns.endpoint, "offline push through APNs");
        providers.apns = Some(Arc::new(provider) as Arc<dyn PushProvider>);
    }
    if let Some(fcm) = &settings.push_fcm {
        let account = ServiceAccount::from_json(&cirrus_aws::read_secret(&sdk, &fcm.service_account).await?)?;
        let provider = FcmProvider::new(FcmConfig {
            account,
            endpoint: fcm.endpoint.clone(),
            timeout: DEFAULT_TIMEOUT,
        })?;
        tracing::info!(endpoint = %fcm.endpoint, "offline push through FCM");
        providers.fcm = Some(Arc::new(provider) as Arc<dyn PushProvider>);
    }
    let deps = &PushDeps::of(&ports, providers);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(cirrus_handlers::push::push(deps, event.payload).await)
    }))
    .await
}
