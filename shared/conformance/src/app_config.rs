//! [`AppConfigStore`](cirrus_core::ports::AppConfigStore): app-wide settings, one document per
//! name, replaced whole and removed by name.

use crate::fixture::{Fixture, Stores};

/// A document is read back exactly, replaced whole, and gone once removed; names are separate.
pub async fn app_config_is_stored_replaced_and_removed_by_name(stores: Stores) {
    let fx = Fixture::new();
    let (name, other) = (fx.key("callbacks"), fx.key("other"));
    let config = &stores.app_config;
    // GIVEN nothing stored THEN nothing is read
    assert_eq!(config.app_config(&name).await.expect("read"), None);
    // WHEN a document with non-ASCII text is stored THEN it reads back byte for byte
    let first = r#"{"url":"https://app.example/im","token":"t","note":"✨ 100%"}"#;
    config.put_app_config(&name, Some(first)).await.expect("put");
    assert_eq!(
        config.app_config(&name).await.expect("read").as_deref(),
        Some(first)
    );
    // AND another name is untouched
    assert_eq!(config.app_config(&other).await.expect("read"), None);
    // WHEN it is replaced THEN only the new document is there
    let second = r#"{"url":"http://127.0.0.1:9/cb"}"#;
    config.put_app_config(&name, Some(second)).await.expect("replace");
    assert_eq!(
        config.app_config(&name).await.expect("read").as_deref(),
        Some(second)
    );
    // WHEN it is removed THEN nothing is read, and removing it again is fine
    config.put_app_config(&name, None).await.expect("remove");
    assert_eq!(config.app_config(&name).await.expect("read"), None);
    config.put_app_config(&name, None).await.expect("remove again");
}
