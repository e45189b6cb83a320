//! The workloads of a comparison, their full and `--quick` sizes, and the
//! figures each one reports.

use std::time::Duration;

use super::servers::Server;
use crate::loadgen::{Drive, IdleReport, LoadSpec, Report};

/// Bytes per line in every workload.
pub const LINE_LEN: usize = 64;

/// Which workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadId {
    /// Throughput, C=50 P=16.
    Tp50,
    /// Ping-pong, C=1 P=1.
    PingPong,
    /// Latency, C=10 P=1.
    Latency10,
    /// Throughput, C=1000 P=4.
    Tp1000,
    /// Open loop at a fixed rate: CPU per line.
    Rate,
    /// Idle connections: memory per connection.
    Idle,
    /// `rpoe-echo --workers` scaling (throughput C=50 P=16).
    Scaling,
}

impl WorkloadId {
    /// The workloads of the main comparison, in run order (the rate is
    /// chosen from `Latency10`, so it comes before).
    pub const MAIN: [WorkloadId; 6] = [
        WorkloadId::Tp50,
        WorkloadId::PingPong,
        WorkloadId::Latency10,
        WorkloadId::Tp1000,
        WorkloadId::Rate,
        WorkloadId::Idle,
    ];

    /// Short name, for the CSV and `--workloads`.
    pub fn key(self) -> &'static str {
        match self {
            WorkloadId::Tp50 => "tp50",
            WorkloadId::PingPong => "pingpong",
            WorkloadId::Latency10 => "latency10",
            WorkloadId::Tp1000 => "tp1000",
            WorkloadId::Rate => "rate",
            WorkloadId::Idle => "idle",
            WorkloadId::Scaling => "scaling",
        }
    }

    /// Parse a short name.
    pub fn from_key(key: &str) -> Option<WorkloadId> {
        WorkloadId::MAIN
            .into_iter()
            .chain([WorkloadId::Scaling])
            .find(|w| w.key() == key)
    }
}

/// Sizes and durations: the full run or the `--quick` smoke run.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    warmup: Duration,
    duration: Duration,
    /// The rate workload's window: longer, since the server is mostly
    /// idle and its CPU time is counted in 10 ms ticks.
    rate_duration: Duration,
    tp1000_conns: usize,
    idle_conns: usize,
    idle_hold: Duration,
}

impl Profile {
    /// The published run: 2 s warm-up, 5 s windows, the sizes of the issue.
    pub fn full() -> Profile {
        Profile {
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(5),
            rate_duration: Duration::from_secs(10),
            tp1000_conns: 1000,
            idle_conns: 10_000,
            idle_hold: Duration::from_secs(1),
        }
    }

    /// About a minute in all: short windows, fewer connections.
    pub fn quick() -> Profile {
        Profile {
            warmup: Duration::from_millis(300),
            duration: Duration::from_secs(1),
            rate_duration: Duration::from_secs(1),
            tp1000_conns: 200,
            idle_conns: 1000,
            idle_hold: Duration::from_millis(100),
        }
    }
}

/// What one run of a workload does.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A timed load.
    Load(LoadSpec),
    /// Open and hold idle connections.
    Idle {
        /// Connections.
        conns: usize,
        /// How long to hold them.
        hold: Duration,
    },
}

/// A workload with its sizes fixed.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Which.
    pub id: WorkloadId,
    profile: Profile,
    /// Offered load of [`WorkloadId::Rate`], lines/s.
    pub rate: f64,
}

impl Workload {
    /// `id` at the sizes of `profile`; `rate` is used by the rate workload.
    pub fn new(id: WorkloadId, profile: Profile, rate: f64) -> Workload {
        Workload { id, profile, rate }
    }

    /// Title, with its parameters.
    pub fn title(&self) -> String {
        let p = &self.profile;
        match self.id {
            WorkloadId::Tp50 => format!("throughput C=50 P=16 L={LINE_LEN}"),
            WorkloadId::PingPong => format!("ping-pong C=1 P=1 L={LINE_LEN}"),
            WorkloadId::Latency10 => format!("latency C=10 P=1 L={LINE_LEN}"),
            WorkloadId::Tp1000 => format!("throughput C={} P=4 L={LINE_LEN}", p.tp1000_conns),
            WorkloadId::Rate => format!("open loop {:.0} lines/s, C=50 L={LINE_LEN}", self.rate),
            WorkloadId::Idle => format!("idle C={}", p.idle_conns),
            WorkloadId::Scaling => format!("scaling: throughput C=50 P=16 L={LINE_LEN}"),
        }
    }

