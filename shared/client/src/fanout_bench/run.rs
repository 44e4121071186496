//! The run orchestration: connect, join, send, then tally the results into a report.

use super::config::{FanoutConfig, FanoutError, START_DELAY, bench_room};
use super::frames::create_room_frame;
use super::report::{FanoutReport, MessageFigures, ServerMemory};
use super::tasks::{
    ACKED, HostResult, PENDING, REFUSED, Shared, ViewerResult, run_host, run_viewer, setup_reply,
};
use crate::bench::{LatencySummary, bench_user, connect_all};
use crate::proc_stats::{CpuReading, process_memory_kib};
use cirrus_core::ids::{GroupId, UserId};
use futures_util::SinkExt as _;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// CPU time per receipt (µs) of the bench and of the server, over the windows from each send
/// to its last receipt, for the messages with both readings.
pub(super) fn fanout_cpu(
    starts: &[Option<CpuReading>],
    ends: &[Option<CpuReading>],
    messages: &[MessageFigures],
) -> (Option<f64>, Option<f64>) {
    let (mut bench, mut server, mut receipts) = (Some(Duration::ZERO), Some(Duration::ZERO), 0u64);
    for ((start, end), message) in starts.iter().zip(ends).zip(messages) {
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        let used = |before: Option<Duration>, after: Option<Duration>| after?.checked_sub(before?);
        bench = bench.zip(used(start.bench, end.bench)).map(|(a, b)| a + b);
        server = server.zip(used(start.server, end.server)).map(|(a, b)| a + b);
        receipts += message.delivered;
    }
    let per_receipt = |total: Option<Duration>| {
        let total = total.filter(|_| receipts > 0)?;
        Some(total.as_secs_f64() * 1e6 / receipts as f64)
    };
    (per_receipt(bench), per_receipt(server))
}

pub(super) fn new_histogram() -> Option<Histogram<u64>> {
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).ok()
}

pub(super) fn summary(histogram: Option<&Histogram<u64>>) -> LatencySummary {
    histogram.map(LatencySummary::from_histogram).unwrap_or_default()
}

/// Adds up the host's and the viewers' results: per message and over the run.
pub(super) fn tally(report: &mut FanoutReport, host: &HostResult, viewers: &[ViewerResult]) {
    let n = host.sent.len();
    let mut all = new_histogram();
    let mut joins = new_histogram();
    let joined: Vec<&ViewerResult> = viewers.iter().filter(|v| v.join.is_some()).collect();
    for viewer in &joined {
        if let (Some(h), Some(join)) = (joins.as_mut(), viewer.join) {
            h.saturating_record(u64::try_from(join.as_micros()).unwrap_or(u64::MAX));
        }
    }
    report.join = summary(joins.as_ref());
    report.joined = joined.len() as u64;
    for (code, count) in host.errors.iter().chain(viewers.iter().flat_map(|v| &v.errors)) {
        *report.errors.entry(code.clone()).or_default() += count;
    }
    report.messages = (0..n)
        .map(|k| {
            let mut histogram = new_histogram();
            let acked = host.acks[k] != 0;
            let mut figures = MessageFigures {
                index: k as u64,
                sent: host.sent[k],
                ack: acked.then(|| Duration::from_micros(u64::from(host.acks[k] - 1))),
                error: host.refused[k].clone(),
                ..MessageFigures::default()
            };
            for viewer in viewers {
                figures.duplicates += viewer.duplicates[k];
                let receipt = viewer.receipts[k];
                if receipt != 0 {
                    figures.delivered += 1;
                    for h in [histogram.as_mut(), all.as_mut()].into_iter().flatten() {
                        h.saturating_record(u64::from(receipt - 1));
                    }
                } else if acked && viewer.join.is_some() {
                    figures.lost += 1;
                }
            }
            figures.receive = summary(histogram.as_ref());
            if acked {
                report.expected += report.joined;
            }
            report.received += figures.delivered;
            report.lost += figures.lost;
            report.duplicates += figures.duplicates;
            figures
        })
        .collect();
    report.receive = summary(all.as_ref());
}

