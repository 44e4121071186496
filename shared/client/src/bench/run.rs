//! The run orchestration: connect, schedule, drain and tally into a report.

use super::config::{
    BenchConfig, BenchError, DELIVERY_GRACE, START_DELAY, Schedule, bench_user, duration_ns,
};
use super::connect::connect_all;
use super::report::{BenchReport, LatencySummary};
use super::tasks::{Progress, Shared, run_receiver, run_sender};
use crate::proc_stats::CpuReading;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// CPU times and progress counters at one instant.
pub(super) struct Checkpoint {
    pub(super) cpu: CpuReading,
    pub(super) sent: u64,
    pub(super) acked: u64,
}

pub(super) fn cpu_per_message(
    before: Option<Duration>,
    after: Option<Duration>,
    messages: u64,
) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    (messages > 0).then(|| used.as_secs_f64() * 1e6 / messages as f64)
}

/// Runs the bench and returns its figures. Progress goes to stderr when asked for.
pub async fn run(config: &BenchConfig) -> Result<BenchReport, BenchError> {
    if config.connections < 2 || !config.connections.is_multiple_of(2) {
        return Err(BenchError::InvalidConfig(
            "connections must be an even number >= 2",
        ));
    }
    if !(config.rate > 0.0 && config.rate.is_finite()) {
        return Err(BenchError::InvalidConfig("rate must be a positive number"));
    }
    if config.duration.is_zero() {
        return Err(BenchError::InvalidConfig("duration must be positive"));
    }
    let pairs = config.connections / 2;

    // Connect receivers (indexes 0..pairs) and senders (pairs..2*pairs), a bounded number at once.
    let connect_started = Instant::now();
    let users = (0..config.connections).map(|slot| {
        let (role, index) = if slot < pairs {
            ('r', slot)
        } else {
            ('s', slot - pairs)
        };
        bench_user(&config.run_id, role, index)
    });
    let sockets = connect_all(&config.url, &config.key, users, config.connect_concurrency)
        .await
        .map_err(|(user, source)| BenchError::Connect { user, source })?;
    let connect_time = connect_started.elapsed();
    if config.progress {
        eprintln!(
            "connected {} connections in {:.2} s",
            config.connections,
            connect_time.as_secs_f64()
        );
    }

    let schedule = Schedule::new(config.rate, pairs, config.warmup, config.duration);
    let shared = Arc::new(Shared {
        schedule,
        start: Instant::now() + START_DELAY,
        run_id: config.run_id.clone(),
        payload: "x".repeat(config.payload_bytes),
        progress: Progress::default(),
    });
    let (stop_senders, senders_stop) = watch::channel(false);
    let (stop_receivers, receivers_stop) = watch::channel(false);
    let mut receivers = Vec::with_capacity(pairs);
    let mut senders = Vec::with_capacity(pairs);
    for (slot, socket) in sockets.into_iter().enumerate() {
        if slot < pairs {
            let task = run_receiver(shared.clone(), slot, socket, receivers_stop.clone());
            receivers.push(tokio::spawn(task));
        } else {
            let task = run_sender(shared.clone(), slot - pairs, socket, senders_stop.clone());
            senders.push(tokio::spawn(task));
        }
    }

    // Watch the run: CPU readings at the window's edges, progress, and an early end of the drain
    // once every sent message is answered and every acked one delivered.
    let window_start = shared.instant(duration_ns(config.warmup));
    let window_end = shared.instant(schedule.end_ns());
    let drain_deadline = window_end + config.drain;
    let progress = &shared.progress;
    let reading = || Checkpoint {
        cpu: CpuReading::take(config.server_pid),
        sent: progress.sent.load(Ordering::Relaxed),
        acked: progress.acked.load(Ordering::Relaxed),
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let (mut cpu_start, mut cpu_end) = (None, None);
    let mut next_progress = shared.start + Duration::from_secs(1);
    let drained = loop {
        ticker.tick().await;
        let now = Instant::now();
        if cpu_start.is_none() && now >= window_start {
            cpu_start = Some(reading());
        }
        if cpu_end.is_none() && now >= window_end {
            cpu_end = Some(reading());
        }
        let sent = progress.sent.load(Ordering::Relaxed);
        let answered = progress.answered.load(Ordering::Relaxed);
        let acked = progress.acked.load(Ordering::Relaxed);
        let delivered = progress.delivered.load(Ordering::Relaxed);
        let senders_done = progress.senders_done.load(Ordering::Relaxed);
        if config.progress && now >= next_progress {
            next_progress += Duration::from_secs(1);
            eprintln!(
                "t={:>4.1}s sent {sent} acked {acked} delivered {delivered}",
                now.saturating_duration_since(shared.start).as_secs_f64()
            );
        }
        let all_sent = senders_done >= pairs as u64 && now >= window_end;
        if all_sent && answered >= sent && delivered >= acked {
            break true;
        }
        if now >= drain_deadline {
            break false;
        }
    };

    // Stop the senders first, so every ack they counted leaves its delivery a moment to arrive.
    let _ = stop_senders.send(true);
    let mut sender_results = Vec::with_capacity(senders.len());
    for sender in senders {
        sender_results.push(sender.await.ok());
    }
    let grace_end = Instant::now() + DELIVERY_GRACE;
    while Instant::now() < grace_end
        && progress.delivered.load(Ordering::Relaxed) < progress.acked.load(Ordering::Relaxed)
    {
        ticker.tick().await;
    }
    let _ = stop_receivers.send(true);
    let mut receiver_results = Vec::with_capacity(receivers.len());
    for receiver in receivers {
        receiver_results.push(receiver.await.ok());
    }

    let mut report = BenchReport {
        connections: config.connections,
        pairs,
        connect_time,
        target_rate: config.rate,
        duration: config.duration,
        warmup: config.warmup,
        ..BenchReport::default()
    };
    let new_histogram = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).ok();
    let (mut delivery_hist, mut ack_hist) = (new_histogram(), new_histogram());
    let mut last_send = None;
    let mut last_delivery = None;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for (index, (sender, receiver)) in sender_results.into_iter().zip(receiver_results).enumerate() {
        let (Some(sender), Some(receiver)) = (sender, receiver) else {
            *errors.entry("bench_task_failed".to_owned()).or_default() += 1;
            continue;
        };
        report.sent += sender.sent_measured;
        report.unanswered += sender.unanswered_measured;
        report.duplicates += receiver.duplicates;
        last_send = last_send.max(sender.last_measured_send);
        last_delivery = last_delivery.max(receiver.last_measured_delivery);
        for (code, n) in sender.errors.into_iter().chain(receiver.errors) {
            *errors.entry(code).or_default() += n;
        }
        for (k, (&ack, &delivery)) in sender.acks.iter().zip(&receiver.deliveries).enumerate() {
            if !schedule.measured(schedule.send_at(index, k as u64)) {
                continue;
            }
            report.scheduled += 1;
            if ack != 0 {
                report.acked += 1;
                if let Some(h) = ack_hist.as_mut() {
                    h.saturating_record(u64::from(ack - 1));
                }
            }
            if delivery != 0 {
                report.delivered += 1;
                if let Some(h) = delivery_hist.as_mut() {
                    h.saturating_record(u64::from(delivery - 1));
                }
            } else if ack != 0 {
                report.lost += 1;
            }
        }
    }
    report.errors = errors;
    let measured_secs = config.duration.as_secs_f64();
    let span = |last: Option<Instant>| {
        last.map_or(measured_secs, |last| {
            last.saturating_duration_since(window_start)
                .as_secs_f64()
                .max(measured_secs)
        })
    };
    report.send_rate = report.sent as f64 / span(last_send);
    report.delivery_rate = report.delivered as f64 / span(last_delivery);
    report.delivery = delivery_hist
        .as_ref()
        .map(LatencySummary::from_histogram)
        .unwrap_or_default();
    report.ack = ack_hist
        .as_ref()
        .map(LatencySummary::from_histogram)
        .unwrap_or_default();
    report.drained = drained;
    if let (Some(start), Some(end)) = (cpu_start, cpu_end) {
        // Per message handled in the window: sent by the bench, acked (stored) by the server.
        let sent = end.sent.saturating_sub(start.sent);
        let acked = end.acked.saturating_sub(start.acked);
        report.bench_cpu_us_per_msg = cpu_per_message(start.cpu.bench, end.cpu.bench, sent);
        report.server_cpu_us_per_msg = cpu_per_message(start.cpu.server, end.cpu.server, acked);
    }
    Ok(report)
}
