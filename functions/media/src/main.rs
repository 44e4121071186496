//! Lambda `media`: S3 `ObjectCreated` events for `media/…/original` keys. Each upload's real type
//! is checked against its declared kind and its size against the limit; images get their `large`
//! and `thumbnail` renditions; the manifest makes the media id usable in messages; a failing
//! upload is deleted (`cirrus_media`).
//!
//! The bucket comes from each event record, not from the environment: the template cannot hand
//! this function the bucket's name without a circular dependency (docs/deploy.md). Environment:
//! the standard AWS configuration, `CIRRUS_AWS_ENDPOINT` (an emulator) if set, and the limits
//! every function reads (`cirrus_handlers::Settings`, docs/settings.md).

use aws_lambda_events::s3::S3Event;
use cirrus_aws::S3Media;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    cirrus_handlers::logging::init_lambda();
    let client = &S3Media::client_from_env().await;
    // The same size limits as the function that issued the upload URLs (CIRRUS_MAX_FILE_BYTES, …).
    let limits = &cirrus_handlers::Settings::from_env()?.limits;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let open = |bucket: &str| S3Media::from_client(client.clone(), bucket);
        cirrus_media::s3_event(open, limits, event.payload).await?;
        Ok::<_, Error>(())
    }))
    .await
}
