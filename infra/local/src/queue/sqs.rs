//! [`spawn_sqs_poller`]: the push function's SQS event source mapping, played against the real
//! queue on the AWS backend.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use cirrus_core::ports::QueueName;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::BatchHandler;

/// Plays the SQS event source mapping of the push function against the real push queue of
/// `queue`: long-polls it, runs `handler` on each batch, deletes the messages that succeeded and
/// makes the failed ones visible again after `retry_delay` (SQS's redrive policy dead-letters
/// them after their last receive). Stops when `shutdown` turns true.
pub fn spawn_sqs_poller(
    queue: &cirrus_aws::SqsQueue,
    name: QueueName,
    handler: BatchHandler,
    retry_delay: Duration,
    batch_size: usize,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    let client = queue.client().clone();
    let queue_url = queue.url(name).to_owned();
    tokio::spawn(async move {
        let batch_size = i32::try_from(batch_size.clamp(1, 10)).unwrap_or(10);
        let retry_secs = i32::try_from(retry_delay.as_secs()).unwrap_or(i32::MAX);
        loop {
            if *shutdown.borrow() {
                break;
            }
            let receive = client
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(batch_size)
                .wait_time_seconds(1)
                .message_system_attribute_names("All".into())
                .send();
            let output = tokio::select! {
                output = receive => output,
                _ = shutdown.changed() => break,
            };
            let messages = match output {
                Ok(output) => output.messages.unwrap_or_default(),
                Err(err) => {
                    tracing::warn!(error = ?err, "ReceiveMessage on a queue failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            let mut event = SqsEvent::default();
            let mut receipts = HashMap::new();
            for message in messages {
                let mut record = SqsMessage::default();
                record.message_id = message.message_id.clone();
                record.receipt_handle = message.receipt_handle.clone();
                record.body = message.body.clone();
                record.md5_of_body = message.md5_of_body.clone();
                record.attributes = message
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                    .collect();
                record.event_source = Some("aws:sqs".to_owned());
                if let (Some(id), Some(receipt)) = (&message.message_id, &message.receipt_handle) {
                    receipts.insert(id.clone(), receipt.clone());
                }
                event.records.push(record);
            }
            let response = handler(event).await;
            let failed: HashSet<String> = response
                .batch_item_failures
                .into_iter()
                .map(|failure| failure.item_identifier)
                .collect();
            for (id, receipt) in receipts {
                let result = if failed.contains(&id) {
                    client
                        .change_message_visibility()
                        .queue_url(&queue_url)
                        .receipt_handle(receipt)
                        .visibility_timeout(retry_secs)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|err| format!("{err:?}"))
                } else {
                    client
                        .delete_message()
                        .queue_url(&queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|err| format!("{err:?}"))
                };
                if let Err(err) = result {
                    tracing::warn!(message_id = %id, error = %err, "could not settle a push job");
                }
            }
        }
        Ok(())
    })
}
