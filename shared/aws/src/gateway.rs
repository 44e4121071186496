//! [`ApiGatewayGateway`]: `ConnectionGateway` over API Gateway's `@connections` management API.

use crate::backoff::Backoff;
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
        let mut delays = self.backoff.delays();
        let mut attempt = 1;
        loop {
            let err = match send().await {
                Ok(output) => return Ok(Some(output)),
                Err(err) => err,
            };
            let failure = classify(&err);
            let delay = match failure {
                Failure::Gone => return Ok(None),
                Failure::Transient => delays.next(),
                Failure::Permanent => None,
            };
            let Some(delay) = delay else {
                return Err(GatewayError::Sdk {
                    operation,
                    attempts: attempt,
                    transient: matches!(failure, Failure::Transient),
                    source: Box::new(err.into()),
                });
            };
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
                tracing::warn!(connection = %connection.fingerprint(), error = %err, "post deferred");
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
