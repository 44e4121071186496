//! The error types of the crate: [`StoreError`] (the DynamoDB store and configuration) reaches
//! services as `cirrus_core::Error::Store`, [`GatewayError`] as `cirrus_core::Error::Gateway`.

use aws_sdk_dynamodb::error::SdkError;

/// Result with the store's [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What can go wrong talking to DynamoDB or reading what it holds.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A DynamoDB call failed (network, throttling, permissions, a missing table…).
    #[error("DynamoDB call failed")]
    Sdk(#[source] Box<aws_sdk_dynamodb::Error>),
    /// A request could not be built (a required field was left out).
    #[error("DynamoDB request could not be built")]
    Build(#[from] aws_sdk_dynamodb::error::BuildError),
    /// A created table or index did not become active (or a table accept point-in-time
    /// recovery) in time.
    #[error("a created table or index did not become active")]
    TableNotActive,
    /// A required environment variable is not set.
    #[error("environment variable `{0}` is not set")]
    MissingEnv(&'static str),
    /// An environment variable holds a value that means nothing.
    #[error("environment variable `{0}` has an invalid value")]
    BadEnv(&'static str),
    /// A stored item lacks an attribute the store always writes.
    #[error("stored item lacks attribute `{0}`")]
    MissingAttribute(&'static str),
    /// A stored attribute does not hold a value the store could have written.
    #[error("stored attribute `{0}` has an unexpected value")]
    BadAttribute(&'static str),
    /// A message body could not be encoded or decoded.
    #[error("message body is not valid JSON")]
    BadBody(#[from] serde_json::Error),
    /// An append kept finding its idempotency claim taken over by other writers.
    #[error("gave up appending after {0} claim takeovers")]
    Contention(u32),
    /// Counting a failed login kept finding its window reset or cleared by other writers.
    #[error("gave up counting a failed login after {0} concurrent window changes")]
    CounterContention(u32),
    /// `BatchWriteItem` or `BatchGetItem` still left items unprocessed (throttled) after the
    /// last attempt.
    #[error("{left} batched item(s) still unprocessed after {attempts} attempts")]
    Unprocessed {
        /// Writes or reads of the batch not made.
        left: usize,
        /// Calls made for the batch.
        attempts: u32,
    },
}

impl StoreError {
    /// Wraps any operation's SDK error.
    pub(crate) fn sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
    {
        Self::from(aws_sdk_dynamodb::Error::from(err))
    }
}

/// The outcome of a conditional write: `Ok(true)` if it was made, `Ok(false)` if its condition
/// failed (an expected answer: someone got there first), any other failure as an error.
pub(crate) fn written<T, E, R>(result: std::result::Result<T, SdkError<E, R>>) -> Result<bool>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    applied(result).map(|output| output.is_some())
}

/// [`written`], keeping the answer of a write that was made: `Ok(Some(output))` if it was made,
/// `Ok(None)` if its condition failed, any other failure as an error.
pub(crate) fn applied<T, E, R>(result: std::result::Result<T, SdkError<E, R>>) -> Result<Option<T>>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(err)
            if err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(err) => Err(StoreError::sdk(err)),
    }
}

impl From<aws_sdk_dynamodb::Error> for StoreError {
    fn from(err: aws_sdk_dynamodb::Error) -> Self {
        Self::Sdk(Box::new(err))
    }
}

impl From<StoreError> for cirrus_core::Error {
    fn from(err: StoreError) -> Self {
        cirrus_core::Error::store(err)
    }
}

/// What can go wrong talking to API Gateway's `@connections` API (a gone connection is not an
/// error).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A call failed for good, or was still throttled or failing after the last attempt.
    #[error("{operation} failed after {attempts} attempt(s)")]
    Sdk {
        /// The API operation (`PostToConnection`, …).
        operation: &'static str,
        /// Calls made.
        attempts: u32,
        /// Whether the last failure was throttling or a server error (a later try may work).
        transient: bool,
        /// The last failure.
        #[source]
        source: Box<aws_sdk_apigatewaymanagement::Error>,
    },
    /// `GetConnection` answered without a field it always returns.
    #[error("GetConnection answer lacks `{0}`")]
    MissingField(&'static str),
}

impl From<GatewayError> for cirrus_core::Error {
    fn from(err: GatewayError) -> Self {
        cirrus_core::Error::gateway(err)
    }
}
