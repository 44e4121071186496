//! `SqsQueue`, `SqsDeadLetters` and `create_queues_and_bucket` against one moto server per test
//! binary, fresh queues per case; and `SqsQueue`'s retries of failed entries against a scripted stand-in.
#![allow(clippy::unwrap_used)]

mod support;

use aws_sdk_sqs::types::QueueAttributeName;
use cirrus_aws::moto;
use cirrus_aws::{
    Backoff, MAX_BATCH_BYTES, MAX_RECEIVE_COUNT, QueueError, Resources, SqsDeadLetters, SqsQueue,
    create_queues_and_bucket,
};
use cirrus_core::ports::{DeadLetters, Job, Queue, QueueName, Redriven};
use serde_json::{Value, json};
use std::error::Error as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

/// Queues (and a bucket) of their own for one case.
async fn resources() -> Resources {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let case = NEXT.fetch_add(1, Ordering::Relaxed);
    create_queues_and_bucket(&moto::sdk(), &format!("q{}-{case}", std::process::id()))
        .await
        .unwrap()
}

fn queue(resources: &Resources) -> SqsQueue {
    SqsQueue::new(
        &moto::sdk(),
        &resources.push_queue_url,
        &resources.fanout_queue_url,
    )
}

/// Receives (and deletes) until `expected` messages came back or 10 s passed; then one more
/// short poll, so that a surplus shows up too.
async fn drain(queue: &SqsQueue, url: &str, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut payloads = Vec::new();
    loop {
        let done = payloads.len() >= expected || Instant::now() > deadline;
        let output = queue
            .client()
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(if done { 0 } else { 1 })
            .send()
            .await
            .unwrap();
        let messages = output.messages();
        for message in messages {
            payloads.push(serde_json::from_str(message.body().unwrap()).unwrap());
            queue
                .client()
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if done && messages.is_empty() {
            return payloads;
        }
    }
}

fn sorted(mut payloads: Vec<Value>) -> Vec<Value> {
    payloads.sort_by_key(Value::to_string);
    payloads
}

#[tokio::test]
async fn given_25_push_jobs_when_enqueued_then_all_25_come_back_with_their_payloads() {
    // GIVEN fresh queues and 25 distinct jobs (three batches of at most ten)
    let resources = resources().await;
    let queue = queue(&resources);
    let jobs: Vec<Value> = (0..25)
        .map(|i| json!({"kind": "push", "user": format!("u{i}"), "seq": i, "text": "héllo\n\"x\""}))
        .collect();

    // WHEN they are enqueued on the push queue
    queue
        .enqueue(QueueName::Push, jobs.iter().cloned().map(Job::from).collect())
        .await
        .unwrap();

    // THEN exactly those 25 payloads are received from it, and none from the fan-out queue
    let received = drain(&queue, &resources.push_queue_url, 25).await;
    assert_eq!(received.len(), 25);
    assert_eq!(sorted(received), sorted(jobs));
    assert_eq!(
        drain(&queue, &resources.fanout_queue_url, 0).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn given_jobs_of_100_kib_when_enqueued_then_split_by_bytes_and_all_arrive() {
    // GIVEN five jobs of about 100 KiB: ten entries, but more than one batch's 256 KiB
    let resources = resources().await;
    let queue = queue(&resources);
    let jobs: Vec<Value> = (0..5)
        .map(|i| json!({"shard": i, "pad": "x".repeat(100 * 1024)}))
        .collect();

    // WHEN they are enqueued on the fan-out queue
    queue
        .enqueue(QueueName::Fanout, jobs.iter().cloned().map(Job::from).collect())
        .await
        .unwrap();

    // THEN all five arrive intact
    let received = drain(&queue, &resources.fanout_queue_url, 5).await;
    assert_eq!(sorted(received), sorted(jobs));
}

#[tokio::test]
async fn given_a_job_over_the_message_limit_when_enqueued_then_a_clear_error_and_nothing_sent() {
    // GIVEN a small job followed by one whose JSON is over 256 KiB
    let resources = resources().await;
    let queue = queue(&resources);
    let jobs = vec![
        Job::from(json!({"ok": true})),
        Job::from(json!({"pad": "x".repeat(MAX_BATCH_BYTES)})),
    ];

    // WHEN they are enqueued
    let err = queue.enqueue(QueueName::Push, jobs).await.unwrap_err();

    // THEN the call fails as a backend fault naming the job and its size…
    assert!(err.is_internal(), "{err:?}");
    let source = err
        .source()
        .and_then(|source| source.downcast_ref::<QueueError>());
    assert!(
        matches!(
            source,
            Some(QueueError::JobTooLarge { index: 1, size, limit })
                if *size > MAX_BATCH_BYTES && *limit == MAX_BATCH_BYTES
        ),
        "{source:?}"
    );
    assert!(source.unwrap().to_string().contains("job 1 is"));
    // …and not even the small job was sent
    assert_eq!(
        drain(&queue, &resources.push_queue_url, 0).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn given_an_unknown_queue_when_enqueued_then_an_internal_error() {
    // GIVEN a queue client on URLs of queues that do not exist
    let endpoint = moto::moto_endpoint();
    let queue = SqsQueue::new(
        &moto::sdk(),
        format!("{endpoint}/123456789012/no-such-queue"),
        format!("{endpoint}/123456789012/no-such-queue"),
    );

    // WHEN a job is enqueued THEN it fails with an SDK error behind a generic client message
    let err = queue
        .enqueue(QueueName::Push, vec![Job::from(json!(1))])
        .await
        .unwrap_err();
    assert!(err.is_internal());
    assert!(matches!(
        err.source()
            .and_then(|source| source.downcast_ref::<QueueError>()),
        Some(QueueError::Sdk(_))
    ));
}

#[tokio::test]
async fn given_created_resources_when_created_again_then_same_queues_with_dead_letter_redrive() {
    // GIVEN the queues and bucket of one prefix
    let sdk = moto::sdk();
    let prefix = format!("again{}", std::process::id());
    let first = create_queues_and_bucket(&sdk, &prefix).await.unwrap();

    // WHEN they are created a second time
    let second = create_queues_and_bucket(&sdk, &prefix).await.unwrap();

    // THEN nothing changes…
    assert_eq!(first, second);
    assert!(first.push_queue_url.ends_with(&format!("/{prefix}-push")));
    assert!(first.fanout_queue_url.ends_with(&format!("/{prefix}-fanout")));
    assert_eq!(first.media_bucket, format!("{prefix}-media"));
    // …and each queue sends a job to its own dead-letter queue after 5 receives
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for (url, name) in [
        (&first.push_queue_url, "push"),
        (&first.fanout_queue_url, "fanout"),
    ] {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .unwrap();
        let policy: Value =
            serde_json::from_str(&attributes.attributes().unwrap()[&QueueAttributeName::RedrivePolicy])
                .unwrap();
        assert_eq!(
            policy["deadLetterTargetArn"].as_str().unwrap().rsplit(':').next(),
            Some(format!("{prefix}-{name}-dlq").as_str())
        );
        assert_eq!(
            policy["maxReceiveCount"].to_string().trim_matches('"'),
            MAX_RECEIVE_COUNT.to_string()
        );
    }
    // …and the bucket exists
    let s3 = cirrus_aws::S3Media::new(&sdk, &first.media_bucket);
    s3.client()
        .head_bucket()
        .bucket(&first.media_bucket)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn given_mixed_dead_letters_when_redriven_then_only_the_picked_return_and_the_rest_stay_visible() {
    // GIVEN three callback jobs and one offline push in the push queue's dead-letter queue
    let resources = resources().await;
    let queue = queue(&resources);
    let dlq = &resources.push_dead_letter_queue_url;
    assert!(dlq.ends_with("-push-dlq"), "{dlq}");
    let bodies = [
        json!({"kind": "callback", "n": 1}),
        json!({"kind": "offline", "n": 2}),
        json!({"kind": "callback", "n": 3}),
        json!({"kind": "callback", "n": 4}),
    ];
    for body in &bodies {
        queue
            .client()
            .send_message()
            .queue_url(dlq)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
    }
    let dead_letters = SqsDeadLetters::new(queue.clone(), dlq);
    let callback = |job: &Job| job.payload["kind"] == "callback";

    // WHEN two callbacks are redriven, then the rest
    let first = dead_letters.redrive_push(2, &callback).await.unwrap();
    let second = dead_letters.redrive_push(10, &callback).await.unwrap();

    // THEN two moved and more were left, then the third moved and the scan ran dry
    assert_eq!(
        first,
        Redriven {
            moved: 2,
            complete: false
        }
    );
    assert_eq!(
        second,
        Redriven {
            moved: 1,
            complete: true
        }
    );
    // AND the push queue has the three callbacks, as new messages
    let mut pushed: Vec<u64> = drain(&queue, &resources.push_queue_url, 3)
        .await
        .iter()
        .map(|job| job["n"].as_u64().unwrap())
        .collect();
    pushed.sort_unstable();
    assert_eq!(pushed, [1, 3, 4]);
    // AND the offline push is still a dead letter, visible again at once
    let left = drain(&queue, dlq, 1).await;
    assert_eq!(left, [json!({"kind": "offline", "n": 2})]);
}

/// What the scripted SQS answers to call `n` (0-based) for the entry `id`: `None` to accept it,
/// `Some(sender_fault)` to list it under `Failed`.
type Script = fn(u32, &str) -> Option<bool>;

/// An SQS stand-in that speaks just enough `SendMessageBatch` (AWS JSON 1.0) to script partial
/// failures, which moto never produces; returns its endpoint and the entry ids of every call.
async fn scripted_sqs(script: Script) -> (String, Arc<Mutex<Vec<Vec<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let recorded = recorded.clone();
            tokio::spawn(async move { serve_batches(stream, &recorded, script).await });
        }
    });
    (endpoint, calls)
}

async fn serve_batches(mut stream: TcpStream, calls: &Mutex<Vec<Vec<String>>>, script: Script) -> Option<()> {
    let mut buffer = Vec::new();
    loop {
        let (_, body) = support::next_request(&mut stream, &mut buffer).await?;
        let request: Value = serde_json::from_slice(&body).unwrap();

        let ids: Vec<String> = request["Entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["Id"].as_str().unwrap().to_owned())
            .collect();
        let call = {
            let mut calls = calls.lock().unwrap();
            calls.push(ids.clone());
            u32::try_from(calls.len() - 1).unwrap()
        };
        let (mut successful, mut failed) = (Vec::new(), Vec::new());
        for id in &ids {
            match script(call, id) {
                None => successful.push(json!({"Id": id, "MessageId": format!("m-{call}-{id}"),
                    "MD5OfMessageBody": "d41d8cd98f00b204e9800998ecf8427e"})),
                Some(sender_fault) => failed.push(json!({"Id": id, "SenderFault": sender_fault,
                    "Code": if sender_fault { "InvalidMessageContents" } else { "InternalError" }})),
            }
        }
        let body = json!({"Successful": successful, "Failed": failed}).to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.ok()?;
    }
}

/// A queue on the scripted server with a fast retry schedule of 3 calls.
fn quick(endpoint: &str) -> SqsQueue {
    let sdk = moto::sdk_for(endpoint);
    SqsQueue::new(&sdk, format!("{endpoint}/1/push"), format!("{endpoint}/1/fanout")).with_backoff(Backoff {
        attempts: 3,
        base: Duration::from_millis(5),
        max: Duration::from_millis(20),
    })
}

fn jobs(n: usize) -> Vec<Job> {
    (0..n).map(|i| Job::from(json!({"i": i}))).collect()
}

#[tokio::test]
async fn given_entries_failing_transiently_when_enqueued_then_only_they_are_sent_again() {
    // GIVEN SQS that fails entries 1 and 3 on the first call and accepts everything after
    let (endpoint, calls) =
        scripted_sqs(|call, id| (call == 0 && matches!(id, "1" | "3")).then_some(false)).await;

    // WHEN four jobs are enqueued THEN the call succeeds…
    quick(&endpoint).enqueue(QueueName::Push, jobs(4)).await.unwrap();

    // …after a second call carrying just the two failed entries
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls, [vec!["0", "1", "2", "3"], vec!["1", "3"]]);
}

#[tokio::test]
async fn given_entries_that_keep_failing_when_enqueued_then_refused_after_the_last_attempt() {
    // GIVEN SQS that always fails entry 0
    let (endpoint, calls) = scripted_sqs(|_, id| (id == "0").then_some(false)).await;

    // WHEN two jobs are enqueued THEN three calls are made and the error says so
    let err = quick(&endpoint)
        .enqueue(QueueName::Fanout, jobs(2))
        .await
        .unwrap_err();
    let source = err
        .source()
        .and_then(|source| source.downcast_ref::<QueueError>());
    assert!(
        matches!(source, Some(QueueError::Refused { failed: 1, attempts: 3, code }) if code == "InternalError"),
        "{source:?}"
    );
    assert_eq!(calls.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn given_an_entry_refused_as_the_senders_fault_when_enqueued_then_no_retry() {
    // GIVEN SQS that refuses entry 0 as the sender's fault
    let (endpoint, calls) = scripted_sqs(|_, id| (id == "0").then_some(true)).await;

    // WHEN 12 jobs are enqueued (two batches) THEN the first batch fails once, at once
    let err = quick(&endpoint)
        .enqueue(QueueName::Push, jobs(12))
        .await
        .unwrap_err();
    let source = err
        .source()
        .and_then(|source| source.downcast_ref::<QueueError>());
    assert!(
        matches!(
            source,
            Some(QueueError::Refused {
                failed: 1,
                attempts: 1,
                ..
            })
        ),
        "{source:?}"
    );
    assert_eq!(calls.lock().unwrap().len(), 1);
}