/// Runs the bench and returns its figures. Progress goes to stderr when asked for.
pub async fn run(config: &FanoutConfig) -> Result<FanoutReport, FanoutError> {
    if config.viewers == 0 {
        return Err(FanoutError::InvalidConfig("viewers must be at least 1"));
    }
    if config.messages == 0 {
        return Err(FanoutError::InvalidConfig("messages must be at least 1"));
    }
    if config.interval.is_zero() {
        return Err(FanoutError::InvalidConfig("interval must be positive"));
    }
    let room = bench_room(&config.run_id);
    let host = bench_user(&config.run_id, 'h', 0);
    let last_viewer = bench_user(&config.run_id, 'v', config.viewers - 1);
    if GroupId::parse(room.as_str()).is_err()
        || UserId::parse(host.as_str()).is_err()
        || UserId::parse(last_viewer).is_err()
    {
        return Err(FanoutError::InvalidConfig(
            "run id too long or not of letters, digits, _ - . @",
        ));
    }
    let progress = config.progress;

    // Connect the host (slot 0) and the viewers (1..=N), a bounded number at once.
    let connect_started = Instant::now();
    let viewer_users = (0..config.viewers).map(|viewer| bench_user(&config.run_id, 'v', viewer));
    let users = std::iter::once(host.clone()).chain(viewer_users);
    let sockets = connect_all(&config.url, &config.key, users, config.connect_concurrency)
        .await
        .map_err(|(user, source)| FanoutError::Connect { user, source })?;
    let connect_time = connect_started.elapsed();
    if progress {
        eprintln!(
            "connected the host and {} viewers in {:.2} s",
            config.viewers,
            connect_time.as_secs_f64()
        );
    }
    let memory = |field| config.server_pid.and_then(|pid| process_memory_kib(pid, field));
    let connected_kib = memory("VmRSS");

    // The host creates the room.
    let mut sockets = sockets.into_iter();
    let Some(mut host_socket) = sockets.next() else {
        return Err(FanoutError::InvalidConfig("no host connection"));
    };
    let created = match host_socket.send(WsMessage::text(create_room_frame(&room))).await {
        Ok(()) => setup_reply(&mut host_socket).await,
        Err(error) => Err(error.into()),
    };
    if let Err(source) = created {
        return Err(FanoutError::CreateRoom { room, source });
    }

    // The viewers enter it.
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        room: room.clone(),
        host: host.clone(),
        run_id: config.run_id.clone(),
        payload: "x".repeat(config.payload_bytes),
        received: (0..config.messages).map(|_| AtomicU64::new(0)).collect(),
        acked: (0..config.messages).map(|_| AtomicU8::new(PENDING)).collect(),
        joined: AtomicU64::new(0),
        join_failed: AtomicU64::new(0),
        host_done: AtomicBool::new(false),
        join_permits: Semaphore::new(config.join_concurrency.max(1)),
        server_pid: config.server_pid,
    });
    let (stop_all, stopped) = watch::channel(false);
    let join_started = Instant::now();
    let viewers: Vec<_> = sockets
        .map(|socket| tokio::spawn(run_viewer(shared.clone(), socket, stopped.clone())))
        .collect();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    let mut next_progress = join_started + Duration::from_secs(1);
    let join_time = loop {
        ticker.tick().await;
        let joined = shared.joined.load(Ordering::Relaxed);
        let failed = shared.join_failed.load(Ordering::Relaxed);
        if joined + failed >= config.viewers as u64 {
            break join_started.elapsed();
        }
        if progress && Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!("joining: {joined} in, {failed} failed");
        }
    };
    let joined = shared.joined.load(Ordering::Relaxed);
    if progress {
        eprintln!(
            "{joined} of {} viewers joined in {:.2} s",
            config.viewers,
            join_time.as_secs_f64()
        );
    }
    let joined_kib = memory("VmRSS");

    // The host sends; watch until every viewer has every acked message, or the wait runs out.
    let first_at = Instant::now() + START_DELAY;
    let host_task = tokio::spawn(run_host(
        shared.clone(),
        host_socket,
        first_at,
        config.interval,
        stopped.clone(),
    ));
    let mut reported = vec![false; config.messages];
    let mut cpu_at_done = vec![None; config.messages];
    let mut last_sent_at = None;
    let drained = loop {
        ticker.tick().await;
        let now = Instant::now();
        let mut complete = true;
        for (k, done) in reported.iter_mut().enumerate() {
            let state = shared.acked[k].load(Ordering::Relaxed);
            let received = shared.received[k].load(Ordering::Relaxed);
            let finished = state == REFUSED || (state == ACKED && received >= joined);
            if finished && !*done {
                *done = true;
                if state == ACKED {
                    cpu_at_done[k] = Some(CpuReading::take(config.server_pid));
                }
                if progress {
                    eprintln!(
                        "message {k}: {received} of {joined} viewers, t={:.2} s",
                        now.saturating_duration_since(first_at).as_secs_f64()
                    );
                }
            }
            complete &= *done;
        }
        if !shared.host_done.load(Ordering::Relaxed) {
            continue;
        }
        let last_sent = *last_sent_at.get_or_insert(now);
        if complete {
            break true;
        }
        if now >= last_sent + config.wait {
            break false;
        }
    };
    let end_kib = memory("VmRSS");
    let peak_kib = memory("VmHWM");

    let _ = stop_all.send(true);
    let host_result = host_task.await.unwrap_or_default();
    let mut viewer_results = Vec::with_capacity(viewers.len());
    let mut failed_tasks = 0u64;
    for viewer in viewers {
        match viewer.await {
            Ok(result) => viewer_results.push(result),
            Err(_) => failed_tasks += 1,
        }
    }

    let mut report = FanoutReport {
        room,
        viewers: config.viewers,
        connect_time,
        join_time,
        interval: config.interval,
        drained,
        ..FanoutReport::default()
    };
    if host_result.sent.len() == config.messages {
        tally(&mut report, &host_result, &viewer_results);
    } else {
        *report.errors.entry("bench_task_failed".to_owned()).or_default() += 1;
    }
    if failed_tasks > 0 {
        *report.errors.entry("bench_task_failed".to_owned()).or_default() += failed_tasks;
    }
    if let (Some(connected_kib), Some(joined_kib), Some(end_kib), Some(peak_kib)) =
        (connected_kib, joined_kib, end_kib, peak_kib)
    {
        report.server_memory = Some(ServerMemory {
            connected_kib,
            joined_kib,
            end_kib,
            peak_kib,
        });
    }
    (report.bench_cpu_us_per_receipt, report.server_cpu_us_per_receipt) =
        fanout_cpu(&host_result.cpu_at_send, &cpu_at_done, &report.messages);
    Ok(report)
}
