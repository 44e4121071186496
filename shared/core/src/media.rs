//! Media objects (images, files, voice) that clients upload and download directly, with
//! short-lived presigned URLs, so the bytes never pass through a Lambda function.
//!
//! Over 600 lines on purpose: keys, ids, manifests and renditions are one format, checked
//! together by the tests below (about half the file).

use crate::error::Error;
use crate::ids::UserId;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::Duration;

/// The longest a presigned URL may stay valid: SigV4 refuses anything over seven days.
pub const MAX_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A media key that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid media key: {0}")]
pub struct InvalidMediaKey(pub &'static str);

impl From<InvalidMediaKey> for Error {
    fn from(err: InvalidMediaKey) -> Self {
        Error::InvalidField(err.to_string())
    }
}

/// Where one media object lives: `media/<userId>/<name>`, the uploader's id first so that a
/// user's objects share a prefix. `<name>` is one or more `/`-separated segments of letters,
/// digits, `_`, `-` and `.`, none of them `.` or `..`; at most [`MediaKey::MAX_LEN`] bytes in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MediaKey(String);

impl MediaKey {
    /// Longest accepted key, in bytes (S3's limit).
    pub const MAX_LEN: usize = 1024;
    /// The prefix every key starts with.
    pub const PREFIX: &'static str = "media/";

    /// Validates `raw` and wraps it.
    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidMediaKey> {
        let raw = raw.into();
        if raw.len() > Self::MAX_LEN {
            return Err(InvalidMediaKey("longer than 1024 bytes"));
        }
        let rest = raw
            .strip_prefix(Self::PREFIX)
            .ok_or(InvalidMediaKey("does not start with `media/`"))?;
        let (owner, name) = rest
            .split_once('/')
            .ok_or(InvalidMediaKey("has no object name after the user id"))?;
        UserId::parse(owner).map_err(|_| InvalidMediaKey("the user id is not valid"))?;
        // A user id may be `.` or `..`, which would climb out of the prefix as a path segment.
        if owner == "." || owner == ".." {
            return Err(InvalidMediaKey("has a `.` or `..` segment"));
        }
        check_name(name)?;
        Ok(Self(raw))
    }

    /// The key of `name` uploaded by `owner`.
    pub fn new(owner: &UserId, name: &str) -> Result<Self, InvalidMediaKey> {
        Self::parse(format!("{}{owner}/{name}", Self::PREFIX))
    }

    /// The uploader's user id (the second segment).
    pub fn owner(&self) -> &str {
        // `parse` guarantees the prefix and the `/` after the user id.
        let rest = &self.0[Self::PREFIX.len()..];
        rest.split_once('/').map_or(rest, |(owner, _)| owner)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a rendition the server made (`large`, `thumbnail`), which is safe to show
    /// inline; everything else holds the uploader's bytes and is served as an attachment.
    pub fn is_rendition(&self) -> bool {
        MediaId::from_key(self).is_some_and(|(_, object)| {
            [Variant::Large, Variant::Thumbnail]
                .iter()
                .any(|variant| variant.name() == object)
        })
    }
}

/// Segments of safe characters only, so that a key is the same string in a URL path, an S3 key
/// and a file path, and can never climb out of its owner's prefix.
fn check_name(name: &str) -> Result<(), InvalidMediaKey> {
    for segment in name.split('/') {
        if segment.is_empty() {
            return Err(InvalidMediaKey("has an empty path segment"));
        }
        if segment == "." || segment == ".." {
            return Err(InvalidMediaKey("has a `.` or `..` segment"));
        }
        if !segment
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        {
            return Err(InvalidMediaKey("contains a character that is not allowed"));
        }
    }
    Ok(())
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for MediaKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for MediaKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for MediaKey {
    type Err = InvalidMediaKey;
    fn from_str(s: &str) -> Result<Self, InvalidMediaKey> {
        Self::parse(s)
    }
}

/// A request a client may make without credentials until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The full URL, signature in the query string.
    pub url: String,
    /// The HTTP method the signature is for (`PUT` or `GET`).
    pub method: String,
    /// Headers the client must send exactly as given (they are part of the signature).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working, ms since the epoch.
    pub expires_at_ms: i64,
}

/// Longest side of an image's `large` rendition, in pixels (Tencent IM's large image).
pub const LARGE_SIDE: u32 = 720;
/// Longest side of an image's `thumbnail` rendition, in pixels (Tencent IM's thumbnail).
pub const THUMBNAIL_SIDE: u32 = 198;
/// Largest manifest read back, in bytes (a manifest is a few hundred).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;
/// The image types a client may declare for `image` uploads: the formats Cirrus renders.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// What an upload is, as the client declares it; it decides the size limit, the content types
/// allowed, and how the upload is checked once stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A PNG, JPEG, GIF or WebP image; `large` and `thumbnail` renditions are made from it.
    Image,
    /// A voice clip (an `audio/*` type).
    Sound,
    /// A video (a `video/*` type).
    Video,
    /// Any file.
    File,
}

impl MediaKind {
    /// Every kind.
    pub const ALL: [MediaKind; 4] = [Self::Image, Self::Sound, Self::Video, Self::File];

    /// The wire name (also the first part of a media id's object name).
    pub fn name(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Sound => "sound",
            Self::Video => "video",
            Self::File => "file",
        }
    }

    /// The kind of a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The largest upload of this kind, in bytes.
    pub fn max_bytes(self, limits: &crate::limits::Limits) -> u64 {
        match self {
            Self::Image => limits.max_image_bytes,
            Self::Sound => limits.max_sound_bytes,
            Self::Video => limits.max_video_bytes,
            Self::File => limits.max_file_bytes,
        }
    }

    /// Whether a client may declare `content_type` (already syntax-checked) for this kind:
    /// one of [`IMAGE_TYPES`], `audio/*`, `video/*`, or anything for a file.
    pub fn accepts(self, content_type: &str) -> bool {
        let essence = essence(content_type);
        match self {
            Self::Image => IMAGE_TYPES.contains(&essence.as_str()),
            Self::Sound => essence.starts_with("audio/"),
            Self::Video => essence.starts_with("video/"),
            Self::File => true,
        }
    }
}

