//! Tencent's `MsgBody` for the REST API's sends, one-to-one and group: the element objects of
//! the types Tencent defines the same way as Cirrus, `TIMTextElem`, `TIMCustomElem`,
//! `TIMFaceElem` and `TIMLocationElem`. Media elements need a media id from `media.upload`, which
//! an app server does not have: they are refused.

use super::admin::{Failure, Refusal, failure_with};
use cirrus_core::element::Element;
pub(super) use cirrus_core::tim::TimElement;

/// The Cirrus elements of a `MsgBody`; an element Cirrus cannot take refuses the whole body.
pub(super) fn body_of(body: Vec<TimElement>) -> Result<Vec<Element>, Refusal> {
    body.iter()
        .map(cirrus_core::tim::from_tim)
        .collect::<Result<_, _>>()
        .map_err(|reason| failure_with(Failure::InvalidParameter, &reason))
}
