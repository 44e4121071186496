//! Media end to end, on both backends: `media.upload` URLs used with plain HTTP as a client would,
//! processing (type check, renditions, manifest), `media.download` URLs, and `msg.send` accepting
//! only processed media of the sender.
//!
//! On SQLite the local stack stores uploads on disk and processes them before answering the `PUT`.
//! On AWS (moto) uploads go to the S3 bucket, and since moto sends no S3 notifications, each test
//! hands the `media` function's handler the S3 `ObjectCreated` event itself, as S3 would.
//! Signature enforcement (tampered, expired or re-typed URLs) is tested on the local stack: moto
//! does not check SigV4 signatures; S3 does.

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

use cirrus_core::limits::Limits;
use cirrus_local::Storage;
use cirrus_tests::{Backend, TestSocket, TestStack};
use image::{DynamicImage, ImageFormat};
use serde_json::{Value, json};
use std::io::Cursor;
use std::time::Duration;

/// A local stack, and the media bucket on the AWS backend.
struct MediaStack {
    stack: TestStack,
    bucket: Option<String>,
}

impl MediaStack {
    async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Limits)) -> Self {
        let mut bucket = None;
        let stack = TestStack::start_with(backend, |config| {
            if let Storage::Aws(aws) = &config.storage {
                bucket = Some(format!("{}-media", aws.prefix));
            }
            adjust(&mut config.limits);
        })
        .await;
        Self { stack, bucket }
    }

    /// What S3 does after an upload on AWS: the `media` function's handler on an `ObjectCreated`
    /// event for the media id's original (nothing on SQLite, where the `PUT` already did it).
    async fn processed(&self, media_id: &str) {
        let Some(bucket) = &self.bucket else { return };
        let key = format!("media/{media_id}/original").replace('@', "%40");
        let event = serde_json::from_value(json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "A"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "media",
                   "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
                   "object": {"key": key, "size": 1}}
        }]}))
        .unwrap();
        let sdk = cirrus_aws::moto::sdk();
        let open = |bucket: &str| cirrus_aws::S3Media::new(&sdk, bucket);
        cirrus_local::media::s3_event(open, &Limits::default(), event)
            .await
            .unwrap();
    }

    /// `media.upload`, then the `PUT` of `bytes` through the URL, then processing: the upload
    /// reply and the `PUT`'s status.
    async fn upload(
        &self,
        socket: &mut TestSocket,
        kind: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> (Value, u16) {
        let reply = socket
            .ok(
                "media.upload",
                json!({"kind": kind, "contentType": content_type, "size": bytes.len()}),
            )
            .await;
        let status = request(&reply, bytes.to_vec()).await.status().as_u16();
        self.processed(reply["mediaId"].as_str().unwrap()).await;
        (reply, status)
    }
}

/// Makes the request a presigned URL reply describes, with its headers.
async fn request(reply: &Value, body: Vec<u8>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(reply["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, reply["url"].as_str().unwrap())
        .body(body);
    for (name, value) in reply["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    request.send().await.unwrap()
}

/// `GET` of a download URL: status and body.
async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let answer = reqwest::get(url).await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.bytes().await.unwrap().to_vec())
}

/// A PNG of `width` x `height` with a gradient (no transparency).
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    }));
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

fn image_message(client_msg_id: &str, media_id: &str) -> Value {
    json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": client_msg_id,
           "body": [{"type": "image", "format": "png",
                     "original": {"mediaId": media_id, "width": 1440, "height": 1080},
                     "thumbnail": {"mediaId": media_id}}]})
}

