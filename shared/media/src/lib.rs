//! Cirrus media processing: what happens to an upload after its `PUT` — the `media` function's
//! S3 `ObjectCreated` handler ([`s3_event`]) and the local stack's hook after a `PUT` ([`process`]).
//! The `media.upload` / `media.download` routes that hand out the URLs live in cirrus-handlers.
//!
//! Long because of its unit tests: the code before them is about 330 lines.
//!
//! Processing an upload (`media/<owner>/<kind>-<hex>/original`): the object's real type is
//! checked against the declared kind by its content (an image must decode as the PNG, JPEG, GIF or
//! WebP it was declared as, within the pixel limit; a sound or video must start like an audio or
//! video container), and its size against the kind's limit. An image gets a `large` (720 px) and a
//! `thumbnail` (198 px) rendition, scaled on the longest side (JPEG, or PNG where the image has
//! transparency; an image that already fits serves as its own rendition). Last, `manifest.json`
//! records the type, size, dimensions and renditions: its presence is what makes the media id
//! usable in messages. An upload that fails a check is deleted, with anything made from it.

use aws_lambda_events::s3::S3Event;
use bytes::Bytes;
use cirrus_core::error::{Error, Result};
use cirrus_core::limits::Limits;
use cirrus_core::media::{
    LARGE_SIDE, MANIFEST, Manifest, MediaId, MediaKey, MediaKind, StoredRendition, THUMBNAIL_SIDE, Variant,
    essence, fit, sniff,
};
use cirrus_core::ports::MediaStore;
use image::{DynamicImage, ImageDecoder as _, ImageFormat};
use std::collections::BTreeMap;
use std::io::Cursor;

/// Bytes of a sound or video read to recognise its container.
const SNIFF_BYTES: u64 = 4096;
/// JPEG quality of the renditions.
const JPEG_QUALITY: u8 = 85;

/// What processing made of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// The upload passed; its manifest is written.
    Ready(Manifest),
    /// The upload failed a check and was deleted.
    Rejected(&'static str),
    /// There is no such object (deleted meanwhile, or a duplicate event after a rejection).
    Missing,
    /// The key is not an upload (`media/<owner>/<kind>-<hex>/original`): nothing to do.
    Ignored,
}

/// The S3 `ObjectCreated` handler of the `media` function: processes every record's object, in
/// the bucket the record names (`open` gives the store of a bucket). A store failure fails the
/// invocation, so that Lambda retries it; a rejected upload does not.
#[tracing::instrument(level = "debug", skip_all, fields(records = event.records.len()))]
pub async fn s3_event<S: MediaStore>(
    open: impl Fn(&str) -> S,
    limits: &Limits,
    event: S3Event,
) -> Result<()> {
    for record in event.records {
        let bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
        let raw = record.s3.object.key.as_deref().unwrap_or_default();
        let Some(key) = decode_key(raw).and_then(|key| MediaKey::parse(key).ok()) else {
            tracing::warn!(bucket, key = raw, "not a media key; skipped");
            continue;
        };
        let outcome = process(&open(bucket), limits, &key).await?;
        tracing::info!(bucket, key = %key, outcome = ?Outcome(&outcome), "media processed");
    }
    Ok(())
}

/// A short form of an outcome for the log.
struct Outcome<'a>(&'a Processed);

impl std::fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Processed::Ready(manifest) => {
                write!(f, "ready ({}, {} bytes)", manifest.content_type, manifest.size)
            }
            Processed::Rejected(reason) => write!(f, "rejected ({reason})"),
            Processed::Missing => f.write_str("missing"),
            Processed::Ignored => f.write_str("ignored"),
        }
    }
}

