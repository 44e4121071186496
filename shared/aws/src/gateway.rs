//! [`ApiGatewayGateway`]: `ConnectionGateway` over API Gateway's `@connections` management API.

use crate::config::Config;
use crate::error::{GatewayError, Result, StoreError};
use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use aws_sdk_apigatewaymanagement::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::primitives::{Blob, DateTime};
use bytes::Bytes;
use cirrus_core::ids::ConnectionId;
use cirrus_core::ports::{ConnectionGateway, PostOutcome};
use std::future::Future;
use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

/// How often and how patiently a throttled (429) or failing (5xx) call is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Calls made in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second call; it doubles before each further one.
    pub base: Duration,
    /// The longest wait between two calls.
    pub max: Duration,
}

impl Default for Backoff {
    /// 4 calls, waiting about 50, 100 and 200 ms between them (at most 1 s).
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(50),
            max: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The wait after the `failed`-th call (1-based): `base · 2^(failed-1)`, capped at `max`,
    /// then jittered down by up to half so that throttled senders spread out.
    pub(crate) fn delay(&self, failed: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << failed.saturating_sub(1).min(16))
            .min(self.max);
        let half = exp / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let jitter = Duration::from_millis(random.checked_rem(jitter_ms + 1).unwrap_or(0));
        exp - half + jitter
    }
}

/// What `GetConnection` says about a live connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// When the connection was opened, ms since the epoch.
    pub connected_at: i64,
    /// When the connection last sent or received a frame, ms since the epoch.
    pub last_active_at: i64,
    /// The client's IP address, as API Gateway saw it.
    pub source_ip: Option<String>,
    /// The client's `User-Agent`, if it sent one.
    pub user_agent: Option<String>,
}

/// The connection gateway on AWS: `PostToConnection`, `DeleteConnection` and `GetConnection` on
/// the WebSocket API's management endpoint
/// (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`).
///
/// A connection that is gone (410 `GoneException`) is a normal answer, never an error. Throttling
/// (429) and server errors (5xx) are tried again with capped exponential backoff ([`Backoff`]);
/// what still fails is `cirrus_core::Error::Gateway`. Build it once per process and share it.
#[derive(Debug, Clone)]
pub struct ApiGatewayGateway {
    client: Client,
    backoff: Backoff,
}

impl ApiGatewayGateway {
    /// Reads [`Config::from_env`] (`CIRRUS_CONNECTIONS_ENDPOINT` is required here) and the
    /// standard AWS configuration, and builds the client.
    pub async fn from_env() -> Result<Self> {
        let config = Config::from_env()?;
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_config(&sdk, &config)
    }

    /// A gateway on the endpoint `config` names, with `sdk`'s region and credentials.
    pub fn from_config(sdk: &SdkConfig, config: &Config) -> Result<Self> {
        let endpoint = config
            .connections_endpoint
            .as_deref()
            .ok_or(StoreError::MissingEnv("CIRRUS_CONNECTIONS_ENDPOINT"))?;
        Ok(Self::new(sdk, endpoint))
    }

    /// A gateway on `endpoint` (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`)
    /// with `sdk`'s region and credentials. The SDK's own retries are turned off: this type
    /// retries by itself, only what is safe to try again.
    pub fn new(sdk: &SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .retry_config(RetryConfig::disabled())
            .build();
        Self::from_client(Client::from_conf(config))
    }

    /// A gateway over a client built by the caller (its endpoint must be the management API's).
    pub fn from_client(client: Client) -> Self {
        Self {
            client,
            backoff: Backoff::default(),
        }
    }

