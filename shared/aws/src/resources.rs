//! The queues and the media bucket, as `template.yaml` is to declare them in AWS;
//! [`create_queues_and_bucket`] makes them elsewhere (moto, the local stack, a scratch account).

use aws_config::SdkConfig;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;

/// Deliveries of one job before SQS moves it to its dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// How long a dead letter is kept for inspection: SQS's maximum, 14 days.
const DEAD_LETTER_RETENTION_SECS: u32 = 14 * 24 * 3600;

/// What [`create_queues_and_bucket`] made (or found), for `Config`'s optional fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// The push queue (`CIRRUS_PUSH_QUEUE_URL`).
    pub push_queue_url: String,
    /// The push queue's dead-letter queue (`CIRRUS_PUSH_DLQ_URL`).
    pub push_dead_letter_queue_url: String,
    /// The fan-out queue (`CIRRUS_FANOUT_QUEUE_URL`).
    pub fanout_queue_url: String,
    /// The media bucket (`CIRRUS_MEDIA_BUCKET`).
    pub media_bucket: String,
}

/// What can go wrong creating the queues and the bucket.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// An SQS call failed.
    #[error("SQS call failed")]
    Sqs(#[source] Box<aws_sdk_sqs::Error>),
    /// An S3 call failed.
    #[error("S3 call failed")]
    S3(#[source] Box<aws_sdk_s3::Error>),
    /// SQS answered without a field it always returns.
    #[error("SQS answer lacks `{0}`")]
    MissingField(&'static str),
}

impl ResourceError {
    fn sqs(err: impl Into<aws_sdk_sqs::Error>) -> Self {
        Self::Sqs(Box::new(err.into()))
    }
}

/// Creates, unless they exist, the queues `{prefix}-push` and `{prefix}-fanout`, each with a
/// dead-letter queue `…-dlq` that takes a job after [`MAX_RECEIVE_COUNT`] receives, and the
/// bucket `{prefix}-media` (so `prefix` must be lowercase letters, digits and `-`). Running it
/// again changes nothing.
pub async fn create_queues_and_bucket(sdk: &SdkConfig, prefix: &str) -> Result<Resources, ResourceError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let (push_queue_url, push_dead_letter_queue_url) =
        queue_with_dead_letters(&sqs, &format!("{prefix}-push")).await?;
    let (fanout_queue_url, _) = queue_with_dead_letters(&sqs, &format!("{prefix}-fanout")).await?;
    let media_bucket = format!("{prefix}-media");
    create_bucket(sdk, &media_bucket).await?;
    Ok(Resources {
        push_queue_url,
        push_dead_letter_queue_url,
        fanout_queue_url,
        media_bucket,
    })
}

/// Creates `name` and `name-dlq` and points the first's redrive policy at the second; returns
/// the URLs of both.
async fn queue_with_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String), ResourceError> {
    let dead_letters = create_queue(sqs, &format!("{name}-dlq")).await?;
    sqs.set_queue_attributes()
        .queue_url(&dead_letters)
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            DEAD_LETTER_RETENTION_SECS.to_string(),
        )
        .send()
        .await
        .map_err(ResourceError::sqs)?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(ResourceError::sqs)?
        .attributes()
        .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or(ResourceError::MissingField("QueueArn"))?;

    let url = create_queue(sqs, name).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    });
    // Set after creation rather than passed to CreateQueue: CreateQueue on an existing queue
    // fails when the attributes given differ from the queue's, so a changed policy would make
    // the call stop being repeatable.
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(ResourceError::sqs)?;
    Ok((url, dead_letters))
}

/// Creates a standard queue with default attributes, or finds it; returns its URL.
async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, ResourceError> {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(ResourceError::sqs)?
        .queue_url()
        .map(str::to_owned)
        .ok_or(ResourceError::MissingField("QueueUrl"))
}

/// Creates the bucket in the SDK's region unless this account already owns it.
async fn create_bucket(sdk: &SdkConfig, bucket: &str) -> Result<(), ResourceError> {
    let mut config = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        config = config.force_path_style(true);
    }
    let s3 = aws_sdk_s3::Client::from_conf(config.build());
    let mut request = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that refuses to be named as a location constraint.
    if let Some(region) = sdk.region().filter(|region| region.as_ref() != "us-east-1") {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_ref()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(err) => match aws_sdk_s3::Error::from(err) {
            aws_sdk_s3::Error::BucketAlreadyOwnedByYou(_) => Ok(()),
            other => Err(ResourceError::S3(Box::new(other))),
        },
    }
}
