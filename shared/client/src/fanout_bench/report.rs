//! The fan-out figures: per-message figures, server memory, the report and its Display.

use crate::bench::{LatencySummary, errors_list, ms};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Resident memory of the server process, in KiB, at the bench's milestones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerMemory {
    /// With every connection open, before the joins.
    pub connected_kib: u64,
    /// With every viewer in the room.
    pub joined_kib: u64,
    /// After the last message.
    pub end_kib: u64,
    /// The process's high-water mark at the end (`VmHWM`).
    pub peak_kib: u64,
}

/// The figures of one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageFigures {
    /// Its index, from 0.
    pub index: u64,
    /// Whether the host sent it.
    pub sent: bool,
    /// Send to the host's successful ack; `None` if not acked.
    pub ack: Option<Duration>,
    /// The server's error code, if it refused the message.
    pub error: Option<String>,
    /// Viewers that received it (once each).
    pub delivered: u64,
    /// Joined viewers that did not receive an acked message.
    pub lost: u64,
    /// Receipts beyond the first.
    pub duplicates: u64,
    /// Send to receipt, over the viewers that received it; `max` is the fan-out time to the
    /// last viewer.
    pub receive: LatencySummary,
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FanoutReport {
    /// The live room.
    pub room: String,
    /// Viewer connections opened.
    pub viewers: usize,
    /// Time to open the host's and every viewer's connection.
    pub connect_time: Duration,
    /// Viewers whose `group.apply` succeeded.
    pub joined: u64,
    /// From the first `group.apply` to the last reply.
    pub join_time: Duration,
    /// `group.apply` round trips, in microseconds.
    pub join: LatencySummary,
    /// Time between two messages.
    pub interval: Duration,
    /// Per message.
    pub messages: Vec<MessageFigures>,
    /// Receipts expected: joined viewers times acked messages.
    pub expected: u64,
    /// Receipts counted (once per viewer and message).
    pub received: u64,
    /// Expected receipts that never came.
    pub lost: u64,
    /// Receipts of a message a viewer already had.
    pub duplicates: u64,
    /// Whether every viewer had every acked message before the wait ran out.
    pub drained: bool,
    /// Error replies and connection failures, by code.
    pub errors: BTreeMap<String, u64>,
    /// Send to receipt, every viewer and message.
    pub receive: LatencySummary,
    /// The server's resident memory, if a server pid was given.
    pub server_memory: Option<ServerMemory>,
    /// The server's CPU time per receipt, from each send until the bench saw the message's last
    /// receipt (summed over the messages every viewer got), if a server pid was given.
    pub server_cpu_us_per_receipt: Option<f64>,
    /// The bench's own CPU time per receipt over the same windows.
    pub bench_cpu_us_per_receipt: Option<f64>,
}

pub(super) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl fmt::Display for FanoutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "viewers       {} in live room {}, connected in {:.2} s (with the host)",
            self.viewers,
            self.room,
            self.connect_time.as_secs_f64()
        )?;
        let j = &self.join;
        writeln!(
            f,
            "joined        {} of {} in {:.2} s (group.apply ms p50 {:.2}  p99 {:.2}  max {:.2})",
            self.joined,
            self.viewers,
            self.join_time.as_secs_f64(),
            ms(j.p50),
            ms(j.p99),
            ms(j.max)
        )?;
        writeln!(
            f,
            "messages      {} sent, one every {:.1} s",
            self.messages.iter().filter(|m| m.sent).count(),
            self.interval.as_secs_f64()
        )?;
        for m in &self.messages {
            let ack = match (&m.ack, &m.error) {
                (Some(ack), _) => format!("ack {:.2} ms", ack.as_secs_f64() * 1000.0),
                (None, Some(code)) => format!("refused: {code}"),
                (None, None) if m.sent => "no ack".to_owned(),
                (None, None) => "not sent".to_owned(),
            };
            let r = &m.receive;
            writeln!(
                f,
                "message {:<5} {ack}; to the last viewer {:.2} ms; {}/{} viewers, p50 {:.2}  p99 {:.2}  (lost {}, duplicates {})",
                m.index,
                ms(r.max),
                m.delivered,
                self.joined,
                ms(r.p50),
                ms(r.p99),
                m.lost,
                m.duplicates
            )?;
        }
        writeln!(
            f,
            "received      {} of {} expected{}",
            self.received,
            self.expected,
            if self.drained { "" } else { " (the wait ran out)" }
        )?;
        writeln!(
            f,
            "lost          {} (acked, not received by a joined viewer); {} duplicate receipts",
            self.lost, self.duplicates
        )?;
        writeln!(f, "errors        {}", errors_list(&self.errors))?;
        write!(f, "receive ms    {}", self.receive.percentiles_ms())?;
        if let Some(m) = &self.server_memory {
            write!(
                f,
                "\nserver rss    {:.0} MiB connected, {:.0} MiB joined, {:.0} MiB at the end (peak {:.0} MiB)",
                mib(m.connected_kib),
                mib(m.joined_kib),
                mib(m.end_kib),
                mib(m.peak_kib)
            )?;
        }
        if let Some(cpu) = self.server_cpu_us_per_receipt {
            write!(f, "\nserver cpu    {cpu:.2} us/receipt")?;
        }
        if let Some(cpu) = self.bench_cpu_us_per_receipt {
            write!(f, "\nbench cpu     {cpu:.2} us/receipt")?;
        }
        Ok(())
    }
}
