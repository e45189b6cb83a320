//! `rpoe-echo`: the POE tutorial's line-echo server as a product.
//!
//! Run `rpoe-echo --help` for the options and policies.

mod cli;
mod conn;
mod echo;
mod limits;
mod listen;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use mio::net::TcpListener;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let opts = cli::Options::parse();
    if let Err(msg) = opts.validate() {
        eprintln!("rpoe-echo: {msg}");
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let max_connections = opts
        .max_connections
        .unwrap_or_else(limits::default_max_connections);
    let cfg = echo::Config {
        max_line: opts.max_line as usize,
        high_water: opts.high_water as usize,
        low_water: opts.low_water as usize,
        max_connections: max_connections as usize,
        accept_batch: opts.accept_batch as usize,
        emfile_pause: Duration::from_millis(opts.emfile_pause_ms),
        shutdown_timeout: Duration::from_millis(opts.shutdown_timeout_ms),
        clients: Arc::new(AtomicUsize::new(0)),
        forced: Arc::new(AtomicBool::new(false)),
    };
    let workers = opts.workers as usize;

    let first = match listen::bind_all(&opts.bind, opts.port, workers > 1) {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen: {e}")),
    };
    let addrs: Vec<SocketAddr> = first.iter().filter_map(|l| l.local_addr().ok()).collect();
    let mut sets = vec![first];
    for _ in 1..workers {
        match listen::bind_again(&addrs) {
            Ok(l) => sets.push(l),
            Err(e) => return fail(&format!("cannot listen for another worker: {e}")),
        }
    }
    let mut stdout = std::io::stdout().lock();
    for addr in &addrs {
        let _ = writeln!(stdout, "listening on {addr}");
        tracing::info!(%addr, "listening");
    }
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(
        max_line = cfg.max_line,
        high_water = cfg.high_water,
        low_water = cfg.low_water,
        max_connections = cfg.max_connections,
        workers,
        "serving"
    );

    let mut sets = sets.into_iter();
    let mine = sets.next().unwrap_or_default();
    let threads: Vec<_> = sets
        .enumerate()
        .map(|(i, listeners)| {
            let cfg = cfg.clone();
            std::thread::Builder::new()
                .name(format!("worker-{}", i + 1))
                .spawn(move || serve(cfg, listeners))
        })
        .collect();
    let mut ok = serve(cfg.clone(), mine);
    for t in threads {
        ok &= match t {
            Ok(handle) => handle.join().unwrap_or(false),
            Err(e) => {
                tracing::error!("cannot start a worker thread: {e}");
                false
            }
        };
    }
    if cfg.forced.load(Ordering::Relaxed) {
        return ExitCode::FAILURE;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Run one kernel serving `listeners` until it has nothing left to do.
fn serve(cfg: echo::Config, listeners: Vec<TcpListener>) -> bool {
    let mut kernel = match rpoe::Kernel::new() {
        Ok(k) => k,
        Err(e) => {
            tracing::error!("cannot create a kernel: {e}");
            return false;
        }
    };
    let session = echo::session(&mut kernel, cfg, listeners);
    kernel.spawn(session, ());
    match kernel.run() {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("kernel failed: {e}");
            false
        }
    }
}

fn fail(msg: &str) -> ExitCode {
    tracing::error!("{msg}");
    eprintln!("rpoe-echo: {msg}");
    ExitCode::FAILURE
}
