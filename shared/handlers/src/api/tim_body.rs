//! Tencent's `MsgBody` for the REST API's sends, one-to-one and group: the element objects of
//! the types Tencent defines the same way as Cirrus, `TIMTextElem`, `TIMCustomElem`,
//! `TIMFaceElem` and `TIMLocationElem`. Media elements need a media id from `media.upload`, which
//! an app server does not have: they are refused.

use super::admin::{Failure, Refusal, failure_with};
use cirrus_core::element::Element;
use serde::Deserialize;
use serde_json::Value;

/// One element of Tencent's `MsgBody`.
#[derive(Deserialize)]
pub(super) struct TimElement {
    #[serde(rename = "MsgType")]
    kind: String,
    #[serde(rename = "MsgContent", default)]
    content: Value,
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

/// Converts one of Tencent's `MsgBody` elements into a Cirrus element.
fn element(element: TimElement) -> Result<Element, String> {
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
        other => Err(format!("MsgType {other} is not supported by the REST API")),
    }
}

/// The Cirrus elements of a `MsgBody`; an element Cirrus cannot take refuses the whole body.
pub(super) fn body_of(body: Vec<TimElement>) -> Result<Vec<Element>, Refusal> {
    body.into_iter()
        .map(element)
        .collect::<Result<_, _>>()
        .map_err(|reason| failure_with(Failure::InvalidParameter, &reason))
}
