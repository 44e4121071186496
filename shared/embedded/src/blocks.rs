//! [`BlockStore`] for [`SqliteStore`]: blacklists, one row per (owner, peer).
//!
//! Writes are jobs on the writer thread; a block that exists is left as it is
//! (`ON CONFLICT DO NOTHING`), so it keeps the time it was first made. Reads run on the read pool
//! through the primary key, already in peer id order; who blocked a user through the
//! `(peer, owner)` index.

use crate::error::{Result, StoreError};
use crate::rows::user_at;
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::BlockStore;
use cirrus_core::social::Block;
use rusqlite::{Row, params};

/// One page of `?1`'s blocks after `?2` (`''` sorts before every id), at most `?3`.
pub(crate) const LIST_BLOCKS: &str =
    "SELECT owner, peer, blocked_at FROM blocks WHERE owner = ?1 AND peer > ?2 ORDER BY peer LIMIT ?3";

#[async_trait]
impl BlockStore for SqliteStore {
    async fn put_blocks(&self, blocks: &[Block]) -> cirrus_core::Result<()> {
        if blocks.is_empty() {
            return Ok(());
        }
        let blocks = blocks.to_vec();
        Ok(self
            .write(move |conn| {
                let mut insert = conn.prepare_cached(
                    "INSERT INTO blocks (owner, peer, blocked_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (owner, peer) DO NOTHING",
                )?;
                for block in &blocks {
                    insert.execute(params![
                        block.owner.as_str(),
                        block.peer.as_str(),
                        block.blocked_at
                    ])?;
                }
                Ok(())
            })
            .await?)
    }

    async fn delete_blocks(&self, owner: &UserId, peers: &[UserId]) -> cirrus_core::Result<Vec<bool>> {
        if peers.is_empty() {
            return Ok(Vec::new());
        }
        let (owner, peers) = (owner.clone(), peers.to_vec());
        Ok(self
            .write(move |conn| {
                let mut delete = conn.prepare_cached("DELETE FROM blocks WHERE owner = ?1 AND peer = ?2")?;
                peers
                    .iter()
                    .map(|peer| Ok(delete.execute([owner.as_str(), peer.as_str()])? > 0))
                    .collect()
            })
            .await?)
    }

    async fn list_blocked_by(
        &self,
        peer: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<UserId>> {
        Ok(self
            .owners_of(
                "SELECT owner FROM blocks WHERE peer = ?1 AND owner > ?2 ORDER BY owner LIMIT ?3",
                peer,
                after,
                limit,
            )
            .await?)
    }

    async fn get_blocks(&self, owner: &UserId, peers: &[UserId]) -> cirrus_core::Result<Vec<Block>> {
        if peers.is_empty() {
            return Ok(Vec::new());
        }
        let (owner, peers) = (owner.clone(), peers.to_vec());
        Ok(self
            .read(move |conn| {
                let mut select = conn.prepare_cached(
                    "SELECT owner, peer, blocked_at FROM blocks WHERE owner = ?1 AND peer = ?2",
                )?;
                let mut found = Vec::with_capacity(peers.len());
                for peer in &peers {
                    if let Some(block) = select
                        .query_and_then([owner.as_str(), peer.as_str()], block_from)?
                        .next()
                        .transpose()?
                    {
                        found.push(block);
                    }
                }
                Ok(found)
            })
            .await?)
    }

    async fn list_blocks(
        &self,
        owner: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Block>> {
        let owner = owner.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(LIST_BLOCKS)?
                    .query_and_then(params![owner.as_str(), after, limit], block_from)?
                    .collect()
            })
            .await?)
    }

    async fn count_blocks(&self, owner: &UserId) -> cirrus_core::Result<u32> {
        let owner = owner.clone();
        Ok(self
            .read(move |conn| {
                let count: i64 = conn
                    .prepare_cached("SELECT count(*) FROM blocks WHERE owner = ?1")?
                    .query_row([owner.as_str()], |row| row.get(0))?;
                u32::try_from(count).map_err(|_| StoreError::BadValue { column: "count(*)" })
            })
            .await?)
    }
}

fn block_from(row: &Row<'_>) -> Result<Block> {
    Ok(Block {
        owner: user_at(row, 0, "owner")?,
        peer: user_at(row, 1, "peer")?,
        blocked_at: row.get(2)?,
    })
}
