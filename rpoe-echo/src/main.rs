//! `rpoe-echo`: the POE tutorial's line-echo server as a product.
//!
//! Run `rpoe-echo --help` for the options and policies.

mod cli;
mod conn;
mod echo;
mod limits;
mod listen;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
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
    };

    let listeners = match listen::bind_all(&opts.bind, opts.port) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen: {e}");
            eprintln!("rpoe-echo: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            let _ = writeln!(stdout, "listening on {addr}");
            tracing::info!(%addr, "listening");
        }
    }
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(
        max_line = cfg.max_line,
        high_water = cfg.high_water,
        low_water = cfg.low_water,
        max_connections = cfg.max_connections,
        "serving"
    );

    let mut kernel = match rpoe::Kernel::new() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("rpoe-echo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let session = echo::session(&mut kernel, cfg, listeners);
    kernel.spawn(session, ());
    match kernel.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("kernel failed: {e}");
            eprintln!("rpoe-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
