//! The push queue of the local stack and its consumer, the push function run in-process.
//!
//! On SQLite, [`LocalQueue`] stands in for SQS: an in-memory standard queue per [`QueueName`]
//! with a visibility timeout, a receive count per message, partial batch failures and a
//! dead-letter list. Its consumer hands batches to the same `cirrus_handlers::push::push` the
//! push function runs on Lambda, as the `aws_lambda_events::sqs::SqsEvent` an SQS event source
//! mapping would send, and settles each message by the `batchItemFailures` of the answer.
//!
//! On the AWS backend the jobs go to the real push queue (SQS, or moto's) through
//! `cirrus_aws::SqsQueue`, and [`spawn_sqs_poller`] plays the event source mapping: it receives
//! batches with `ReceiveMessage`, runs the same handler, deletes what succeeded and makes the
//! failures visible again after the retry delay; SQS's redrive policy dead-letters a job after
//! its last receive.

mod local;
mod sqs;

pub use cirrus_handlers::webhook::{WebhookConfig, WebhookSecret};
pub use cirrus_push::apns::ApnsConfig;
pub use cirrus_push::fcm::FcmConfig;
pub use local::{BatchHandler, DeadLetter, LocalQueue, MAX_DEAD_LETTERS, QueueOptions};
pub use sqs::spawn_sqs_poller;

use cirrus_core::ports::{DeadLetters, Queue, QueueName};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Offline push in the local stack: the providers and how the queue retries. With none
/// configured offline-push jobs are consumed and dropped; devices of a provider left unset are
/// skipped.
#[derive(Debug, Clone, Default)]
pub struct PushConfig {
    /// The app's webhook.
    pub webhook: Option<WebhookConfig>,
    /// APNs.
    pub apns: Option<ApnsConfig>,
    /// FCM.
    pub fcm: Option<FcmConfig>,
    /// Delivery, retries and dead-lettering (on the AWS backend only the visibility timeout, as
    /// the retry delay, and the batch size apply: the queue's redrive policy does the rest).
    pub queue: QueueOptions,
}

/// The push queue of the backend, with the consumer that runs the push function.
pub(crate) enum PushQueue {
    /// SQLite: the in-process queue.
    Local(LocalQueue),
    /// AWS: the real push queue, polled, and its dead-letter queue where its URL is known.
    Sqs(cirrus_aws::SqsQueue, Option<Arc<dyn DeadLetters>>),
}

impl PushQueue {
    /// The push queue of `store`: a [`LocalQueue`] on SQLite, the SQS queues on the AWS backend
    /// when their URLs are known (created with `--create-tables`, or `CIRRUS_PUSH_QUEUE_URL` and
    /// `CIRRUS_FANOUT_QUEUE_URL`), else none.
    pub(crate) fn for_backend(
        store: &crate::Backend,
        storage: &crate::Storage,
        options: QueueOptions,
    ) -> Option<Self> {
        match (store, storage) {
            (crate::Backend::Sqlite(_), _) => Some(Self::Local(LocalQueue::new(options))),
            (crate::Backend::Dynamo(dynamo), crate::Storage::Aws(aws)) => {
                let config = dynamo.config();
                match (&config.push_queue_url, &config.fanout_queue_url) {
                    (Some(push), Some(fanout)) => {
                        let queue = cirrus_aws::SqsQueue::new(&aws.sdk, push, fanout);
                        let dead_letters = config.push_dead_letter_queue_url.as_ref().map(|url| {
                            Arc::new(cirrus_aws::SqsDeadLetters::new(queue.clone(), url))
                                as Arc<dyn DeadLetters>
                        });
                        Some(Self::Sqs(queue, dead_letters))
                    }
                    _ => {
                        tracing::info!("no push queue URLs: offline push and redelivery are off");
                        None
                    }
                }
            }
            (crate::Backend::Dynamo(_), _) => None,
        }
    }

    /// The queue as the services' port.
    pub(crate) fn port(&self) -> Arc<dyn Queue> {
        match self {
            Self::Local(queue) => Arc::new(queue.clone()),
            Self::Sqs(queue, _) => Arc::new(queue.clone()),
        }
    }

    /// The push queue's dead letters, for replaying callbacks, where they can be reached.
    pub(crate) fn dead_letters(&self) -> Option<Arc<dyn DeadLetters>> {
        match self {
            Self::Local(queue) => Some(Arc::new(queue.clone())),
            Self::Sqs(_, dead_letters) => dead_letters.clone(),
        }
    }

    /// The in-process queue, if that is the one.
    pub(crate) fn local(&self) -> Option<LocalQueue> {
        match self {
            Self::Local(queue) => Some(queue.clone()),
            Self::Sqs(..) => None,
        }
    }

    /// Starts the push function's consumers of the push and fan-out queues:
    /// `cirrus_handlers::push::push` over the stack's ports and the configured providers.
    pub(crate) fn start(
        &self,
        ports: &cirrus_core::service::Ports,
        config: &PushConfig,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Vec<JoinHandle<std::io::Result<()>>>> {
        let deps = Arc::new(cirrus_handlers::push::PushDeps::of(ports, providers(config)?));
        let handler: BatchHandler = Arc::new(move |event| {
            let deps = deps.clone();
            Box::pin(async move { cirrus_handlers::push::push(&deps, event).await })
        });
        // The same function consumes both queues, as on AWS.
        Ok([QueueName::Push, QueueName::Fanout]
            .into_iter()
            .map(|name| match self {
                Self::Local(queue) => queue.spawn_consumer(name, handler.clone(), shutdown.clone()),
                Self::Sqs(queue, _) => spawn_sqs_poller(
                    queue,
                    name,
                    handler.clone(),
                    config.queue.visibility_timeout,
                    config.queue.batch_size,
                    shutdown.clone(),
                ),
            })
            .collect())
    }
}

/// The providers of `config`, built.
fn providers(config: &PushConfig) -> anyhow::Result<cirrus_core::service::push_routing::PushProviders> {
    use anyhow::Context as _;
    use cirrus_core::ports::PushProvider;
    let mut providers = cirrus_core::service::push_routing::PushProviders::default();
    if let Some(webhook) = &config.webhook {
        let provider = cirrus_handlers::webhook::WebhookProvider::new(webhook.clone())
            .context("configuring the push webhook")?;
        tracing::info!(host = provider.host(), "offline push to the webhook");
        providers.webhook = Some(Arc::new(provider) as Arc<dyn PushProvider>);
    }
    if let Some(apns) = &config.apns {
        let provider = cirrus_push::apns::ApnsProvider::new(apns.clone()).context("configuring APNs")?;
        tracing::info!(endpoint = %apns.endpoint, "offline push through APNs");
        providers.apns = Some(Arc::new(provider) as Arc<dyn PushProvider>);
    }
    if let Some(fcm) = &config.fcm {
        let provider = cirrus_push::fcm::FcmProvider::new(fcm.clone()).context("configuring FCM")?;
        tracing::info!(endpoint = %fcm.endpoint, "offline push through FCM");
        providers.fcm = Some(Arc::new(provider) as Arc<dyn PushProvider>);
    }
    Ok(providers)
}
