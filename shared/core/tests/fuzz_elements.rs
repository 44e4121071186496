//! Fuzzes message elements: parsing arbitrary element JSON, validation, and round trips.

use cirrus_core::ErrorCode;
use cirrus_core::element::{Element, MediaRef, Rendition, validate_body};
use cirrus_core::fuzzing::{config, json_value, mutated};
use cirrus_core::limits::Limits;
use proptest::prelude::*;
use serde_json::Value;

/// Every field name of every element type.
const KEYS: &[&str] = &[
    "type",
    "text",
    "format",
    "original",
    "large",
    "thumbnail",
    "mediaId",
    "url",
    "width",
    "height",
    "size",
    "duration",
    "name",
    "snapshot",
    "latitude",
    "longitude",
    "desc",
    "index",
    "data",
    "ext",
    "image",
    "sound",
    "file",
    "video",
    "location",
    "face",
    "custom",
];

fn media_ref() -> impl Strategy<Value = MediaRef> {
    prop_oneof![
        "[a-z0-9/-]{1,64}".prop_map(|id| MediaRef {
            media_id: Some(id),
            url: None
        }),
        "https?://[a-z0-9.]{1,20}/[a-z0-9/._-]{0,40}".prop_map(|url| MediaRef {
            media_id: None,
            url: Some(url)
        }),
    ]
}

fn rendition() -> impl Strategy<Value = Rendition> {
    // Unknown fields are absent (a stored 0 reads as unknown), and a size stays under every
    // kind's upload limit, so what is generated here is valid whatever the element.
    use proptest::option::of;
    (
        media_ref(),
        of(1..=u32::MAX),
        of(1..=u32::MAX),
        of(1..=1_000_000u64),
    )
        .prop_map(|(media, width, height, size)| Rendition {
            media,
            width,
            height,
            size,
        })
}

/// Elements that pass validation under the default limits.
fn valid_element() -> impl Strategy<Value = Element> {
    let limits = Limits::default();
    let max = limits.max_file_bytes;
    let text = "\\PC{1,200}";
    prop_oneof![
        text.prop_map(|text| Element::Text { text }),
        (
            prop::sample::select(cirrus_core::element::IMAGE_FORMATS.to_vec()),
            rendition(),
            proptest::option::of(rendition()),
            proptest::option::of(rendition())
        )
            .prop_map(|(format, original, large, thumbnail)| Element::Image {
                format: format.to_owned(),
                original,
                large,
                thumbnail
            }),
        (media_ref(), any::<u32>(), 0..=limits.max_sound_bytes).prop_map(|(media, duration, size)| {
            Element::Sound {
                media,
                duration,
                size,
            }
        }),
        (media_ref(), "[^/]{1,60}", 0..=max).prop_map(|(media, name, size)| Element::File {
            media,
            name,
            size
        }),
        (
            media_ref(),
            any::<u32>(),
            0..=limits.max_video_bytes,
            proptest::option::of("[a-z0-9]{1,5}"),
            rendition()
        )
            .prop_map(|(media, duration, size, format, snapshot)| Element::Video {
                media,
                duration,
                size,
                format,
                snapshot
            }),
        (-90.0..=90.0f64, -180.0..=180.0f64, ".{0,40}").prop_map(|(latitude, longitude, desc)| {
            Element::Location {
                latitude,
                longitude,
                desc,
            }
        }),
        (0..=i64::MAX, proptest::option::of(".{0,20}"))
            .prop_map(|(index, data)| Element::Face { index, data }),
        (
            ".{0,80}",
            proptest::option::of(".{0,20}"),
            proptest::option::of(".{0,20}")
        )
            .prop_map(|(data, desc, ext)| Element::Custom { data, desc, ext }),
    ]
}

/// Parses `text` as a body; what parses validates to success or to a coded input error, and
/// re-serializes to a body that parses back equal.
fn check_body(text: &str) {
    let Ok(body) = serde_json::from_str::<Vec<Element>>(text) else {
        return;
    };
    if let Err(err) = validate_body(&body, &Limits::default()) {
        assert!(
            matches!(
                err.code(),
                ErrorCode::InvalidElement | ErrorCode::InvalidField | ErrorCode::BodyTooLarge
            ),
            "{err:?}"
        );
    }
    let again = serde_json::to_string(&body).expect("an element serializes");
    let reparsed: Vec<Element> = serde_json::from_str(&again).expect("a serialized body parses");
    assert_eq!(reparsed, body, "{again:.300}");
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_json_elements_parse_and_validate_without_panicking(value in json_value(KEYS)) {
        check_body(&value.to_string());
        check_body(&Value::Array(vec![value]).to_string());
    }

    #[test]
    fn mutated_valid_bodies_are_refused_with_a_code_or_accepted(
        text in prop::collection::vec(valid_element(), 1..4)
            .prop_flat_map(|body| mutated(serde_json::to_value(body).unwrap_or_default(), KEYS))
    ) {
        check_body(&text);
    }

    #[test]
    fn valid_elements_round_trip_and_validate(body in prop::collection::vec(valid_element(), 1..6)) {
        validate_body(&body, &Limits::default()).expect("generated bodies are valid");
        let text = serde_json::to_string(&body).expect("an element serializes");
        let parsed: Vec<Element> = serde_json::from_str(&text).expect("a serialized body parses");
        prop_assert_eq!(parsed, body);
    }
}
