//! The bench's figures: latency percentiles, the report and its Display.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl LatencySummary {
    /// Reads the percentiles off a histogram of microseconds.
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BenchReport {
    /// Connections opened.
    pub connections: usize,
    /// Sender→receiver pairs.
    pub pairs: usize,
    /// Time to open every connection.
    pub connect_time: Duration,
    /// Target messages per second.
    pub target_rate: f64,
    /// The measured period.
    pub duration: Duration,
    /// The warmup before it.
    pub warmup: Duration,
    /// Messages scheduled in the measured period.
    pub scheduled: u64,
    /// Of those, sent.
    pub sent: u64,
    /// Sent per second over the measured period (longer if sending fell behind).
    pub send_rate: f64,
    /// Successful acks.
    pub acked: u64,
    /// Messages delivered to their receiver (once each).
    pub delivered: u64,
    /// Delivered per second, over the measured period or until the last delivery if later.
    pub delivery_rate: f64,
    /// Acked but not delivered by the end of the drain.
    pub lost: u64,
    /// Whether every sent message was answered and every acked one delivered before the drain
    /// timed out (if not, `lost` may include deliveries still on their way).
    pub drained: bool,
    /// Sent but neither acked nor answered with an error by the end of the drain.
    pub unanswered: u64,
    /// Deliveries of a message already delivered (at-least-once repeats).
    pub duplicates: u64,
    /// Error replies and connection failures, by code.
    pub errors: BTreeMap<String, u64>,
    /// Scheduled send to `msg.new` at the receiver.
    pub delivery: LatencySummary,
    /// Scheduled send to the ack at the sender.
    pub ack: LatencySummary,
    /// The bench's own CPU time per message sent during the measured period, if measurable.
    pub bench_cpu_us_per_msg: Option<f64>,
    /// The server's CPU time per message it acked during the measured period, if a server pid
    /// was given.
    pub server_cpu_us_per_msg: Option<f64>,
}

/// Microseconds as milliseconds, for the reports.
pub(crate) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl LatencySummary {
    /// Every percentile in milliseconds, as a report line prints them.
    pub(crate) fn percentiles_ms(&self) -> String {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n={})",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            self.count
        )
    }
}

/// The errors of a report as `code=count, …`, or `none`.
pub(crate) fn errors_list(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    let list: Vec<String> = errors.iter().map(|(code, n)| format!("{code}={n}")).collect();
    list.join(", ")
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "connections   {} ({} sender->receiver pairs), connected in {:.2} s",
            self.connections,
            self.pairs,
            self.connect_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "target        {:.0} msgs/s for {:.1} s after a {:.1} s warmup",
            self.target_rate,
            self.duration.as_secs_f64(),
            self.warmup.as_secs_f64()
        )?;
        writeln!(
            f,
            "sent          {} of {} scheduled ({:.0} msgs/s achieved)",
            self.sent, self.scheduled, self.send_rate
        )?;
        writeln!(
            f,
            "acked         {} ({} unanswered{})",
            self.acked,
            self.unanswered,
            if self.drained { "" } else { "; the drain timed out" }
        )?;
        writeln!(
            f,
            "delivered     {} ({:.0} msgs/s)",
            self.delivered, self.delivery_rate
        )?;
        writeln!(
            f,
            "lost          {} (acked, not delivered); {} duplicate deliveries",
            self.lost, self.duplicates
        )?;
        writeln!(f, "errors        {}", errors_list(&self.errors))?;
        writeln!(f, "delivery ms   {}", self.delivery.percentiles_ms())?;
        let a = &self.ack;
        write!(
            f,
            "ack ms        p50 {:.2}  p99 {:.2}  max {:.2}  (n={})",
            ms(a.p50),
            ms(a.p99),
            ms(a.max),
            a.count
        )?;
        if let Some(cpu) = self.bench_cpu_us_per_msg {
            write!(f, "\nbench cpu     {cpu:.1} us/msg")?;
        }
        if let Some(cpu) = self.server_cpu_us_per_msg {
            write!(f, "\nserver cpu    {cpu:.1} us/msg")?;
        }
        Ok(())
    }
}