/// An S3 event's object key: URL-encoded, with `+` for a space.
fn decode_key(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Processes the upload at `key`: checks it, makes an image's renditions and writes the manifest,
/// or deletes it. Idempotent: S3 may deliver an event twice.
pub async fn process(store: &dyn MediaStore, limits: &Limits, key: &MediaKey) -> Result<Processed> {
    let Some((media_id, object)) = MediaId::from_key(key) else {
        return Ok(Processed::Ignored);
    };
    if object != Variant::Original.name() {
        return Ok(Processed::Ignored);
    }
    let Some(info) = store.head(key).await? else {
        return Ok(Processed::Missing);
    };
    let kind = media_id.kind();
    let declared = info.content_type.clone().unwrap_or_default();
    let verdict = if info.size == 0 {
        Err("the upload is empty")
    } else if info.size > kind.max_bytes(limits) {
        Err("the upload is larger than its kind allows")
    } else {
        match kind {
            MediaKind::Image => {
                let Some(bytes) = store.read(key, info.size).await? else {
                    return Ok(Processed::Missing);
                };
                let max_pixels = limits.max_image_pixels;
                let rendered = tokio::task::spawn_blocking(move || render(&bytes, &declared, max_pixels))
                    .await
                    .map_err(Error::store)?;
                match rendered {
                    Ok(rendered) => Ok(store_renditions(store, &media_id, info.size, rendered).await?),
                    Err(reason) => Err(reason),
                }
            }
            MediaKind::Sound | MediaKind::Video => {
                let Some(head) = store.read(key, SNIFF_BYTES).await? else {
                    return Ok(Processed::Missing);
                };
                match sniff(&head, kind) {
                    Some(_) => Ok(plain_manifest(kind, &declared, info.size)),
                    None if kind == MediaKind::Sound => Err("the content is not audio"),
                    None => Err("the content is not a video"),
                }
            }
            MediaKind::File => Ok(plain_manifest(kind, &declared, info.size)),
        }
    };
    match verdict {
        Ok(manifest) => {
            let json = serde_json::to_vec(&manifest).map_err(Error::store)?;
            store
                .put(&media_id.manifest_key(), "application/json", json.into())
                .await?;
            Ok(Processed::Ready(manifest))
        }
        Err(reason) => {
            // The manifest first: whatever remains, the id is never ready.
            for object in [MANIFEST, "thumbnail", "large", "original"] {
                store.delete(&media_id.key(object)).await?;
            }
            Ok(Processed::Rejected(reason))
        }
    }
}

/// The manifest of a sound, video or file: only the original, with its declared content type.
fn plain_manifest(kind: MediaKind, declared: &str, size: u64) -> Manifest {
    let content_type = if declared.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        declared.to_owned()
    };
    let original = StoredRendition {
        object: Variant::Original,
        content_type: content_type.clone(),
        size,
        width: None,
        height: None,
    };
    Manifest {
        kind,
        content_type,
        size,
        width: None,
        height: None,
        renditions: BTreeMap::from([(Variant::Original, original)]),
    }
}

/// An image checked and scaled: its real type and size, and the encoded renditions that are
/// smaller than the original.
#[derive(Debug)]
struct Rendered {
    content_type: &'static str,
    width: u32,
    height: u32,
    scaled: Vec<(Variant, Scaled)>,
}

#[derive(Debug)]
struct Scaled {
    bytes: Bytes,
    content_type: &'static str,
    width: u32,
    height: u32,
}

/// Decodes an image of at most `max_pixels` that must be the type `declared`, and scales it down
/// to the `large` and `thumbnail` sizes where it is bigger than them.
fn render(bytes: &[u8], declared: &str, max_pixels: u64) -> std::result::Result<Rendered, &'static str> {
    let format = image::guess_format(bytes).map_err(|_| "the content is not an image")?;
    let content_type = match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Gif => "image/gif",
        ImageFormat::WebP => "image/webp",
        _ => return Err("the image is not PNG, JPEG, GIF or WebP"),
    };
    if essence(declared) != content_type {
        return Err("the image is not of the declared type");
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut decode_limits = image::Limits::default();
    // The decoded image (up to 4 bytes a pixel) and the decoder's working memory.
    decode_limits.max_alloc = Some(max_pixels.saturating_mul(4).saturating_add(64 << 20));
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(|_| "the image does not decode")?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err("the image has more pixels than allowed");
    }
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| "the image does not decode")?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let (width, height) = (image.width(), image.height());
    let transparent = has_transparency(&image);
    let mut scaled = Vec::new();
    // The thumbnail is scaled from the large rendition when there is one: far fewer pixels.
    let mut source = &image;
    let large;
    if let Some((w, h)) = fit(width, height, LARGE_SIDE) {
        large = image.thumbnail_exact(w, h);
        scaled.push((Variant::Large, encode(&large, transparent)?));
        source = &large;
    }
    if let Some((w, h)) = fit(width, height, THUMBNAIL_SIDE) {
        scaled.push((
            Variant::Thumbnail,
            encode(&source.thumbnail_exact(w, h), transparent)?,
        ));
    }
    Ok(Rendered {
        content_type,
        width,
        height,
        scaled,
    })
}

