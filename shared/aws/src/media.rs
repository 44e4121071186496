//! [`S3Media`]: the `MediaStore` port over one S3 bucket, with SigV4 presigned URLs.

use crate::config::Config;
use crate::error::{Result, StoreError};
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use cirrus_core::media::{MAX_URL_EXPIRY, MediaKey, PresignedUrl};
use cirrus_core::ports::MediaStore;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What can go wrong presigning a media URL (bad input is a `cirrus_core::Error::InvalidField`).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The expiry window was refused (it is checked first, so this is not expected).
    #[error("presigning window refused")]
    Window(#[from] aws_sdk_s3::presigning::PresigningConfigError),
    /// The SDK could not build or sign the request.
    #[error("S3 request could not be presigned")]
    Presign(#[source] Box<aws_sdk_s3::Error>),
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

/// A media type as it may appear in a header: `type/subtype` and parameters, visible ASCII and
/// spaces only, so it cannot smuggle a second header into the signed set.
fn check_content_type(content_type: &str) -> cirrus_core::Result<()> {
    let valid = !content_type.is_empty()
        && content_type.len() <= 255
        && content_type.contains('/')
        && content_type.bytes().all(|c| c.is_ascii_graphic() || c == b' ');
    if valid {
        Ok(())
    } else {
        Err(cirrus_core::Error::InvalidField(
            "content type must be a media type like `image/png`".to_owned(),
        ))
    }
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
            .presigned(config)
            .await
            .map_err(|err| MediaError::Presign(Box::new(err.into())))?;
        Ok(presigned(&request, expires_at_ms))
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