async fn a_png_is_uploaded_rendered_and_downloaded(backend: Backend) {
    // GIVEN alice and bob
    let media = MediaStack::start(backend).await;
    let mut alice = media.stack.connect("alice").await;
    let mut bob = media.stack.connect("bob").await;

    // WHEN alice uploads a 1440x1080 PNG through her upload URL
    let original = png(1440, 1080);
    let (upload, status) = media.upload(&mut alice, "image", "image/png", &original).await;
    assert_eq!(status, 200, "{upload}");
    // THEN its id is under her name, and the URL was a PUT with the type and length to send
    let media_id = upload["mediaId"].as_str().unwrap();
    assert!(media_id.starts_with("alice/image-"), "{media_id}");
    assert_eq!(upload["method"], "PUT");
    assert_eq!(upload["headers"]["content-type"], "image/png");
    assert_eq!(upload["headers"]["content-length"], original.len().to_string());
    assert!(upload["expiresAt"].as_i64().unwrap() > cirrus_tests::now_secs() * 1000);

    // WHEN anyone holding the id asks for the original THEN it downloads byte for byte
    let download = bob.ok("media.download", json!({"mediaId": media_id})).await;
    assert_eq!(download["rendition"], "original");
    assert_eq!(download["method"], "GET");
    assert_eq!(download["contentType"], "image/png");
    assert_eq!(
        (download["width"].clone(), download["height"].clone()),
        (json!(1440), json!(1080))
    );
    assert_eq!(download["size"], original.len());
    let (status, bytes) = fetch(download["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, original);

    // AND the large and thumbnail renditions are 720 and 198 px on the longest side
    for (rendition, size) in [("large", (720, 540)), ("thumbnail", (198, 149))] {
        let download = alice
            .ok(
                "media.download",
                json!({"mediaId": media_id, "rendition": rendition}),
            )
            .await;
        assert_eq!(download["rendition"], rendition);
        assert_eq!(
            (download["width"].clone(), download["height"].clone()),
            (json!(size.0), json!(size.1))
        );
        let (status, bytes) = fetch(download["url"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{rendition}");
        assert_eq!(download["size"], bytes.len());
        let image = image::load_from_memory(&bytes).unwrap();
        assert_eq!((image.width(), image.height()), size, "{rendition}");
        assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
    }
}

async fn a_message_may_carry_only_processed_media_of_its_sender(backend: Backend) {
    let media = MediaStack::start(backend).await;
    let mut alice = media.stack.connect("alice").await;
    let mut bob = media.stack.connect("bob").await;
    let (upload, _) = media
        .upload(&mut alice, "image", "image/png", &png(300, 200))
        .await;
    let ready = upload["mediaId"].as_str().unwrap().to_owned();

    // WHEN alice sends her processed image to bob THEN it is accepted and bob gets the id
    let ack = alice.ok("msg.send", image_message("m-1", &ready)).await;
    assert_eq!(ack["seq"], 1);
    let message = bob.event("msg.new").await;
    assert_eq!(message["body"][0]["original"]["mediaId"], ready.as_str());

    // WHEN she sends an upload she has a URL for but never PUT THEN it is not ready
    let pending = alice
        .ok(
            "media.upload",
            json!({"kind": "image", "contentType": "image/png", "size": 10}),
        )
        .await;
    let pending = pending["mediaId"].as_str().unwrap();
    assert_eq!(
        alice.err("msg.send", image_message("m-2", pending)).await,
        "media_not_ready"
    );
    assert_eq!(
        alice.err("media.download", json!({"mediaId": pending})).await,
        "not_found"
    );

    // WHEN bob sends alice's media as his own, or an id that was never issued THEN not ready
    let to_alice = |id: &str| {
        let mut message = image_message("b-1", id);
        message["to"]["id"] = json!("alice");
        message
    };
    assert_eq!(bob.err("msg.send", to_alice(&ready)).await, "media_not_ready");
    assert_eq!(bob.err("msg.send", to_alice("m1")).await, "media_not_ready");

    // AND an image that is only an external URL is not checked
    let external = json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "m-3",
        "body": [{"type": "image", "format": "png", "original": {"url": "https://cdn.example/a.png"}}]});
    alice.ok("msg.send", external).await;
}

async fn content_that_is_not_the_declared_kind_is_deleted(backend: Backend) {
    let media = MediaStack::start(backend).await;
    let mut alice = media.stack.connect("alice").await;
    media
        .stack
        .admin("im_open_login_svc/account_import", json!({"UserID": "bob"}))
        .await;
    // WHEN alice uploads an HTML page as a PNG, and a PNG as a sound
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let (page, status) = media.upload(&mut alice, "image", "image/png", &html).await;
    assert_eq!(status, 200, "S3 takes any bytes; processing judges them");
    let (sound, _) = media.upload(&mut alice, "sound", "audio/mpeg", &png(8, 8)).await;
    let voice = |id: &Value| {
        json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "s-1",
               "body": [{"type": "sound", "mediaId": id, "duration": 1, "size": 1}]})
    };
    let page_id = page["mediaId"].as_str().unwrap();
    // THEN neither can be downloaded (they were deleted) nor sent
    for upload in [&page, &sound] {
        assert_eq!(
            alice
                .err("media.download", json!({"mediaId": upload["mediaId"]}))
                .await,
            "not_found"
        );
    }
    assert_eq!(
        alice.err("msg.send", image_message("i-1", page_id)).await,
        "media_not_ready"
    );
    assert_eq!(
        alice.err("msg.send", voice(&sound["mediaId"])).await,
        "media_not_ready"
    );
    // AND an upload of one kind cannot pose as another in a message
    assert_eq!(
        alice.err("msg.send", voice(&page["mediaId"])).await,
        "invalid_element"
    );
    // AND a real voice clip (an MP3 by its header) and a file are fine
    let (clip, _) = media
        .upload(
            &mut alice,
            "sound",
            "audio/mpeg",
            b"ID3\x04\0\0\0\0\0\x21not much of a song",
        )
        .await;
    let download = alice
        .ok("media.download", json!({"mediaId": clip["mediaId"]}))
        .await;
    assert_eq!(download["contentType"], "audio/mpeg");
    let (file, _) = media
        .upload(&mut alice, "file", "application/pdf", b"%PDF-1.7")
        .await;
    let send = json!({"to": {"type": "c2c", "id": "bob"}, "clientMsgId": "f-1",
        "body": [{"type": "file", "mediaId": file["mediaId"], "name": "a.pdf", "size": 8},
                 {"type": "sound", "mediaId": clip["mediaId"], "duration": 1, "size": 30}]});
    alice.ok("msg.send", send).await;
    // AND an image has no large rendition of a sound to give
    let wrong = json!({"mediaId": clip["mediaId"], "rendition": "large"});
    assert_eq!(alice.err("media.download", wrong).await, "invalid_field");
}

