//! [`ConnectionStore`] for [`DynamoStore`]: one item per connection, an index by user.
//!
//! `expiresAt` is the TTL attribute (epoch seconds, rounded up); `expiresAtMs` keeps the exact
//! time. DynamoDB deletes expired items only eventually, so reads filter them out themselves.

use crate::error::{Result, StoreError};
use crate::item::{Item, get_id, get_n, n, opt_s, s};
use crate::store::DynamoStore;
use crate::tables::CONNECTIONS_BY_USER;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use cirrus_core::ids::{ConnectionId, UserId};
use cirrus_core::ports::{Connection, ConnectionStore};

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn put_connection(&self, connection: &Connection) -> cirrus_core::Result<()> {
        self.client
            .put_item()
            .table_name(&self.config.connections_table)
            .set_item(Some(to_item(connection)))
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(())
    }

    async fn delete_connection(&self, id: &ConnectionId) -> cirrus_core::Result<Option<Connection>> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.config.connections_table)
            .key("connectionId", s(id.as_str()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        Ok(deleted.attributes.as_ref().map(from_item).transpose()?)
    }

    async fn get_connection(&self, id: &ConnectionId, now: i64) -> cirrus_core::Result<Option<Connection>> {
        let got = self
            .client
            .get_item()
            .table_name(&self.config.connections_table)
            .key("connectionId", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        let connection = got.item.as_ref().map(from_item).transpose()?;
        Ok(connection.filter(|c| c.expires_at > now))
    }

    async fn connections_of(&self, user: &UserId, now: i64) -> cirrus_core::Result<Vec<Connection>> {
        let mut connections = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.config.connections_table)
                .index_name(CONNECTIONS_BY_USER)
                .key_condition_expression("userId = :user")
                .expression_attribute_values(":user", s(user.as_str()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                let connection = from_item(item)?;
                if connection.expires_at > now {
                    connections.push(connection);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(connections);
            }
        }
    }
}

fn to_item(connection: &Connection) -> Item {
    let mut item = Item::from([
        ("connectionId".to_owned(), s(connection.id.as_str())),
        ("userId".to_owned(), s(connection.user.as_str())),
        ("connectedAt".to_owned(), n(connection.connected_at)),
        ("expiresAtMs".to_owned(), n(connection.expires_at)),
        ("expiresAt".to_owned(), n(ttl_seconds(connection.expires_at))),
    ]);
    if let Some(platform) = &connection.platform {
        item.insert("platform".to_owned(), s(platform));
    }
    item
}

/// The TTL attribute: epoch seconds, rounded up so DynamoDB never deletes a live record early.
pub(crate) fn ttl_seconds(expires_at_ms: i64) -> i64 {
    expires_at_ms.div_euclid(1000) + i64::from(expires_at_ms.rem_euclid(1000) != 0)
}

fn from_item(item: &Item) -> Result<Connection> {
    Ok(Connection {
        id: get_id(item, "connectionId", ConnectionId::parse)?,
        user: get_id(item, "userId", UserId::parse)?,
        platform: opt_s(item, "platform")?.map(str::to_owned),
        connected_at: get_n(item, "connectedAt")?,
        expires_at: get_n(item, "expiresAtMs")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_in_seconds_rounded_up() {
        assert_eq!(ttl_seconds(1_700_000_000_000), 1_700_000_000);
        assert_eq!(ttl_seconds(1_700_000_000_001), 1_700_000_001);
        assert_eq!(ttl_seconds(1_700_000_000_999), 1_700_000_001);
    }

    #[test]
    fn a_connection_round_trips_through_its_item() {
        // GIVEN a connection with and one without a platform
        let mut connection = Connection {
            id: ConnectionId::parse("abc=").unwrap(),
            user: UserId::parse("alice").unwrap(),
            platform: Some("web".to_owned()),
            connected_at: 1_700_000_000_000,
            expires_at: 1_700_007_200_123,
        };
        for platform in [Some("web".to_owned()), None] {
            connection.platform = platform;
            // WHEN it is written to an item and read back THEN nothing is lost
            assert_eq!(from_item(&to_item(&connection)).unwrap(), connection);
        }
    }
}
