//! `rpoe-bench`: benchmarks for `rpoe-echo`.
//!
//! - [`loadgen`]: the load generator (throughput, rate, latency, idle);
//! - [`servers`]: benchmark-only comparison servers (mio, tokio, tokio
//!   `Framed`);
//! - [`compare`]: starts every server, runs every workload, writes the
//!   report into `docs/bench/`;
//! - [`micro`]: the report of the kernel's criterion micro-benchmarks;
//! - [`soak`]: a long run under hostile clients and signals, judged on
//!   losses, memory growth, descriptors and the shutdown.
//!
//! Run `rpoe-bench --help`; `docs/performance.md` has the commands that
//! reproduce the published figures.

#![forbid(unsafe_code)]

mod cli;
mod compare;
mod lines;
mod loadgen;
mod micro;
mod procfs;
mod servers;
mod soak;
mod stats;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use loadgen::{Drive, LoadError, LoadSpec};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Throughput(a) => run_load(
            &a.target,
            LoadSpec {
                conns: a.conns,
                line_len: a.line_len,
                drive: Drive::Closed {
                    in_flight: a.in_flight,
                },
                warmup: a.timing.warmup,
                duration: a.timing.duration,
            },
        ),
        Command::Rate(a) => run_load(
            &a.target,
            LoadSpec {
                conns: a.conns,
                line_len: a.line_len,
                drive: Drive::Open { rate: a.rate },
                warmup: a.timing.warmup,
                duration: a.timing.duration,
            },
        ),
        Command::Latency(a) => run_load(
            &a.target,
            LoadSpec {
                conns: a.conns,
                line_len: a.line_len,
                drive: Drive::Closed { in_flight: 1 },
                warmup: a.timing.warmup,
                duration: a.timing.duration,
            },
        ),
        Command::Idle(a) => loadgen::ensure_fd_limit(a.conns)
            .and_then(|()| loadgen::idle::run(&a.target.target(), a.conns, a.line_len, a.hold))
            .map(|r| print!("{r}"))
            .map_err(|e| e.to_string()),
        Command::Compare(a) => compare::run(&a),
        Command::MicroReport(a) => micro::run(&a),
        Command::Soak(a) => soak::run(&a),
        Command::ServeMio(a) => {
            servers::mio_echo::serve(SocketAddr::new(a.bind, a.port)).map_err(|e| e.to_string())
        }
        Command::ServeTokio(a) => {
            servers::tokio_echo::serve(SocketAddr::new(a.bind, a.port)).map_err(|e| e.to_string())
        }
        Command::ServeTokioFramed(a) => {
            servers::tokio_framed::serve(SocketAddr::new(a.bind, a.port)).map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rpoe-bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run one timed load and print its report.
fn run_load(target: &cli::TargetArgs, spec: LoadSpec) -> Result<(), String> {
    let go = || -> Result<loadgen::Report, LoadError> {
        loadgen::ensure_fd_limit(spec.conns)?;
        loadgen::load::run(&target.target(), &spec)
    };
    go().map(|r| print!("{r}")).map_err(|e| e.to_string())
}