async fn uploads_are_checked_before_a_url_is_given(backend: Backend) {
    let media = MediaStack::start_with(backend, |limits| limits.max_image_bytes = 1000).await;
    let mut alice = media.stack.connect("alice").await;
    let cases = [
        (
            json!({"kind": "image", "contentType": "text/html", "size": 10}),
            "invalid_field",
        ),
        (
            json!({"kind": "image", "contentType": "image/svg+xml", "size": 10}),
            "invalid_field",
        ),
        (
            json!({"kind": "sound", "contentType": "video/mp4", "size": 10}),
            "invalid_field",
        ),
        (
            json!({"kind": "image", "contentType": "image/png", "size": 1001}),
            "limit_exceeded",
        ),
        (
            json!({"kind": "file", "contentType": "application/pdf", "size": 29 * 1024 * 1024}),
            "limit_exceeded",
        ),
        (
            json!({"kind": "image", "contentType": "image/png", "size": 0}),
            "invalid_field",
        ),
        (
            json!({"kind": "hologram", "contentType": "image/png", "size": 10}),
            "invalid_field",
        ),
        (
            json!({"kind": "file", "contentType": "a/b\r\nx-amz-acl: public-read", "size": 1}),
            "invalid_field",
        ),
        (
            json!({"kind": "file", "contentType": "text/plain", "size": 1, "key": "media/bob/x"}),
            "invalid_field",
        ),
        (
            json!({"kind": "file", "contentType": "text/plain"}),
            "missing_field",
        ),
    ];
    for (data, code) in cases {
        assert_eq!(alice.err("media.upload", data.clone()).await, code, "{data}");
    }
    for (data, code) in [
        (json!({"mediaId": "bob/../alice"}), "invalid_field"),
        (
            json!({"mediaId": "alice/image-0123456789abcdef0123456789abcdef"}),
            "not_found",
        ),
        (
            json!({"mediaId": "alice/image-0123456789abcdef0123456789abcdef", "rendition": "huge"}),
            "invalid_field",
        ),
    ] {
        assert_eq!(alice.err("media.download", data.clone()).await, code, "{data}");
    }
}