/// A content type's `type/subtype`, lower-cased, without parameters.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A content type as it may appear in a header and a signature: `type/subtype` and parameters,
/// visible ASCII and spaces only, at most 255 bytes, so it cannot smuggle a second header in.
pub fn check_content_type(content_type: &str) -> Result<(), Error> {
    let valid = !content_type.is_empty()
        && content_type.len() <= 255
        && essence(content_type)
            .split_once('/')
            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
        && content_type.bytes().all(|c| c.is_ascii_graphic() || c == b' ');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidField(
            "contentType must be a media type like `image/png`".to_owned(),
        ))
    }
}

/// One of the objects stored for a media id: the upload and the renditions made from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// The upload itself.
    Original,
    /// An image scaled to [`LARGE_SIDE`] on its longest side.
    Large,
    /// An image scaled to [`THUMBNAIL_SIDE`] on its longest side.
    Thumbnail,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; 3] = [Self::Original, Self::Large, Self::Thumbnail];

    /// The wire name, which is also the object's name under the media id.
    pub fn name(self) -> &'static str {
        match self {
            Self::Original => "original",
            Self::Large => "large",
            Self::Thumbnail => "thumbnail",
        }
    }

    /// The longest side of a scaled rendition.
    pub fn side(self) -> Option<u32> {
        match self {
            Self::Original => None,
            Self::Large => Some(LARGE_SIDE),
            Self::Thumbnail => Some(THUMBNAIL_SIDE),
        }
    }
}

/// The object name of a media id's manifest.
pub const MANIFEST: &str = "manifest.json";

/// An uploaded media object's id, `<owner>/<kind>-<32 hex digits>`: the uploader's user id and a
/// server-chosen random name (122 random bits, so ids cannot be guessed). Its objects live under
/// `media/<owner>/<kind>-<hex>/`: `original`, `large`, `thumbnail` and [`MANIFEST`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MediaId(String);

