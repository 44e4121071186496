//! Fuzzes the checks of what clients send about media: object keys, media ids, content types
//! and the sniffing of uploaded bytes.

use cirrus_core::fuzzing::{config, hostile_string};
use cirrus_core::ids::UserId;
use cirrus_core::media::{MediaId, MediaKey, MediaKind, check_content_type, essence, sniff};
use cirrus_core::{Error, ErrorCode};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = MediaKind> {
    prop::sample::select(vec![
        MediaKind::Image,
        MediaKind::Sound,
        MediaKind::Video,
        MediaKind::File,
    ])
}

/// Keys made of the pieces a key has, so many get past the first checks.
fn key_like() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        "[a-zA-Z0-9_.-]{1,12}",
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just(String::new()),
        hostile_string(),
    ];
    (
        prop::sample::select(vec!["media/", "", "media", "/media/", "MEDIA/"]),
        prop::collection::vec(segment, 0..6),
    )
        .prop_map(|(prefix, segments)| format!("{prefix}{}", segments.join("/")))
}

/// What every accepted key guarantees: the prefix, a valid owner, and no segment that is
/// empty, `.`/`..` or holds a character outside `[A-Za-z0-9_.-]`.
fn check_key(raw: &str) {
    match MediaKey::parse(raw) {
        Ok(key) => {
            assert_eq!(key.as_str(), raw);
            assert!(raw.len() <= MediaKey::MAX_LEN);
            let rest = raw.strip_prefix(MediaKey::PREFIX).expect("the prefix");
            assert!(UserId::parse(key.owner()).is_ok(), "{raw}");
            for segment in rest.split('/').skip(1) {
                assert!(!segment.is_empty() && segment != "." && segment != "..", "{raw}");
                assert!(
                    segment
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(&c)),
                    "{raw}"
                );
            }
            assert!(key.owner() != "." && key.owner() != "..", "{raw}");
            assert_eq!(MediaKey::parse(key.to_string()).as_ref(), Ok(&key));
        }
        Err(err) => assert_eq!(Error::from(err).code(), ErrorCode::InvalidField),
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_keys_are_checked(raw in prop_oneof![key_like(), hostile_string()]) {
        check_key(&raw);
        let from_json = serde_json::from_value::<MediaKey>(serde_json::Value::String(raw.clone()));
        prop_assert_eq!(from_json.is_ok(), MediaKey::parse(raw).is_ok());
    }

    #[test]
    fn arbitrary_media_ids_are_checked(raw in prop_oneof![
        key_like().prop_map(|k| k.trim_start_matches("media/").to_owned()),
        hostile_string(),
        ("[a-z0-9_]{1,10}", kind(), "[0-9a-fA-F]{30,34}").prop_map(|(u, k, h)| format!("{u}/{}-{h}", k.name())),
    ]) {
        match MediaId::parse(&raw) {
            Ok(id) => {
                prop_assert_eq!(id.as_str(), raw.as_str());
                // Every object key of an accepted id is an accepted key that leads back to it.
                for object in ["original", "large", "thumbnail"] {
                    let key = id.key(object);
                    check_key(key.as_str());
                    let (back, name) = MediaId::from_key(&key).expect("a media id's key names it");
                    prop_assert_eq!(back.as_str(), id.as_str());
                    prop_assert_eq!(name, object);
                }
            }
            Err(err) => prop_assert_eq!(Error::from(err).code(), ErrorCode::InvalidField),
        }
    }

    #[test]
    fn generated_ids_and_keys_are_accepted(owner in "[a-zA-Z0-9_-]{1,32}", kind in kind()) {
        let owner = UserId::parse(owner).expect("a valid user id");
        let id = MediaId::generate(&owner, kind);
        let parsed = MediaId::parse(id.as_str()).expect("a generated id parses");
        prop_assert_eq!(parsed.kind(), kind);
        prop_assert_eq!(parsed.owner(), owner.as_str());
        check_key(id.manifest_key().as_str());
    }

    #[test]
    fn content_types_and_sniffing_never_panic(content_type in hostile_string(), head in prop::collection::vec(any::<u8>(), 0..64), kind in kind()) {
        if let Err(err) = check_content_type(&content_type) {
            prop_assert!(!err.is_internal());
        }
        let _ = kind.accepts(&content_type);
        prop_assert!(essence(&content_type).len() <= content_type.len());
        if let Some(sniffed) = sniff(&head, kind) {
            prop_assert!(kind.accepts(sniffed), "{} sniffed as {}", kind.name(), sniffed);
        }
    }
}
