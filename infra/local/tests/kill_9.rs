//! Durability under `kill -9`: the `cirrus-local` binary on a SQLite data file is killed repeatedly
//! while several senders send C2C and group messages; after each restart on the same file the senders
//! resend what was not acknowledged with the same client message id. At the end every acknowledged
//! message must be in history exactly once, with the seq its ack named, and seqs without gaps.
//!
//! `CIRRUS_KILL_CYCLES` sets the number of kills (default 10).

#![allow(clippy::unwrap_used)] // unwrapping is how a test says "this must hold"

mod support;

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::Socket;
use tokio::process::Child;
use tokio::sync::Mutex;

const SENDERS: usize = 4;
const RECEIVER: &str = "kill-rcv";
const GROUP: &str = "g-kill";
/// How long the senders run before a kill: 200 to 600 ms, varied so that kills land at
/// different points of a send.
fn load(cycle: usize) -> Duration {
    Duration::from_millis(200 + (cycle as u64 * 137) % 400)
}

/// Where a message goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    C2c,
    Group,
}

/// One sender's state across restarts: what was acknowledged, and the send in flight at the kill.
#[derive(Default)]
struct Sender {
    next: u64,
    pending: Option<(String, Target)>,
    /// clientMsgId → (target, seq, msgId) from the ack.
    acked: BTreeMap<String, (Target, u64, String)>,
    /// The newest acknowledged message, resent after each restart to check its ack comes back.
    last_acked: Option<(String, Target)>,
    attempts: u64,
    /// Resends after a kill that the store answered with an ack made before it (the kill fell
    /// between the commit and the ack reaching the client).
    answered_from_store: u64,
}

/// Starts the stack on `data_dir`, its log drained so that a full pipe never blocks it; returns
/// it, its URL, and when it was started (ms since the epoch: every ack older than that was made by
/// an earlier life).
async fn start(data_dir: &Path) -> (Child, String, u64) {
    let started_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis() as u64;
    let dir = data_dir.to_str().expect("a UTF-8 temp path");
    let (mut child, url) = support::start(
        &["--data-dir", dir],
        &[
            ("RUST_LOG", "error"),
            ("CIRRUS_RATE_LIMITS", "off"),
            // History must keep every message sent, however many cycles run.
            ("CIRRUS_MAX_CONVERSATION_MESSAGES", "100000000"),
        ],
    )
    .await;
    let mut log = child.stderr.take().expect("piped stderr");
    tokio::spawn(async move { tokio::io::copy(&mut log, &mut tokio::io::sink()).await });
    (child, url, started_ms)
}

fn sender_name(i: usize) -> String {
    format!("kill-s{i}")
}

/// Sends (or resends) one message; returns the ack's `time`, or `None` when the socket failed
/// before the ack.
async fn send(socket: &mut Socket, state: &mut Sender, cmid: &str, target: Target) -> Option<u64> {
    let to = match target {
        Target::C2c => json!({"type": "c2c", "id": RECEIVER}),
        Target::Group => json!({"type": "group", "id": GROUP}),
    };
    state.attempts += 1;
    let data = json!({"to": to, "clientMsgId": cmid, "body": [{"type": "text", "text": cmid}]});
    match socket.call("msg.send", data).await {
        Ok(reply) => {
            assert_eq!(reply["ok"], true, "msg.send refused: {reply}");
            let seq = reply["data"]["seq"].as_u64().expect("a seq");
            let msg_id = reply["data"]["msgId"].as_str().expect("a msgId").to_owned();
            if let Some(first) = state.acked.get(cmid) {
                assert_eq!(
                    (first.1, &first.2),
                    (seq, &msg_id),
                    "a resend of {cmid} must return the first ack"
                );
            }
            state.acked.insert(cmid.to_owned(), (target, seq, msg_id));
            state.last_acked = Some((cmid.to_owned(), target));
            reply["data"]["time"].as_u64()
        }
        Err(_) => None,
    }
}

/// One sender's run against one life of the server, started at `life_started_ms`: the pending
/// resend and the last acknowledged one first, then new messages until the socket dies (or, with
/// `stop_after_pending`, right after the resends).
async fn run_sender(
    url: String,
    user: String,
    state: Arc<Mutex<Sender>>,
    stop_after_pending: bool,
    life_started_ms: u64,
) {
    let mut state = state.lock().await;
    let Ok(mut socket) = Socket::connect(&url, &user).await else {
        return;
    };
    if let Some((cmid, target)) = state.pending.clone() {
        let Some(time) = send(&mut socket, &mut state, &cmid, target).await else {
            return;
        };
        if time < life_started_ms {
            state.answered_from_store += 1;
        }
        state.pending = None;
    }
    if let Some((cmid, target)) = state.last_acked.clone()
        && send(&mut socket, &mut state, &cmid, target).await.is_none()
    {
        return;
    }
    if stop_after_pending {
        return;
    }
    loop {
        state.next += 1;
        let cmid = format!("{user}-{}", state.next);
        let target = if state.next % 2 == 0 {
            Target::Group
        } else {
            Target::C2c
        };
        state.pending = Some((cmid.clone(), target));
        if send(&mut socket, &mut state, &cmid, target).await.is_none() {
            return;
        }
        state.pending = None;
    }
}