    /// What a run against `server` does. `POE::Component::Server::TCP` is
    /// held to [`SERVER_TCP_IDLE_CONNS`] idle connections.
    pub fn plan(&self, server: Server) -> Plan {
        let p = &self.profile;
        let load = |conns, drive| {
            Plan::Load(LoadSpec {
                conns,
                line_len: LINE_LEN,
                drive,
                warmup: p.warmup,
                duration: p.duration,
            })
        };
        match self.id {
            WorkloadId::Tp50 | WorkloadId::Scaling => load(50, Drive::Closed { in_flight: 16 }),
            WorkloadId::PingPong => load(1, Drive::Closed { in_flight: 1 }),
            WorkloadId::Latency10 => load(10, Drive::Closed { in_flight: 1 }),
            WorkloadId::Tp1000 => load(p.tp1000_conns, Drive::Closed { in_flight: 4 }),
            WorkloadId::Rate => Plan::Load(LoadSpec {
                conns: 50,
                line_len: LINE_LEN,
                drive: Drive::Open { rate: self.rate },
                warmup: p.warmup,
                duration: p.rate_duration,
            }),
            WorkloadId::Idle => Plan::Idle {
                conns: if server == Server::PoeTcp {
                    p.idle_conns.min(SERVER_TCP_IDLE_CONNS)
                } else {
                    p.idle_conns
                },
                hold: p.idle_hold,
            },
        }
    }

    /// The figures it reports; the first is its headline.
    pub fn metrics(&self) -> &'static [Metric] {
        self.id.metrics()
    }
}

impl WorkloadId {
    /// The figures it reports; the first is its headline.
    pub fn metrics(self) -> &'static [Metric] {
        match self {
            WorkloadId::Tp50 | WorkloadId::Tp1000 | WorkloadId::Scaling => &THROUGHPUT,
            WorkloadId::PingPong => &PING_PONG,
            WorkloadId::Latency10 => &LATENCY,
            WorkloadId::Rate => &RATE,
            WorkloadId::Idle => &IDLE,
        }
    }
}

/// Most idle connections asked of `POE::Component::Server::TCP`: in a
/// trial at 10,000 it held them, but after the clients' half-close it
/// closed none for over 5 s (a session per connection, and POE's
/// `select()` loop scanning every descriptor each turn), which fails the
/// run as a stall. The seed, one session for all, manages 10,000 (its
/// accepts take about 20 s).
pub const SERVER_TCP_IDLE_CONNS: usize = 1000;

/// The outcome of one successful run.
#[derive(Debug, Clone)]
pub enum Measured {
    /// A timed load.
    Load(Report),
    /// Idle connections.
    Idle(IdleReport),
}

/// One figure a workload reports.
pub struct Metric {
    /// Short name, for the CSV.
    pub key: &'static str,
    /// Column heading.
    pub label: &'static str,
    /// Whether more is better.
    pub higher_is_better: bool,
    /// Digits after the point when shown.
    pub decimals: usize,
    /// The figure, if the run has it.
    pub get: fn(&Measured) -> Option<f64>,
}

fn load(m: &Measured) -> Option<&Report> {
    match m {
        Measured::Load(r) => Some(r),
        Measured::Idle(_) => None,
    }
}

