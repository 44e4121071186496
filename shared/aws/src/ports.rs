//! [`ports`]: the service ports of a Lambda function on AWS, built once per cold start.

use crate::config::Config;
use crate::dead_letters::SqsDeadLetters;
use crate::error::{Result, StoreError};
use crate::gateway::ApiGatewayGateway;
use crate::media::S3Media;
use crate::queue::SqsQueue;
use crate::store::DynamoStore;
use aws_config::{BehaviorVersion, SdkConfig};
use cirrus_core::clock::{SystemClock, UuidIds};
use cirrus_core::ports::{DeadLetters, MediaStore, Queue};
use cirrus_core::service::Ports;
use std::sync::Arc;

/// Whether a function pushes to connections, and so needs `CIRRUS_CONNECTIONS_ENDPOINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// The function pushes (`message`; `$connect`, which displaces older connections): a missing
    /// endpoint fails the cold start.
    Required,
    /// The function never pushes (`$disconnect`): the endpoint may be missing.
    Never,
}

/// Stands in for `CIRRUS_CONNECTIONS_ENDPOINT` in functions that never push. `.invalid` never
/// resolves, so a call that should not happen fails loudly (as a gateway error) instead of
/// reaching some other host.
const UNUSED_ENDPOINT: &str = "https://connections-endpoint-not-configured.invalid";

/// The standard AWS configuration (region, credentials), loaded once per cold start and shared
/// by every client the function builds.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// Builds [`Ports`] over `sdk` and the table names of [`Config::from_env`]: one [`DynamoStore`]
/// serving every store port (each service takes only the ports it uses, so a function links only
/// the store code its services call), an [`ApiGatewayGateway`], the [`SqsQueue`] where its queue
/// URL is set, the system clock, UUID ids and default limits (the caller applies its settings).
/// No media store: the functions that need one add it with [`with_media`].
///
/// `CIRRUS_AWS_ENDPOINT`, where set, points the store's clients (DynamoDB, SQS, S3) at an
/// emulator; the gateway sets its own endpoint.
///
/// `Ports` always holds a gateway. A function that never pushes (`Push::Never`) gets one on
/// [`UNUSED_ENDPOINT`] when `CIRRUS_CONNECTIONS_ENDPOINT` is unset, rather than a second gateway
/// type that exists only to be unused: the SDK client is built lazily and makes no call until
/// asked, so this costs nothing.
pub async fn ports(sdk: &SdkConfig, push: Push) -> Result<Ports<Arc<DynamoStore>>> {
    let config = Config::from_env()?;
    let endpoint = connections_endpoint(&config, push)?.to_owned();
    let store_sdk = store_sdk(sdk, &config);
    // Where the template gives the queues, deferred posts and offline pushes go to the push queue.
    let sqs = match config.push_queue_url {
        Some(_) => Some(SqsQueue::from_config(&store_sdk, &config)?),
        None => None,
    };
    let dead_letters = match (&sqs, &config.push_dead_letter_queue_url) {
        (Some(sqs), Some(url)) => {
            Some(Arc::new(SqsDeadLetters::new(sqs.clone(), url)) as Arc<dyn DeadLetters>)
        }
        _ => None,
    };
    let queue = sqs.map(|sqs| Arc::new(sqs) as Arc<dyn Queue>);
    let store = Arc::new(DynamoStore::new(
        crate::call_limits::dynamodb_client(&store_sdk),
        config,
    ));
    Ok(Ports {
        queue,
        dead_letters,
        ..Ports::new(
            store,
            Arc::new(ApiGatewayGateway::new(sdk, &endpoint)),
            Arc::new(SystemClock),
            Arc::new(UuidIds),
        )
    })
}

/// `ports` with the [`S3Media`] store where the template names the media bucket: `media.upload`
/// and `media.download` presign on it and `msg.send` checks media ids against it. Only the
/// functions that do those (message, api) add it, and only they link S3.
pub fn with_media<S>(mut ports: Ports<S>, sdk: &SdkConfig) -> Result<Ports<S>> {
    let config = Config::from_env()?;
    if config.media_bucket.is_some() {
        let media: Arc<dyn MediaStore> = Arc::new(S3Media::from_config(&store_sdk(sdk, &config), &config)?);
        ports.media = Some(media);
    }
    Ok(ports)
}

/// `sdk`, pointed at `CIRRUS_AWS_ENDPOINT` where that is set.
fn store_sdk(sdk: &SdkConfig, config: &Config) -> SdkConfig {
    match &config.endpoint {
        Some(store_endpoint) => sdk.to_builder().endpoint_url(store_endpoint).build(),
        None => sdk.clone(),
    }
}

/// The endpoint the gateway is built on: the configured one, else [`UNUSED_ENDPOINT`] if the
/// function never pushes.
fn connections_endpoint(config: &Config, push: Push) -> Result<&str> {
    match (config.connections_endpoint.as_deref(), push) {
        (Some(endpoint), _) => Ok(endpoint),
        (None, Push::Never) => Ok(UNUSED_ENDPOINT),
        (None, Push::Required) => Err(StoreError::MissingEnv("CIRRUS_CONNECTIONS_ENDPOINT")),
    }
}

#[cfg(test)]
mod tests {
    use super::{Push, UNUSED_ENDPOINT, connections_endpoint};
    use crate::config::Config;
    use crate::error::StoreError;

    #[test]
    fn only_a_pushing_function_needs_the_connections_endpoint() {
        // GIVEN a configuration without CIRRUS_CONNECTIONS_ENDPOINT
        let mut config = Config::with_prefix("t");
        // WHEN the message function asks for it THEN the cold start fails naming the variable
        let pushing = connections_endpoint(&config, Push::Required);
        assert!(
            matches!(
                pushing,
                Err(StoreError::MissingEnv("CIRRUS_CONNECTIONS_ENDPOINT"))
            ),
            "expected MissingEnv(CIRRUS_CONNECTIONS_ENDPOINT), got {pushing:?}"
        );
        // WHEN $connect / $disconnect ask for it THEN they get the never-called placeholder
        assert_eq!(
            connections_endpoint(&config, Push::Never).ok(),
            Some(UNUSED_ENDPOINT)
        );
        // GIVEN the endpoint WHEN either asks THEN both get it
        config.connections_endpoint = Some("https://api.example/prod".to_owned());
        for push in [Push::Required, Push::Never] {
            assert_eq!(
                connections_endpoint(&config, push).ok(),
                Some("https://api.example/prod")
            );
        }
    }
}
