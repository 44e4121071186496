//! [`SqsDeadLetters`]: the `DeadLetters` port over the push queue's SQS dead-letter queue.
//!
//! SQS's own redrive (`StartMessageMoveTask`) moves every message of a dead-letter queue and
//! cannot choose, and the push queue's dead letters mix offline pushes, deferred frames and
//! callbacks. So the dead-letter queue is read: each message taken is sent to the push queue as
//! a new job and then deleted; each one left is hidden while the scan lasts (so the scan does
//! not see it twice) and made visible again at its end.

use crate::queue::SqsQueue;
use async_trait::async_trait;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message};
use cirrus_core::ports::{DeadLetters, Job, JobFilter, Queue, QueueName, Redriven};

/// Most dead letters one call looks at, taken or not: a call ends in bounded time however many
/// jobs of other kinds lie there.
pub const MAX_SCANNED: usize = 1_000;

/// How long a dead letter the scan leaves stays hidden if the scan is cut short before it makes
/// it visible again: longer than a call takes.
const SCAN_VISIBILITY_SECS: i32 = 120;

/// The push queue's dead-letter queue, read and redriven through `queue`'s client.
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    queue: SqsQueue,
    url: String,
}

impl SqsDeadLetters {
    /// The dead letters at `url` (the push queue's redrive target), moved back through `queue`.
    pub fn new(queue: SqsQueue, url: impl Into<String>) -> Self {
        Self {
            queue,
            url: url.into(),
        }
    }

    /// One receive of up to ten dead letters; an empty answer after the one-second wait means
    /// no visible message is left (a long poll asks every SQS server, a short one only some).
    async fn receive(&self) -> cirrus_core::Result<Vec<Message>> {
        let output = self
            .queue
            .client()
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .visibility_timeout(SCAN_VISIBILITY_SECS)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(sdk)?;
        Ok(output.messages.unwrap_or_default())
    }

    /// Deletes the dead letters that were sent back. A failed delete leaves a copy behind,
    /// which a later replay sends again: the call id lets the receiver drop it.
    async fn delete(&self, handles: &[String]) -> cirrus_core::Result<()> {
        let entries = handles
            .iter()
            .enumerate()
            .map(|(i, handle)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
                    .map_err(sdk)
            })
            .collect::<cirrus_core::Result<Vec<_>>>()?;
        let output = self
            .queue
            .client()
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(sdk)?;
        if !output.failed().is_empty() {
            tracing::warn!(
                failed = output.failed().len(),
                "some replayed dead letters were not deleted and may be replayed again"
            );
        }
        Ok(())
    }

    /// Makes the dead letters the scan left visible again, ten at a time.
    async fn release(&self, handles: &[String]) {
        for chunk in handles.chunks(10) {
            let entries = chunk.iter().enumerate().filter_map(|(i, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            });
            let released = self
                .queue
                .client()
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries.collect()))
                .send()
                .await;
            // Not fatal: they come back by themselves when the scan's visibility timeout ends.
            if released.is_err() {
                tracing::warn!(
                    count = chunk.len(),
                    "dead letters left by a replay stay hidden until their visibility timeout"
                );
            }
        }
    }
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn redrive_push(&self, limit: usize, pick: JobFilter<'_>) -> cirrus_core::Result<Redriven> {
        let mut left = Vec::new();
        let mut redriven = Redriven::default();
        let mut scanned = 0;
        let outcome = async {
            while redriven.moved < limit && scanned < MAX_SCANNED {
                let messages = self.receive().await?;
                if messages.is_empty() {
                    redriven.complete = true;
                    break;
                }
                scanned += messages.len();
                let mut jobs = Vec::new();
                let mut taken = Vec::new();
                for message in messages {
                    let Some(handle) = message.receipt_handle else {
                        continue;
                    };
                    let job = message
                        .body
                        .as_deref()
                        .and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok())
                        .map(Job::from);
                    match job {
                        Some(job) if redriven.moved + jobs.len() < limit && pick(&job) => {
                            jobs.push(job);
                            taken.push(handle);
                        }
                        _ => left.push(handle),
                    }
                }
                if !jobs.is_empty() {
                    // Sent before deleted: a failure in between leaves a duplicate, never a loss.
                    self.queue.enqueue(QueueName::Push, jobs).await?;
                    self.delete(&taken).await?;
                    redriven.moved += taken.len();
                }
            }
            Ok::<_, cirrus_core::Error>(())
        }
        .await;
        self.release(&left).await;
        outcome.map(|()| redriven)
    }
}

fn sdk(err: impl Into<aws_sdk_sqs::Error>) -> cirrus_core::Error {
    cirrus_core::Error::store(crate::queue::QueueError::Sdk(Box::new(err.into())))
}