/// Whether any pixel is less than opaque. An alpha channel alone says nothing: GIFs and many
/// PNGs always decode with one.
fn has_transparency(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageRgba8(pixels) => pixels.pixels().any(|p| p.0[3] < u8::MAX),
        DynamicImage::ImageLumaA8(pixels) => pixels.pixels().any(|p| p.0[1] < u8::MAX),
        other if other.color().has_alpha() => other.to_rgba8().pixels().any(|p| p.0[3] < u8::MAX),
        _ => false,
    }
}

/// A rendition as JPEG, or PNG where the image has transparency.
fn encode(image: &DynamicImage, transparent: bool) -> std::result::Result<Scaled, &'static str> {
    let mut out = Vec::new();
    let content_type = if transparent {
        image
            .to_rgba8()
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(|_| "the image could not be re-encoded")?;
        "image/png"
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        image
            .to_rgb8()
            .write_with_encoder(encoder)
            .map_err(|_| "the image could not be re-encoded")?;
        "image/jpeg"
    };
    Ok(Scaled {
        bytes: out.into(),
        content_type,
        width: image.width(),
        height: image.height(),
    })
}

/// Writes the scaled renditions and returns the image's manifest.
async fn store_renditions(
    store: &dyn MediaStore,
    media_id: &MediaId,
    size: u64,
    rendered: Rendered,
) -> Result<Manifest> {
    let original = StoredRendition {
        object: Variant::Original,
        content_type: rendered.content_type.to_owned(),
        size,
        width: Some(rendered.width),
        height: Some(rendered.height),
    };
    let mut renditions = BTreeMap::from([
        (Variant::Original, original.clone()),
        (Variant::Large, original.clone()),
        (Variant::Thumbnail, original),
    ]);
    for (variant, scaled) in rendered.scaled {
        let length = scaled.bytes.len() as u64;
        store
            .put(&media_id.variant_key(variant), scaled.content_type, scaled.bytes)
            .await?;
        renditions.insert(
            variant,
            StoredRendition {
                object: variant,
                content_type: scaled.content_type.to_owned(),
                size: length,
                width: Some(scaled.width),
                height: Some(scaled.height),
            },
        );
    }
    Ok(Manifest {
        kind: MediaKind::Image,
        content_type: rendered.content_type.to_owned(),
        size,
        width: Some(rendered.width),
        height: Some(rendered.height),
        renditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use cirrus_core::ids::UserId;
    use cirrus_core::media::{ObjectInfo, PresignedUrl};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Objects in a map, with their content types.
    #[derive(Default, Clone)]
    struct Objects(Arc<Mutex<HashMap<String, (String, Bytes)>>>);

    #[async_trait]
    impl MediaStore for Objects {
        async fn upload_url(&self, _: &MediaKey, _: &str, _: u64, _: Duration) -> Result<PresignedUrl> {
            unimplemented!("not used")
        }
        async fn download_url(&self, _: &MediaKey, _: Duration) -> Result<PresignedUrl> {
            unimplemented!("not used")
        }
        async fn head(&self, key: &MediaKey) -> Result<Option<ObjectInfo>> {
            Ok(self.0.lock().unwrap().get(key.as_str()).map(|(t, b)| ObjectInfo {
                size: b.len() as u64,
                content_type: Some(t.clone()),
            }))
        }
        async fn read(&self, key: &MediaKey, max_len: u64) -> Result<Option<Bytes>> {
            let objects = self.0.lock().unwrap();
            Ok(objects
                .get(key.as_str())
                .map(|(_, b)| b.slice(..b.len().min(max_len as usize))))
        }
        async fn put(&self, key: &MediaKey, content_type: &str, body: Bytes) -> Result<()> {
            let mut objects = self.0.lock().unwrap();
            objects.insert(key.as_str().to_owned(), (content_type.to_owned(), body));
            Ok(())
        }
        async fn delete(&self, key: &MediaKey) -> Result<()> {
            self.0.lock().unwrap().remove(key.as_str());
            Ok(())
        }
    }

    impl Objects {
        fn get(&self, key: &MediaKey) -> Option<(String, Bytes)> {
            self.0.lock().unwrap().get(key.as_str()).cloned()
        }
    }

    fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let image = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_fn(width, height, |x, y| {
                image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 128])
            }))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
            }))
        };
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// A GIF of `width` x `height`, with a transparent corner when `transparent`.
    fn gif(width: u32, height: u32, transparent: bool) -> Vec<u8> {
        let image = image::RgbaImage::from_fn(width, height, |x, y| {
            let alpha = if transparent && x < 10 && y < 10 { 0 } else { 255 };
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, alpha])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(image)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Gif)
            .unwrap();
        out
    }

    /// An upload of `kind` by alice, stored with `content_type`.
    async fn upload(store: &Objects, kind: MediaKind, content_type: &str, bytes: Vec<u8>) -> MediaId {
        let id = MediaId::generate(&UserId::parse("alice").unwrap(), kind);
        store
            .put(&id.variant_key(Variant::Original), content_type, bytes.into())
            .await
            .unwrap();
        id
    }

    fn dimensions(bytes: &[u8]) -> (u32, u32) {
        let image = image::load_from_memory(bytes).unwrap();
        (image.width(), image.height())
    }

    #[tokio::test]
    async fn given_a_large_png_when_processed_then_large_and_thumbnail_renditions_and_a_manifest() {
        // GIVEN a 1440x1080 PNG uploaded as image/png
        let store = Objects::default();
        let id = upload(&store, MediaKind::Image, "image/png", png(1440, 1080, false)).await;
        // WHEN processed
        let outcome = process(&store, &Limits::default(), &id.variant_key(Variant::Original))
            .await
            .unwrap();
        // THEN the manifest says what it is
        let Processed::Ready(manifest) = outcome else {
            panic!("not ready: {outcome:?}")
        };
        assert_eq!(manifest.content_type, "image/png");
        assert_eq!((manifest.width, manifest.height), (Some(1440), Some(1080)));
        // AND the renditions are JPEGs (no transparency) of 720 and 198 px on the longest side
        for (variant, size) in [(Variant::Large, (720, 540)), (Variant::Thumbnail, (198, 149))] {
            let (content_type, bytes) = store.get(&id.variant_key(variant)).unwrap();
            assert_eq!(content_type, "image/jpeg");
            assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
            assert_eq!(dimensions(&bytes), size);
            let listed = &manifest.renditions[&variant];
            assert_eq!((listed.object, listed.size), (variant, bytes.len() as u64));
            assert_eq!((listed.width, listed.height), (Some(size.0), Some(size.1)));
        }
        // AND the manifest is stored, and processing again gives the same
        let (_, stored) = store.get(&id.manifest_key()).unwrap();
        assert_eq!(serde_json::from_slice::<Manifest>(&stored).unwrap(), manifest);
        let again = process(&store, &Limits::default(), &id.variant_key(Variant::Original))
            .await
            .unwrap();
        assert_eq!(again, Processed::Ready(manifest));
    }

    #[tokio::test]
    async fn given_a_small_transparent_png_then_the_original_serves_as_large_and_scaled_ones_keep_alpha() {
        let store = Objects::default();
        // GIVEN a 500x250 PNG with transparency WHEN processed
        let id = upload(&store, MediaKind::Image, "image/png", png(500, 250, true)).await;
        let outcome = process(&store, &Limits::default(), &id.variant_key(Variant::Original))
            .await
            .unwrap();
        let Processed::Ready(manifest) = outcome else {
            panic!("not ready: {outcome:?}")
        };
        // THEN `large` is the original itself (it fits), and the thumbnail a PNG
        assert_eq!(manifest.renditions[&Variant::Large].object, Variant::Original);
        assert!(store.get(&id.variant_key(Variant::Large)).is_none());
        let (content_type, bytes) = store.get(&id.variant_key(Variant::Thumbnail)).unwrap();
        assert_eq!(content_type, "image/png");
        assert_eq!(dimensions(&bytes), (198, 99));
    }

    #[tokio::test]
    async fn given_an_opaque_gif_then_jpeg_renditions_and_given_a_transparent_one_then_png() {
        for (transparent, expected) in [(false, ImageFormat::Jpeg), (true, ImageFormat::Png)] {
            // GIVEN an 800x400 GIF (it always decodes with an alpha channel)
            let store = Objects::default();
            let id = upload(&store, MediaKind::Image, "image/gif", gif(800, 400, transparent)).await;
            // WHEN processed
            let outcome = process(&store, &Limits::default(), &id.variant_key(Variant::Original))
                .await
                .unwrap();
            let Processed::Ready(manifest) = outcome else {
                panic!("not ready: {outcome:?}")
            };
            assert_eq!(manifest.content_type, "image/gif");
            // THEN the renditions are JPEG when every pixel is opaque, PNG otherwise
            for variant in [Variant::Large, Variant::Thumbnail] {
                let (content_type, bytes) = store.get(&id.variant_key(variant)).unwrap();
                assert_eq!(image::guess_format(&bytes).unwrap(), expected, "{variant:?}");
                assert_eq!(content_type, expected.to_mime_type(), "{variant:?}");
            }
        }
    }

    #[tokio::test]
    async fn given_uploads_whose_content_is_not_what_was_declared_then_they_are_deleted() {
        let store = Objects::default();
        let limits = Limits::default();
        let cases = [
            (
                MediaKind::Image,
                "image/png",
                b"<html><script>alert(1)</script>".to_vec(),
            ),
            (MediaKind::Image, "image/jpeg", png(10, 10, false)),
            (MediaKind::Image, "image/png", png(10, 10, false)[..40].to_vec()),
            (
                MediaKind::Sound,
                "audio/mpeg",
                b"MZ\x90\0 not audio at all".to_vec(),
            ),
            (MediaKind::Video, "video/mp4", png(10, 10, false)),
        ];
        for (kind, content_type, bytes) in cases {
            // GIVEN such an upload WHEN processed
            let id = upload(&store, kind, content_type, bytes).await;
            let outcome = process(&store, &limits, &id.variant_key(Variant::Original))
                .await
                .unwrap();
            // THEN it is rejected and nothing of it stays
            assert!(
                matches!(outcome, Processed::Rejected(_)),
                "{kind:?} {content_type}: {outcome:?}"
            );
            assert!(store.get(&id.variant_key(Variant::Original)).is_none());
            assert!(store.get(&id.manifest_key()).is_none());
        }
        // AND an image over the pixel limit is rejected too
        let few = Limits {
            max_image_pixels: 99,
            ..Limits::default()
        };
        let id = upload(&store, MediaKind::Image, "image/png", png(10, 10, false)).await;
        let outcome = process(&store, &few, &id.variant_key(Variant::Original))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            Processed::Rejected("the image has more pixels than allowed")
        );
    }

    #[tokio::test]
    async fn given_sound_video_and_file_uploads_then_only_the_manifest_is_added() {
        let store = Objects::default();
        let limits = Limits::default();
        let cases = [
            (
                MediaKind::Sound,
                "audio/mpeg",
                b"ID3\x04\0\0\0\0\0\0rest".to_vec(),
            ),
            (
                MediaKind::Video,
                "video/mp4",
                b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec(),
            ),
            (MediaKind::File, "application/pdf", b"%PDF-1.7 whatever".to_vec()),
        ];
        for (kind, content_type, bytes) in cases {
            let size = bytes.len() as u64;
            let id = upload(&store, kind, content_type, bytes).await;
            let outcome = process(&store, &limits, &id.variant_key(Variant::Original))
                .await
                .unwrap();
            let Processed::Ready(manifest) = outcome else {
                panic!("{kind:?}: {outcome:?}")
            };
            assert_eq!((manifest.kind, manifest.size), (kind, size));
            assert_eq!(manifest.content_type, content_type);
            assert_eq!(manifest.renditions.len(), 1);
        }
    }

    #[tokio::test]
    async fn given_keys_that_are_not_uploads_then_nothing_happens() {
        let store = Objects::default();
        let id = upload(&store, MediaKind::Image, "image/png", png(1000, 10, false)).await;
        for key in [
            id.variant_key(Variant::Large),
            id.manifest_key(),
            MediaKey::parse("media/alice/photo.png").unwrap(),
        ] {
            let outcome = process(&store, &Limits::default(), &key).await.unwrap();
            assert_eq!(outcome, Processed::Ignored, "{key}");
        }
        let gone = MediaId::generate(&UserId::parse("bob").unwrap(), MediaKind::File);
        let outcome = process(&store, &Limits::default(), &gone.variant_key(Variant::Original))
            .await
            .unwrap();
        assert_eq!(outcome, Processed::Missing);
    }

    #[tokio::test]
    async fn given_an_s3_event_then_each_record_is_processed_in_its_bucket() {
        // GIVEN an upload by `a@b` (its key URL-encoded in the event, as S3 sends it)
        let store = Objects::default();
        let id = MediaId::generate(&UserId::parse("a@b").unwrap(), MediaKind::Image);
        let key = id.variant_key(Variant::Original);
        store
            .put(&key, "image/png", png(800, 800, false).into())
            .await
            .unwrap();
        let event: S3Event = serde_json::from_value(serde_json::json!({"Records": [
            {"eventTime": "2026-01-01T00:00:00Z", "userIdentity": {}, "requestParameters": {},
             "s3": {"bucket": {"name": "the-bucket"}, "object": {"key": key.as_str().replace('@', "%40")}}},
            {"eventTime": "2026-01-01T00:00:00Z", "userIdentity": {}, "requestParameters": {},
             "s3": {"bucket": {"name": "the-bucket"}, "object": {"key": "elsewhere/x+y"}}}
        ]}))
        .unwrap();
        // WHEN the media function handles it
        let buckets = Mutex::new(Vec::new());
        let open = |bucket: &str| {
            buckets.lock().unwrap().push(bucket.to_owned());
            store.clone()
        };
        s3_event(open, &Limits::default(), event).await.unwrap();
        // THEN the upload is processed, in the record's bucket
        assert!(store.get(&id.manifest_key()).is_some());
        assert_eq!(*buckets.lock().unwrap(), ["the-bucket"]);
    }

    #[test]
    fn given_the_sample_event_of_infra_events_then_it_names_an_upload() {
        let event: S3Event =
            serde_json::from_str(include_str!("../../../infra/events/media-object-created.json")).unwrap();
        let raw = event.records[0].s3.object.key.as_deref().unwrap();
        let key = MediaKey::parse(decode_key(raw).unwrap()).unwrap();
        assert_eq!(MediaId::from_key(&key).unwrap().1, "original");
    }

    #[test]
    fn given_encoded_event_keys_then_they_decode() {
        assert_eq!(decode_key("media/a%40b/x").as_deref(), Some("media/a@b/x"));
        assert_eq!(decode_key("a+b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(decode_key("bad%2"), None);
        assert_eq!(decode_key("bad%zz"), None);
    }
}
