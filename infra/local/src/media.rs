//! Media on the local stack: the media store behind `media.upload` / `media.download`, and on the
//! SQLite backend the HTTP routes its signed URLs point at (S3's part):
//!
//! - `PUT /media/{key}`: stores an upload whose URL signature, `Content-Type` and `Content-Length`
//!   match, once (a second `PUT` gets 412, as S3 answers with `If-None-Match: *`), then runs the
//!   same processing as the `media` function's S3 `ObjectCreated` handler before answering, so a
//!   client may send the media id as soon as its `PUT` returns.
//! - `GET /media/{key}`: serves the object while the URL has not expired and its signature holds.
//!
//! Files live under `<data-dir>/media` (a temporary directory with `--memory`). On the AWS backend
//! the store is the S3 bucket and uploads go to S3; nothing triggers processing there (moto has no
//! S3 notifications): call the `media` function's handler with an S3 event
//! ([`s3_event`], re-exported from cirrus-media), as the end-to-end suite does.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use cirrus_aws::S3Media;
use cirrus_core::limits::Limits;
use cirrus_core::media::MediaKey;
use cirrus_core::ports::MediaStore;
use cirrus_embedded::{LocalMedia, SignedQuery, UrlRefused};
use futures_util::StreamExt as _;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The `media` function's S3 `ObjectCreated` handler, for driving processing by hand on the AWS
/// backend (the end-to-end suites reach cirrus-media through the local stack).
pub use cirrus_media::s3_event;

/// Media settings of the local stack.
#[derive(Debug, Clone, Default)]
pub struct MediaConfig {
    /// The key that signs media URLs on the SQLite backend; `None`: a random key kept in
    /// `<data-dir>/media/url.key` (per run with `--memory`).
    pub key: Option<String>,
    /// The base URL clients reach the HTTP API at, for media URLs (behind a proxy, say);
    /// `None`: `http://<http-addr>`.
    pub public_url: Option<String>,
}

/// The media store, and the local disk behind the routes where there is one.
pub(crate) struct Media {
    /// The port the services use.
    pub(crate) store: Arc<dyn MediaStore>,
    disk: Option<Arc<LocalMedia>>,
    /// Removes the files of an in-memory stack when the HTTP server ends.
    temp: Option<tempfile::TempDir>,
}

impl Media {
    /// The media store for `storage`: on disk for SQLite (under the data directory, or a
    /// temporary one), the bucket on AWS (none when no bucket is named or created).
    pub(crate) fn open(
        storage: &crate::Storage,
        config: &MediaConfig,
        http_addr: SocketAddr,
    ) -> anyhow::Result<Option<Self>> {
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{http_addr}"));
        let key = config.key.clone().map(String::into_bytes);
        let (root, temp) = match storage {
            crate::Storage::Aws(aws) => {
                let bucket = aws
                    .tables
                    .media_bucket
                    .clone()
                    .or_else(|| aws.create.then(|| format!("{}-media", aws.prefix)));
                return Ok(bucket.map(|bucket| Self {
                    store: Arc::new(S3Media::new(&aws.sdk, bucket)),
                    disk: None,
                    temp: None,
                }));
            }
            crate::Storage::Dir(dir) => (dir.join("media"), None),
            crate::Storage::Memory => {
                let temp = tempfile::Builder::new().prefix("cirrus-media-").tempdir()?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let disk = Arc::new(LocalMedia::open(&root, base_url, key)?);
        Ok(Some(Self {
            store: disk.clone(),
            disk: Some(disk),
            temp,
        }))
    }

    /// The routes of the signed URLs (none on the AWS backend).
    pub(crate) fn router(self, limits: Limits) -> Router {
        let Some(disk) = self.disk else {
            return Router::new();
        };
        let state = Arc::new(Routes {
            disk,
            limits,
            _temp: self.temp,
        });
        Router::new()
            .route("/media/{*key}", put(upload).get(download).options(preflight))
            .with_state(state)
    }
}

struct Routes {
    disk: Arc<LocalMedia>,
    limits: Limits,
    _temp: Option<tempfile::TempDir>,
}

/// An answer with a short JSON message, as the other local routes give.
fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (status, axum::Json(serde_json::json!({ "message": message }))).into_response();
    allow_any_origin(response.headers_mut());
    response
}

fn refused(err: UrlRefused) -> Response {
    refuse(StatusCode::FORBIDDEN, &err.to_string())
}

/// Browsers load media from web apps on other origins; the signature is the only credential.
fn allow_any_origin(headers: &mut HeaderMap) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
}