impl MediaId {
    /// A new random id for an upload of `kind` by `owner`.
    pub fn generate(owner: &UserId, kind: MediaKind) -> Self {
        Self(format!(
            "{owner}/{}-{}",
            kind.name(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// Validates `raw`: a valid user id (not `.` or `..`), `/`, a kind name, `-` and 32 lowercase
    /// hex digits.
    pub fn parse(raw: &str) -> Result<Self, InvalidMediaKey> {
        let (owner, name) = raw
            .split_once('/')
            .ok_or(InvalidMediaKey("a media id is <userId>/<name>"))?;
        UserId::parse(owner).map_err(|_| InvalidMediaKey("the user id is not valid"))?;
        if owner == "." || owner == ".." {
            return Err(InvalidMediaKey("has a `.` or `..` segment"));
        }
        let (kind, token) = name
            .split_once('-')
            .ok_or(InvalidMediaKey("the name is not <kind>-<hex>"))?;
        MediaKind::from_name(kind).ok_or(InvalidMediaKey("the name does not start with a kind"))?;
        if token.len() != 32 || !token.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(InvalidMediaKey("the name does not end in 32 hex digits"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The media id of an object key `media/<owner>/<kind>-<hex>/<object>`, and the object name.
    pub fn from_key(key: &MediaKey) -> Option<(Self, &str)> {
        let rest = key.as_str().strip_prefix(MediaKey::PREFIX)?;
        let (id, object) = rest.rsplit_once('/')?;
        Some((Self::parse(id).ok()?, object))
    }

    /// The uploader.
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map_or("", |(owner, _)| owner)
    }

    /// The declared kind.
    pub fn kind(&self) -> MediaKind {
        self.0
            .split_once('/')
            .and_then(|(_, name)| name.split_once('-'))
            .and_then(|(kind, _)| MediaKind::from_name(kind))
            .unwrap_or(MediaKind::File)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of one of its objects (`original`, `large`, `thumbnail`, [`MANIFEST`]).
    pub fn key(&self, object: &str) -> MediaKey {
        // `parse` checked the owner and the name; the object names are constants.
        MediaKey(format!("{}{}/{object}", MediaKey::PREFIX, self.0))
    }

    /// The key of a variant's object.
    pub fn variant_key(&self, variant: Variant) -> MediaKey {
        self.key(variant.name())
    }

    /// The key of the manifest, present once the upload is checked (and its renditions made).
    pub fn manifest_key(&self) -> MediaKey {
        self.key(MANIFEST)
    }
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MediaId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One stored rendition, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRendition {
    /// The object that holds it: its own, or the original when the image already fits.
    pub object: Variant,
    /// Its real content type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Width in pixels (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// What processing found out about an upload, stored next to it as [`MANIFEST`]: its presence
/// means the upload passed its checks and may be sent in messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The declared kind, which the content matched.
    pub kind: MediaKind,
    /// The real content type, found from the content (the declared one for files).
    pub content_type: String,
    /// Size of the original in bytes.
    pub size: u64,
    /// Width of an image in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height of an image in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The renditions that can be downloaded: `original` always, `large` and `thumbnail` for
    /// images.
    pub renditions: std::collections::BTreeMap<Variant, StoredRendition>,
}

/// What a stored object is: its size and stored content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// The content type it was stored with, if any.
    pub content_type: Option<String>,
}

/// The size of an image scaled to fit `side` pixels on its longest side, keeping the aspect
/// ratio (never below 1 px); `None` when it already fits (the original serves as the rendition).
pub fn fit(width: u32, height: u32, side: u32) -> Option<(u32, u32)> {
    let longest = width.max(height);
    if longest <= side || longest == 0 {
        return None;
    }
    let scale = |n: u32| {
        let scaled = (u64::from(n) * u64::from(side) + u64::from(longest) / 2) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(side).clamp(1, side)
    };
    Some((scale(width), scale(height)))
}

/// The audio or video container the first bytes of a file announce, as a content type, if it
/// is one a `kind` upload may be: audio formats (MP3, AAC, Ogg, WAV, FLAC, AMR, SILK, MP4/M4A,
/// WebM) for sound, video containers (MP4, QuickTime, 3GP, WebM/Matroska, AVI, Ogg, FLV, MPEG
/// transport and program streams) for video. Images are recognised by the image decoder instead.
pub fn sniff(head: &[u8], kind: MediaKind) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    let found = if at(4, b"ftyp") {
        let brand = head.get(8..12).unwrap_or_default();
        match brand {
            b"M4A " | b"M4B " | b"M4P " => "audio/mp4",
            b"qt  " => "video/quicktime",
            _ if brand.starts_with(b"3g") => "video/3gpp",
            _ => "video/mp4",
        }
    } else if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        "video/webm"
    } else if at(0, b"OggS") {
        "application/ogg"
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        "video/x-msvideo"
    } else if at(0, b"ID3") {
        "audio/mpeg"
    } else if at(0, b"fLaC") {
        "audio/flac"
    } else if at(0, b"#!AMR") {
        "audio/amr"
    } else if at(0, b"#!SILK") || at(1, b"#!SILK") {
        "audio/silk"
    } else if at(0, b"FLV") {
        "video/x-flv"
    } else if at(0, &[0x00, 0x00, 0x01, 0xBA]) {
        "video/mpeg"
    } else if head.first() == Some(&0x47) && head.get(188) == Some(&0x47) {
        "video/mp2t"
    } else if let [0xFF, second, ..] = head
        && second & 0xE0 == 0xE0
    {
        // An MPEG audio frame header; layer bits 00 mark AAC in ADTS framing.
        if second & 0x06 == 0 {
            "audio/aac"
        } else {
            "audio/mpeg"
        }
    } else {
        return None;
    };
    let audio = found.starts_with("audio/");
    let fits = match kind {
        // MP4, WebM and Ogg carry audio-only tracks as often as video.
        MediaKind::Sound => audio || matches!(found, "video/mp4" | "video/webm" | "application/ogg"),
        MediaKind::Video => !audio,
        MediaKind::Image | MediaKind::File => false,
    };
    fits.then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_well_formed_keys_when_parsed_then_accepted_with_their_owner() {
        for raw in ["media/alice/photo.jpg", "media/bob_1/2026/11/a-b_c.v2.png"] {
            let key = MediaKey::parse(raw).expect(raw);
            assert_eq!(key.as_str(), raw);
        }
        assert_eq!(MediaKey::parse("media/alice/x/y").unwrap().owner(), "alice");
    }

    #[test]
    fn only_the_servers_renditions_count_as_renditions() {
        let id = "media/alice/image-0123456789abcdef0123456789abcdef";
        for (object, rendition) in [
            ("large", true),
            ("thumbnail", true),
            ("original", false),
            ("manifest.json", false),
        ] {
            let key = MediaKey::parse(format!("{id}/{object}")).unwrap();
            assert_eq!(key.is_rendition(), rendition, "{object}");
        }
        // A key outside the media-id layout is the uploader's, whatever its last segment says.
        assert!(!MediaKey::parse("media/alice/large").unwrap().is_rendition());
    }

    #[test]
    fn given_malformed_keys_when_parsed_then_refused() {
        let too_long = format!("media/alice/{}", "a".repeat(1020));
        for raw in [
            "",
            "/media/alice/x",
            "media/alice",
            "media/alice/",
            "media//x",
            "media/alice/../bob/x",
            "media/alice/./x",
            "media/alice/a//b",
            "media/al ice/x",
            "media/alice/x?y",
            "uploads/alice/x",
            "media/alice/caf\u{e9}",
            too_long.as_str(),
        ] {
            assert!(MediaKey::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn given_an_owner_and_a_name_when_keyed_then_the_owner_prefixes_the_key() {
        let owner = UserId::parse("alice").unwrap();
        assert_eq!(
            MediaKey::new(&owner, "a/b.png").unwrap().as_str(),
            "media/alice/a/b.png"
        );
        assert!(MediaKey::new(&owner, "../bob/b.png").is_err());
    }

    #[test]
    fn given_a_bad_key_when_converted_to_the_core_error_then_it_is_an_input_error() {
        let err: Error = MediaKey::parse("media/alice/..").unwrap_err().into();
        assert!(!err.is_internal());
    }

    #[test]
    fn given_a_generated_media_id_then_it_parses_back_with_its_owner_kind_and_keys() {
        // GIVEN an id generated for alice's image
        let owner = UserId::parse("alice").unwrap();
        let id = MediaId::generate(&owner, MediaKind::Image);
        // THEN it parses back to itself, with its owner and kind
        let parsed = MediaId::parse(id.as_str()).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.owner(), "alice");
        assert_eq!(parsed.kind(), MediaKind::Image);
        // AND its objects live under the owner's prefix
        let original = id.variant_key(Variant::Original);
        assert_eq!(original.as_str(), format!("media/{id}/original"));
        assert_eq!(original.owner(), "alice");
        assert_eq!(id.manifest_key().as_str(), format!("media/{id}/manifest.json"));
        // AND the id and object name are found again from a key
        let (from_key, object) = MediaId::from_key(&original).unwrap();
        assert_eq!((from_key, object), (id.clone(), "original"));
        // AND two ids are never the same
        assert_ne!(MediaId::generate(&owner, MediaKind::Image), id);
    }

    #[test]
    fn given_malformed_media_ids_when_parsed_then_refused() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert!(MediaId::parse(&format!("bob/video-{hex}")).is_ok());
        for raw in [
            "m1".to_owned(),
            format!("bob/{hex}"),
            format!("bob/photo-{hex}"),
            format!("bob/image-{}", &hex[1..]),
            format!("bob/image-{}", hex.to_uppercase()),
            format!("../image-{hex}"),
            format!("not a user/image-{hex}"),
            format!("bob/image-{hex}/original"),
            format!("/image-{hex}"),
        ] {
            assert!(MediaId::parse(&raw).is_err(), "{raw:?} was accepted");
        }
        assert!(MediaKey::parse("media/../x/original").is_err());
        assert!(MediaId::from_key(&MediaKey::parse("media/alice/photo.png").unwrap()).is_none());
    }

    #[test]
    fn given_each_kind_then_it_accepts_only_its_content_types() {
        assert!(MediaKind::Image.accepts("image/png"));
        assert!(MediaKind::Image.accepts("Image/JPEG; q=1"));
        assert!(!MediaKind::Image.accepts("image/svg+xml"));
        assert!(!MediaKind::Image.accepts("text/html"));
        assert!(MediaKind::Sound.accepts("audio/mp4"));
        assert!(!MediaKind::Sound.accepts("video/mp4"));
        assert!(MediaKind::Video.accepts("video/mp4"));
        assert!(MediaKind::File.accepts("application/pdf"));
        let limits = crate::limits::Limits::default();
        assert_eq!(MediaKind::File.max_bytes(&limits), limits.max_file_bytes);
        for ok in ["image/png", "text/plain; charset=utf-8"] {
            assert!(check_content_type(ok).is_ok(), "{ok}");
        }
        for bad in ["", "png", "/x", "image/", "a/b\r\nx: y", "image/p\u{e9}g"] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn given_image_sizes_when_fitted_then_the_longest_side_is_the_target() {
        assert_eq!(fit(1440, 1080, LARGE_SIDE), Some((720, 540)));
        assert_eq!(fit(1080, 1440, LARGE_SIDE), Some((540, 720)));
        assert_eq!(fit(1000, 3, THUMBNAIL_SIDE), Some((198, 1)));
        assert_eq!(fit(720, 400, LARGE_SIDE), None);
        assert_eq!(fit(198, 198, THUMBNAIL_SIDE), None);
        assert_eq!(fit(0, 0, THUMBNAIL_SIDE), None);
    }

    #[test]
    fn given_container_headers_when_sniffed_then_only_the_declared_kind_fits() {
        let mp4 = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2";
        let m4a = b"\0\0\0\x20ftypM4A \0\0\0\0";
        assert_eq!(sniff(mp4, MediaKind::Video), Some("video/mp4"));
        assert_eq!(sniff(mp4, MediaKind::Sound), Some("video/mp4"));
        assert_eq!(sniff(m4a, MediaKind::Sound), Some("audio/mp4"));
        assert_eq!(sniff(m4a, MediaKind::Video), None);
        assert_eq!(sniff(b"ID3\x04\0\0", MediaKind::Sound), Some("audio/mpeg"));
        assert_eq!(
            sniff(&[0xFF, 0xFB, 0x90, 0x64], MediaKind::Sound),
            Some("audio/mpeg")
        );
        assert_eq!(
            sniff(&[0xFF, 0xF1, 0x50, 0x80], MediaKind::Sound),
            Some("audio/aac")
        );
        assert_eq!(sniff(b"#!AMR\n", MediaKind::Sound), Some("audio/amr"));
        assert_eq!(sniff(b"\x02#!SILK_V3", MediaKind::Sound), Some("audio/silk"));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WAVEfmt ", MediaKind::Sound),
            Some("audio/wav")
        );
        assert_eq!(sniff(b"ID3\x04\0\0", MediaKind::Video), None);
        assert_eq!(
            sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F], MediaKind::Video),
            Some("video/webm")
        );
        for junk in [&b"<html><script>"[..], b"\x89PNG\r\n\x1a\n", b"", b"PK\x03\x04"] {
            assert_eq!(sniff(junk, MediaKind::Sound), None, "{junk:?}");
            assert_eq!(sniff(junk, MediaKind::Video), None, "{junk:?}");
        }
    }

    #[test]
    fn given_a_manifest_then_it_round_trips_through_json_with_named_renditions() {
        let mut renditions = std::collections::BTreeMap::new();
        renditions.insert(
            Variant::Original,
            StoredRendition {
                object: Variant::Original,
                content_type: "image/png".into(),
                size: 10,
                width: Some(100),
                height: Some(50),
            },
        );
        renditions.insert(Variant::Large, renditions[&Variant::Original].clone());
        let manifest = Manifest {
            kind: MediaKind::Image,
            content_type: "image/png".into(),
            size: 10,
            width: Some(100),
            height: Some(50),
            renditions,
        };
        let json = serde_json::to_value(&manifest).unwrap();
        assert_eq!(json["kind"], "image");
        assert_eq!(json["renditions"]["large"]["object"], "original");
        assert_eq!(serde_json::from_value::<Manifest>(json).unwrap(), manifest);
    }
}
