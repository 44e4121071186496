//! Data of the `media.*` actions.

use crate::media::{MediaId, MediaKind, PresignedUrl, Variant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `media.upload` request: what the client is about to upload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    /// `image`, `sound`, `video` or `file`.
    pub kind: MediaKind,
    /// The content type the upload will carry (e.g. `image/png`); bound into the signature.
    pub content_type: String,
    /// The exact size in bytes; bound into the signature.
    pub size: u64,
}

/// A presigned request on the wire: the client makes exactly this request, without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedRequest {
    /// The URL, signature included.
    pub url: String,
    /// `PUT` or `GET`.
    pub method: String,
    /// Headers to send exactly as given (they are signed); `content-length` is the length of the
    /// body, which any HTTP client sends by itself.
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working, ms since the epoch.
    pub expires_at: i64,
}

impl From<PresignedUrl> for SignedRequest {
    fn from(url: PresignedUrl) -> Self {
        Self {
            url: url.url,
            method: url.method,
            headers: url
                .headers
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect(),
            expires_at: url.expires_at_ms,
        }
    }
}

/// `media.upload` reply: the new media id and where to `PUT` the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadReply {
    /// The id to put in message elements once the upload is processed.
    pub media_id: MediaId,
    /// The upload request to make.
    #[serde(flatten)]
    pub request: SignedRequest,
}

/// `media.download` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DownloadRequest {
    /// The media id (validated by the service).
    pub media_id: String,
    /// `original` (the default), `large` or `thumbnail` (images only).
    #[serde(default)]
    pub rendition: Option<Variant>,
}

/// `media.download` reply: where to `GET` the rendition, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadReply {
    /// The media id.
    pub media_id: MediaId,
    /// The rendition the URL serves.
    pub rendition: Variant,
    /// The download request to make.
    #[serde(flatten)]
    pub request: SignedRequest,
    /// Its real content type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Width in pixels (images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels (images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}
