//! CPU time and resident memory of the bench and of a server process, read from Linux `/proc`,
//! for the benches' per-message figures.

use std::time::Duration;

/// CPU time (user + system) of a process so far, from `/proc/<pid>/stat`; `None` off Linux.
pub(crate) fn process_cpu(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // Linux reports these in USER_HZ ticks, 100 per second on every mainstream platform.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`); `None` off Linux.
pub(crate) fn process_memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The bench's and the server's CPU time so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuReading {
    /// This process's.
    pub(crate) bench: Option<Duration>,
    /// The server's, if its pid is known.
    pub(crate) server: Option<Duration>,
}

impl CpuReading {
    /// Reads both now.
    pub(crate) fn take(server_pid: Option<u32>) -> Self {
        Self {
            bench: process_cpu(None),
            server: server_pid.and_then(|pid| process_cpu(Some(pid))),
        }
    }
}