/// The tests above, on each backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(cirrus_tests::Backend::Sqlite).await;
            })*
        }
        mod aws {
            $(#[tokio::test]
            async fn $name() {
                super::$name(cirrus_tests::Backend::Aws).await;
            })*
        }
    };
}

on_both_backends!(
    a_png_is_uploaded_rendered_and_downloaded,
    a_message_may_carry_only_processed_media_of_its_sender,
    content_that_is_not_the_declared_kind_is_deleted,
    uploads_are_checked_before_a_url_is_given,
);

/// Signed URLs on the local stack: what S3 enforces with SigV4, the local HTTP API enforces with
/// its HMAC.
mod local_urls {
    use super::*;

    #[tokio::test]
    async fn an_upload_url_takes_only_its_signed_type_and_length_and_only_once() {
        let media = MediaStack::start(Backend::Sqlite).await;
        let mut alice = media.stack.connect("alice").await;
        let bytes = png(10, 10);
        let reply = alice
            .ok(
                "media.upload",
                json!({"kind": "image", "contentType": "image/png", "size": bytes.len()}),
            )
            .await;
        let url = reply["url"].as_str().unwrap();
        let put = |content_type: &'static str, body: Vec<u8>| async move {
            reqwest::Client::new()
                .put(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        };
        // WHEN the PUT carries another type, or another length THEN it is forbidden
        assert_eq!(put("text/html", bytes.clone()).await, 403);
        assert_eq!(put("image/png", [bytes.clone(), vec![0]].concat()).await, 403);
        // WHEN the URL itself is changed (another object name) THEN forbidden
        let other = url.replace("/original?", "/large?");
        let answer = reqwest::Client::new()
            .put(other)
            .header("content-type", "image/png")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 403);
        // WHEN it is used as signed THEN stored, and a second PUT is refused
        assert_eq!(put("image/png", bytes.clone()).await, 200);
        assert_eq!(put("image/png", bytes).await, 412);
        assert!(
            alice
                .ok("media.download", json!({"mediaId": reply["mediaId"]}))
                .await["url"]
                .is_string()
        );
    }

    #[tokio::test]
    async fn an_expired_or_tampered_download_url_is_refused() {
        // GIVEN download URLs valid for one second
        let media =
            MediaStack::start_with(Backend::Sqlite, |limits| limits.media_download_ttl_ms = 1000).await;
        let mut alice = media.stack.connect("alice").await;
        let (upload, _) = media
            .upload(&mut alice, "image", "image/png", &png(1000, 500))
            .await;
        let download = alice
            .ok("media.download", json!({"mediaId": upload["mediaId"]}))
            .await;
        let url = download["url"].as_str().unwrap();
        let (signature_at, _) = url.match_indices("signature=").next().unwrap();
        // WHEN the signature, the expiry or the object is changed THEN forbidden
        let mut forged = url.to_owned();
        let flip = signature_at + "signature=".len();
        let flipped = if &forged[flip..=flip] == "0" { "1" } else { "0" };
        forged.replace_range(flip..=flip, flipped);
        let later = url.replace("expires=", "expires=9");
        let thumbnail = url.replace("/original?", "/thumbnail?");
        let unsigned = url.split('?').next().unwrap().to_owned();
        for bad in [forged, later, thumbnail, unsigned] {
            assert_eq!(fetch(&bad).await.0, 403, "{bad}");
        }
        // AND as given it works, until it expires
        assert_eq!(fetch(url).await.0, 200);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, body) = fetch(url).await;
        assert_eq!(status, 403);
        assert!(String::from_utf8_lossy(&body).contains("expired"));
    }
}
