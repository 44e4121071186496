//! Offline push: the job queued for each recipient with no live connection.

use crate::message::StoredMessage;
use crate::ids::UserId;
use crate::ports::Job;

/// The `kind` of an offline-push job.
pub const OFFLINE_PUSH_JOB: &str = "offline";

/// The offline-push job telling `recipient` about `message`.
pub fn offline_push_job(message: &StoredMessage, recipient: &UserId) -> Job {
    Job::from(serde_json::json!({
        "kind": OFFLINE_PUSH_JOB,
        "to": recipient,
        "from": message.from,
        "msgId": message.msg_id,
        "seq": message.seq,
        "conversationId": message.to.conversation_for(&message.from, recipient),
    }))
}
