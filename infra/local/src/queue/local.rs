//! [`LocalQueue`]: the in-memory stand-in for SQS on SQLite, with its consumer.

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use cirrus_core::ports::{DeadLetters, Job, JobFilter, Queue, QueueName, Redriven};
/// The webhook's configuration, as [`PushConfig::webhook`] takes it.
use futures_util::future::BoxFuture;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Dead letters kept per queue for inspection; older ones are dropped (and were logged).
pub const MAX_DEAD_LETTERS: usize = 10_000;

/// A batch handler: what an SQS event source mapping invokes.
pub type BatchHandler = Arc<dyn Fn(SqsEvent) -> BoxFuture<'static, SqsBatchResponse> + Send + Sync>;

/// How the queue delivers and retries, as an SQS queue with a redrive policy and a Lambda event
/// source mapping would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// How long a received message stays invisible: a failed job is tried again after this.
    pub visibility_timeout: Duration,
    /// Receives of one message before it is dead-lettered (the redrive policy's
    /// `maxReceiveCount`).
    pub max_receive_count: u32,
    /// Most messages in one batch.
    pub batch_size: usize,
    /// How long to gather a batch once a message is there (`MaximumBatchingWindowInSeconds`).
    pub batching_window: Duration,
    /// Batches handled at once.
    pub max_concurrency: usize,
}

impl Default for QueueOptions {
    /// SQS's default visibility timeout, the template's five receives, batches of ten, no
    /// batching window (the local stack has no per-invocation cost to save) and four batches at
    /// once.
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_receive_count: cirrus_aws::MAX_RECEIVE_COUNT,
            batch_size: 10,
            batching_window: Duration::ZERO,
            max_concurrency: 4,
        }
    }
}

/// A job the queue gave up on after its last receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message id it had.
    pub message_id: String,
    /// The job as enqueued (JSON).
    pub body: String,
    /// How often it was received.
    pub receive_count: u32,
}

/// One message of a lane.
#[derive(Debug)]
struct Message {
    id: String,
    body: String,
    sent_at_ms: i64,
    first_receive_ms: Option<i64>,
    receive_count: u32,
    /// Invisible until then (`None`: visible).
    invisible_until: Option<Instant>,
}

/// One queue: its messages in sending order and its dead letters.
#[derive(Debug, Default)]
struct Lane {
    messages: VecDeque<Message>,
    dead: VecDeque<DeadLetter>,
    dead_total: u64,
}

#[derive(Debug, Default)]
struct LaneCell {
    state: Mutex<Lane>,
    wake: Notify,
}

#[derive(Debug)]
struct Inner {
    push: LaneCell,
    fanout: LaneCell,
    options: QueueOptions,
    next_id: AtomicU64,
    /// Names this queue's messages in logs and event source ARNs (`cirrus-local-push`).
    name: String,
}

/// An SQS-like queue in this process (see the module documentation). Messages live in memory:
/// jobs still queued when the process stops are lost, like the sockets they were for.
#[derive(Debug, Clone)]
pub struct LocalQueue {
    inner: Arc<Inner>,
}

