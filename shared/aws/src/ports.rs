//! [`ports_from_env`]: the service ports of a Lambda function on AWS, built once per cold start.

use crate::config::Config;
use crate::error::{Result, StoreError};
use crate::gateway::ApiGatewayGateway;
use crate::media::S3Media;
use crate::queue::SqsQueue;
use crate::store::DynamoStore;
use aws_config::BehaviorVersion;
use cirrus_core::clock::{SystemClock, UuidIds};
use cirrus_core::limits::Limits;
use cirrus_core::ports::{MediaStore, Queue};
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

/// Builds [`Ports`] from the environment ([`Config::from_env`] and the standard AWS
/// configuration, loaded once for both clients): a [`DynamoStore`] for connections, accounts,
/// subscriptions, profiles, relations, blocks, recommendations, notifications, groups, live-room
/// seats, messages and conversations, an [`ApiGatewayGateway`], the [`SqsQueue`] and
/// [`S3Media`] where their queue URL and bucket are set, the system clock, UUID ids and default
/// limits.
///
/// `Ports` always holds a gateway. A function that never pushes (`Push::Never`) gets one on
/// [`UNUSED_ENDPOINT`] when `CIRRUS_CONNECTIONS_ENDPOINT` is unset, rather than a second gateway
/// type that exists only to be unused: the SDK client is built lazily and makes no call until
/// asked, so this costs nothing.
pub async fn ports_from_env(push: Push) -> Result<Ports> {
    let config = Config::from_env()?;
    let endpoint = connections_endpoint(&config, push)?.to_owned();
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(store_endpoint) = &config.endpoint {
        // Only the store's: `ApiGatewayGateway::new` sets its own endpoint.
        loader = loader.endpoint_url(store_endpoint);
    }
    let sdk = loader.load().await;
    // Where the template gives the queues (the message function), deferred posts are handed to
    // the push queue.
    let queue: Option<Arc<dyn Queue>> = match config.push_queue_url {
        Some(_) => Some(Arc::new(SqsQueue::from_config(&sdk, &config)?)),
        None => None,
    };
    // Where the template names the media bucket (the message function), media.upload and
    // media.download presign on it and msg.send checks media ids against it.
    let media: Option<Arc<dyn MediaStore>> = match config.media_bucket {
        Some(_) => Some(Arc::new(S3Media::from_config(&sdk, &config)?)),
        None => None,
    };
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config));
    Ok(Ports {
        connections: store.clone(),
        accounts: store.clone(),
        subscriptions: store.clone(),
        profiles: store.clone(),
        relations: store.clone(),
        blocks: store.clone(),
        recommendations: store.clone(),
        notifications: store.clone(),
        groups: store.clone(),
        rooms: store.clone(),
        messages: store.clone(),
        conversations: store,
        gateway: Arc::new(ApiGatewayGateway::new(&sdk, &endpoint)),
        queue,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidIds),
        limits: limits_from_env()?,
        media,
        // The message function adds the sensitive-word filter (`cirrus_handlers::settings`).
        filter: None,
    })
}

/// The default limits, with the device policy of `CIRRUS_DEVICE_POLICY` if set.
fn limits_from_env() -> Result<Limits> {
    let mut limits = Limits::default();
    if let Some(policy) = std::env::var("CIRRUS_DEVICE_POLICY")
        .ok()
        .filter(|p| !p.is_empty())
    {
        limits.devices = policy
            .parse()
            .map_err(|_| StoreError::BadEnv("CIRRUS_DEVICE_POLICY"))?;
    }
    Ok(limits)
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
