//! `S3Media` against one moto server per test binary: presigned URLs used over plain HTTP, as a
//! client would.
#![allow(clippy::unwrap_used)]

use cirrus_aws::moto;
use cirrus_aws::{S3Media, create_queues_and_bucket};
use cirrus_core::Error;
use cirrus_core::media::{MAX_URL_EXPIRY, MediaKey, PresignedUrl};
use cirrus_core::ports::MediaStore;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TEN_MINUTES: Duration = Duration::from_secs(600);

/// A media store over a bucket of its own for one case.
async fn media() -> S3Media {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let case = NEXT.fetch_add(1, Ordering::Relaxed);
    let sdk = moto::sdk();
    let resources = create_queues_and_bucket(&sdk, &format!("m{}-{case}", std::process::id()))
        .await
        .unwrap();
    S3Media::new(&sdk, resources.media_bucket)
}

fn key(raw: &str) -> MediaKey {
    MediaKey::parse(raw).unwrap()
}

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// Makes the request a presigned URL describes, headers included.
async fn send(url: &PresignedUrl, body: Vec<u8>) -> reqwest::Response {
    let http = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(url.method.as_bytes()).unwrap();
    let mut request = http.request(method, &url.url).body(body);
    for (name, value) in &url.headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

/// The value of one query parameter of a URL (they are ASCII and need no decoding here).
fn query<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

#[tokio::test]
async fn an_uploaded_original_downloads_as_an_attachment_and_a_rendition_inline() {
    // GIVEN an uploader's original (HTML, as a hostile client would upload) and a rendition
    let media = media().await;
    let id = "media/alice/file-0123456789abcdef0123456789abcdef";
    for (object, disposition) in [("original", Some("attachment")), ("thumbnail", None)] {
        let object = key(&format!("{id}/{object}"));
        let page = b"<script>alert(1)</script>".to_vec();
        let upload = media
            .upload_url(&object, "text/html", page.len() as u64, TEN_MINUTES)
            .await
            .unwrap();
        assert!(send(&upload, page).await.status().is_success());
        // WHEN each is fetched through its download URL
        let download = media.download_url(&object, TEN_MINUTES).await.unwrap();
        let get = send(&download, Vec::new()).await;
        assert!(get.status().is_success(), "GET answered {}", get.status());
        // THEN only the original is served as an attachment
        let served = get
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok());
        assert_eq!(served, disposition, "{object:?}");
    }
}

#[tokio::test]
async fn given_a_presigned_put_when_bytes_are_uploaded_then_the_presigned_get_returns_them() {
    // GIVEN a store and some bytes that are not text
    let media = media().await;
    let object = key("media/alice/2026/photo-1.png");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();

    // WHEN a client PUTs them to an upload URL, with the headers it came with
    let upload = media
        .upload_url(&object, "image/png", bytes.len() as u64, TEN_MINUTES)
        .await
        .unwrap();
    let put = send(&upload, bytes.clone()).await;
    assert!(put.status().is_success(), "PUT answered {}", put.status());

    // THEN a download URL serves exactly those bytes, stored with the signed content type
    let download = media.download_url(&object, TEN_MINUTES).await.unwrap();
    assert_eq!(download.method, "GET");
    let get = send(&download, Vec::new()).await;
    assert!(get.status().is_success(), "GET answered {}", get.status());
    assert_eq!(get.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let head = media
        .client()
        .head_object()
        .bucket(media.bucket())
        .key(object.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.content_length(), Some(70_000));
}

#[tokio::test]
async fn given_an_upload_url_then_it_carries_its_expiry_and_signs_type_and_length() {
    // GIVEN a store WHEN an upload URL valid for ten minutes is made
    let media = media().await;
    let before = now_ms();
    let upload = media
        .upload_url(&key("media/bob/a.mp4"), "video/mp4", 1234, TEN_MINUTES)
        .await
        .unwrap();
    let after = now_ms();

    // THEN it is a path-style PUT on the key…
    assert_eq!(upload.method, "PUT");
    assert!(
        upload.url.starts_with(&format!(
            "{}/{}/media/bob/a.mp4?",
            moto::moto_endpoint(),
            media.bucket()
        )),
        "{}",
        upload.url
    );
    // …whose expiry is in the signed query and in `expires_at_ms`…
    assert_eq!(query(&upload.url, "X-Amz-Expires"), Some("600"));
    assert!(query(&upload.url, "X-Amz-Signature").is_some_and(|s| s.len() == 64));
    assert!((before + 600_000..=after + 600_000).contains(&upload.expires_at_ms));
    // …and whose signature covers the content type and length the client must send
    let signed = query(&upload.url, "X-Amz-SignedHeaders").unwrap();
    let signed: Vec<&str> = signed.split("%3B").flat_map(|s| s.split(';')).collect();
    assert!(signed.contains(&"content-type"), "{signed:?}");
    assert!(signed.contains(&"content-length"), "{signed:?}");
    let header = |name: &str| {
        upload
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("video/mp4"));
    assert_eq!(header("content-length"), Some("1234"));

    // AND a download URL is a GET with its own expiry and no headers to send
    let download = media
        .download_url(&key("media/bob/a.mp4"), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(download.method, "GET");
    assert_eq!(query(&download.url, "X-Amz-Expires"), Some("60"));
    assert!(download.headers.is_empty(), "{:?}", download.headers);
}

#[tokio::test]
async fn given_an_expiry_over_7_days_when_presigning_then_refused_as_invalid_input() {
    let media = media().await;
    let object = key("media/carol/doc.pdf");
    let too_long = MAX_URL_EXPIRY + Duration::from_secs(1);

    // WHEN either URL is asked for with 7 days and a second THEN it is an input error
    let upload = media.upload_url(&object, "application/pdf", 10, too_long).await;
    let download = media.download_url(&object, too_long).await;
    for result in [upload, download] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::InvalidField(_)), "{err:?}");
        assert!(err.to_string().contains("7 days"), "{err}");
    }
    // AND a zero expiry is refused too
    assert!(media.download_url(&object, Duration::ZERO).await.is_err());

    // WHEN exactly 7 days THEN it is granted
    let week = media.download_url(&object, MAX_URL_EXPIRY).await.unwrap();
    assert_eq!(query(&week.url, "X-Amz-Expires"), Some("604800"));
}