fn lines_per_sec(m: &Measured) -> Option<f64> {
    load(m).map(|r| r.lines_per_sec)
}
fn mb_per_sec(m: &Measured) -> Option<f64> {
    load(m).map(|r| r.mb_per_sec)
}
fn cpu_percent(m: &Measured) -> Option<f64> {
    load(m)
        .and_then(|r| r.server)
        .map(|s| s.cpu_fraction * 100.0)
}
fn cpu_us_per_line(m: &Measured) -> Option<f64> {
    load(m).and_then(|r| r.server).map(|s| s.cpu_us_per_line)
}
fn client_percent(m: &Measured) -> Option<f64> {
    load(m)
        .and_then(|r| r.client_cpu_fraction)
        .map(|c| c * 100.0)
}
fn others_cpus(m: &Measured) -> Option<f64> {
    load(m).and_then(|r| r.others_cpus)
}
/// Lines echoed per second of server CPU: what the server could do with
/// a whole core, when the load generator could not saturate it.
fn lines_per_cpu_sec(m: &Measured) -> Option<f64> {
    cpu_us_per_line(m).filter(|&us| us > 0.0).map(|us| 1e6 / us)
}
fn p50(m: &Measured) -> Option<f64> {
    load(m).and_then(|r| r.latency).map(|p| p.p50_us)
}
fn p99(m: &Measured) -> Option<f64> {
    load(m).and_then(|r| r.latency).map(|p| p.p99_us)
}
fn p999(m: &Measured) -> Option<f64> {
    load(m).and_then(|r| r.latency).map(|p| p.p999_us)
}
fn idle_bytes(m: &Measured) -> Option<f64> {
    match m {
        Measured::Idle(r) => r.bytes_per_conn(),
        Measured::Load(_) => None,
    }
}
fn idle_conns(m: &Measured) -> Option<f64> {
    match m {
        Measured::Idle(r) => Some(r.conns as f64),
        Measured::Load(_) => None,
    }
}
fn idle_connect_secs(m: &Measured) -> Option<f64> {
    match m {
        Measured::Idle(r) => Some(r.connect_time.as_secs_f64()),
        Measured::Load(_) => None,
    }
}
fn idle_rss_mib(m: &Measured) -> Option<f64> {
    match m {
        Measured::Idle(r) => r.rss_after.map(|b| b as f64 / 1048576.0),
        Measured::Load(_) => None,
    }
}

const fn metric(
    key: &'static str,
    label: &'static str,
    higher_is_better: bool,
    decimals: usize,
    get: fn(&Measured) -> Option<f64>,
) -> Metric {
    Metric {
        key,
        label,
        higher_is_better,
        decimals,
        get,
    }
}

static THROUGHPUT: [Metric; 8] = [
    metric("lines_per_sec", "lines/s", true, 0, lines_per_sec),
    metric("server_cpu_pct", "server CPU %", false, 0, cpu_percent),
    metric(
        "client_cpu_pct",
        "load generator CPU %",
        false,
        0,
        client_percent,
    ),
    metric("others_cpus", "other load (CPUs)", false, 2, others_cpus),
    metric(
        "lines_per_cpu_sec",
        "lines per server CPU-s",
        true,
        0,
        lines_per_cpu_sec,
    ),
    metric("mb_per_sec", "MB/s", true, 1, mb_per_sec),
    metric("p50_us", "p50 µs", false, 0, p50),
    metric("p99_us", "p99 µs", false, 0, p99),
];

static PING_PONG: [Metric; 6] = [
    metric(
        "round_trips_per_sec",
        "round trips/s",
        true,
        0,
        lines_per_sec,
    ),
    metric("p50_us", "p50 µs", false, 1, p50),
    metric("p99_us", "p99 µs", false, 1, p99),
    metric("p999_us", "p99.9 µs", false, 1, p999),
    metric(
        "cpu_us_per_line",
        "server CPU µs/line",
        false,
        2,
        cpu_us_per_line,
    ),
    metric("others_cpus", "other load (CPUs)", false, 2, others_cpus),
];

static LATENCY: [Metric; 6] = [
    metric("p99_us", "p99 µs", false, 1, p99),
    metric("p50_us", "p50 µs", false, 1, p50),
    metric("p999_us", "p99.9 µs", false, 1, p999),
    metric(
        "round_trips_per_sec",
        "round trips/s",
        true,
        0,
        lines_per_sec,
    ),
    metric(
        "cpu_us_per_line",
        "server CPU µs/line",
        false,
        2,
        cpu_us_per_line,
    ),
    metric("others_cpus", "other load (CPUs)", false, 2, others_cpus),
];

static RATE: [Metric; 7] = [
    metric(
        "cpu_us_per_line",
        "server CPU µs/line",
        false,
        2,
        cpu_us_per_line,
    ),
    metric("server_cpu_pct", "server CPU %", false, 1, cpu_percent),
    metric("lines_per_sec", "echoed lines/s", true, 0, lines_per_sec),
    metric("p50_us", "p50 µs", false, 1, p50),
    metric("p99_us", "p99 µs", false, 1, p99),
    metric("p999_us", "p99.9 µs", false, 1, p999),
    metric("others_cpus", "other load (CPUs)", false, 2, others_cpus),
];

static IDLE: [Metric; 4] = [
    metric(
        "bytes_per_conn",
        "server bytes/connection",
        false,
        0,
        idle_bytes,
    ),
    metric("conns", "connections", true, 0, idle_conns),
    metric("rss_mib", "server RSS MiB", false, 1, idle_rss_mib),
    metric(
        "connect_secs",
        "connect time s",
        false,
        2,
        idle_connect_secs,
    ),
];
