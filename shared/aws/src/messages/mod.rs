//! [`MessageStore`] for [`DynamoStore`]: append with unique seqs and idempotency, history, single
//! messages, recall, edits and delete-for-me.
//!
//! An append is three single-item writes, no transaction (a transactional write costs double):
//! claim the idempotency item on the condition that it is absent, take the next seq with an atomic
//! `ADD`-style update of the stream head (which also moves the sender's read pointer in a
//! one-to-one stream, and names the claim so that the same claim never takes two seqs), then put
//! the message at that seq. Inbox rows that do not exist yet are
//! created between the claim and the seq, so a conversation never has messages its participants
//! cannot list.
//! A claim that is already taken is a duplicate: the first message is found in its stream, near
//! the top, by (sender, clientMsgId).
//!
//! Messages and claims carry the roaming end as the table's TTL attribute (`expiresAt`, epoch
//! seconds rounded up) and the exact one (`expiresAtMs`). TTL deletes lazily (up to days late), so
//! `history` and `get_message` compare `expiresAtMs` themselves. The per-conversation cap is
//! applied on read only: `history` reads the stream head (its `lastSeq`) and leaves out every seq
//! at or below `lastSeq - keep_last`; such messages go when their TTL does (an append never
//! deletes). Stream heads have no TTL: a seq is never handed out twice.
//!
//! Delete-for-me entries live in the same table, one small item per hidden message under the
//! owner's partition of the stream, `("hide:<owner>:<stream>", seq)`, with the same two expiry
//! attributes; `history` with a viewer reads that partition over the seqs of each page it read.
//! The costs are in this crate's `README.md`.

mod append;
mod edit;
mod items;
mod reads;
mod recall;

pub(crate) use items::{Head, message_from_item};

use crate::error::Result;
use crate::item::{Item, opt_n};
use crate::store::DynamoStore;
use async_trait::async_trait;
use cirrus_core::ids::{ClientMsgId, StreamKey, UserId};
use cirrus_core::message::{Recall, StoredMessage};
use cirrus_core::ports::{Appended, Edited, MessageEdit, MessageStore, NewMessage, SeqRange};

/// The seq of a stream's head item (the counter); messages start at 1.
pub(crate) const HEAD_SEQ: u64 = 0;
/// DynamoDB's limit on keys per BatchGetItem.
const MAX_BATCH_GET: usize = 100;
/// Prefix of the head attributes holding a participant's read pointer in a one-to-one stream.
const READ_PREFIX: &str = "read:";
/// How long a claim without its message belongs to the writer that made it. Longer than any
/// function's timeout, so a claim older than this was left by a writer that died mid-append.
const CLAIM_LEASE_MS: i64 = 30_000;
/// How far before its claim a duplicate's first message may be stamped (clock skew between
/// writers): the search down the stream stops below that.
const CLOCK_SKEW_MS: i64 = 10_000;
/// Messages read per page while looking for a duplicate's first message.
const SEARCH_PAGE: i32 = 50;
/// How many times an append takes over abandoned claims before giving up.
const MAX_TAKEOVERS: u32 = 3;

/// The partition key of the idempotency item of (sender, clientMsgId). Stream keys start with
/// `c2c:` or `group:` and user ids hold no `:`, so it cannot collide with a stream.
fn idempotency_key(from: &UserId, client_msg_id: &ClientMsgId) -> String {
    format!("idem:{from}:{client_msg_id}")
}

/// The partition key of `owner`'s delete-for-me entries in `stream`. It starts with `hide:`, which
/// no stream key (`c2c:`, `group:`) nor claim (`idem:`) does, and user ids hold no `:`.
fn hidden_key(owner: &UserId, stream: &StreamKey) -> String {
    format!("hide:{owner}:{stream}")
}

/// Whether an item (a message, a delete-for-me entry) is still live at `now`: its `expiresAtMs`
/// is later (an item written before messages expired has none, and never expires).
fn live_at(item: &Item, now: i64) -> Result<bool> {
    Ok(opt_n::<i64>(item, "expiresAtMs")?.is_none_or(|expires_at| expires_at > now))
}

/// The head attribute holding `user`'s read pointer in a one-to-one stream.
fn read_attribute(user: &UserId) -> String {
    format!("{READ_PREFIX}{user}")
}

#[async_trait]
impl MessageStore for DynamoStore {
    async fn append(&self, message: NewMessage) -> cirrus_core::Result<Appended> {
        Ok(self.append_message(&message).await?)
    }

    async fn history(
        &self,
        stream: &StreamKey,
        range: SeqRange,
        viewer: Option<&UserId>,
    ) -> cirrus_core::Result<Vec<StoredMessage>> {
        Ok(self.read_history(stream, range, viewer).await?)
    }

    async fn get_message(
        &self,
        stream: &StreamKey,
        seq: u64,
        now: i64,
    ) -> cirrus_core::Result<Option<StoredMessage>> {
        Ok(self.live_message(stream, seq, now).await?)
    }

    async fn recall(
        &self,
        stream: &StreamKey,
        seq: u64,
        recall: &Recall,
    ) -> cirrus_core::Result<Option<StoredMessage>> {
        Ok(self.recall_message(stream, seq, recall).await?)
    }