impl LocalQueue {
    /// An empty queue.
    pub fn new(options: QueueOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                push: LaneCell::default(),
                fanout: LaneCell::default(),
                options: QueueOptions {
                    max_receive_count: options.max_receive_count.max(1),
                    batch_size: options.batch_size.clamp(1, 10_000),
                    max_concurrency: options.max_concurrency.max(1),
                    ..options
                },
                next_id: AtomicU64::new(1),
                name: "cirrus-local".to_owned(),
            }),
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> QueueOptions {
        self.inner.options
    }

    /// Messages of `queue` not yet handled: waiting, or received and not settled.
    pub fn pending(&self, queue: QueueName) -> usize {
        self.lock(queue).messages.len()
    }

    /// The dead letters of `queue` kept for inspection, oldest first.
    pub fn dead_letters(&self, queue: QueueName) -> Vec<DeadLetter> {
        self.lock(queue).dead.iter().cloned().collect()
    }

    /// How many jobs of `queue` were dead-lettered since start (kept or not).
    pub fn dead_letter_count(&self, queue: QueueName) -> u64 {
        self.lock(queue).dead_total
    }

    /// Runs `handler` on the batches of `queue` until `shutdown` turns true, then waits for the
    /// batches in hand.
    pub fn spawn_consumer(
        &self,
        queue: QueueName,
        handler: BatchHandler,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<std::io::Result<()>> {
        let this = self.clone();
        tokio::spawn(async move {
            let options = this.inner.options;
            let permits = Arc::new(Semaphore::new(options.max_concurrency));
            loop {
                if *shutdown.borrow() {
                    break;
                }
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let Some(batch) = this.next_batch(queue, &mut shutdown).await else {
                    break;
                };
                let this = this.clone();
                let handler = handler.clone();
                tokio::spawn(async move {
                    let ids: Vec<(String, u32)> = batch
                        .iter()
                        .map(|record| {
                            (
                                record.message_id.clone().unwrap_or_default(),
                                receive_count(record),
                            )
                        })
                        .collect();
                    let mut event = SqsEvent::default();
                    event.records = batch;
                    let response = handler(event).await;
                    this.settle(queue, &ids, &response);
                    drop(permit);
                });
            }
            // Let the batches in hand finish (their messages would come back otherwise).
            let _ = permits
                .acquire_many(u32::try_from(options.max_concurrency).unwrap_or(u32::MAX))
                .await;
            Ok(())
        })
    }

    /// Waits for the next batch of `queue` (after the batching window), or `None` at shutdown.
    async fn next_batch(
        &self,
        queue: QueueName,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<Vec<SqsMessage>> {
        let cell = self.cell(queue);
        loop {
            let wake = cell.wake.notified();
            let next = {
                let mut lane = self.lock(queue);
                if self.visible(&mut lane) > 0 {
                    None
                } else {
                    Some(
                        lane.messages
                            .iter()
                            .filter_map(|message| message.invisible_until)
                            .min(),
                    )
                }
            };
            let Some(next) = next else { break };
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = wake => {}
                () = sleep => {}
                _ = shutdown.changed() => return None,
            }
            if *shutdown.borrow() {
                return None;
            }
        }
        let options = self.inner.options;
        if !options.batching_window.is_zero() {
            let mut lane_len = self.visible(&mut self.lock(queue));
            let deadline = Instant::now() + options.batching_window;
            while lane_len < options.batch_size {
                let wake = cell.wake.notified();
                tokio::select! {
                    () = wake => {}
                    () = tokio::time::sleep_until(deadline) => break,
                }
                lane_len = self.visible(&mut self.lock(queue));
            }
        }
        Some(self.receive(queue, options.batch_size))
    }

    /// Visible messages of the lane; moves any received `max_receive_count` times already to
    /// the dead letters first (as SQS does on the receive after the last).
    fn visible(&self, lane: &mut Lane) -> usize {
        let now = Instant::now();
        let max = self.inner.options.max_receive_count;
        let mut count = 0;
        let mut index = 0;
        while index < lane.messages.len() {
            let message = &mut lane.messages[index];
            if message.invisible_until.is_some_and(|until| until <= now) {
                message.invisible_until = None;
            }
            if message.invisible_until.is_none() && message.receive_count >= max {
                if let Some(message) = lane.messages.remove(index) {
                    self.bury(lane, message);
                }
                continue;
            }
            if message.invisible_until.is_none() {
                count += 1;
            }
            index += 1;
        }
        count
    }

    /// Takes up to `max` visible messages, hiding each for the visibility timeout.
    fn receive(&self, queue: QueueName, max: usize) -> Vec<SqsMessage> {
        let mut lane = self.lock(queue);
        self.visible(&mut lane);
        let now_ms = cirrus_local_now_ms();
        let hide_until = Instant::now() + self.inner.options.visibility_timeout;
        let arn = format!(
            "arn:aws:sqs:local:000000000000:{}-{}",
            self.inner.name,
            lane_name(queue)
        );
        lane.messages
            .iter_mut()
            .filter(|message| message.invisible_until.is_none())
            .take(max)
            .map(|message| {
                message.receive_count += 1;
                message.invisible_until = Some(hide_until);
                let first = *message.first_receive_ms.get_or_insert(now_ms);
                let mut record = SqsMessage::default();
                record.message_id = Some(message.id.clone());
                record.receipt_handle = Some(format!("{}#{}", message.id, message.receive_count));
                record.body = Some(message.body.clone());
                record.attributes = HashMap::from([
                    (
                        "ApproximateReceiveCount".to_owned(),
                        message.receive_count.to_string(),
                    ),
                    ("SentTimestamp".to_owned(), message.sent_at_ms.to_string()),
                    ("ApproximateFirstReceiveTimestamp".to_owned(), first.to_string()),
                    ("SenderId".to_owned(), "cirrus-local".to_owned()),
                ]);
                record.event_source = Some("aws:sqs".to_owned());
                record.event_source_arn = Some(arn.clone());
                record.aws_region = Some("local".to_owned());
                record
            })
            .collect()
    }

    /// Deletes the batch's messages that succeeded; a failed one stays hidden until its
    /// visibility timeout ends, or is dead-lettered if that was its last receive. An answer
    /// naming a message that is not in the batch fails the whole batch, as with SQS.
    fn settle(&self, queue: QueueName, batch: &[(String, u32)], response: &SqsBatchResponse) {
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.as_str())
            .collect();
        let all_failed = failed
            .iter()
            .any(|id| !batch.iter().any(|(batch_id, _)| batch_id == id));
        if all_failed {
            tracing::warn!(
                queue = lane_name(queue),
                "the answer names a message not in the batch: the whole batch failed"
            );
        }
        let max = self.inner.options.max_receive_count;
        let mut lane = self.lock(queue);
        for (id, receives) in batch {
            // A message received again meanwhile (its visibility timeout ended) belongs to that
            // receive now: this receipt is stale.
            let Some(index) = lane
                .messages
                .iter()
                .position(|message| &message.id == id && message.receive_count == *receives)
            else {
                continue;
            };
            if !all_failed && !failed.contains(id.as_str()) {
                lane.messages.remove(index);
            } else if *receives >= max
                && let Some(message) = lane.messages.remove(index)
            {
                self.bury(&mut lane, message);
            }
        }
    }

    /// Moves a message to the dead letters.
    fn bury(&self, lane: &mut Lane, message: Message) {
        tracing::warn!(
            message_id = %message.id,
            receives = message.receive_count,
            "job dead-lettered after its last receive"
        );
        lane.dead_total += 1;
        if lane.dead.len() >= MAX_DEAD_LETTERS {
            lane.dead.pop_front();
        }
        lane.dead.push_back(DeadLetter {
            message_id: message.id,
            body: message.body,
            receive_count: message.receive_count,
        });
    }

    fn cell(&self, queue: QueueName) -> &LaneCell {
        match queue {
            QueueName::Push => &self.inner.push,
            QueueName::Fanout => &self.inner.fanout,
        }
    }

    fn lock(&self, queue: QueueName) -> std::sync::MutexGuard<'_, Lane> {
        self.cell(queue)
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Queue for LocalQueue {
    async fn enqueue(&self, queue: QueueName, jobs: Vec<Job>) -> cirrus_core::Result<()> {
        // Serialized up front: a job that cannot be encoded enqueues nothing.
        let bodies = jobs
            .iter()
            .map(|job| serde_json::to_string(&job.payload))
            .collect::<Result<Vec<_>, _>>()
            .map_err(cirrus_core::Error::store)?;
        let now_ms = cirrus_local_now_ms();
        {
            let mut lane = self.lock(queue);
            for body in bodies {
                let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
                lane.messages.push_back(Message {
                    id: format!("{}-{n:016x}", lane_name(queue)),
                    body,
                    sent_at_ms: now_ms,
                    first_receive_ms: None,
                    receive_count: 0,
                    invisible_until: None,
                });
            }
        }
        self.cell(queue).wake.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl DeadLetters for LocalQueue {
    async fn redrive_push(&self, limit: usize, pick: JobFilter<'_>) -> cirrus_core::Result<Redriven> {
        let mut moved = Vec::new();
        let complete = {
            let mut lane = self.lock(QueueName::Push);
            let mut kept = VecDeque::with_capacity(lane.dead.len());
            let mut complete = true;
            while let Some(letter) = lane.dead.pop_front() {
                if moved.len() >= limit {
                    kept.push_back(letter);
                    complete = false;
                    continue;
                }
                // A body that is not JSON was never a job anyone could run: it stays.
                let job = serde_json::from_str::<serde_json::Value>(&letter.body).map(Job::from);
                match job {
                    Ok(job) if pick(&job) => moved.push(job),
                    _ => kept.push_back(letter),
                }
            }
            lane.dead = kept;
            complete
        };
        let count = moved.len();
        if count > 0 {
            self.enqueue(QueueName::Push, moved).await?;
        }
        Ok(Redriven {
            moved: count,
            complete,
        })
    }
}

fn lane_name(queue: QueueName) -> &'static str {
    match queue {
        QueueName::Push => "push",
        QueueName::Fanout => "fanout",
    }
}

fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

fn cirrus_local_now_ms() -> i64 {
    crate::hub::now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options() -> QueueOptions {
        QueueOptions {
            visibility_timeout: Duration::from_millis(50),
            max_receive_count: 3,
            batch_size: 10,
            batching_window: Duration::ZERO,
            max_concurrency: 1,
        }
    }

    /// A handler failing the jobs whose `n` is odd, recording every body it saw.
    fn odd_fails(seen: Arc<Mutex<Vec<(String, u32)>>>) -> BatchHandler {
        Arc::new(move |event: SqsEvent| {
            let seen = seen.clone();
            Box::pin(async move {
                let mut response = SqsBatchResponse::default();
                for record in event.records {
                    let body: serde_json::Value =
                        serde_json::from_str(record.body.as_deref().unwrap_or("null")).unwrap();
                    seen.lock()
                        .unwrap()
                        .push((body["n"].to_string(), receive_count(&record)));
                    if body["n"].as_u64().unwrap_or(0) % 2 == 1 {
                        response.add_failure(record.message_id.unwrap_or_default());
                    }
                }
                response
            })
        })
    }

    async fn until(mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn given_a_failing_job_when_consumed_then_it_is_retried_and_dead_lettered() {
        // GIVEN a queue with three receives per message and a handler that fails odd jobs
        let queue = LocalQueue::new(options());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, shutdown) = watch::channel(false);
        let consumer = queue.spawn_consumer(QueueName::Push, odd_fails(seen.clone()), shutdown);
        // WHEN jobs 1 and 2 are enqueued
        queue
            .enqueue(
                QueueName::Push,
                vec![Job::from(json!({"n": 1})), Job::from(json!({"n": 2}))],
            )
            .await
            .unwrap();
        // THEN job 2 is done at once, and job 1 ends in the dead letters after three receives
        until(|| queue.dead_letter_count(QueueName::Push) == 1).await;
        assert_eq!(queue.pending(QueueName::Push), 0);
        let dead = queue.dead_letters(QueueName::Push);
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].receive_count, 3);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&dead[0].body).unwrap(),
            json!({"n": 1})
        );
        let seen = seen.lock().unwrap().clone();
        let ones: Vec<u32> = seen.iter().filter(|(n, _)| n == "1").map(|(_, r)| *r).collect();
        let twos: Vec<u32> = seen.iter().filter(|(n, _)| n == "2").map(|(_, r)| *r).collect();
        assert_eq!(ones, [1, 2, 3]);
        assert_eq!(twos, [1]);
        stop.send(true).unwrap();
        consumer.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn given_dead_letters_when_redriven_then_the_picked_ones_are_queued_anew_and_the_rest_stay() {
        // GIVEN jobs 1 and 3 dead-lettered by a handler that fails odd jobs
        let queue = LocalQueue::new(options());
        let (stop, shutdown) = watch::channel(false);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let consumer = queue.spawn_consumer(QueueName::Push, odd_fails(seen), shutdown);
        let jobs = vec![Job::from(json!({"n": 1})), Job::from(json!({"n": 3}))];
        queue.enqueue(QueueName::Push, jobs).await.unwrap();
        until(|| queue.dead_letter_count(QueueName::Push) == 2).await;
        stop.send(true).unwrap();
        consumer.await.unwrap().unwrap();
        // WHEN job 1 is picked, with no limit to speak of
        let one = |job: &Job| job.payload["n"] == 1;
        let redriven = queue.redrive_push(100, &one).await.unwrap();
        // THEN it is pending again and job 3 is still a dead letter
        assert_eq!(
            redriven,
            Redriven {
                moved: 1,
                complete: true
            }
        );
        assert_eq!(queue.pending(QueueName::Push), 1);
        let dead = queue.dead_letters(QueueName::Push);
        assert_eq!(dead.len(), 1);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&dead[0].body).unwrap(),
            json!({"n": 3})
        );
        // AND a limit of zero moves nothing and says there is more
        let all = |_: &Job| true;
        let redriven = queue.redrive_push(0, &all).await.unwrap();
        assert_eq!(
            redriven,
            Redriven {
                moved: 0,
                complete: false
            }
        );
        assert_eq!(queue.dead_letters(QueueName::Push).len(), 1);
    }

    #[tokio::test]
    async fn given_a_failed_job_when_retried_then_it_waits_for_the_visibility_timeout() {
        let queue = LocalQueue::new(QueueOptions {
            visibility_timeout: Duration::from_millis(300),
            ..options()
        });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, shutdown) = watch::channel(false);
        let consumer = queue.spawn_consumer(QueueName::Push, odd_fails(seen.clone()), shutdown);
        let start = Instant::now();
        queue
            .enqueue(QueueName::Push, vec![Job::from(json!({"n": 1}))])
            .await
            .unwrap();
        until(|| seen.lock().unwrap().len() == 2).await;
        assert!(start.elapsed() >= Duration::from_millis(300));
        stop.send(true).unwrap();
        consumer.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn an_answer_naming_an_unknown_message_fails_the_whole_batch() {
        let queue = LocalQueue::new(QueueOptions {
            max_receive_count: 1,
            ..options()
        });
        let handler: BatchHandler = Arc::new(|_event: SqsEvent| {
            Box::pin(async {
                let mut response = SqsBatchResponse::default();
                response.add_failure("no-such-message");
                response
            })
        });
        let (stop, shutdown) = watch::channel(false);
        let consumer = queue.spawn_consumer(QueueName::Push, handler, shutdown);
        queue
            .enqueue(
                QueueName::Push,
                vec![Job::from(json!({"n": 2})), Job::from(json!({"n": 4}))],
            )
            .await
            .unwrap();
        until(|| queue.dead_letter_count(QueueName::Push) == 2).await;
        stop.send(true).unwrap();
        consumer.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn batches_hold_at_most_the_batch_size_and_records_look_like_sqs() {
        // GIVEN 25 jobs waiting before the consumer starts
        let queue = LocalQueue::new(options());
        for n in 0..25 {
            queue
                .enqueue(QueueName::Push, vec![Job::from(json!({"n": n * 2}))])
                .await
                .unwrap();
        }
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let records = Arc::new(Mutex::new(Vec::new()));
        let (seen_sizes, seen_records) = (sizes.clone(), records.clone());
        let handler: BatchHandler = Arc::new(move |event: SqsEvent| {
            seen_sizes.lock().unwrap().push(event.records.len());
            seen_records.lock().unwrap().extend(event.records);
            Box::pin(async { SqsBatchResponse::default() })
        });
        let (stop, shutdown) = watch::channel(false);
        let consumer = queue.spawn_consumer(QueueName::Push, handler, shutdown);
        // WHEN they are consumed
        until(|| queue.pending(QueueName::Push) == 0).await;
        // THEN in batches of ten, ten and five, each record shaped as SQS sends it
        assert_eq!(*sizes.lock().unwrap(), [10, 10, 5]);
        let records = records.lock().unwrap().clone();
        let first = &records[0];
        assert_eq!(first.event_source.as_deref(), Some("aws:sqs"));
        assert_eq!(first.attributes["ApproximateReceiveCount"], "1");
        assert!(first.receipt_handle.is_some());
        assert_eq!(first.body.as_deref(), Some("{\"n\":0}"));
        let ids: HashSet<_> = records.iter().map(|r| r.message_id.clone()).collect();
        assert_eq!(ids.len(), 25);
        stop.send(true).unwrap();
        consumer.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn the_fanout_lane_is_separate_and_unconsumed() {
        let queue = LocalQueue::new(options());
        queue
            .enqueue(QueueName::Fanout, vec![Job::from(json!({"n": 0}))])
            .await
            .unwrap();
        assert_eq!(queue.pending(QueueName::Fanout), 1);
        assert_eq!(queue.pending(QueueName::Push), 0);
    }
}
