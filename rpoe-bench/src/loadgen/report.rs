//! What a run measured, and how it is printed.

use std::fmt;
use std::time::Duration;

use super::load::Drive;
use crate::stats::Percentiles;

/// The measured window of a timed run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Connections.
    pub conns: usize,
    /// Bytes per line.
    pub line_len: usize,
    /// How lines were offered.
    pub drive: Drive,
    /// Length of the measured window.
    pub window: Duration,
    /// Lines echoed in the window.
    pub lines: u64,
    /// Lines echoed per second.
    pub lines_per_sec: f64,
    /// Echoed megabytes (10^6 bytes) per second, one direction.
    pub mb_per_sec: f64,
    /// Round trips completed in the window: from when a line was queued
    /// (and written) to when its last byte was read back.
    pub latency: Option<Percentiles>,
    /// The server's CPU use in the window, when its pid was given.
    pub server: Option<ServerUse>,
    /// The load generator's CPU use in the window, as a fraction of one
    /// CPU (near 1: the load generator was the bottleneck).
    pub client_cpu_fraction: Option<f64>,
    /// CPU used in the window by everything else on the machine, in CPUs
    /// (the machine's busy time less the server's and the load
    /// generator's): other work that disturbed the measurement.
    pub others_cpus: Option<f64>,
}

/// A server process's CPU use over a window.
#[derive(Debug, Clone, Copy)]
pub struct ServerUse {
    /// CPU time (user + system) used in the window.
    pub cpu: Duration,
    /// That as a fraction of one CPU.
    pub cpu_fraction: f64,
    /// CPU microseconds per echoed line.
    pub cpu_us_per_line: f64,
}

impl ServerUse {
    /// Figures from `cpu` used over `secs` while `lines` were echoed.
    pub fn new(cpu: Duration, secs: f64, lines: u64) -> ServerUse {
        ServerUse {
            cpu,
            cpu_fraction: cpu.as_secs_f64() / secs,
            cpu_us_per_line: cpu.as_secs_f64() * 1e6 / lines.max(1) as f64,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.drive {
            Drive::Closed { in_flight } => writeln!(
                f,
                "closed loop: {} connection(s), {} line(s) in flight each, {}-byte lines",
                self.conns, in_flight, self.line_len
            )?,
            Drive::Open { rate } => writeln!(
                f,
                "open loop: {rate:.0} lines/s offered over {} connection(s), {}-byte lines",
                self.conns, self.line_len
            )?,
        }
        writeln!(f, "window:       {:.2} s", self.window.as_secs_f64())?;
        writeln!(f, "lines:        {}", self.lines)?;
        writeln!(f, "lines/s:      {:.0}", self.lines_per_sec)?;
        writeln!(f, "MB/s:         {:.2}", self.mb_per_sec)?;
        if let Some(p) = self.latency {
            writeln!(
                f,
                "round trip:   p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us ({} samples)",
                p.p50_us, p.p99_us, p.p999_us, p.max_us, p.count
            )?;
        }
        if let Some(s) = self.server {
            writeln!(
                f,
                "server CPU:   {:.3} s ({:.0}% of one core), {:.2} us per echoed line",
                s.cpu.as_secs_f64(),
                s.cpu_fraction * 100.0,
                s.cpu_us_per_line
            )?;
        }
        if let Some(c) = self.client_cpu_fraction {
            writeln!(f, "client CPU:   {:.0}% of one core", c * 100.0)?;
        }
        if let Some(o) = self.others_cpus {
            writeln!(
                f,
                "other load:   {o:.2} CPU(s) used by other processes in the window"
            )?;
        }
        writeln!(
            f,
            "verified:     every echoed byte; drained and closed cleanly"
        )
    }
}

/// What an idle run measured.
#[derive(Debug, Clone)]
pub struct IdleReport {
    /// Connections held.
    pub conns: usize,
    /// How long connecting them all took.
    pub connect_time: Duration,
    /// Server resident memory before the connections, when its pid was given.
    pub rss_before: Option<u64>,
    /// ...and with all of them open and idle.
    pub rss_after: Option<u64>,
}

impl IdleReport {
    /// Server memory per idle connection, in bytes.
    pub fn bytes_per_conn(&self) -> Option<f64> {
        match (self.rss_before, self.rss_after) {
            (Some(a), Some(b)) => Some((b as f64 - a as f64) / self.conns.max(1) as f64),
            _ => None,
        }
    }
}

impl fmt::Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "idle: {} connection(s) held", self.conns)?;
        writeln!(f, "connect time: {:.2} s", self.connect_time.as_secs_f64())?;
        if let (Some(a), Some(b), Some(per)) =
            (self.rss_before, self.rss_after, self.bytes_per_conn())
        {
            writeln!(
                f,
                "server RSS:   {:.1} MiB before, {:.1} MiB with the connections: {per:.0} bytes per connection",
                a as f64 / 1048576.0,
                b as f64 / 1048576.0
            )?;
        }
        writeln!(
            f,
            "verified:     every connection echoed a line before and after the hold, then closed cleanly"
        )
    }
}
