//! How long one DynamoDB or SQS call of the store may take and how it is retried: bounds every
//! store client gets, so that a DynamoDB or SQS that stops answering turns a request into an
//! `internal` error within [`OPERATION_TIMEOUT`] instead of holding it (and its socket's turn)
//! forever. The SDK sets no such bound by itself.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use std::time::Duration;

/// Longest one attempt of a call may take before the SDK gives up on it (and retries).
/// Single-item DynamoDB calls answer in milliseconds; a 1 MB query page in well under this.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest a call may take with all its retries and backoff: the most a store call can add to
/// a request. Well inside API Gateway's 29 s integration timeout even for the few calls in a row
/// that a send makes.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts per call (the first and three retries) for throttling, 5xx and timeouts.
pub const MAX_ATTEMPTS: u32 = 4;

/// The first retry's backoff ceiling (jittered, doubling up to [`MAX_BACKOFF`]): the SDK's own
/// default of one second would spend a throttled send's whole budget waiting.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(50);

/// Largest backoff between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// [`ATTEMPT_TIMEOUT`] and [`OPERATION_TIMEOUT`]; the connect timeout stays the SDK's.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Standard retries with [`MAX_ATTEMPTS`], [`INITIAL_BACKOFF`] and [`MAX_BACKOFF`].
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// A DynamoDB client configuration from `sdk` (region, credentials, endpoint) with the store's
/// timeouts and retries.
pub fn dynamodb_config(sdk: &SdkConfig) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(timeout_config())
        .retry_config(retry_config())
}

/// A DynamoDB client on `sdk` with the store's timeouts and retries.
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(dynamodb_config(sdk).build())
}

/// An SQS client on `sdk` with the store's timeouts and retries. Its receives long-poll for at
/// most a second (the local poller, the dead-letter replay), well inside [`ATTEMPT_TIMEOUT`].
pub fn sqs_client(sdk: &SdkConfig) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(sdk)
        .timeout_config(timeout_config())
        .retry_config(retry_config())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}
