//! Append throughput and latency of the SQLite store under many concurrent C2C senders.
//!
//! ```text
//! cargo run --release -p cirrus-embedded --example append_bench -- \
//!     [--pairs 500] [--messages 200000] [--rate 0] [--sync full|normal] [--batch 1024] \
//!     [--wal-limit 10000] [--checkpoint-ms 50]
//! ```
//!
//! Closed loop (`--rate 0`, the default): each of `pairs` tasks sends its share of `messages` from
//! its sender to its receiver, one append at a time, so up to `pairs` appends are in flight.
//! Open loop (`--rate N`): appends start on a fixed schedule of N per second, round-robin over the
//! pairs, whether or not earlier ones have finished; latency counts from the scheduled start, so a
//! store that falls behind shows it.
//!
//! Runs on a file database in a temporary directory and prints appends per second, append latency
//! percentiles, the writer's batch sizes and time split, and the process CPU time per append.

use cirrus_core::clock::{Clock, IdGen, SystemClock, UuidIds};
use cirrus_core::element::Element;
use cirrus_core::ids::{ClientMsgId, UserId};
use cirrus_core::message::Target;
use cirrus_core::ports::{Appended, InboxUpdate, MessageStore, NewMessage};
use cirrus_embedded::{SqliteStore, StoreOptions, Synchronous};
use std::time::{Duration, Instant};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Args {
    pairs: usize,
    messages: usize,
    rate: u64,
    options: StoreOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        pairs: 500,
        messages: 200_000,
        rate: 0,
        options: StoreOptions::default(),
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        let size = || number().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        match flag.as_str() {
            "--pairs" => args.pairs = size()?.max(1),
            "--messages" => args.messages = size()?,
            "--rate" => args.rate = number()?,
            "--batch" => args.options.max_batch = size()?,
            "--wal-limit" => {
                args.options.wal_limit_pages = u32::try_from(number()?).map_err(|e| e.to_string())?
            }
            "--checkpoint-ms" => args.options.checkpoint_interval = Duration::from_millis(number()?),
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

/// Message `n` of pair `pair`, built as the message service builds a C2C send.
fn message(pair: usize, n: usize) -> NewMessage {
    let from = UserId::parse(format!("s{pair}")).expect("valid user id");
    let to = UserId::parse(format!("r{pair}")).expect("valid user id");
    let target = Target::C2c(to.clone());
    let time = SystemClock.now_ms();
    let limits = cirrus_core::limits::Limits::default();
    NewMessage {
        stream: target.stream(&from),
        msg_id: UuidIds.msg_id(),
        to: target,
        time,
        client_msg_id: ClientMsgId::parse(format!("c{n}")).expect("valid clientMsgId"),
        body: vec![Element::Text {
            text: format!("message {n} from {from}: the quick brown fox jumps over the lazy dog"),
        }],
        cloud_custom_data: None,
        sender: None,
        system: false,
        expires_at: time + limits.roaming_ttl_ms,
        keep_last: limits.max_stream_messages,
        inbox: InboxUpdate::c2c(&from, &to),
        from,
    }
}

/// Appends one message that must be new; returns its latency counted from `since`.
async fn append(store: &SqliteStore, message: NewMessage, since: Instant) -> BenchResult<Duration> {
    let client_msg_id = message.client_msg_id.clone();
    match store.append(message).await? {
        Appended::New(_) => Ok(since.elapsed()),
        Appended::Duplicate(_) => Err(format!("{client_msg_id} was a duplicate").into()),
    }
}

/// Every pair sends its messages one after another.
async fn closed_loop(store: &SqliteStore, pairs: usize, per_pair: usize) -> BenchResult<Vec<Duration>> {
    let tasks: Vec<_> = (0..pairs)
        .map(|pair| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_pair);
                for n in 0..per_pair {
                    let new = message(pair, n);
                    latencies.push(append(&store, new, Instant::now()).await?);
                }
                BenchResult::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(pairs * per_pair);
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(latencies)
}

/// Appends start on a fixed schedule of `rate` per second, each in its own task.
async fn open_loop(store: &SqliteStore, pairs: usize, total: usize, rate: u64) -> BenchResult<Vec<Duration>> {
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due).await;
        let store = store.clone();
        let due = due.into_std();
        tasks.push(tokio::spawn(async move {
            append(&store, message(i % pairs, i / pairs), due).await
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        latencies.push(task.await??);
    }
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> BenchResult<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite3");
    let store = SqliteStore::open(&path, args.options.clone())?;
    let per_pair = args.messages / args.pairs;
    let total = per_pair * args.pairs;
    let mode = match args.rate {
        0 => format!("closed loop, {} in flight", args.pairs),
        rate => format!("open loop at {rate}/s"),
    };
    println!(
        "append_bench: {total} C2C appends over {} pairs, {mode}, synchronous {:?}, max batch {}, \
         background checkpoint every {:?}, WAL limit {} pages",
        args.pairs,
        args.options.synchronous,
        args.options.max_batch,
        args.options.checkpoint_interval,
        args.options.wal_limit_pages
    );

    let cpu_start = cpu_time();
    let started = Instant::now();
    let mut latencies = match args.rate {
        0 => closed_loop(&store, args.pairs, per_pair).await?,
        rate => open_loop(&store, args.pairs, total, rate).await?,
    };
    let elapsed = started.elapsed();
    let cpu = cpu_start
        .zip(cpu_time())
        .map(|(start, end)| end.saturating_sub(start));

    latencies.sort_unstable();
    let stats = store.stats();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let per_append = |d: Duration| d.as_secs_f64() * 1e6 / total.max(1) as f64;
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
        "writer       {:.2} s running jobs ({:.1} us per append), {:.2} s committing ({:.2} ms per commit), \
         {:.2} s restarting the WAL",
        stats.work.as_secs_f64(),
        per_append(stats.work),
        stats.commit.as_secs_f64(),
        stats.commit.as_secs_f64() * 1e3 / stats.batches.max(1) as f64,
        stats.wal_restart.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        println!(
            "cpu          {:.2} s ({:.1} us per append, whole process incl. building messages)",
            cpu.as_secs_f64(),
            per_append(cpu)
        );
    }
    store.close().await;
    Ok(())
}
