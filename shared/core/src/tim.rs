//! Tencent's message elements (`MsgBody`): what the REST API's sends read, what callbacks send
//! to the app's server, and what a before-send callback may answer with; and Tencent's profile
//! tags (`ProfileItem`).
//!
//! Text, custom, face and location elements map one to one. Media elements are written in
//! Tencent's shape (`TIMImageElem`, `TIMSoundElem`, `TIMFileElem`, `TIMVideoFileElem`) with the
//! Cirrus media id as the `UUID` and the external URL where there is one; they are not read
//! back, since an app server has no media id of its own (a rewrite keeps one by answering it
//! unchanged, see [`rewrite_body`]).

use crate::element::{Element, MediaRef, Rendition};
use crate::social::{AllowType, Gender, Profile};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One element of Tencent's `MsgBody`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimElement {
    /// `TIMTextElem`, `TIMCustomElem`, …
    #[serde(rename = "MsgType")]
    pub kind: String,
    /// The element's fields.
    #[serde(rename = "MsgContent", default)]
    pub content: Value,
}

fn text_of(content: &Value, field: &str) -> Option<String> {
    content.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn number_of(content: &Value, field: &str, kind: &str) -> Result<f64, String> {
    content
        .get(field)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("{kind} needs {field}"))
}

/// Reads one of Tencent's elements of the four kinds an app server can write; the reason when
/// it cannot.
pub fn from_tim(element: &TimElement) -> Result<Element, String> {
    let content = &element.content;
    match element.kind.as_str() {
        "TIMTextElem" => Ok(Element::Text {
            text: text_of(content, "Text").ok_or("TIMTextElem needs Text")?,
        }),
        "TIMCustomElem" => Ok(Element::Custom {
            data: text_of(content, "Data").unwrap_or_default(),
            desc: text_of(content, "Desc"),
            ext: text_of(content, "Ext"),
        }),
        "TIMFaceElem" => Ok(Element::Face {
            index: content
                .get("Index")
                .and_then(Value::as_i64)
                .ok_or("TIMFaceElem needs Index")?,
            data: text_of(content, "Data"),
        }),
        "TIMLocationElem" => Ok(Element::Location {
            latitude: number_of(content, "Latitude", "TIMLocationElem")?,
            longitude: number_of(content, "Longitude", "TIMLocationElem")?,
            desc: text_of(content, "Desc").unwrap_or_default(),
        }),
        other => Err(format!("MsgType {other} cannot be written by the app server")),
    }
}

/// A media reference as Tencent's `UUID` (the media id, else the URL) and URL.
fn uuid_and_url(media: &MediaRef) -> (String, String) {
    let url = media.url.clone().unwrap_or_default();
    (media.media_id.clone().unwrap_or_else(|| url.clone()), url)
}

/// Tencent's `ImageFormat` numbers.
fn image_format(format: &str) -> u32 {
    match format.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => 1,
        "gif" => 2,
        "png" => 3,
        "bmp" => 4,
        _ => 255,
    }
}

fn image_info(kind: u32, rendition: &Rendition) -> Value {
    json!({
        "Type": kind,
        "Size": rendition.size.unwrap_or(0),
        "Width": rendition.width.unwrap_or(0),
        "Height": rendition.height.unwrap_or(0),
        "URL": rendition.media.url.clone().unwrap_or_default(),
    })
}

