//! [`SqsQueue`]: the `Queue` port over two SQS standard queues (push and fan-out).

use crate::backoff::Backoff;
use crate::config::Config;
use crate::error::{Result, StoreError};
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use cirrus_core::ports::{Job, Queue, QueueName};

/// Most entries one `SendMessageBatch` call takes (an SQS limit).
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Most bytes of message bodies, one or all of them together, that one `SendMessageBatch` call
/// takes. SQS has accepted up to 1 MiB since 2025, but 256 KiB is what every queue, old or new,
/// and every local emulator accepts.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// What can go wrong enqueueing jobs.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// One job's JSON is larger than a message may be; nothing was enqueued.
    #[error("job {index} is {size} bytes of JSON, over the {limit}-byte message limit")]
    JobTooLarge {
        /// Position of the job in the call.
        index: usize,
        /// Its serialized size.
        size: usize,
        /// [`MAX_BATCH_BYTES`].
        limit: usize,
    },
    /// A job's payload could not be serialized.
    #[error("job payload is not serializable")]
    Encode(#[from] serde_json::Error),
    /// A `SendMessageBatch` call failed as a whole (after the SDK's own retries).
    #[error("SendMessageBatch failed")]
    Sdk(#[source] Box<aws_sdk_sqs::Error>),
    /// Some entries were still refused after the last attempt, or were refused as the sender's
    /// fault (which no retry fixes). The jobs before them in the call may have been enqueued.
    #[error("SQS refused {failed} job(s) after {attempts} attempt(s): {code}")]
    Refused {
        /// Jobs not enqueued.
        failed: usize,
        /// Calls made for the last batch.
        attempts: u32,
        /// The error code of the first refused entry (`InternalError`, `InvalidMessageContents`…).
        code: String,
    },
}

impl From<QueueError> for cirrus_core::Error {
    // Core has no queue variant; a queue is durable storage for work, and the detail stays in
    // the source for the log either way.
    fn from(err: QueueError) -> Self {
        cirrus_core::Error::store(err)
    }
}

/// `Queue` over SQS: jobs are JSON message bodies, sent with `SendMessageBatch` in batches of
/// at most [`MAX_BATCH_ENTRIES`] entries and [`MAX_BATCH_BYTES`] bytes. Entries SQS reports as
/// failed through no fault of the sender are sent again with capped exponential backoff
/// ([`Backoff`]).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    push_url: String,
    fanout_url: String,
    backoff: Backoff,
}

impl SqsQueue {
    /// A queue client with `sdk`'s region, credentials and endpoint and the store's call limits
    /// ([`crate::call_limits`]), on the two queue URLs.
    pub fn new(sdk: &SdkConfig, push_url: impl Into<String>, fanout_url: impl Into<String>) -> Self {
        Self::from_client(crate::call_limits::sqs_client(sdk), push_url, fanout_url)
    }

    /// A queue client on `CIRRUS_PUSH_QUEUE_URL` and `CIRRUS_FANOUT_QUEUE_URL`, both required.
    pub fn from_config(sdk: &SdkConfig, config: &Config) -> Result<Self> {
        let push = config
            .push_queue_url
            .as_deref()
            .ok_or(StoreError::MissingEnv("CIRRUS_PUSH_QUEUE_URL"))?;
        let fanout = config
            .fanout_queue_url
            .as_deref()
            .ok_or(StoreError::MissingEnv("CIRRUS_FANOUT_QUEUE_URL"))?;
        Ok(Self::new(sdk, push, fanout))
    }

    /// A queue over a client built by the caller.
    pub fn from_client(client: Client, push_url: impl Into<String>, fanout_url: impl Into<String>) -> Self {
        Self {
            client,
            push_url: push_url.into(),
            fanout_url: fanout_url.into(),
            backoff: Backoff::default(),
        }
    }

    /// The same queue with another retry schedule for failed entries.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The SQS client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The URL `queue` is sent to.
    pub fn url(&self, queue: QueueName) -> &str {
        match queue {
            QueueName::Push => &self.push_url,
            QueueName::Fanout => &self.fanout_url,
        }
    }

