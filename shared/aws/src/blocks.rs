//! [`BlockStore`] for [`DynamoStore`]: blacklists in the relations table, one item per block
//! under its owner, `key = BLOCK#<peer>` with `blockedAt` (ms).
//!
//! A block is written with `SET blockedAt = if_not_exists(blockedAt, :at)`, so blocking again
//! keeps the first time and never fails a condition. Reads, pages, counts, deletes and who blocked
//! a user (the table's index by key) are the relations table's (`relations.rs`). The costs are in this crate's `README.md`.

use crate::accounts::{first_occurrences, in_order};
use crate::error::{Result, StoreError};
use crate::item::{Item, get_n, n};
use crate::relations::{owner_of, peer_of, relation_key};
use crate::store::DynamoStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::BlockStore;
use cirrus_core::social::Block;

/// The sort key prefix of blocks.
const BLOCK: &str = "BLOCK#";

#[async_trait]
impl BlockStore for DynamoStore {
    async fn put_blocks(&self, blocks: &[Block]) -> cirrus_core::Result<()> {
        Ok(self.add_blocks(blocks).await?)
    }

    async fn delete_blocks(&self, owner: &UserId, peers: &[UserId]) -> cirrus_core::Result<Vec<bool>> {
        let pairs: Vec<(&UserId, &UserId)> = peers.iter().map(|peer| (owner, peer)).collect();
        Ok(self.delete_entries(BLOCK, &pairs).await?)
    }

    async fn get_blocks(&self, owner: &UserId, peers: &[UserId]) -> cirrus_core::Result<Vec<Block>> {
        let items = self.read_entries(owner, BLOCK, peers).await?;
        Ok(items.iter().map(block_from).collect::<Result<_>>()?)
    }

    async fn list_blocks(
        &self,
        owner: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Block>> {
        let after = after.map(UserId::as_str);
        let items = self.page(owner, BLOCK, after, None, limit).await?;
        Ok(items.iter().map(block_from).collect::<Result<_>>()?)
    }

    async fn list_blocked_by(
        &self,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<UserId>> {
        Ok(self.owners_of(BLOCK, peer, after, limit).await?)
    }

    async fn count_blocks(&self, owner: &UserId) -> cirrus_core::Result<u32> {
        Ok(self.count(owner, BLOCK).await?)
    }
}

impl DynamoStore {
    /// One `UpdateItem` per distinct (owner, peer), at most 16 in flight, setting `blockedAt`
    /// unless the block exists; of a pair repeated in the call the first is sent (its time would
    /// be kept anyway).
    async fn add_blocks(&self, blocks: &[Block]) -> Result<()> {
        let writes = first_occurrences(blocks.iter().map(|block| (&block.owner, &block.peer)))
            .into_iter()
            .map(|index| {
                let block = &blocks[index];
                let update = self
                    .client
                    .update_item()
                    .table_name(&self.config.relations_table)
                    .set_key(Some(relation_key(&block.owner, BLOCK, &block.peer)))
                    .update_expression("SET blockedAt = if_not_exists(blockedAt, :at)")
                    .expression_attribute_values(":at", n(block.blocked_at));
                async move {
                    update.send().await.map_err(StoreError::sdk)?;
                    Ok(())
                }
            })
            .collect();
        in_order(writes).await?;
        Ok(())
    }
}

fn block_from(item: &Item) -> Result<Block> {
    Ok(Block {
        owner: owner_of(item)?,
        peer: peer_of(item, BLOCK)?,
        blocked_at: get_n(item, "blockedAt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_reads_back_from_its_item() {
        // GIVEN the item a block of bob by alice leaves
        let (alice, bob) = (UserId::parse("alice").unwrap(), UserId::parse("bob").unwrap());
        let mut item = relation_key(&alice, BLOCK, &bob);
        item.insert("blockedAt".to_owned(), n(1_700_000_000_123_i64));
        // WHEN it is read THEN it is that block
        let expected = Block {
            owner: alice,
            peer: bob,
            blocked_at: 1_700_000_000_123,
        };
        assert_eq!(block_from(&item).unwrap(), expected);
    }
}