fn media_key(rest: &str) -> Option<MediaKey> {
    MediaKey::parse(format!("{}{rest}", MediaKey::PREFIX)).ok()
}

/// `OPTIONS /media/{key}`: the CORS preflight of a browser's `PUT`.
async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow_any_origin(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, PUT, HEAD"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
    response
}

/// `PUT /media/{key}`: an upload through a `media.upload` URL, then its processing.
async fn upload(
    State(routes): State<Arc<Routes>>,
    Path(rest): Path<String>,
    Query(query): Query<SignedQuery>,
    request: Request,
) -> Response {
    let Some(key) = media_key(&rest) else {
        return refuse(StatusCode::NOT_FOUND, "no such media key");
    };
    let headers = request.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return refuse(StatusCode::LENGTH_REQUIRED, "Content-Length is required");
    };
    if let Err(err) = routes
        .disk
        .verify("PUT", &key, &query, Some((&content_type, length)))
    {
        return refused(err);
    }
    let staged = routes.disk.staging_path();
    match receive(request.into_body(), &staged, length).await {
        Ok(true) => {}
        Ok(false) => {
            let _ = tokio::fs::remove_file(&staged).await;
            return refuse(
                StatusCode::BAD_REQUEST,
                "the body is not Content-Length bytes long",
            );
        }
        Err(err) => {
            let _ = tokio::fs::remove_file(&staged).await;
            tracing::error!(error = %err, "storing an upload failed");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the upload could not be stored",
            );
        }
    }
    match routes.disk.commit_upload(&key, &content_type, &staged).await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                StatusCode::PRECONDITION_FAILED,
                "this object was uploaded already",
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "storing an upload failed");
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the upload could not be stored",
            );
        }
    }
    // S3's ObjectCreated -> the media function, in-process and before answering.
    match cirrus_media::process(routes.disk.as_ref(), &routes.limits, &key).await {
        Ok(outcome) => tracing::debug!(key = %key, ?outcome, "media processed"),
        Err(err) => tracing::error!(key = %key, error = ?err, "media processing failed"),
    }
    let mut response = StatusCode::OK.into_response();
    allow_any_origin(response.headers_mut());
    response
}

/// Streams `body` into `path`: `Ok(false)` unless it is exactly `length` bytes.
async fn receive(body: Body, path: &std::path::Path, length: u64) -> std::io::Result<bool> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        received += chunk.len() as u64;
        if received > length {
            return Ok(false);
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(received == length)
}

/// `GET /media/{key}`: an object through a `media.download` URL.
async fn download(
    State(routes): State<Arc<Routes>>,
    Path(rest): Path<String>,
    Query(query): Query<SignedQuery>,
) -> Response {
    let Some(key) = media_key(&rest) else {
        return refuse(StatusCode::NOT_FOUND, "no such media key");
    };
    if let Err(err) = routes.disk.verify("GET", &key, &query, None) {
        return refused(err);
    }
    let (file, info) = match routes.disk.open_object(&key).await {
        Ok(Some(found)) => found,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "no such object"),
        Err(err) => {
            tracing::error!(error = %err, "reading a media object failed");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the object could not be read");
        }
    };
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut chunk = vec![0; 64 * 1024];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok::<_, std::io::Error>(chunk), file))
            }
            Err(err) => Some((Err(err), file)),
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    let content_type = info
        .content_type
        .and_then(|t| HeaderValue::from_str(&t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    // Served as stored: never sniffed into something a browser would run, never a page on
    // this origin (it also serves the APIs): the uploader's bytes are a download, and whatever
    // is shown runs sandboxed, without scripts or this origin's cookies.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; img-src 'self'; media-src 'self'"),
    );
    if !key.is_rendition() {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    allow_any_origin(headers);
    response
}
