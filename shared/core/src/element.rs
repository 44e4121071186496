//! Message elements: the typed parts a message body is made of (DESIGN.md §3).

use crate::error::{Error, Result};
use crate::limits::Limits;
use serde::{Deserialize, Serialize};

/// Image formats a client may declare.
pub const IMAGE_FORMATS: [&str; 5] = ["png", "gif", "jpeg", "jpg", "webp"];

/// One part of a message body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Element {
    /// Plain UTF-8 text, passed through untouched.
    Text {
        /// The text.
        text: String,
    },
    /// An image with up to three renditions.
    Image {
        /// Declared format: png, gif, jpeg, jpg or webp.
        format: String,
        /// The original upload.
        original: Rendition,
        /// A large rendition (720 px).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        large: Option<Rendition>,
        /// A thumbnail (198 px).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<Rendition>,
    },
    /// A voice clip.
    Sound {
        /// Where the audio is.
        #[serde(flatten)]
        media: MediaRef,
        /// Length in seconds.
        duration: u32,
        /// Size in bytes.
        size: u64,
    },
    /// A file attachment.
    File {
        /// Where the file is.
        #[serde(flatten)]
        media: MediaRef,
        /// File name shown to users.
        name: String,
        /// Size in bytes.
        size: u64,
    },
    /// A video with a snapshot image.
    Video {
        /// Where the video is.
        #[serde(flatten)]
        media: MediaRef,
        /// Length in seconds.
        duration: u32,
        /// Size in bytes.
        size: u64,
        /// Container format, e.g. `mp4`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
        /// A still image shown before playback.
        snapshot: Rendition,
    },
    /// A geographic location.
    Location {
        /// Latitude in degrees, −90..=90.
        latitude: f64,
        /// Longitude in degrees, −180..=180.
        longitude: f64,
        /// A description of the place.
        #[serde(default)]
        desc: String,
    },
    /// An emoticon from the app's face set.
    Face {
        /// Index in the face set.
        index: i64,
        /// Extra data, e.g. the face's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<String>,
    },
    /// App-defined content.
    Custom {
        /// Payload, opaque to the server.
        #[serde(default)]
        data: String,
        /// Human-readable description (used for push text).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        desc: Option<String>,
        /// Extension field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ext: Option<String>,
    },
}

/// Where a piece of media lives: an uploaded media id or an external URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaRef {
    /// Id of media uploaded through Cirrus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// An external URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One rendition of an image (or a video snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rendition {
    /// Where the rendition is.
    #[serde(flatten)]
    pub media: MediaRef,
    /// Width in pixels, when known.
    #[serde(
        default,
        deserialize_with = "unknown_if_zero",
        skip_serializing_if = "Option::is_none"
    )]
    pub width: Option<u32>,
    /// Height in pixels, when known.
    #[serde(
        default,
        deserialize_with = "unknown_if_zero",
        skip_serializing_if = "Option::is_none"
    )]
    pub height: Option<u32>,
    /// Size in bytes, when known.
    #[serde(
        default,
        deserialize_with = "unknown_if_zero",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<u64>,
}

/// Reads a rendition's dimension or size, where 0 means unknown: no rendition is 0 pixels wide
/// or 0 bytes long, and messages stored before these fields were optional hold 0 for "left out".
fn unknown_if_zero<'de, D, T>(deserializer: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default + PartialEq,
{
    let value = Option::<T>::deserialize(deserializer)?;
    Ok(value.filter(|v| *v != T::default()))
}

impl MediaRef {
    fn check(&self, index: usize) -> Result<()> {
        let invalid = |reason| Err(Error::InvalidElement { index, reason });
        match (&self.media_id, &self.url) {
            (None, None) => invalid("needs a mediaId or a url"),
            (Some(id), _) if id.is_empty() || id.len() > 256 => invalid("mediaId must be 1-256 bytes"),
            (_, Some(url)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                invalid("url must be http(s)")
            }
            (_, Some(url)) if url.len() > 2048 => invalid("url is longer than 2048 bytes"),
            _ => Ok(()),
        }
    }
}