/// Every message of a conversation as the receiver sees it, by paging forwards from seq 0.
async fn history(socket: &mut Socket, conversation: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = socket
            .ok(
                "msg.history",
                json!({"conversationId": conversation, "afterSeq": after, "limit": 100}),
            )
            .await;
        let messages = page["messages"].as_array().cloned().unwrap_or_default();
        if let Some(last) = messages.last() {
            after = last["seq"].as_u64().expect("a seq");
        }
        all.extend(messages);
        if page["complete"] == true {
            return all;
        }
    }
}

/// Checks one conversation against the acks: each acknowledged message once, with its acked seq,
/// seqs strictly increasing without gaps. Returns (stored user messages, duplicates).
fn check(
    conversation: &str,
    stored: &[Value],
    acked: &HashMap<String, (u64, String)>,
    from_one: bool,
) -> (usize, usize) {
    let seqs: Vec<u64> = stored.iter().map(|m| m["seq"].as_u64().expect("a seq")).collect();
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "{conversation}: seqs must follow each other: {seqs:?}"
        );
    }
    if from_one && let Some(first) = seqs.first() {
        assert_eq!(*first, 1, "{conversation}: seqs start at 1");
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for message in stored {
        if let Some(cmid) = message["clientMsgId"].as_str().filter(|c| !c.is_empty()) {
            *seen.entry(cmid).or_default() += 1;
            let (seq, msg_id) = acked
                .get(cmid)
                .unwrap_or_else(|| panic!("{conversation}: {cmid} is stored but was never acknowledged"));
            assert_eq!(
                message["seq"].as_u64(),
                Some(*seq),
                "{conversation}: {cmid} has its acked seq"
            );
            assert_eq!(
                message["msgId"].as_str(),
                Some(msg_id.as_str()),
                "{conversation}: {cmid} has its acked msgId"
            );
        }
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    let lost: Vec<_> = acked.keys().filter(|c| !seen.contains_key(c.as_str())).collect();
    assert!(
        lost.is_empty(),
        "{conversation}: acknowledged messages lost: {lost:?}"
    );
    assert_eq!(duplicates, 0, "{conversation}: duplicates stored: {seen:?}");
    (seen.len(), duplicates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_repeated_kill_9() {
    let cycles: usize = std::env::var("CIRRUS_KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let started = Instant::now();
    let data = tempfile::tempdir().expect("a temp dir");
    let senders: Vec<String> = (0..SENDERS).map(sender_name).collect();

    let (mut child, mut url, mut life_started_ms) = start(data.path()).await;
    // Everyone logs in once first, so the group can name them as members.
    for user in senders.iter().map(String::as_str).chain([RECEIVER]) {
        Socket::connect(&url, user).await.expect("connects").close().await;
    }
    {
        let mut owner = Socket::connect(&url, &senders[0]).await.expect("connects");
        let mut members: Vec<&str> = senders[1..].iter().map(String::as_str).collect();
        members.push(RECEIVER);
        owner
            .ok(
                "group.create",
                json!({"type": "private", "groupId": GROUP, "name": "Kill", "members": members}),
            )
            .await;
        owner.close().await;
    }

    let states: Vec<Arc<Mutex<Sender>>> = (0..SENDERS).map(|_| Arc::default()).collect();
    for cycle in 0..=cycles {
        // The last round only resends what the last kill left unacknowledged.
        let last = cycle == cycles;
        let tasks: Vec<_> = senders
            .iter()
            .zip(&states)
            .map(|(user, state)| {
                tokio::spawn(run_sender(
                    url.clone(),
                    user.clone(),
                    state.clone(),
                    last,
                    life_started_ms,
                ))
            })
            .collect();
        if last {
            for task in tasks {
                task.await.expect("sender ran");
            }
            break;
        }
        tokio::time::sleep(load(cycle)).await;
        child.kill().await.expect("SIGKILL delivered");
        for task in tasks {
            task.await.expect("sender ran");
        }
        (child, url, life_started_ms) = start(data.path()).await;
    }

    let mut receiver = Socket::connect(&url, RECEIVER).await.expect("connects");
    let mut group_acked = HashMap::new();
    let (mut sent, mut acknowledged, mut from_store, mut stored_total, mut duplicates) = (0, 0, 0, 0, 0);
    for (user, state) in senders.iter().zip(&states) {
        let state = state.lock().await;
        assert!(
            state.pending.is_none(),
            "{user}: the final resend was acknowledged"
        );
        sent += state.attempts;
        from_store += state.answered_from_store;
        acknowledged += state.acked.len();
        let mut c2c = HashMap::new();
        for (cmid, (target, seq, msg_id)) in &state.acked {
            let into = if *target == Target::C2c {
                &mut c2c
            } else {
                &mut group_acked
            };
            into.insert(cmid.clone(), (*seq, msg_id.clone()));
        }
        let conversation = format!("C2C{user}");
        let stored = history(&mut receiver, &conversation).await;
        let (n, d) = check(&conversation, &stored, &c2c, true);
        stored_total += n;
        duplicates += d;
    }
    let conversation = format!("GROUP{GROUP}");
    let stored = history(&mut receiver, &conversation).await;
    let (n, d) = check(&conversation, &stored, &group_acked, false);
    stored_total += n;
    duplicates += d;
    assert_eq!(
        stored_total, acknowledged,
        "every acknowledged message is stored once"
    );
    assert!(
        acknowledged > cycles * SENDERS,
        "the senders made progress: {acknowledged} acked"
    );
    drop(child);
    println!(
        "kill test: cycles {cycles}, sends (with resends) {sent}, acknowledged {acknowledged}, \
         acks lost in a kill and answered from the store on resend {from_store}, lost 0, \
         duplicates {duplicates}, {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