/// One element in Tencent's shape.
pub fn to_tim(element: &Element) -> TimElement {
    let (kind, content) = match element {
        Element::Text { text } => ("TIMTextElem", json!({"Text": text})),
        Element::Custom { data, desc, ext } => (
            "TIMCustomElem",
            json!({"Data": data, "Desc": desc.clone().unwrap_or_default(), "Ext": ext.clone().unwrap_or_default()}),
        ),
        Element::Face { index, data } => (
            "TIMFaceElem",
            json!({"Index": index, "Data": data.clone().unwrap_or_default()}),
        ),
        Element::Location {
            latitude,
            longitude,
            desc,
        } => (
            "TIMLocationElem",
            json!({"Desc": desc, "Latitude": latitude, "Longitude": longitude}),
        ),
        Element::Image {
            format,
            original,
            large,
            thumbnail,
        } => {
            // Tencent's types: 1 the original, 2 the large rendition, 3 the thumbnail.
            let infos: Vec<Value> = [(1, Some(original)), (2, large.as_ref()), (3, thumbnail.as_ref())]
                .into_iter()
                .filter_map(|(kind, rendition)| rendition.map(|r| image_info(kind, r)))
                .collect();
            (
                "TIMImageElem",
                json!({"UUID": uuid_and_url(&original.media).0, "ImageFormat": image_format(format),
                       "ImageInfoArray": infos}),
            )
        }
        Element::Sound {
            media,
            duration,
            size,
        } => {
            let (uuid, url) = uuid_and_url(media);
            (
                "TIMSoundElem",
                json!({"UUID": uuid, "Url": url, "Size": size, "Second": duration}),
            )
        }
        Element::File { media, name, size } => {
            let (uuid, url) = uuid_and_url(media);
            (
                "TIMFileElem",
                json!({"UUID": uuid, "Url": url, "FileSize": size, "FileName": name}),
            )
        }
        Element::Video {
            media,
            duration,
            size,
            format,
            snapshot,
        } => {
            let (uuid, url) = uuid_and_url(media);
            let (thumb_uuid, thumb_url) = uuid_and_url(&snapshot.media);
            (
                "TIMVideoFileElem",
                json!({"VideoUUID": uuid, "VideoUrl": url, "VideoSize": size, "VideoSecond": duration,
                       "VideoFormat": format.clone().unwrap_or_default(),
                       "ThumbUUID": thumb_uuid, "ThumbUrl": thumb_url,
                       "ThumbSize": snapshot.size.unwrap_or(0),
                       "ThumbWidth": snapshot.width.unwrap_or(0),
                       "ThumbHeight": snapshot.height.unwrap_or(0)}),
            )
        }
    };
    TimElement {
        kind: kind.to_owned(),
        content,
    }
}

/// A body in Tencent's shape, as the JSON array callbacks carry.
pub fn body_to_tim(body: &[Element]) -> Value {
    Value::Array(
        body.iter()
            .map(|element| serde_json::to_value(to_tim(element)).unwrap_or_default())
            .collect(),
    )
}

/// The body a before-send callback answered: each element that is one of `original`'s, as it
/// was sent, is kept as it was (media included); any other is read with [`from_tim`].
pub fn rewrite_body(original: &[Element], answered: &Value) -> Result<Vec<Element>, String> {
    let elements: Vec<TimElement> = serde_json::from_value(answered.clone())
        .map_err(|_| "MsgBody must be an array of elements".to_owned())?;
    let sent: Vec<TimElement> = original.iter().map(to_tim).collect();
    elements
        .iter()
        .map(|element| match sent.iter().position(|s| s == element) {
            Some(index) => Ok(original[index].clone()),
            None => from_tim(element),
        })
        .collect()
}

/// Tencent's profile tag of the nickname.
pub const NICK: &str = "Tag_Profile_IM_Nick";
/// Of the avatar URL.
pub const IMAGE: &str = "Tag_Profile_IM_Image";
/// Of the gender.
pub const GENDER: &str = "Tag_Profile_IM_Gender";
/// Of the birthday (`yyyymmdd` as a number).
pub const BIRTHDAY: &str = "Tag_Profile_IM_BirthDay";
/// Of the location.
pub const LOCATION: &str = "Tag_Profile_IM_Location";
/// Of the signature.
pub const SIGNATURE: &str = "Tag_Profile_IM_SelfSignature";
/// Of the friend-add policy.
pub const ALLOW_TYPE: &str = "Tag_Profile_IM_AllowType";
/// The prefix of custom profile fields' tags.
pub const CUSTOM: &str = "Tag_Profile_Custom_";