impl Element {
    /// The element's type name on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Sound { .. } => "sound",
            Self::File { .. } => "file",
            Self::Video { .. } => "video",
            Self::Location { .. } => "location",
            Self::Face { .. } => "face",
            Self::Custom { .. } => "custom",
        }
    }

    /// Checks the element's own rules; `index` is its position for the error report.
    pub fn validate(&self, index: usize, limits: &Limits) -> Result<()> {
        let invalid = |reason| Err(Error::InvalidElement { index, reason });
        match self {
            Self::Text { text } if text.is_empty() => invalid("text must not be empty"),
            Self::Text { .. } => Ok(()),
            Self::Image {
                format,
                original,
                large,
                thumbnail,
            } => {
                if !IMAGE_FORMATS.contains(&format.to_ascii_lowercase().as_str()) {
                    return invalid("image format must be png, gif, jpeg, jpg or webp");
                }
                for rendition in [Some(original), large.as_ref(), thumbnail.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    rendition.media.check(index)?;
                }
                if original.size.is_some_and(|size| size > limits.max_image_bytes) {
                    return invalid("image is larger than the configured image limit");
                }
                Ok(())
            }
            Self::Sound { media, size, .. } => {
                media.check(index)?;
                if *size > limits.max_sound_bytes {
                    return invalid("sound is larger than the configured sound limit");
                }
                Ok(())
            }
            Self::File { media, name, size } => {
                media.check(index)?;
                if name.is_empty() || name.len() > 255 {
                    return invalid("file name must be 1-255 bytes");
                }
                if *size > limits.max_file_bytes {
                    return invalid("file is larger than the configured file limit");
                }
                Ok(())
            }
            Self::Video {
                media,
                snapshot,
                size,
                ..
            } => {
                media.check(index)?;
                if *size > limits.max_video_bytes {
                    return invalid("video is larger than the configured video limit");
                }
                snapshot.media.check(index)
            }
            Self::Location {
                latitude, longitude, ..
            } => {
                if !(-90.0..=90.0).contains(latitude) {
                    return invalid("latitude must be within -90..=90");
                }
                if !(-180.0..=180.0).contains(longitude) {
                    return invalid("longitude must be within -180..=180");
                }
                Ok(())
            }
            Self::Face { index: face, .. } if *face < 0 => invalid("face index must not be negative"),
            Self::Face { .. } => Ok(()),
            Self::Custom { .. } => Ok(()),
        }
    }
}