    /// Sends one batch until every entry is in or the attempts run out.
    async fn send_batch(&self, url: &str, bodies: &[String]) -> std::result::Result<(), QueueError> {
        // Entry ids only need to be unique within a call: the body's index in the batch.
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        let mut delays = self.backoff.delays();
        let mut attempt = 1;
        loop {
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i])
                        .build()
                        .map_err(|err| QueueError::Sdk(Box::new(err.into())))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| QueueError::Sdk(Box::new(err.into())))?;
            let failed = output.failed();
            let Some(first) = failed.first() else {
                return Ok(());
            };
            let retryable = failed.iter().all(|entry| !entry.sender_fault());
            let delay = if retryable { delays.next() } else { None };
            let Some(delay) = delay else {
                return Err(QueueError::Refused {
                    failed: failed.len(),
                    attempts: attempt,
                    code: first.code().to_owned(),
                });
            };
            tracing::warn!(
                failed = failed.len(),
                attempt,
                code = first.code(),
                ?delay,
                "SQS refused some entries, sending them again"
            );
            pending = failed
                .iter()
                .filter_map(|entry| entry.id().parse().ok())
                .filter(|&i| i < bodies.len())
                .collect();
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// A job's message body. SQS refuses bodies with characters outside XML's set; serde_json
/// escapes every control character but writes U+FFFE and U+FFFF as they are, and those can only
/// occur inside JSON strings, where their escape means the same.
fn body(job: &Job) -> std::result::Result<String, QueueError> {
    let json = serde_json::to_string(&job.payload)?;
    if json.contains(['\u{fffe}', '\u{ffff}']) {
        return Ok(json.replace('\u{fffe}', "\\ufffe").replace('\u{ffff}', "\\uffff"));
    }
    Ok(json)
}

/// Splits bodies into batches SQS accepts, refusing any body that fits in none.
fn batches(bodies: Vec<String>) -> std::result::Result<Vec<Vec<String>>, QueueError> {
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for (index, body) in bodies.into_iter().enumerate() {
        let size = body.len();
        if size > MAX_BATCH_BYTES {
            return Err(QueueError::JobTooLarge {
                index,
                size,
                limit: MAX_BATCH_BYTES,
            });
        }
        match batches.last_mut() {
            Some(batch) if batch.len() < MAX_BATCH_ENTRIES && bytes + size <= MAX_BATCH_BYTES => {
                bytes += size;
                batch.push(body);
            }
            _ => {
                bytes = size;
                batches.push(vec![body]);
            }
        }
    }
    Ok(batches)
}

#[async_trait]
impl Queue for SqsQueue {
    async fn enqueue(&self, queue: QueueName, jobs: Vec<Job>) -> cirrus_core::Result<()> {
        // Every job is checked before the first is sent, so a bad one enqueues nothing.
        let bodies = jobs
            .iter()
            .map(body)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let url = self.url(queue);
        for batch in batches(bodies)? {
            self.send_batch(url, &batch).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sizes(batches: &[Vec<String>]) -> Vec<usize> {
        batches.iter().map(Vec::len).collect()
    }

    #[test]
    fn given_25_small_jobs_when_batched_then_tens_and_a_remainder() {
        let bodies = (0..25).map(|i| i.to_string()).collect();
        assert_eq!(sizes(&batches(bodies).unwrap()), [10, 10, 5]);
    }

    #[test]
    fn given_jobs_of_100_kib_when_batched_then_two_per_batch() {
        // Two fit in 256 KiB, a third would not.
        let bodies = vec!["x".repeat(100 * 1024); 5];
        assert_eq!(sizes(&batches(bodies).unwrap()), [2, 2, 1]);
    }

    #[test]
    fn given_a_job_over_the_limit_when_batched_then_it_is_named() {
        let bodies = vec!["a".to_owned(), "x".repeat(MAX_BATCH_BYTES + 1)];
        let err = batches(bodies).unwrap_err();
        assert!(
            matches!(err, QueueError::JobTooLarge { index: 1, size, .. } if size == MAX_BATCH_BYTES + 1),
            "{err:?}"
        );
    }

    #[test]
    fn given_a_job_of_exactly_the_limit_when_batched_then_it_goes_alone() {
        let bodies = vec!["a".to_owned(), "x".repeat(MAX_BATCH_BYTES), "b".to_owned()];
        assert_eq!(sizes(&batches(bodies).unwrap()), [1, 1, 1]);
    }

    #[test]
    fn given_noncharacters_when_encoded_then_escaped_and_still_the_same_json() {
        let job = Job::from(json!({"text": "a\u{ffff}b\u{fffe}"}));
        let encoded = body(&job).unwrap();
        assert!(!encoded.contains(['\u{fffe}', '\u{ffff}']));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&encoded).unwrap(),
            job.payload
        );
    }
}
