//! `rpoe-echo`: the POE tutorial's line-echo server as a product.
//!
//! Run `rpoe-echo --help` for the options and policies.

mod cli;
mod conn;
mod echo;
mod limits;
mod listen;
mod metrics;
mod ops;
mod timeline;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
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
    init_logging(opts.log_format);

    let max_connections = opts
        .max_connections
        .unwrap_or_else(limits::default_max_connections);
    let workers = opts.workers as usize;
    let clients = Arc::new(AtomicUsize::new(0));
    let metrics = metrics::Metrics::new(workers, clients.clone());
    let cfg = echo::Config {
        max_line: opts.max_line as usize,
        high_water: opts.high_water as usize,
        low_water: opts.low_water as usize,
        max_connections: max_connections as usize,
        accept_batch: opts.accept_batch as usize,
        emfile_pause: Duration::from_millis(opts.emfile_pause_ms),
        shutdown_timeout: Duration::from_millis(opts.shutdown_timeout_ms),
        idle_timeout: opts.idle_timeout.0,
        line_timeout: opts.line_timeout.0,
        send_timeout: opts.send_timeout.0,
        evict_idle_after: opts.evict_idle_after.0,
        linger: opts.linger,
        // Each kernel keeps its own share, so no counter is shared on the
        // hot path.
        max_buffered: usize::try_from(opts.max_buffered / workers as u64)
            .unwrap_or(usize::MAX)
            .max(1),
        clients,
        forced: Arc::new(AtomicBool::new(false)),
        metrics: metrics.clone(),
        worker: 0,
    };

    // Kernels and their sessions first: each session watches SIGINT,
    // SIGTERM and SIGHUP as it starts, so by the time the listeners are
    // bound and "listening on" is printed a signal is an event, never its
    // default action (which for SIGHUP is to die).
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let mut handoffs = Vec::new();
    let mut threads = Vec::new();
    for i in 1..workers {
        let (tx, rx) = mpsc::channel::<Vec<TcpListener>>();
        handoffs.push(tx);
        let cfg = echo::Config {
            worker: i,
            ..cfg.clone()
        };
        let ready = ready_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || worker(cfg, ready, rx));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => return fail(&format!("cannot start a worker thread: {e}")),
        }
    }
    drop(ready_tx);
    let (mut kernel, me) = match start_kernel(&cfg) {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    for _ in 1..workers {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return fail(&e),
            Err(_) => return fail("a worker thread died while starting"),
        }
    }

    // The metrics listener first: if it cannot be bound, no client has
    // been accepted yet.
    let metrics_listener = match opts.metrics.map(TcpListener::bind).transpose() {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen for --metrics: {e}")),
    };
    let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
    let first = match listen::bind_all(&opts.bind, opts.port, workers > 1) {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen: {e}")),
    };
    let addrs: Vec<SocketAddr> = first.iter().filter_map(|l| l.local_addr().ok()).collect();
    for tx in &handoffs {
        match listen::bind_again(&addrs) {
            Ok(l) => {
                let _ = tx.send(l);
            }
            Err(e) => return fail(&format!("cannot listen for another worker: {e}")),
        }
    }
    drop(handoffs);
    if let Err(e) = kernel.call(me, "listen", first) {
        return fail(&format!("cannot start listening: {e}"));
    }
    let notify = std::env::var_os("NOTIFY_SOCKET").is_some();
    kernel.spawn(
        ops::session(ops::Config {
            metrics,
            listener: metrics_listener,
            stats_interval: opts.stats_interval.0,
            notify,
        }),
        (),
    );
    let mut stdout = std::io::stdout().lock();
    // Before the "listening on" lines, so whoever waits for those has
    // this one too.
    if let Some(addr) = metrics_addr {
        let _ = writeln!(stdout, "metrics on http://{addr}/metrics");
        tracing::info!(%addr, "serving metrics at /metrics");
    }
    for addr in &addrs {
        let _ = writeln!(stdout, "listening on {addr}");
        tracing::info!(%addr, "listening");
    }
    let _ = stdout.flush();
    drop(stdout);
    // Every listener is bound (the workers' too: they were bound before
    // being handed over), so clients can connect from now on.
    if notify {
        if let Err(e) = sd_notify::notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status("serving 0 clients"),
        ]) {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }
    tracing::info!(
        max_line = cfg.max_line,
        high_water = cfg.high_water,
        low_water = cfg.low_water,
        max_connections = cfg.max_connections,
        max_buffered = cfg.max_buffered,
        workers,
        "serving"
    );

    let mut ok = run(&mut kernel);
    for t in threads {
        ok &= t.join().unwrap_or(false);
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

/// Log to stderr as text or JSON lines, filtered by RUST_LOG (default
/// "info"). Colours only on a terminal: under systemd stderr goes to the
/// journal, where escape codes are noise.
fn init_logging(format: cli::LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Text => builder.init(),
        cli::LogFormat::Json => {
            LOG_JSON.store(true, Ordering::Relaxed);
            builder.json().init()
        }
    }
}

/// A kernel with the server session started (signals watched), waiting
/// for its listeners.
fn start_kernel(cfg: &echo::Config) -> Result<(rpoe::Kernel, rpoe::SessionId), String> {
    let mut kernel = rpoe::Kernel::new().map_err(|e| format!("cannot create a kernel: {e}"))?;
    let session = echo::session(&mut kernel, cfg.clone());
    let id = kernel.spawn(session, ());
    Ok((kernel, id))
}

/// A worker thread: its own kernel, started (and its signals watched)
/// before the main thread binds; then the listeners it is handed.
fn worker(
    cfg: echo::Config,
    ready: mpsc::Sender<Result<(), String>>,
    listeners: mpsc::Receiver<Vec<TcpListener>>,
) -> bool {
    let (mut kernel, me) = match start_kernel(&cfg) {
        Ok(k) => k,
        Err(e) => {
            let _ = ready.send(Err(e));
            return false;
        }
    };
    let _ = ready.send(Ok(()));
    let Ok(listeners) = listeners.recv() else {
        // The main thread failed to bind; the process is exiting.
        return false;
    };
    if let Err(e) = kernel.call(me, "listen", listeners) {
        tracing::error!("cannot start listening: {e}");
        return false;
    }
    run(&mut kernel)
}

/// Run one kernel until it has nothing left to do.
fn run(kernel: &mut rpoe::Kernel) -> bool {
    match kernel.run() {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("kernel failed: {e}");
            false
        }
    }
}

/// Set when logs are JSON lines: then nothing else may be written to
/// stderr, or a log shipper would choke on the stray line.
static LOG_JSON: AtomicBool = AtomicBool::new(false);

fn fail(msg: &str) -> ExitCode {
    tracing::error!("{msg}");
    // Also plainly, so it shows even with RUST_LOG=off.
    if !LOG_JSON.load(Ordering::Relaxed) {
        eprintln!("rpoe-echo: {msg}");
    }
    ExitCode::FAILURE
}
