//! Media uploads and downloads through presigned URLs, and the check that a message only refers to
//! media its sender uploaded and that passed processing.
//!
//! Who may do what:
//! - `media.upload`: any signed-in user (not guests). The server picks the object's name under the
//!   caller's prefix (`media/<caller>/<kind>-<random>/original`); the client only chooses the kind,
//!   content type and size, all three bound into the URL's signature.
//! - `media.download`: any signed-in user holding the media id. Ids carry 122 random bits, so
//!   holding one means having been given it (in a message, typically), as a Tencent IM media URL
//!   is a bearer URL. Only processed media (with a manifest) can be downloaded.
//! - `msg.send`: an element may refer only to media the sender uploaded and that passed
//!   processing ([`verify_media`]); elements with an external `url` are not checked.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::limits::Limits;
use crate::media::{
    MAX_MANIFEST_BYTES, MAX_URL_EXPIRY, Manifest, MediaId, MediaKind, Variant, check_content_type,
};
use crate::ports::MediaStore;
use crate::protocol::media::{DownloadReply, DownloadRequest, UploadReply, UploadRequest};
use crate::service::{Caller, Ports, StoreSource};
use std::sync::Arc;
use std::time::Duration;

/// `media.upload` and `media.download` over the media store.
#[derive(Clone)]
pub struct MediaService {
    ports: MediaPorts,
}

/// What media URLs use.
#[derive(Clone)]
pub struct MediaPorts {
    /// The media objects; absent where the deployment has no media storage.
    pub media: Option<Arc<dyn MediaStore>>,
    /// Size limits and URL lifetimes.
    pub limits: Limits,
}

impl MediaPorts {
    /// Media's ports out of the process's.
    pub fn of<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self {
            media: ports.media.clone(),
            limits: ports.limits.clone(),
        }
    }
}

impl MediaService {
    /// A media service over `ports` (`ports.media` may be absent: the actions then fail).
    pub fn new(ports: MediaPorts) -> Self {
        Self { ports }
    }

    /// A media service over the process's ports.
    pub fn from_ports<S: StoreSource>(ports: &Ports<S>) -> Self {
        Self::new(MediaPorts::of(ports))
    }

    fn store(&self) -> Result<&dyn MediaStore> {
        self.ports
            .media
            .as_deref()
            .ok_or(Error::Forbidden("this deployment has no media storage"))
    }

    /// `media.upload`: a presigned `PUT` for a new media id under the caller's prefix, binding the
    /// declared content type and exact size; refused if the kind does not take that type or the
    /// size is over the kind's limit.
    pub async fn upload(&self, caller: &Caller, request: UploadRequest) -> Result<UploadReply> {
        let UploadRequest {
            kind,
            content_type,
            size,
        } = request;
        check_content_type(&content_type)?;
        if !kind.accepts(&content_type) {
            return Err(Error::InvalidField(
                match kind {
                    MediaKind::Image => "an image must be image/png, image/jpeg, image/gif or image/webp",
                    MediaKind::Sound => "a sound must have an audio/* content type",
                    MediaKind::Video => "a video must have a video/* content type",
                    MediaKind::File => "unacceptable content type",
                }
                .to_owned(),
            ));
        }
        if size == 0 {
            return Err(Error::InvalidField("size must be at least 1 byte".to_owned()));
        }
        let max = kind.max_bytes(&self.ports.limits);
        if size > max {
            return Err(Error::LimitExceeded(format!(
                "a {} upload is at most {max} bytes",
                kind.name()
            )));
        }
        let store = self.store()?;
        let media_id = MediaId::generate(&caller.user, kind);
        let key = media_id.variant_key(Variant::Original);
        let expires = ttl(self.ports.limits.media_upload_ttl_ms);
        let url = store.upload_url(&key, &content_type, size, expires).await?;
        tracing::debug!(media = %media_id, size, "upload URL issued");
        Ok(UploadReply {
            media_id,
            request: url.into(),
        })
    }

    /// `media.download`: a presigned, expiring `GET` for one rendition of processed media, with
    /// what the manifest says of it. Media still being processed is `media_not_ready`; media that
    /// does not exist (or failed its checks and was deleted) is `not_found`.
    pub async fn download(&self, _caller: &Caller, request: DownloadRequest) -> Result<DownloadReply> {
        let media_id = MediaId::parse(&request.media_id)
            .map_err(|_| Error::InvalidField("mediaId is not a media id".to_owned()))?;
        let store = self.store()?;
        let Some(manifest) = read_manifest(store, &media_id).await? else {
            let uploaded = store.head(&media_id.variant_key(Variant::Original)).await?;
            return Err(match uploaded {
                Some(_) => Error::MediaNotReady(media_id.to_string()),
                None => Error::NotFound("media"),
            });
        };
        let variant = request.rendition.unwrap_or(Variant::Original);
        let rendition = manifest.renditions.get(&variant).ok_or_else(|| {
            Error::InvalidField(format!(
                "this {} has no {} rendition",
                manifest.kind.name(),
                variant.name()
            ))
        })?;
        let expires = ttl(self.ports.limits.media_download_ttl_ms);
        let url = store
            .download_url(&media_id.variant_key(rendition.object), expires)
            .await?;
        Ok(DownloadReply {
            media_id,
            rendition: variant,
            request: url.into(),
            content_type: rendition.content_type.clone(),
            size: rendition.size,
            width: rendition.width,
            height: rendition.height,
        })
    }
}

