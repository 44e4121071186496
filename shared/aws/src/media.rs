//! [`S3Media`]: the `MediaStore` port over one S3 bucket, with SigV4 presigned URLs.

use crate::config::Config;
use crate::error::{Result, StoreError};
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use cirrus_core::media::{MAX_URL_EXPIRY, MediaKey, ObjectInfo, PresignedUrl};
use cirrus_core::ports::MediaStore;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What can go wrong presigning a media URL or using the bucket (bad input is a
/// `cirrus_core::Error::InvalidField`).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The expiry window was refused (it is checked first, so this is not expected).
    #[error("presigning window refused")]
    Window(#[from] aws_sdk_s3::presigning::PresigningConfigError),
    /// The SDK could not build or sign the request.
    #[error("S3 request could not be presigned")]
    Presign(#[source] Box<aws_sdk_s3::Error>),
    /// An S3 call failed.
    #[error("S3 {0} failed")]
    Call(&'static str, #[source] Box<aws_sdk_s3::Error>),
    /// An object's body could not be read to the end.
    #[error("S3 object body could not be read")]
    Body(#[source] aws_sdk_s3::primitives::ByteStreamError),
}

impl MediaError {
    fn call(operation: &'static str, err: impl Into<aws_sdk_s3::Error>) -> Self {
        Self::Call(operation, Box::new(err.into()))
    }
}

impl From<MediaError> for cirrus_core::Error {
    fn from(err: MediaError) -> Self {
        cirrus_core::Error::store(err)
    }
}

/// `MediaStore` over S3: presigned `PUT`s that bind the content type and length into the
/// signature, and presigned `GET`s, each valid for at most [`MAX_URL_EXPIRY`]. Presigning is
/// local computation: no call reaches S3 until the client uses the URL.
#[derive(Debug, Clone)]
pub struct S3Media {
    client: Client,
    bucket: String,
}

impl S3Media {
    /// Media in `bucket`, with `sdk`'s region, credentials and endpoint. With an endpoint
    /// override (moto, MinIO, LocalStack) addressing is path-style, since `{bucket}.127.0.0.1`
    /// does not resolve.
    pub fn new(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        let mut config = aws_sdk_s3::config::Builder::from(sdk);
        if sdk.endpoint_url().is_some() {
            config = config.force_path_style(true);
        }
        Self::from_client(Client::from_conf(config.build()), bucket)
    }

    /// Media in `CIRRUS_MEDIA_BUCKET`, required.
    pub fn from_config(sdk: &SdkConfig, config: &Config) -> Result<Self> {
        let bucket = config
            .media_bucket
            .as_deref()
            .ok_or(StoreError::MissingEnv("CIRRUS_MEDIA_BUCKET"))?;
        Ok(Self::new(sdk, bucket))
    }

    /// An S3 client from the standard AWS configuration, on `CIRRUS_AWS_ENDPOINT` if set
    /// (path-style there): what the `media` function builds once per cold start, before it
    /// knows the bucket (each S3 event record names its own).
    pub async fn client_from_env() -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        let endpoint = std::env::var("CIRRUS_AWS_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Self::new(&loader.load().await, "").client
    }

    /// Media in `bucket` over a client built by the caller.
    pub fn from_client(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The S3 client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// The presigning window starting now, and when it ends in ms since the epoch.
fn window(expires: Duration) -> cirrus_core::Result<(PresigningConfig, i64)> {
    if expires.is_zero() || expires > MAX_URL_EXPIRY {
        return Err(cirrus_core::Error::InvalidField(format!(
            "URL expiry of {} s is not between 1 s and {} s (7 days)",
            expires.as_secs(),
            MAX_URL_EXPIRY.as_secs()
        )));
    }
    // One start time for the signature and for `expires_at_ms`, so the two agree.
    let start = SystemTime::now();
    let config = PresigningConfig::builder()
        .start_time(start)
        .expires_in(expires)
        .build()
        .map_err(MediaError::Window)?;
    let end = start
        .checked_add(expires)
        .and_then(|end| end.duration_since(UNIX_EPOCH).ok())
        .and_then(|end| i64::try_from(end.as_millis()).ok())
        .unwrap_or(i64::MAX);
    Ok((config, end))
}

/// The core's content-type rule (no header smuggling into the signed set).
fn check_content_type(content_type: &str) -> cirrus_core::Result<()> {
    cirrus_core::media::check_content_type(content_type)
}

fn presigned(request: &PresignedRequest, expires_at_ms: i64) -> PresignedUrl {
    PresignedUrl {
        url: request.uri().to_owned(),
        method: request.method().to_owned(),
        headers: request
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        expires_at_ms,
    }
}

#[async_trait]
impl MediaStore for S3Media {
    async fn upload_url(
        &self,
        key: &MediaKey,
        content_type: &str,
        content_length: u64,
        expires: Duration,
    ) -> cirrus_core::Result<PresignedUrl> {
        check_content_type(content_type)?;
        let length = i64::try_from(content_length)
            .map_err(|_| cirrus_core::Error::InvalidField("content length is too large".to_owned()))?;
        let (config, expires_at_ms) = window(expires)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(length)
            // A URL uploads once: a second PUT (say, swapping a checked image for other bytes
            // while the URL is still valid) gets 412 instead of replacing the object.
            .if_none_match("*")
            .presigned(config)
            .await
            .map_err(|err| MediaError::Presign(Box::new(err.into())))?;
        Ok(presigned(&request, expires_at_ms))
    }

    async fn download_url(&self, key: &MediaKey, expires: Duration) -> cirrus_core::Result<PresignedUrl> {
        let (config, expires_at_ms) = window(expires)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            // The uploader's bytes open as a download, never as a page on the bucket's origin.
            .set_response_content_disposition((!key.is_rendition()).then(|| "attachment".to_owned()))
            .presigned(config)
            .await
            .map_err(|err| MediaError::Presign(Box::new(err.into())))?;
        Ok(presigned(&request, expires_at_ms))
    }

    async fn head(&self, key: &MediaKey) -> cirrus_core::Result<Option<ObjectInfo>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(head) => Ok(Some(ObjectInfo {
                size: head
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or_default(),
                content_type: head.content_type().map(str::to_owned),
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(MediaError::call("HeadObject", err).into()),
        }
    }

    async fn read(&self, key: &MediaKey, max_len: u64) -> cirrus_core::Result<Option<Bytes>> {
        if max_len == 0 {
            return Ok(self.head(key).await?.map(|_| Bytes::new()));
        }
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .range(format!("bytes=0-{}", max_len - 1))
            .send()
            .await;
        let object = match answer {
            Ok(object) => object,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            // A range of an empty object is unsatisfiable: it has no bytes to give.
            Err(err) if err.code() == Some("InvalidRange") => return Ok(Some(Bytes::new())),
            Err(err) => return Err(MediaError::call("GetObject", err).into()),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(MediaError::Body)?
            .into_bytes();
        // A store that ignores Range sends it all.
        let max = usize::try_from(max_len).unwrap_or(usize::MAX);
        Ok(Some(if bytes.len() > max {
            bytes.slice(..max)
        } else {
            bytes
        }))
    }

    async fn put(&self, key: &MediaKey, content_type: &str, body: Bytes) -> cirrus_core::Result<()> {
        check_content_type(content_type)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| MediaError::call("PutObject", err))?;
        Ok(())
    }

    async fn delete(&self, key: &MediaKey) -> cirrus_core::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|err| MediaError::call("DeleteObject", err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_expiries_when_checked_then_only_1_s_to_7_days_pass() {
        assert!(window(Duration::from_secs(1)).is_ok());
        assert!(window(MAX_URL_EXPIRY).is_ok());
        assert!(window(Duration::ZERO).is_err());
        assert!(window(MAX_URL_EXPIRY + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn given_content_types_when_checked_then_header_breaking_ones_fail() {
        assert!(check_content_type("image/png").is_ok());
        assert!(check_content_type("text/plain; charset=utf-8").is_ok());
        for bad in ["", "png", "image/png\r\nx-amz-acl: public-read", "image/p\u{e9}g"] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
    }
}
