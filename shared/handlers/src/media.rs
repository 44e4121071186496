//! Media: the `media.upload` / `media.download` routes, which hand out presigned URLs. What
//! happens to an upload after its `PUT` (type checks, image renditions, the manifest) is the
//! `media` function's, in cirrus-media: only it links the image decoders.

use cirrus_core::error::{Error, Result};
use cirrus_core::protocol::{Action, ClientFrame, reply_ok};
use cirrus_core::service::{Caller, MediaService};

/// Routes `media.upload` (a presigned `PUT` for a new media id) and `media.download` (a presigned,
/// expiring `GET` for a processed rendition).
pub async fn dispatch(
    media: &MediaService,
    caller: &Caller,
    action: Action,
    frame: &ClientFrame<'_>,
) -> Result<String> {
    let req_id = frame.req_id.as_deref();
    match action {
        Action::MediaUpload => Ok(reply_ok(req_id, &media.upload(caller, frame.data()?).await?)),
        Action::MediaDownload => Ok(reply_ok(req_id, &media.download(caller, frame.data()?).await?)),
        other => Err(Error::UnknownAction(other.name().to_owned())),
    }
}