    async fn edit(&self, stream: &StreamKey, seq: u64, change: &MessageEdit) -> cirrus_core::Result<Edited> {
        Ok(self.edit_message(stream, seq, change).await?)
    }

    async fn hide_messages(
        &self,
        owner: &UserId,
        stream: &StreamKey,
        seqs: &[u64],
        expires_at: i64,
    ) -> cirrus_core::Result<()> {
        Ok(self.hide_for(owner, stream, seqs, expires_at).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::items::message_item;
    use super::*;
    use crate::item::{n, s};
    use aws_sdk_dynamodb::types::AttributeValue;
    use cirrus_core::element::Element;
    use cirrus_core::ids::MsgId;
    use cirrus_core::message::{SenderProfile, Target};
    use cirrus_core::ports::InboxUpdate;

    fn user(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    fn message() -> NewMessage {
        let (alice, bob) = (user("alice"), user("bob"));
        NewMessage {
            stream: StreamKey::c2c(&alice, &bob),
            msg_id: MsgId::parse("m-1").unwrap(),
            from: alice.clone(),
            to: Target::C2c(bob.clone()),
            time: 1_700_000_000_000,
            client_msg_id: ClientMsgId::parse("c-1").unwrap(),
            body: vec![Element::Text {
                text: "hi".to_owned(),
            }],
            cloud_custom_data: Some("app".to_owned()),
            sender: Some(SenderProfile {
                nickname: Some("Alice".to_owned()),
                avatar: Some("https://example.com/a.png".to_owned()),
            }),
            system: true,
            expires_at: 1_700_604_800_500,
            keep_last: 10_000,
            inbox: InboxUpdate::c2c(&alice, &bob),
        }
    }

    #[test]
    fn a_message_round_trips_through_its_item_with_the_ttl_in_seconds_rounded_up() {
        // GIVEN a message with a sender profile, the system flag and a roaming end 0.5 s past a
        // whole second
        let message = message();
        // WHEN it is turned into an item at seq 7
        let item = message_item(&message, 7, &serde_json::to_string(&message.body).unwrap());
        // THEN the item keeps the exact roaming end and the TTL one at the next whole second
        assert_eq!(item["expiresAtMs"], n(1_700_604_800_500_i64));
        assert_eq!(item["expiresAt"], n(1_700_604_801_i64));
        assert_eq!(item["system"], AttributeValue::Bool(true));
        // AND it reads back as stored
        assert_eq!(message_from_item(&item).unwrap(), message.stored(7));
    }

    #[test]
    fn an_empty_sender_profile_reads_back_as_one_and_a_plain_message_has_no_extras() {
        // GIVEN a message with an empty sender profile, and one with none and no system flag
        let empty = NewMessage {
            sender: Some(SenderProfile::default()),
            ..message()
        };
        let plain = NewMessage {
            sender: None,
            system: false,
            cloud_custom_data: None,
            ..message()
        };
        // THEN the first keeps its (empty) profile
        let item = message_item(&empty, 1, "[]");
        assert_eq!(
            message_from_item(&item).unwrap().sender,
            Some(SenderProfile::default())
        );
        // AND the second's item has neither attribute
        let item = message_item(&plain, 1, "[]");
        assert!(
            !item.contains_key("sender") && !item.contains_key("system"),
            "{item:?}"
        );
        let stored = message_from_item(&item).unwrap();
        assert_eq!(
            (stored.sender, stored.system, stored.recalled),
            (None, false, None)
        );
    }

    #[test]
    fn a_recalled_item_reads_back_as_a_tombstone() {
        // GIVEN a message item as recall leaves it: an empty body, the recall recorded
        let mut item = message_item(&message(), 3, "[]");
        item.remove("cloudCustomData");
        item.insert("recalledBy".to_owned(), s("alice"));
        item.insert("recalledAt".to_owned(), n(1_700_000_060_000_i64));
        // THEN it reads back with no body, no custom data and the recall
        let stored = message_from_item(&item).unwrap();
        assert!(stored.body.is_empty());
        assert_eq!(stored.cloud_custom_data, None);
        assert_eq!(
            stored.recalled,
            Some(Recall {
                by: user("alice"),
                time: 1_700_000_060_000
            })
        );
    }

    #[test]
    fn liveness_compares_the_exact_expiry_and_items_without_one_never_expire() {
        let item = message_item(&message(), 1, "[]");
        assert!(live_at(&item, 1_700_604_800_499).unwrap());
        assert!(!live_at(&item, 1_700_604_800_500).unwrap());
        let mut legacy = item;
        legacy.remove("expiresAtMs");
        assert!(live_at(&legacy, i64::MAX).unwrap());
    }

    #[test]
    fn delete_for_me_partitions_cannot_meet_streams_or_claims() {
        let stream = StreamKey::c2c(&user("alice"), &user("bob"));
        let key = hidden_key(&user("alice"), &stream);
        assert_eq!(key, "hide:alice:c2c:alice:bob");
        assert!(!key.starts_with("c2c:") && !key.starts_with("group:") && !key.starts_with("idem:"));
    }
}