/// A URL lifetime from a limit in ms: at least a second, at most [`MAX_URL_EXPIRY`].
fn ttl(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or_default()).clamp(Duration::from_secs(1), MAX_URL_EXPIRY)
}

/// The manifest of `media_id`, if processing wrote one.
pub async fn read_manifest(store: &dyn MediaStore, media_id: &MediaId) -> Result<Option<Manifest>> {
    let Some(bytes) = store.read(&media_id.manifest_key(), MAX_MANIFEST_BYTES).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(Error::store)
}

/// Checks that every media id in `body` names media `sender` uploaded, of the kind the element
/// needs, and that passed processing (its manifest exists); `Error::MediaNotReady` otherwise. An
/// element that refers to an external `url` only is not checked. With no media store, no media id
/// can be ready.
pub async fn verify_media(media: Option<&dyn MediaStore>, sender: &UserId, body: &[Element]) -> Result<()> {
    let refs = media_refs(body);
    if refs.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<MediaId> = Vec::with_capacity(refs.len());
    for (index, wanted, raw) in refs {
        let not_ready = || Error::MediaNotReady(raw.chars().take(80).collect());
        let id = MediaId::parse(raw).map_err(|_| not_ready())?;
        if id.owner() != sender.as_str() {
            return Err(not_ready());
        }
        if wanted.is_some_and(|kind| kind != id.kind()) {
            return Err(Error::InvalidElement {
                index,
                reason: "mediaId is an upload of another kind",
            });
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let Some(store) = media else {
        return Err(Error::MediaNotReady(ids[0].to_string()));
    };
    let heads = futures_util::future::try_join_all(
        ids.iter()
            .map(|id| async move { store.head(&id.manifest_key()).await }),
    )
    .await?;
    match ids.iter().zip(heads).find(|(_, head)| head.is_none()) {
        Some((id, _)) => Err(Error::MediaNotReady(id.to_string())),
        None => Ok(()),
    }
}

/// Every media id in `body`: the element's index, the kind the reference needs (any, for a file),
/// and the id as written.
fn media_refs(body: &[Element]) -> Vec<(usize, Option<MediaKind>, &str)> {
    let mut refs = Vec::new();
    for (index, element) in body.iter().enumerate() {
        let wanted: Vec<(Option<MediaKind>, &Option<String>)> = match element {
            Element::Image {
                original,
                large,
                thumbnail,
                ..
            } => [Some(original), large.as_ref(), thumbnail.as_ref()]
                .into_iter()
                .flatten()
                .map(|rendition| (Some(MediaKind::Image), &rendition.media.media_id))
                .collect(),
            Element::Sound { media, .. } => vec![(Some(MediaKind::Sound), &media.media_id)],
            Element::File { media, .. } => vec![(None, &media.media_id)],
            Element::Video { media, snapshot, .. } => vec![
                (Some(MediaKind::Video), &media.media_id),
                (Some(MediaKind::Image), &snapshot.media.media_id),
            ],
            Element::Text { .. }
            | Element::Location { .. }
            | Element::Face { .. }
            | Element::Custom { .. } => Vec::new(),
        };
        refs.extend(
            wanted
                .into_iter()
                .filter_map(|(kind, id)| Some((index, kind, id.as_deref()?))),
        );
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::media::{MediaKey, ObjectInfo, PresignedUrl};
    use async_trait::async_trait;
    use bytes::Bytes;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Objects in a map; URLs are not needed here.
    #[derive(Default)]
    struct Objects(Mutex<HashMap<String, Bytes>>);

    #[async_trait]
    impl MediaStore for Objects {
        async fn upload_url(&self, _: &MediaKey, _: &str, _: u64, _: Duration) -> Result<PresignedUrl> {
            unimplemented!("not used")
        }
        async fn download_url(&self, _: &MediaKey, _: Duration) -> Result<PresignedUrl> {
            unimplemented!("not used")
        }
        async fn head(&self, key: &MediaKey) -> Result<Option<ObjectInfo>> {
            Ok(self.0.lock().unwrap().get(key.as_str()).map(|b| ObjectInfo {
                size: b.len() as u64,
                content_type: None,
            }))
        }
        async fn read(&self, key: &MediaKey, max_len: u64) -> Result<Option<Bytes>> {
            let objects = self.0.lock().unwrap();
            Ok(objects
                .get(key.as_str())
                .map(|b| b.slice(..b.len().min(max_len as usize))))
        }
        async fn put(&self, key: &MediaKey, _: &str, body: Bytes) -> Result<()> {
            self.0.lock().unwrap().insert(key.as_str().to_owned(), body);
            Ok(())
        }
        async fn delete(&self, key: &MediaKey) -> Result<()> {
            self.0.lock().unwrap().remove(key.as_str());
            Ok(())
        }
    }

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn body(value: serde_json::Value) -> Vec<Element> {
        serde_json::from_value(value).unwrap()
    }

    /// An upload of `kind` by `owner`, processed (manifest written) or not.
    async fn uploaded(store: &Objects, owner: &str, kind: MediaKind, processed: bool) -> MediaId {
        let id = MediaId::generate(&user(owner), kind);
        store
            .put(
                &id.variant_key(Variant::Original),
                "x/y",
                Bytes::from_static(b"x"),
            )
            .await
            .unwrap();
        if processed {
            store
                .put(&id.manifest_key(), "application/json", Bytes::from_static(b"{}"))
                .await
                .unwrap();
        }
        id
    }

    #[tokio::test]
    async fn given_processed_media_of_the_sender_when_verified_then_accepted() {
        // GIVEN alice's processed image and file
        let store = Objects::default();
        let image = uploaded(&store, "alice", MediaKind::Image, true).await;
        let file = uploaded(&store, "alice", MediaKind::File, true).await;
        // WHEN a body refers to them (and to an external URL)
        let body = body(json!([
            {"type": "image", "format": "png", "original": {"mediaId": image.as_str()},
             "thumbnail": {"mediaId": image.as_str()}},
            {"type": "file", "mediaId": file.as_str(), "name": "a.pdf", "size": 1},
            {"type": "sound", "url": "https://cdn.example/a.m4a", "duration": 1, "size": 1},
            {"type": "text", "text": "hi"}
        ]));
        // THEN it passes
        verify_media(Some(&store), &user("alice"), &body).await.unwrap();
        // AND a body without media passes without a store
        let text = self::body(json!([{"type": "text", "text": "hi"}]));
        verify_media(None, &user("alice"), &text).await.unwrap();
    }

    #[tokio::test]
    async fn given_unprocessed_foreign_or_unknown_media_when_verified_then_media_not_ready() {
        let store = Objects::default();
        let pending = uploaded(&store, "alice", MediaKind::Image, false).await;
        let bobs = uploaded(&store, "bob", MediaKind::Image, true).await;
        let never = MediaId::generate(&user("alice"), MediaKind::Image);
        for id in [
            pending.as_str(),
            bobs.as_str(),
            never.as_str(),
            "m1",
            "alice/../x",
        ] {
            // WHEN alice sends an image referring to it
            let body = body(json!([{"type": "image", "format": "png", "original": {"mediaId": id}}]));
            let err = verify_media(Some(&store), &user("alice"), &body)
                .await
                .unwrap_err();
            // THEN it is media_not_ready, naming the id
            assert_eq!(err.code(), ErrorCode::MediaNotReady, "{id}: {err:?}");
            assert!(err.to_string().contains(&id[..2]), "{err}");
        }
        // AND with no media store nothing is ready
        let ok = uploaded(&store, "alice", MediaKind::Image, true).await;
        let body = body(json!([{"type": "image", "format": "png", "original": {"mediaId": ok.as_str()}}]));
        let err = verify_media(None, &user("alice"), &body).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::MediaNotReady);
    }

    #[tokio::test]
    async fn given_media_of_another_kind_when_verified_then_the_element_is_invalid() {
        // GIVEN alice's processed file
        let store = Objects::default();
        let file = uploaded(&store, "alice", MediaKind::File, true).await;
        // WHEN she sends it as an image THEN the element is refused
        let body = body(json!([
            {"type": "text", "text": "look"},
            {"type": "image", "format": "png", "original": {"mediaId": file.as_str()}}
        ]));
        let err = verify_media(Some(&store), &user("alice"), &body)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidElement { index: 1, .. }), "{err:?}");
        // AND a video's snapshot must be an image
        let video = uploaded(&store, "alice", MediaKind::Video, true).await;
        let body = self::body(
            json!([{"type": "video", "mediaId": video.as_str(), "duration": 1, "size": 1,
            "snapshot": {"mediaId": video.as_str()}}]),
        );
        assert!(verify_media(Some(&store), &user("alice"), &body).await.is_err());
    }

    #[test]
    fn given_url_lifetimes_then_they_stay_within_a_second_and_seven_days() {
        assert_eq!(ttl(-5), Duration::from_secs(1));
        assert_eq!(ttl(900_000), Duration::from_secs(900));
        assert_eq!(ttl(i64::MAX), MAX_URL_EXPIRY);
    }
}
