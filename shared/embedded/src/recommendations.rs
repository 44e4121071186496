//! [`RecommendationStore`] for [`SqliteStore`]: friend recommendation buffers, one row per
//! (owner, peer).
//!
//! Writes are jobs on the writer thread; putting a recommendation for the same owner and peer
//! replaces it. Pages run on the read pool through the primary key, already in peer id order.

use crate::error::Result;
use crate::rows::user_at;
use crate::store::SqliteStore;
use async_trait::async_trait;
use cirrus_core::ids::UserId;
use cirrus_core::ports::RecommendationStore;
use cirrus_core::social::Recommendation;
use rusqlite::{Row, params};

/// One page of `?1`'s recommendations after `?2` (`''` sorts before every id), at most `?3`.
pub(crate) const LIST_RECOMMENDATIONS: &str = "SELECT owner, peer, reason, added_at FROM recommendations \
     WHERE owner = ?1 AND peer > ?2 ORDER BY peer LIMIT ?3";

#[async_trait]
impl RecommendationStore for SqliteStore {
    async fn put_recommendations(&self, recommendations: &[Recommendation]) -> cirrus_core::Result<()> {
        if recommendations.is_empty() {
            return Ok(());
        }
        let recommendations = recommendations.to_vec();
        Ok(self
            .write(move |conn| {
                let mut upsert = conn.prepare_cached(
                    "INSERT OR REPLACE INTO recommendations (owner, peer, reason, added_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for recommendation in &recommendations {
                    upsert.execute(params![
                        recommendation.owner.as_str(),
                        recommendation.peer.as_str(),
                        recommendation.reason,
                        recommendation.added_at,
                    ])?;
                }
                Ok(())
            })
            .await?)
    }

    async fn list_recommendations(
        &self,
        owner: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Recommendation>> {
        let owner = owner.clone();
        let after = after.map_or_else(String::new, |after| after.as_str().to_owned());
        Ok(self
            .read(move |conn| {
                conn.prepare_cached(LIST_RECOMMENDATIONS)?
                    .query_and_then(params![owner.as_str(), after, limit], recommendation_from)?
                    .collect()
            })
            .await?)
    }

    async fn delete_recommendations(
        &self,
        owner: &UserId,
        peers: &[UserId],
    ) -> cirrus_core::Result<Vec<bool>> {
        if peers.is_empty() {
            return Ok(Vec::new());
        }
        let (owner, peers) = (owner.clone(), peers.to_vec());
        Ok(self
            .write(move |conn| {
                let mut delete =
                    conn.prepare_cached("DELETE FROM recommendations WHERE owner = ?1 AND peer = ?2")?;
                peers
                    .iter()
                    .map(|peer| Ok(delete.execute([owner.as_str(), peer.as_str()])? > 0))
                    .collect()
            })
            .await?)
    }
}

fn recommendation_from(row: &Row<'_>) -> Result<Recommendation> {
    Ok(Recommendation {
        owner: user_at(row, 0, "owner")?,
        peer: user_at(row, 1, "peer")?,
        reason: row.get(2)?,
        added_at: row.get(3)?,
    })
}