/// A profile as Tencent's `ProfileItem` list: `{"Tag", "Value"}` per standard tag set, and per
/// custom field.
pub fn profile_tags(profile: &Profile) -> Vec<Value> {
    let mut items = Vec::new();
    let mut push = |tag: &str, value: Value| items.push(json!({"Tag": tag, "Value": value}));
    if let Some(nick) = &profile.nickname {
        push(NICK, Value::from(nick.as_str()));
    }
    if let Some(image) = &profile.face_url {
        push(IMAGE, Value::from(image.as_str()));
    }
    let gender = match profile.gender {
        Gender::Unknown => "Gender_Type_Unknown",
        Gender::Female => "Gender_Type_Female",
        Gender::Male => "Gender_Type_Male",
    };
    push(GENDER, Value::from(gender));
    if let Some(birthday) = profile.birthday {
        push(BIRTHDAY, Value::from(birthday));
    }
    if let Some(location) = &profile.location {
        push(LOCATION, Value::from(location.as_str()));
    }
    if let Some(signature) = &profile.signature {
        push(SIGNATURE, Value::from(signature.as_str()));
    }
    let allow = match profile.allow_type {
        AllowType::AllowAny => "AllowType_Type_AllowAny",
        AllowType::NeedConfirm => "AllowType_Type_NeedConfirm",
        AllowType::DenyAny => "AllowType_Type_DenyAny",
    };
    push(ALLOW_TYPE, Value::from(allow));
    for (key, value) in &profile.custom {
        push(&format!("{CUSTOM}{key}"), Value::from(value.as_str()));
    }
    items
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

    use super::*;

    fn image() -> Element {
        Element::Image {
            format: "png".to_owned(),
            original: Rendition {
                media: MediaRef {
                    media_id: Some("m1".to_owned()),
                    url: None,
                },
                width: Some(640),
                height: Some(480),
                size: Some(1000),
            },
            large: None,
            thumbnail: None,
        }
    }

    #[test]
    fn the_four_writable_kinds_round_trip() {
        for element in [
            Element::Text {
                text: "hi".to_owned(),
            },
            Element::Custom {
                data: "d".to_owned(),
                desc: Some("x".to_owned()),
                ext: Some("e".to_owned()),
            },
            Element::Face {
                index: 3,
                data: Some("smile".to_owned()),
            },
            Element::Location {
                latitude: 1.5,
                longitude: -2.25,
                desc: "here".to_owned(),
            },
        ] {
            assert_eq!(from_tim(&to_tim(&element)).unwrap(), element);
        }
    }

    #[test]
    fn media_is_written_in_tencents_shape_and_not_read_back() {
        let tim = to_tim(&image());
        assert_eq!(tim.kind, "TIMImageElem");
        assert_eq!(tim.content["UUID"], "m1");
        assert_eq!(tim.content["ImageFormat"], 3);
        assert_eq!(tim.content["ImageInfoArray"][0]["Width"], 640);
        assert!(from_tim(&tim).is_err());
    }

    #[test]
    fn a_rewrite_keeps_the_original_media_and_reads_new_text() {
        // GIVEN a body of an image and a text, as the callback received it
        let original = vec![
            image(),
            Element::Text {
                text: "bad word".to_owned(),
            },
        ];
        let sent = body_to_tim(&original);
        // WHEN the app answers with the image unchanged and the text replaced
        let answered = json!([sent[0], {"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]);
        let body = rewrite_body(&original, &answered).unwrap();
        // THEN the image is the original element and the text is the app's
        assert_eq!(body[0], original[0]);
        assert_eq!(
            body[1],
            Element::Text {
                text: "***".to_owned()
            }
        );
        // AND a media element the app made up is refused
        let made_up = json!([{"MsgType": "TIMImageElem", "MsgContent": {"UUID": "other"}}]);
        assert!(rewrite_body(&original, &made_up).is_err());
        assert!(rewrite_body(&original, &json!({"not": "an array"})).is_err());
    }
}
