//! [`AppConfigStore`] for [`SqliteStore`]: one row per setting name, its JSON document as text.

use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ports::AppConfigStore;
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl AppConfigStore for SqliteStore {
    async fn app_config(&self, name: &str) -> cirrus_core::Result<Option<String>> {
        let name = name.to_owned();
        Ok(self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT value FROM app_config WHERE name = ?1")?
                    .query_row([name.as_str()], |row| row.get(0))
                    .optional()?)
            })
            .await?)
    }

    async fn put_app_config(&self, name: &str, value: Option<&str>) -> cirrus_core::Result<()> {
        let (name, value) = (name.to_owned(), value.map(str::to_owned));
        Ok(self
            .write(move |conn| {
                match &value {
                    Some(value) => conn
                        .prepare_cached(
                            "INSERT INTO app_config (name, value) VALUES (?1, ?2) \
                             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        )?
                        .execute(params![name, value])?,
                    None => conn
                        .prepare_cached("DELETE FROM app_config WHERE name = ?1")?
                        .execute([name.as_str()])?,
                };
                Ok(())
            })
            .await?)
    }
}