    /// The same gateway with another retry schedule.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// What API Gateway knows about a connection (`GetConnection`); `None` if it is gone.
    pub async fn info(&self, connection: &ConnectionId) -> cirrus_core::Result<Option<ConnectionInfo>> {
        let answer = self
            .call("GetConnection", || {
                self.client
                    .get_connection()
                    .connection_id(connection.as_str())
                    .send()
            })
            .await?;
        let Some(output) = answer else {
            return Ok(None);
        };
        let millis = |time: Option<&DateTime>, field: &'static str| {
            time.and_then(|time| time.to_millis().ok())
                .ok_or(GatewayError::MissingField(field))
        };
        let identity = output.identity();
        Ok(Some(ConnectionInfo {
            connected_at: millis(output.connected_at(), "ConnectedAt")?,
            last_active_at: millis(output.last_active_at(), "LastActiveAt")?,
            source_ip: identity.and_then(|i| i.source_ip()).map(str::to_owned),
            user_agent: identity.and_then(|i| i.user_agent()).map(str::to_owned),
        }))
    }

    /// Runs one call with retries; `Ok(None)` means the connection is gone.
    async fn call<T, E, F, Fut>(
        &self,
        operation: &'static str,
        mut send: F,
    ) -> Result<Option<T>, GatewayError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata,
        aws_sdk_apigatewaymanagement::Error: From<SdkError<E>>,
    {
        let attempts = self.backoff.attempts.max(1);
        let mut attempt = 1;
        loop {
            let err = match send().await {
                Ok(output) => return Ok(Some(output)),
                Err(err) => err,
            };
            match classify(&err) {
                Failure::Gone => return Ok(None),
                Failure::Transient if attempt < attempts => {
                    let delay = self.backoff.delay(attempt);
                    tracing::warn!(
                        operation,
                        attempt,
                        code = err.code(),
                        ?delay,
                        "connection gateway call failed, trying again"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                failure @ (Failure::Transient | Failure::Permanent) => {
                    return Err(GatewayError::Sdk {
                        operation,
                        attempts: attempt,
                        transient: matches!(failure, Failure::Transient),
                        source: Box::new(err.into()),
                    });
                }
            }
        }
    }
}

/// How a failed call ends.
enum Failure {
    /// 410 / `GoneException`: the connection does not exist (any more).
    Gone,
    /// Throttling or a server error: worth another try.
    Transient,
    /// Anything else (forbidden, payload too large, network, a bad request…).
    Permanent,
}

fn classify<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Failure {
    let status = err.raw_response().map(|response| response.status().as_u16());
    // The error type comes from `x-amzn-errortype` or the body; go by the status as well, since
    // a proxy (or the local stack) may answer 410/429 without naming the exception.
    match (err.code(), status) {
        (Some("GoneException"), _) | (_, Some(410)) => Failure::Gone,
        (Some("LimitExceededException" | "ThrottlingException" | "TooManyRequestsException"), _)
        | (_, Some(429 | 500..=599)) => Failure::Transient,
        _ => Failure::Permanent,
    }
}

#[async_trait]
impl ConnectionGateway for ApiGatewayGateway {
    async fn post(&self, connection: &ConnectionId, data: Bytes) -> cirrus_core::Result<PostOutcome> {
        // The SDK takes the body by value: one copy per attempt.
        let blob = Blob::new(Vec::from(data));
        let answer = self
            .call("PostToConnection", || {
                self.client
                    .post_to_connection()
                    .connection_id(connection.as_str())
                    .data(blob.clone())
                    .send()
            })
            .await;
        match answer {
            Ok(Some(_)) => Ok(PostOutcome::Delivered),
            Ok(None) => Ok(PostOutcome::Gone),
            // Still throttled (or failing on API Gateway's side) after every attempt: the caller
            // hands the frame to the queue rather than lose it.
            Err(err @ GatewayError::Sdk { transient: true, .. }) => {
                tracing::warn!(connection = %connection, error = %err, "post deferred");
                Ok(PostOutcome::Deferred)
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn close(&self, connection: &ConnectionId) -> cirrus_core::Result<()> {
        self.call("DeleteConnection", || {
            self.client
                .delete_connection()
                .connection_id(connection.as_str())
                .send()
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_half_jitter() {
        // GIVEN 10 ms doubling, capped at 50 ms
        let backoff = Backoff {
            attempts: 10,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        // WHEN each wait is drawn many times THEN it lies in [exp/2, exp]
        for (failed, exp) in [(1, 10), (2, 20), (3, 40), (4, 50), (9, 50), (40, 50)] {
            for _ in 0..50 {
                let delay = backoff.delay(failed).as_millis();
                assert!(
                    (exp / 2..=exp).contains(&delay),
                    "wait after call {failed}: {delay} ms, expected {}..={exp}",
                    exp / 2
                );
            }
        }
    }
}
