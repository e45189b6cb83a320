//! Command-line options.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::compare::CompareArgs;
use crate::loadgen::Target;
use crate::micro::MicroArgs;
use crate::soak::SoakArgs;

/// Benchmarks for rpoe-echo: a verifying load generator for the line-echo
/// protocol, comparison servers, and the harness that compares them.
///
/// Every line sent is distinct and every echoed byte is checked; a wrong
/// or extra byte, a connection closed early, or a stall fails the run with
/// a non-zero exit.
#[derive(Parser, Debug)]
#[command(name = "rpoe-bench", version, about, long_about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Closed-loop throughput: C connections keep P lines of L bytes in
    /// flight each; reports lines/s and MB/s.
    Throughput(ThroughputArgs),
    /// Open loop at a fixed offered load: the server's CPU time per echoed
    /// line and the latency distribution.
    Rate(RateArgs),
    /// Ping-pong: each connection keeps one line in flight; reports round
    /// trips/s and p50/p99/p99.9.
    Latency(LatencyArgs),
    /// Open C connections and hold them: the server's memory per
    /// connection.
    Idle(IdleArgs),
    /// Run every server against every workload, interleaved and repeated,
    /// and write the table and plot into docs/bench/.
    Compare(CompareArgs),
    /// Turn criterion's results of `cargo bench -p rpoe` into a table of
    /// ratios against the plain baselines.
    MicroReport(MicroArgs),
    /// Run rpoe-echo for a long time under well-behaved and hostile
    /// clients, episodes and signals; sample it every few seconds and
    /// judge memory growth, descriptors, losses and the shutdown.
    Soak(SoakArgs),
    /// Benchmark-only comparison server: hand-written mio echo.
    ServeMio(ServeArgs),
    /// Benchmark-only comparison server: tokio echo (current-thread).
    ServeTokio(ServeArgs),
    /// Benchmark-only comparison server: tokio `Framed` + `LinesCodec`
    /// echo (current-thread).
    ServeTokioFramed(ServeArgs),
}

/// The server to load.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The server's address.
    #[arg(long, value_name = "IP:PORT")]
    pub addr: SocketAddr,
    /// The server's process id, for its CPU time and memory from /proc.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Fail when nothing arrives for this many seconds while something is
    /// expected.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub stall_timeout: Duration,
    /// Most connects in progress at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub connect_concurrency: usize,
}

impl TargetArgs {
    /// The load generator's view of it.
    pub fn target(&self) -> Target {
        Target {
            stall_timeout: self.stall_timeout,
            connect_concurrency: self.connect_concurrency,
            ..Target::new(self.addr, self.server_pid)
        }
    }
}

/// Warm-up and measured window.
#[derive(Args, Debug, Clone)]
pub struct TimingArgs {
    /// Seconds of load before the measured window.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    pub warmup: Duration,
    /// Seconds measured.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub duration: Duration,
}

/// Options of `throughput`.
#[derive(Args, Debug)]
pub struct ThroughputArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Connections (C).
    #[arg(short = 'c', long, default_value_t = 50)]
    pub conns: usize,
    /// Lines in flight per connection (P).
    #[arg(short = 'p', long, default_value_t = 16)]
    pub in_flight: usize,
    /// Bytes per line, newline included (L).
    #[arg(short = 'l', long, default_value_t = 64)]
    pub line_len: usize,
    #[command(flatten)]
    pub timing: TimingArgs,
}

/// Options of `rate`.
#[derive(Args, Debug)]
pub struct RateArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Offered load, lines per second (all connections together).
    #[arg(short = 'r', long)]
    pub rate: f64,
    /// Connections the load is spread over.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub conns: usize,
    /// Bytes per line, newline included.
    #[arg(short = 'l', long, default_value_t = 64)]
    pub line_len: usize,
    #[command(flatten)]
    pub timing: TimingArgs,
}

/// Options of `latency`.
#[derive(Args, Debug)]
pub struct LatencyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Connections, each with one line in flight.
    #[arg(short = 'c', long, default_value_t = 1)]
    pub conns: usize,
    /// Bytes per line, newline included.
    #[arg(short = 'l', long, default_value_t = 64)]
    pub line_len: usize,
    #[command(flatten)]
    pub timing: TimingArgs,
}

/// Options of `idle`.
#[derive(Args, Debug)]
pub struct IdleArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Connections to open and hold.
    #[arg(short = 'c', long, default_value_t = 10_000)]
    pub conns: usize,
    /// Bytes of the line each connection echoes before and after the hold.
    #[arg(short = 'l', long, default_value_t = 64)]
    pub line_len: usize,
    /// Seconds to hold the connections idle.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    pub hold: Duration,
}

/// Options of the comparison servers.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Seconds, possibly fractional.
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    Duration::try_from_secs_f64(v).map_err(|e| format!("{s:?}: {e}"))
}