#[tokio::test]
async fn given_a_content_type_that_breaks_headers_when_presigning_then_refused() {
    let media = media().await;
    let err = media
        .upload_url(
            &key("media/dave/x.bin"),
            "image/png\r\nx-amz-acl: public-read",
            1,
            TEN_MINUTES,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidField(_)), "{err:?}");
}

#[test]
fn given_bad_media_keys_when_parsed_then_refused_at_the_edge() {
    let too_long = format!("media/alice/{}", "a".repeat(MediaKey::MAX_LEN));
    for raw in [
        "",
        "/media/alice/x.png",
        "media/alice/../bob/x.png",
        "media/alice/..",
        "media/alice",
        "media/not a user/x.png",
        "other/alice/x.png",
        "media/alice/x.png?acl",
        too_long.as_str(),
    ] {
        assert!(MediaKey::parse(raw).is_err(), "{raw:?} was accepted");
        // The same rule holds when a key arrives in a frame.
        let json = serde_json::to_string(raw).unwrap();
        assert!(serde_json::from_str::<MediaKey>(&json).is_err(), "{raw:?}");
    }
    let err: Error = MediaKey::parse("media/alice/../x").unwrap_err().into();
    assert!(!err.is_internal());
}

#[tokio::test]
async fn given_objects_when_put_head_read_and_deleted_then_s3_follows() {
    // GIVEN a store and no object
    let media = media().await;
    let object = key("media/erin/image-0123456789abcdef0123456789abcdef/large");
    assert_eq!(media.head(&object).await.unwrap(), None);
    assert_eq!(media.read(&object, 10).await.unwrap(), None);

    // WHEN one is put THEN head gives its size and type, and read its first bytes or all of it
    media
        .put(&object, "image/jpeg", bytes::Bytes::from_static(b"0123456789"))
        .await
        .unwrap();
    let head = media.head(&object).await.unwrap().unwrap();
    assert_eq!(
        (head.size, head.content_type.as_deref()),
        (10, Some("image/jpeg"))
    );
    assert_eq!(media.read(&object, 4).await.unwrap().unwrap().as_ref(), b"0123");
    assert_eq!(
        media.read(&object, 1000).await.unwrap().unwrap().as_ref(),
        b"0123456789"
    );

    // WHEN it is deleted (twice) THEN it is gone, and the second delete is no error
    media.delete(&object).await.unwrap();
    media.delete(&object).await.unwrap();
    assert_eq!(media.head(&object).await.unwrap(), None);
}

#[tokio::test]
async fn given_an_upload_url_then_it_asks_s3_not_to_replace_an_existing_object() {
    // GIVEN an upload URL
    let media = media().await;
    let object = key("media/frank/file-0123456789abcdef0123456789abcdef/original");
    let upload = media
        .upload_url(&object, "application/pdf", 3, TEN_MINUTES)
        .await
        .unwrap();
    // THEN the client must send `If-None-Match: *`, signed, so a second PUT cannot swap the bytes
    // of an upload already checked (S3 answers it 412; moto may not enforce it)
    assert!(
        upload
            .headers
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("if-none-match") && value == "*"),
        "{:?}",
        upload.headers
    );
    let signed = query(&upload.url, "X-Amz-SignedHeaders").unwrap();
    assert!(signed.contains("if-none-match"), "{signed}");
    // AND the first PUT with those headers stores the object
    let put = send(&upload, b"pdf".to_vec()).await;
    assert!(put.status().is_success(), "PUT answered {}", put.status());
    assert_eq!(media.head(&object).await.unwrap().unwrap().size, 3);
}
