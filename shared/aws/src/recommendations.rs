//! [`RecommendationStore`] for [`DynamoStore`]: friend recommendation buffers in the relations
//! table, one item per suggestion under its owner, `key = RECOMMEND#<peer>` with `addedAt` (ms)
//! and, when set, `reason`.
//!
//! Puts replace whole items with `BatchWriteItem` (25 a call); pages and deletes are the relations
//! table's (`relations.rs`). The costs are in this crate's `README.md`.

use crate::error::{Result, StoreError};
use crate::item::{Item, get_n, n, opt_s, s};
use crate::relations::{owner_of, peer_of, relation_key};
use crate::store::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use cirrus_core::ids::UserId;
use cirrus_core::ports::RecommendationStore;
use cirrus_core::social::Recommendation;
use std::collections::HashMap;

/// The sort key prefix of recommendations.
const RECOMMEND: &str = "RECOMMEND#";

#[async_trait]
impl RecommendationStore for DynamoStore {
    async fn put_recommendations(&self, recommendations: &[Recommendation]) -> cirrus_core::Result<()> {
        let writes = latest(recommendations)
            .into_iter()
            .map(|recommendation| {
                let put = PutRequest::builder()
                    .set_item(Some(recommendation_item(recommendation)))
                    .build()
                    .map_err(StoreError::Build)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.batch_write(&self.config.relations_table, writes).await?)
    }

    async fn list_recommendations(
        &self,
        owner: &UserId,
        after: Option<&UserId>,
        limit: u32,
    ) -> cirrus_core::Result<Vec<Recommendation>> {
        let after = after.map(UserId::as_str);
        let items = self.page(owner, RECOMMEND, after, None, limit).await?;
        Ok(items.iter().map(recommendation_from).collect::<Result<_>>()?)
    }

    async fn delete_recommendations(
        &self,
        owner: &UserId,
        peers: &[UserId],
    ) -> cirrus_core::Result<Vec<bool>> {
        let pairs: Vec<(&UserId, &UserId)> = peers.iter().map(|peer| (owner, peer)).collect();
        Ok(self.delete_entries(RECOMMEND, &pairs).await?)
    }
}

/// Each (owner, peer) once, in the order first named, as its last recommendation in the call (as
/// if written in order; a `BatchWriteItem` may not name one key twice).
fn latest(recommendations: &[Recommendation]) -> Vec<&Recommendation> {
    let mut slot: HashMap<(&UserId, &UserId), usize> = HashMap::new();
    let mut kept: Vec<&Recommendation> = Vec::new();
    for recommendation in recommendations {
        match slot.get(&(&recommendation.owner, &recommendation.peer)) {
            Some(&at) => kept[at] = recommendation,
            None => {
                slot.insert((&recommendation.owner, &recommendation.peer), kept.len());
                kept.push(recommendation);
            }
        }
    }
    kept
}

fn recommendation_item(recommendation: &Recommendation) -> Item {
    let mut item = relation_key(&recommendation.owner, RECOMMEND, &recommendation.peer);
    item.insert("addedAt".to_owned(), n(recommendation.added_at));
    if let Some(reason) = &recommendation.reason {
        item.insert("reason".to_owned(), s(reason));
    }
    item
}

fn recommendation_from(item: &Item) -> Result<Recommendation> {
    Ok(Recommendation {
        owner: owner_of(item)?,
        peer: peer_of(item, RECOMMEND)?,
        reason: opt_s(item, "reason")?.map(str::to_owned),
        added_at: get_n(item, "addedAt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recommendation(owner: &str, peer: &str, added_at: i64) -> Recommendation {
        Recommendation {
            owner: UserId::parse(owner).unwrap(),
            peer: UserId::parse(peer).unwrap(),
            reason: Some("chess".to_owned()),
            added_at,
        }
    }

    #[test]
    fn a_recommendation_round_trips_through_its_item() {
        let without_reason = Recommendation {
            reason: None,
            ..recommendation("alice", "bob", 7)
        };
        for entry in [recommendation("alice", "bob", 1_700_000_000_000), without_reason] {
            assert_eq!(recommendation_from(&recommendation_item(&entry)).unwrap(), entry);
        }
    }

    #[test]
    fn a_repeated_owner_and_peer_is_written_once_the_last_one_winning_in_the_first_place() {
        // GIVEN bob recommended twice to alice, carol once between, and bob to carol
        let all = [
            recommendation("alice", "bob", 1),
            recommendation("alice", "carol", 2),
            recommendation("alice", "bob", 3),
            recommendation("carol", "bob", 4),
        ];
        // WHEN the writes are chosen THEN each pair is written once, the last time wins
        let times: Vec<i64> = latest(&all).iter().map(|r| r.added_at).collect();
        assert_eq!(times, [3, 2, 4]);
        assert!(latest(&[]).is_empty());
    }
}
