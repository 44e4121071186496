//! Append throughput and latency of the SQLite store under many concurrent C2C senders.
//!
//! ```text
//! cargo run --release -p cirrus-embedded --example append_bench -- \
//!     [--pairs 500] [--messages 200000] [--sync full|normal] [--batch 1024]
//! ```
//!
//! Each of `pairs` tasks sends its share of `messages` from its sender to its receiver, one append
//! at a time (so up to `pairs` appends are in flight), on a file database in a temporary directory.
//! Prints appends per second, append latency percentiles, the writer's mean batch size and the
//! process CPU time per message.

use cirrus_core::clock::{IdGen, UuidIds};
use cirrus_core::element::Element;
use cirrus_core::ids::{ClientMsgId, ConversationId, UserId};
use cirrus_core::message::Target;
use cirrus_core::ports::{Appended, InboxUpdate, MessageStore, NewMessage};
use cirrus_embedded::{SqliteStore, StoreOptions, Synchronous};
use std::time::{Duration, Instant};

struct Args {
    pairs: usize,
    messages: usize,
    options: StoreOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        pairs: 500,
        messages: 200_000,
        options: StoreOptions::default(),
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--pairs" => args.pairs = number()?.max(1),
            "--messages" => args.messages = number()?,
            "--batch" => args.options.max_batch = number()?,
            "--sync" => {
                args.options.synchronous = match value.as_str() {
                    "full" => Synchronous::Full,
                    "normal" => Synchronous::Normal,
                    other => return Err(format!("--sync full|normal, not {other}")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

/// User + system CPU time of this process, from `/proc/self/stat` (Linux), assuming 100 ticks/s.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn message(from: &UserId, to: &UserId, n: usize) -> NewMessage {
    let target = Target::C2c(to.clone());
    NewMessage {
        stream: target.stream(from),
        msg_id: UuidIds.msg_id(),
        from: from.clone(),
        to: target,
        time: cirrus_core::clock::Clock::now_ms(&cirrus_core::clock::SystemClock),
        client_msg_id: ClientMsgId::parse(format!("c{n}")).expect("valid clientMsgId"),
        body: vec![Element::Text {
            text: format!("message {n} from {from}: the quick brown fox jumps over the lazy dog"),
        }],
        cloud_custom_data: None,
        inbox: vec![
            InboxUpdate {
                owner: from.clone(),
                conversation_id: ConversationId::C2c(to.clone()),
                mark_read: true,
            },
            InboxUpdate {
                owner: to.clone(),
                conversation_id: ConversationId::C2c(from.clone()),
                mark_read: false,
            },
        ],
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite3");
    let store = SqliteStore::open(&path, args.options.clone())?;
    let per_pair = args.messages / args.pairs;
    let total = per_pair * args.pairs;
    println!(
        "append_bench: {} pairs x {per_pair} messages = {total}, synchronous {:?}, max batch {}, {}",
        args.pairs,
        args.options.synchronous,
        args.options.max_batch,
        path.display()
    );

    let cpu_start = cpu_time();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.pairs);
    for pair in 0..args.pairs {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let from = UserId::parse(format!("s{pair}")).expect("valid user id");
            let to = UserId::parse(format!("r{pair}")).expect("valid user id");
            let mut latencies = Vec::with_capacity(per_pair);
            for n in 0..per_pair {
                let new = message(&from, &to, n);
                let sent = Instant::now();
                let appended = store.append(new).await?;
                latencies.push(sent.elapsed());
                if !matches!(appended, Appended::New(_)) {
                    return Err(cirrus_core::Error::InvalidField(format!(
                        "{from} c{n} was a duplicate"
                    )));
                }
            }
            Ok::<_, cirrus_core::Error>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    let cpu = cpu_start
        .zip(cpu_time())
        .map(|(start, end)| end.saturating_sub(start));

    latencies.sort_unstable();
    let stats = store.stats();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("elapsed      {:.2} s", elapsed.as_secs_f64());
    println!("appends/s    {:.0}", total as f64 / elapsed.as_secs_f64());
    println!(
        "latency ms   p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
    );
    println!(
        "batches      {} (mean {:.1} appends per commit)",
        stats.batches,
        stats.mean_batch()
    );
    println!(
        "writer       {:.2} s running jobs ({:.1} us per append), {:.2} s committing ({:.2} ms per commit)",
        stats.work.as_secs_f64(),
        stats.work.as_secs_f64() * 1e6 / total as f64,
        stats.commit.as_secs_f64(),
        stats.commit.as_secs_f64() * 1e3 / stats.batches.max(1) as f64
    );
    if let Some(cpu) = cpu {
        println!(
            "cpu          {:.2} s ({:.1} us per append, whole process)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / total as f64
        );
    }
    if let Ok(meta) = std::fs::metadata(dir.path().join("bench.sqlite3-wal")) {
        println!("XP wal bytes {}", meta.len());
    }
    if let Ok(meta) = std::fs::metadata(dir.path().join("bench.sqlite3")) {
        println!("XP db bytes {}", meta.len());
    }
    store.close().await;
    Ok(())
}
