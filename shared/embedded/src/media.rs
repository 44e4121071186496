//! [`LocalMedia`]: the `MediaStore` port on the local disk, behind URLs signed with HMAC-SHA256
//! that the local stack's HTTP server serves (`PUT` / `GET {base}/media/...`).
//!
//! Layout under the root directory: `objects/<key>` holds each object's bytes, `types/<key>` its
//! content type, `staging/` uploads in flight, and `url.key` the signing key when none is given
//! (made once, so URLs survive a restart).
//!
//! A URL is `{base}/{key}?expires=<ms since the epoch>&signature=<hex>`, the signature an
//! HMAC-SHA256 over the method, the key, the expiry and, for a `PUT`, the content type and length
//! the client must send (as S3 binds them into a SigV4 presigned `PUT`). An upload URL stores once:
//! a second `PUT` to an existing object is refused, as S3 refuses it with `If-None-Match: *`.

use async_trait::async_trait;
use bytes::Bytes;
use cirrus_core::media::{MAX_URL_EXPIRY, MediaKey, ObjectInfo, PresignedUrl, check_content_type};
use cirrus_core::ports::MediaStore;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt as _;

/// Why a signed media URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    /// The `expires` or `signature` parameter is missing or malformed.
    #[error("the URL is not signed")]
    Unsigned,
    /// The signature does not match (the URL, or a signed header, was changed).
    #[error("the signature does not match")]
    BadSignature,
    /// The URL has expired.
    #[error("the URL has expired")]
    Expired,
}

/// The signature parameters of a media URL's query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct SignedQuery {
    /// When the URL stops working, ms since the epoch.
    pub expires: Option<String>,
    /// Hex HMAC-SHA256.
    pub signature: Option<String>,
}