/// Validates a whole message body: one or more valid elements within the size limit.
pub fn validate_body(body: &[Element], limits: &Limits) -> Result<()> {
    if body.is_empty() {
        return Err(Error::InvalidField(
            "body must hold at least one element".to_owned(),
        ));
    }
    if body.len() > limits.max_elements {
        return Err(Error::InvalidField(format!(
            "body holds more than {} elements",
            limits.max_elements
        )));
    }
    for (index, element) in body.iter().enumerate() {
        element.validate(index, limits)?;
    }
    let size = serde_json::to_vec(body).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > limits.max_body_bytes {
        return Err(Error::BodyTooLarge {
            size,
            limit: limits.max_body_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::media::MediaKind;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Vec<Element> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_element_type_parses_and_validates() {
        let body = parse(json!([
            {"type": "text", "text": "héllo <b>&amp;</b> \u{1F600} \"quoted\""},
            {"type": "image", "format": "png",
             "original": {"mediaId": "m1", "width": 1024, "height": 768, "size": 12345},
             "thumbnail": {"url": "https://cdn.example/t.png", "width": 198, "height": 148}},
            {"type": "sound", "mediaId": "s1", "duration": 3, "size": 4000},
            {"type": "file", "url": "https://example.com/a.pdf", "name": "a.pdf", "size": 100},
            {"type": "video", "mediaId": "v1", "duration": 10, "size": 99, "format": "mp4",
             "snapshot": {"mediaId": "v1s", "width": 320, "height": 240}},
            {"type": "location", "latitude": 39.9, "longitude": 116.4, "desc": "Beijing"},
            {"type": "face", "index": 3, "data": "smile"},
            {"type": "custom", "data": "{\"k\":1}", "desc": "a card", "ext": "x"}
        ]));
        assert_eq!(body.len(), 8);
        validate_body(&body, &Limits::default()).unwrap();
        // Text passes through byte for byte.
        let Element::Text { text } = &body[0] else {
            panic!("first element is text")
        };
        assert_eq!(text, "héllo <b>&amp;</b> \u{1F600} \"quoted\"");
    }

    #[test]
    fn bad_elements_are_rejected_with_their_index() {
        let limits = Limits::default();
        let cases = [
            json!([{"type": "text", "text": ""}]),
            json!([{"type": "text", "text": "ok"}, {"type": "location", "latitude": 91.0, "longitude": 0.0}]),
            json!([{"type": "location", "latitude": 0.0, "longitude": -180.5}]),
            json!([{"type": "image", "format": "bmp", "original": {"mediaId": "m"}}]),
            json!([{"type": "image", "format": "png", "original": {"width": 1}}]),
            json!([{"type": "file", "mediaId": "f", "name": "", "size": 1}]),
            json!([{"type": "file", "mediaId": "f", "name": "big", "size": 29 * 1024 * 1024}]),
            json!([{"type": "sound", "url": "ftp://x/y", "duration": 1, "size": 1}]),
            json!([{"type": "face", "index": -1}]),
            json!([{"type": "sound", "mediaId": "s", "duration": 1, "size": 11 * 1024 * 1024}]),
            json!([{"type": "video", "mediaId": "v", "duration": 1, "size": 101 * 1024 * 1024,
                    "snapshot": {"mediaId": "s"}}]),
            json!([{"type": "image", "format": "png",
                    "original": {"mediaId": "m", "size": 21 * 1024 * 1024}}]),
            json!([{"type": "video", "mediaId": "v", "duration": 1, "size": 1, "snapshot": {}}]),
        ];
        for case in cases {
            let err = validate_body(&parse(case.clone()), &limits).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidElement, "{case}");
        }
        let err = validate_body(&parse(cases_index_one()), &limits).unwrap_err();
        assert!(matches!(err, Error::InvalidElement { index: 1, .. }));
    }

    #[test]
    fn each_kind_is_limited_at_send_by_its_own_upload_limit() {
        let limits = Limits::default();
        let element = |kind: MediaKind, size: u64| match kind {
            MediaKind::Image => json!({"type": "image", "format": "png",
                                      "original": {"mediaId": "m", "size": size}}),
            MediaKind::Sound => json!({"type": "sound", "mediaId": "s", "duration": 1, "size": size}),
            MediaKind::Video => json!({"type": "video", "mediaId": "v", "duration": 1, "size": size,
                                      "snapshot": {"mediaId": "s"}}),
            MediaKind::File => json!({"type": "file", "mediaId": "f", "name": "f", "size": size}),
        };
        for kind in MediaKind::ALL {
            let max = kind.max_bytes(&limits);
            // An element exactly at its kind's upload limit is accepted, one byte more is not.
            validate_body(&parse(json!([element(kind, max)])), &limits)
                .unwrap_or_else(|e| panic!("{kind:?} at its limit: {e}"));
            let err = validate_body(&parse(json!([element(kind, max + 1)])), &limits).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidElement, "{kind:?}");
        }
        // A 30 MB video is within the video limit although over the file limit.
        let video = element(MediaKind::Video, 30 * 1024 * 1024);
        validate_body(&parse(json!([video])), &limits).unwrap();
    }

    #[test]
    fn rendition_fields_left_out_stay_out_and_stored_zeros_read_as_unknown() {
        // GIVEN an image whose thumbnail has no size and no dimensions
        let sent = json!({"type": "image", "format": "png",
                          "original": {"mediaId": "m", "width": 10, "height": 5, "size": 99},
                          "thumbnail": {"url": "https://cdn.example/t.png"}});
        let element: Element = serde_json::from_value(sent.clone()).unwrap();
        // THEN it serializes back exactly as sent: nothing invented
        assert_eq!(serde_json::to_value(&element).unwrap(), sent);
        // AND a message stored with zeros for "unknown" reads back with the fields absent
        let stored = json!({"type": "image", "format": "png",
                            "original": {"mediaId": "m", "width": 0, "height": 0, "size": 0}});
        let element: Element = serde_json::from_value(stored).unwrap();
        assert_eq!(
            serde_json::to_value(&element).unwrap(),
            json!({"type": "image", "format": "png", "original": {"mediaId": "m"}})
        );
    }

    fn cases_index_one() -> serde_json::Value {
        json!([{"type": "text", "text": "ok"}, {"type": "text", "text": ""}])
    }

    #[test]
    fn unknown_types_and_fields_do_not_parse() {
        assert!(serde_json::from_value::<Element>(json!({"type": "hologram"})).is_err());
        assert!(serde_json::from_value::<Element>(json!({"type": "text", "text": "a", "x": 1})).is_err());
    }

    #[test]
    fn body_size_and_emptiness_are_limited() {
        let limits = Limits {
            max_body_bytes: 100,
            ..Limits::default()
        };
        let big = vec![Element::Text {
            text: "x".repeat(200),
        }];
        assert_eq!(
            validate_body(&big, &limits).unwrap_err().code(),
            ErrorCode::BodyTooLarge
        );
        assert_eq!(
            validate_body(&[], &limits).unwrap_err().code(),
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn coordinates_round_trip_bit_for_bit() {
        // Found by the element fuzz suite: without serde_json's exact float parsing this longitude
        // came back one ULP off.
        let element = Element::Location {
            latitude: 0.0,
            longitude: 126.000_972_478_588_93,
            desc: String::new(),
        };
        let text = serde_json::to_string(&element).unwrap();
        assert_eq!(serde_json::from_str::<Element>(&text).unwrap(), element);
    }

    #[test]
    fn elements_round_trip_through_json() {
        let element = Element::Custom {
            data: "d".into(),
            desc: Some("desc".into()),
            ext: None,
        };
        let text = serde_json::to_string(&element).unwrap();
        assert_eq!(text, r#"{"type":"custom","data":"d","desc":"desc"}"#);
        assert_eq!(serde_json::from_str::<Element>(&text).unwrap(), element);
    }
}