/// Media objects on the local disk; see the module documentation.
#[derive(Clone)]
pub struct LocalMedia {
    root: PathBuf,
    base_url: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for LocalMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the signing key.
        f.debug_struct("LocalMedia")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn store_error(err: io::Error) -> cirrus_core::Error {
    cirrus_core::Error::store(err)
}

impl LocalMedia {
    /// Media under `root` (created if missing), with URLs under `base_url` (e.g.
    /// `http://127.0.0.1:8081`), signed with `key`, or with the key kept in `root/url.key` (made
    /// on first use) when `key` is `None`.
    pub fn open(
        root: impl Into<PathBuf>,
        base_url: impl Into<String>,
        key: Option<Vec<u8>>,
    ) -> io::Result<Self> {
        let root = root.into();
        for dir in ["objects", "types", "staging"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        let key = match key {
            Some(key) if !key.is_empty() => key,
            _ => Self::stored_key(&root.join("url.key"))?,
        };
        Ok(Self {
            root,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// The key in `path`, or a new random one written there (readable by the owner only).
    fn stored_key(path: &Path) -> io::Result<Vec<u8>> {
        match std::fs::read(path) {
            Ok(key) if key.len() >= 32 => return Ok(key),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
        .into_bytes();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        io::Write::write_all(&mut options.open(path)?, &key)?;
        Ok(key)
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where an object's bytes are. `MediaKey` admits no `.`/`..` segment, so this stays under
    /// the root.
    pub fn object_path(&self, key: &MediaKey) -> PathBuf {
        self.root.join("objects").join(key.as_str())
    }

    fn type_path(&self, key: &MediaKey) -> PathBuf {
        self.root.join("types").join(key.as_str())
    }

    /// A fresh file name for an upload in flight (to [`LocalMedia::commit_upload`] once complete).
    pub fn staging_path(&self) -> PathBuf {
        self.root
            .join("staging")
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    fn mac(&self, method: &str, key: &MediaKey, expires: i64, signed: Option<(&str, u64)>) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(format!("{method}\n{key}\n{expires}\n").as_bytes());
        if let Some((content_type, length)) = signed {
            mac.update(format!("{content_type}\n{length}\n").as_bytes());
        }
        mac
    }

    fn url(
        &self,
        method: &str,
        key: &MediaKey,
        expires: Duration,
        signed: Option<(&str, u64)>,
    ) -> PresignedUrl {
        let expires_at_ms = now_ms().saturating_add(i64::try_from(expires.as_millis()).unwrap_or(i64::MAX));
        let signature = hex::encode(
            self.mac(method, key, expires_at_ms, signed)
                .finalize()
                .into_bytes(),
        );
        // Keys are letters, digits, `_ - . /` and `@` (in user ids), which alone needs escaping.
        let path = key.as_str().replace('@', "%40");
        PresignedUrl {
            url: format!(
                "{}/{path}?expires={expires_at_ms}&signature={signature}",
                self.base_url
            ),
            method: method.to_owned(),
            headers: signed
                .map(|(content_type, length)| {
                    vec![
                        ("content-type".to_owned(), content_type.to_owned()),
                        ("content-length".to_owned(), length.to_string()),
                    ]
                })
                .unwrap_or_default(),
            expires_at_ms,
        }
    }

    /// Checks a request against its URL's signature: `method` on `key` with the query's
    /// parameters and, for a `PUT`, the `content-type` and `content-length` the request carries.
    pub fn verify(
        &self,
        method: &str,
        key: &MediaKey,
        query: &SignedQuery,
        signed: Option<(&str, u64)>,
    ) -> Result<(), UrlRefused> {
        let expires: i64 = query
            .expires
            .as_deref()
            .and_then(|e| e.parse().ok())
            .ok_or(UrlRefused::Unsigned)?;
        let given = query
            .signature
            .as_deref()
            .and_then(|text| hex::decode(text).ok())
            .ok_or(UrlRefused::Unsigned)?;
        // Constant-time comparison.
        self.mac(method, key, expires, signed)
            .verify_slice(&given)
            .map_err(|_| UrlRefused::BadSignature)?;
        if now_ms() >= expires {
            return Err(UrlRefused::Expired);
        }
        Ok(())
    }

    /// Moves a complete upload from `staged` to `key`, with its content type, unless an object is
    /// there already (`Ok(false)`; the staged file is removed either way).
    pub async fn commit_upload(&self, key: &MediaKey, content_type: &str, staged: &Path) -> io::Result<bool> {
        let target = self.object_path(key);
        let types = self.type_path(key);
        let staged = staged.to_owned();
        tokio::task::spawn_blocking({
            let content_type = content_type.to_owned();
            move || {
                let result = (|| {
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    if let Some(parent) = types.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    // A hard link never replaces an existing file: the no-overwrite rule, atomically.
                    match std::fs::hard_link(&staged, &target) {
                        Ok(()) => write_atomically(&types, content_type.as_bytes()).map(|()| true),
                        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                        Err(err) => Err(err),
                    }
                })();
                let _ = std::fs::remove_file(&staged);
                result
            }
        })
        .await
        .map_err(io::Error::other)?
    }

    /// The object's file, opened for reading, with its size and content type.
    pub async fn open_object(&self, key: &MediaKey) -> io::Result<Option<(tokio::fs::File, ObjectInfo)>> {
        let file = match tokio::fs::File::open(self.object_path(key)).await {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let size = file.metadata().await?.len();
        let content_type = read_type(&self.type_path(key)).await?;
        Ok(Some((file, ObjectInfo { size, content_type })))
    }
}

async fn read_type(path: &Path) -> io::Result<Option<String>> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Writes `bytes` to a temporary file next to `path` and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let temp = path.with_file_name(name);
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

fn check_expiry(expires: Duration) -> cirrus_core::Result<()> {
    if expires.is_zero() || expires > MAX_URL_EXPIRY {
        return Err(cirrus_core::Error::InvalidField(format!(
            "URL expiry of {} s is not between 1 s and {} s (7 days)",
            expires.as_secs(),
            MAX_URL_EXPIRY.as_secs()
        )));
    }
    Ok(())
}

#[async_trait]
impl MediaStore for LocalMedia {
    async fn upload_url(
        &self,
        key: &MediaKey,
        content_type: &str,
        content_length: u64,
        expires: Duration,
    ) -> cirrus_core::Result<PresignedUrl> {
        check_content_type(content_type)?;
        check_expiry(expires)?;
        Ok(self.url("PUT", key, expires, Some((content_type, content_length))))
    }

    async fn download_url(&self, key: &MediaKey, expires: Duration) -> cirrus_core::Result<PresignedUrl> {
        check_expiry(expires)?;
        Ok(self.url("GET", key, expires, None))
    }

    async fn head(&self, key: &MediaKey) -> cirrus_core::Result<Option<ObjectInfo>> {
        let size = match tokio::fs::metadata(self.object_path(key)).await {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(store_error(err)),
        };
        let content_type = read_type(&self.type_path(key)).await.map_err(store_error)?;
        Ok(Some(ObjectInfo { size, content_type }))
    }

    async fn read(&self, key: &MediaKey, max_len: u64) -> cirrus_core::Result<Option<Bytes>> {
        let Some((file, _)) = self.open_object(key).await.map_err(store_error)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.take(max_len)
            .read_to_end(&mut bytes)
            .await
            .map_err(store_error)?;
        Ok(Some(Bytes::from(bytes)))
    }

    async fn put(&self, key: &MediaKey, content_type: &str, body: Bytes) -> cirrus_core::Result<()> {
        check_content_type(content_type)?;
        let target = self.object_path(key);
        let types = self.type_path(key);
        let content_type = content_type.to_owned();
        tokio::task::spawn_blocking(move || {
            for path in [&target, &types] {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
            }
            write_atomically(&types, content_type.as_bytes())?;
            write_atomically(&target, &body)
        })
        .await
        .map_err(io::Error::other)
        .and_then(|result| result)
        .map_err(store_error)
    }

    async fn delete(&self, key: &MediaKey) -> cirrus_core::Result<()> {
        for path in [self.object_path(key), self.type_path(key)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {
                    // Drop the media id's directory once it is empty (failing while not empty).
                    if let Some(parent) = path.parent() {
                        let _ = tokio::fs::remove_dir(parent).await;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(store_error(err)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> MediaKey {
        MediaKey::parse(raw).unwrap()
    }

    fn query(url: &str) -> SignedQuery {
        let (_, query) = url.split_once('?').unwrap();
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
        };
        SignedQuery {
            expires: param("expires"),
            signature: param("signature"),
        }
    }

    fn media(dir: &Path) -> LocalMedia {
        LocalMedia::open(dir, "http://127.0.0.1:9/", None).unwrap()
    }

    #[tokio::test]
    async fn given_an_upload_url_then_only_the_signed_method_key_type_and_length_pass() {
        // GIVEN an upload URL for 5 bytes of image/png
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let object = key("media/a@b/image-1/original");
        let url = media
            .upload_url(&object, "image/png", 5, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            url.url
                .starts_with("http://127.0.0.1:9/media/a%40b/image-1/original?expires="),
            "{}",
            url.url
        );
        assert_eq!(url.method, "PUT");
        let signed = query(&url.url);
        // THEN the request it describes passes
        assert_eq!(
            media.verify("PUT", &object, &signed, Some(("image/png", 5))),
            Ok(())
        );
        // AND another type, length, method or key does not
        for (method, key, headers) in [
            ("PUT", &object, Some(("text/html", 5))),
            ("PUT", &object, Some(("image/png", 6))),
            ("GET", &object, None),
            ("PUT", &key("media/a@b/image-2/original"), Some(("image/png", 5))),
        ] {
            assert_eq!(
                media.verify(method, key, &signed, headers),
                Err(UrlRefused::BadSignature)
            );
        }
        // AND a tampered or missing signature does not
        let mut tampered = signed.clone();
        tampered.expires = Some("99999999999999".to_owned());
        assert_eq!(
            media.verify("PUT", &object, &tampered, Some(("image/png", 5))),
            Err(UrlRefused::BadSignature)
        );
        assert_eq!(
            media.verify("PUT", &object, &SignedQuery::default(), Some(("image/png", 5))),
            Err(UrlRefused::Unsigned)
        );
    }

    #[tokio::test]
    async fn given_an_expired_url_then_it_is_refused_and_a_restart_keeps_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let object = key("media/alice/file-1/original");
        let url = media(dir.path())
            .download_url(&object, Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        // WHEN checked by a store reopened on the same directory THEN it is expired, not forged
        assert_eq!(
            media(dir.path()).verify("GET", &object, &query(&url.url), None),
            Err(UrlRefused::Expired)
        );
        // AND a store with another key calls it forged
        let other = LocalMedia::open(dir.path(), "http://x", Some(b"another key".to_vec())).unwrap();
        assert_eq!(
            other.verify("GET", &object, &query(&url.url), None),
            Err(UrlRefused::BadSignature)
        );
    }

    #[tokio::test]
    async fn given_objects_when_put_read_and_deleted_then_the_store_follows() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let object = key("media/alice/image-1/large");
        assert_eq!(media.head(&object).await.unwrap(), None);
        assert_eq!(media.read(&object, 10).await.unwrap(), None);
        media
            .put(&object, "image/jpeg", Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        let head = media.head(&object).await.unwrap().unwrap();
        assert_eq!(
            (head.size, head.content_type.as_deref()),
            (10, Some("image/jpeg"))
        );
        assert_eq!(media.read(&object, 4).await.unwrap().unwrap().as_ref(), b"0123");
        assert_eq!(media.read(&object, 100).await.unwrap().unwrap().len(), 10);
        media.delete(&object).await.unwrap();
        media.delete(&object).await.unwrap();
        assert_eq!(media.head(&object).await.unwrap(), None);
    }

    #[tokio::test]
    async fn given_a_staged_upload_when_committed_twice_then_the_first_stays() {
        let dir = tempfile::tempdir().unwrap();
        let media = media(dir.path());
        let object = key("media/alice/image-1/original");
        let first = media.staging_path();
        std::fs::write(&first, b"first").unwrap();
        assert!(media.commit_upload(&object, "image/png", &first).await.unwrap());
        let second = media.staging_path();
        std::fs::write(&second, b"second").unwrap();
        assert!(!media.commit_upload(&object, "image/png", &second).await.unwrap());
        assert!(!second.exists() && !first.exists());
        assert_eq!(
            media.read(&object, 100).await.unwrap().unwrap().as_ref(),
            b"first"
        );
    }
}
