//! The echo server as one rpoe session: the seed's design (one session,
//! `select_read` on the listener and each client, `select_write` only while
//! output is pending), with per-connection state in a table indexed by the
//! handle's dense index instead of hash maps.

use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use rpoe::{Ctx, EventId, HandleId, Kernel, Session, Signal};

use crate::conn::{Conn, Fed};

/// The policies, resolved from the command line.
#[derive(Clone, Debug)]
pub struct Config {
    /// Longest line, newline included.
    pub max_line: usize,
    /// Pause reading above this much pending output...
    pub high_water: usize,
    /// ...and resume at or below this.
    pub low_water: usize,
    /// Most clients at once.
    pub max_connections: usize,
    /// Most accepts per readiness event.
    pub accept_batch: usize,
    /// Accept pause when out of descriptors.
    pub emfile_pause: Duration,
    /// Longest graceful shutdown before connections are cut.
    pub shutdown_timeout: Duration,
    /// Clients connected, across all workers.
    pub clients: Arc<AtomicUsize>,
    /// Set when a second signal cut the shutdown short.
    pub forced: Arc<AtomicBool>,
}

/// Size of the one read buffer all connections share.
const READ_BUF: usize = 64 * 1024;
/// Most reads from one client per event before others get a turn (the
/// watcher is level-triggered, so what is left is read next round).
const READS_PER_EVENT: usize = 8;
/// At most one warning of a kind per this long.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Logs a recurring condition at most once per [`LOG_EVERY`], counting the
/// occurrences it kept quiet about.
#[derive(Default)]
struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(suppressed since last time)` when it is time to log again.
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// A connected client: its handle and its buffers.
struct Client {
    h: HandleId,
    conn: Conn,
}

/// The session's heap.
pub struct Echo {
    cfg: Config,
    listeners: Vec<TcpListener>,
    listener_handles: Vec<HandleId>,
    conns: Vec<Option<Client>>,
    count: usize,
    shutting_down: bool,
    rbuf: Box<[u8]>,
    ev_read: EventId,
    ev_write: EventId,
    emfile_log: RateLimit,
    full_log: RateLimit,
}

/// The server session, owning `listeners`.
pub fn session(kernel: &mut Kernel, cfg: Config, listeners: Vec<TcpListener>) -> Session<Echo> {
    let heap = Echo {
        cfg,
        listeners,
        listener_handles: Vec::new(),
        conns: Vec::new(),
        count: 0,
        shutting_down: false,
        rbuf: vec![0; READ_BUF].into_boxed_slice(),
        ev_read: kernel.event_id("read"),
        ev_write: kernel.event_id("write"),
        emfile_log: RateLimit::default(),
        full_log: RateLimit::default(),
    };
    Session::new(heap)
        .on("_start", start)
        .on("accept", accept)
        .on("resume_accept", resume_accept)
        .on("read", read)
        .on("write", write)
        .on("shutdown", shutdown)
        .on("shutdown_deadline", shutdown_deadline)
        .on("hup", hup)
}

fn start(ctx: &mut Ctx<'_, Echo>) {
    for listener in std::mem::take(&mut ctx.heap().listeners) {
        let h = ctx.add_handle(listener);
        ctx.heap().listener_handles.push(h);
        if let Err(e) = ctx.select_read(h, "accept") {
            tracing::error!(error = %e, "cannot watch a listener");
        }
    }
    for (sig, event) in [("INT", "shutdown"), ("TERM", "shutdown"), ("HUP", "hup")] {
        if let Err(e) = ctx.sig(sig, event) {
            tracing::warn!(signal = sig, error = %e, "cannot watch signal");
        }
    }
}

/// SIGINT/SIGTERM: stop accepting, read what clients already sent, echo
/// its complete lines, then close each connection once its output is
/// written — within `shutdown_timeout`. A second signal stops at once.
fn shutdown(ctx: &mut Ctx<'_, Echo>) {
    ctx.sig_handled();
    let sig = ctx
        .arg::<Signal>()
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    if ctx.heap().shutting_down {
        tracing::warn!(signal = %sig, clients = ctx.heap().count, "second signal: stopping now");
        ctx.heap().cfg.forced.store(true, Ordering::Relaxed);
        ctx.stop_kernel();
        return;
    }
    ctx.heap().shutting_down = true;
    let timeout = ctx.heap().cfg.shutdown_timeout;
    tracing::info!(signal = %sig, clients = ctx.heap().count, timeout_ms = timeout.as_millis() as u64, "shutting down: no new connections; finishing lines already received");
    for l in std::mem::take(&mut ctx.heap().listener_handles) {
        let _ = ctx.close_handle(l);
    }
    ctx.alarm_clear("resume_accept");
    let clients: Vec<HandleId> = ctx.heap().conns.iter().flatten().map(|c| c.h).collect();
    if clients.is_empty() {
        return;
    }
    ctx.delay("shutdown_deadline", timeout, ());
    for h in clients {
        let (next, _) = read_some(ctx, h, true);
        if let Some(Some(c)) = ctx.heap().conns.get_mut(h.index()) {
            c.conn.drop_partial();
            c.conn.draining = true;
        }
        settle(ctx, h, next);
    }
}

fn shutdown_deadline(ctx: &mut Ctx<'_, Echo>) {
    tracing::warn!(
        clients = ctx.heap().count,
        "shutdown timeout: closing connections with output still pending"
    );
    let clients: Vec<HandleId> = ctx.heap().conns.iter().flatten().map(|c| c.h).collect();
    for h in clients {
        close(ctx, h, "shutdown timeout");
    }
}

/// SIGHUP: nothing to reopen (logs go to stderr), so it is ignored.
fn hup(ctx: &mut Ctx<'_, Echo>) {
    ctx.sig_handled();
    tracing::info!("SIGHUP ignored: logs go to stderr, there is nothing to reopen");
}

fn accept(ctx: &mut Ctx<'_, Echo>) {
    let Some((listener, _)) = ctx.io() else {
        return;
    };
    for _ in 0..ctx.heap().cfg.accept_batch {
        let accepted = match ctx.handle::<TcpListener>(listener) {
            Ok(l) => l.accept(),
            Err(_) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let echo = ctx.heap();
                let clients = echo.cfg.clients.load(Ordering::Relaxed);
                if clients >= echo.cfg.max_connections {
                    if let Some(quiet) = echo.full_log.due() {
                        tracing::warn!(%peer, max = echo.cfg.max_connections, suppressed = quiet, "connection limit reached; closing new connections");
                    }
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let h = ctx.add_handle(stream);
                let ev = ctx.heap().ev_read;
                if let Err(e) = ctx.select_read(h, ev) {
                    tracing::warn!(%peer, error = %e, "cannot watch a new connection");
                    let _ = ctx.close_handle(h);
                    continue;
                }
                let echo = ctx.heap();
                if echo.conns.len() <= h.index() {
                    echo.conns.resize_with(h.index() + 1, || None);
                }
                echo.conns[h.index()] = Some(Client {
                    h,
                    conn: Conn::default(),
                });
                echo.count += 1;
                echo.cfg.clients.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, handle = %h, clients = echo.count, "connected");
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if matches!(e.raw_os_error(), Some(24) | Some(23)) => {
                // EMFILE / ENFILE: pause instead of spinning on a listener
                // that stays readable; keep it, and retry shortly.
                let pause = ctx.heap().cfg.emfile_pause;
                if let Some(quiet) = ctx.heap().emfile_log.due() {
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, suppressed = quiet, "out of file descriptors; pausing accepts");
                }
                let _ = ctx.select_pause_read(listener);
                ctx.delay_add("resume_accept", pause, listener);
                return;
            }
            Err(e) => {
                // The client gave up before we accepted it, or similar.
                tracing::debug!(error = %e, "accept failed");
            }
        }
    }
}

fn resume_accept(ctx: &mut Ctx<'_, Echo>) {
    if let Ok(&listener) = ctx.arg::<HandleId>() {
        let _ = ctx.select_resume_read(listener);
    }
}

/// What a read or write handler decided for its connection.
enum Next {
    Continue,
    Close(&'static str),
}

fn read(ctx: &mut Ctx<'_, Echo>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let peer_closed = ctx.io_peer_closed();
    let (next, drained) = read_some(ctx, h, peer_closed);
    if drained {
        // Drained: the OS will report new data by itself, so the kernel
        // need not re-arm the socket.
        ctx.io_drained();
    }
    settle(ctx, h, next);
}

/// Read and echo what the client sent, up to [`READS_PER_EVENT`] reads.
/// Also says whether the socket was drained. Unless `peer_closed`, a short
/// read proves it (later data or EOF raises a new event), which saves the
/// read that would only return `WouldBlock`.
fn read_some(ctx: &mut Ctx<'_, Echo>, h: HandleId, peer_closed: bool) -> (Next, bool) {
    let Ok((echo, stream)) = ctx.heap_and_handle::<TcpStream>(h) else {
        return (Next::Continue, false);
    };
    let Echo {
        cfg, conns, rbuf, ..
    } = echo;
    let Some(Some(Client { conn, .. })) = conns.get_mut(h.index()) else {
        return (Next::Continue, false);
    };
    for _ in 0..READS_PER_EVENT {
        let n = match stream.read(rbuf) {
            Ok(0) => {
                conn.drop_partial();
                conn.draining = true;
                return (Next::Continue, true);
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (Next::Continue, true),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return (Next::Close("read error"), false),
        };
        match conn.feed(&rbuf[..n], cfg.max_line, stream) {
            Ok(Fed::Ok) => {}
            Ok(Fed::TooLong) => {
                tracing::info!(handle = %h, max_line = cfg.max_line, "line too long; closing after the lines before it");
                conn.draining = true;
                return (Next::Continue, false);
            }
            Err(_) => return (Next::Close("write error"), false),
        }
        if n < rbuf.len() && !peer_closed {
            return (Next::Continue, true);
        }
        if conn.pending() > cfg.high_water {
            break;
        }
    }
    (Next::Continue, false)
}

fn write(ctx: &mut Ctx<'_, Echo>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let next = match ctx.heap_and_handle::<TcpStream>(h) {
        Ok((echo, stream)) => match echo.conns.get_mut(h.index()) {
            Some(Some(Client { conn, .. })) => match conn.flush(stream) {
                Ok(_) => Next::Continue,
                Err(_) => Next::Close("write error"),
            },
            _ => Next::Continue,
        },
        Err(_) => Next::Continue,
    };
    // flush writes until WouldBlock or nothing is left (then the watcher
    // goes off): either way no re-arm is needed.
    ctx.io_drained();
    settle(ctx, h, next);
}

/// Bring the connection's watchers in line with its state: write watcher
/// on while output is pending, reading paused above the high mark and
/// resumed at the low one, closed once draining and flushed.
fn settle(ctx: &mut Ctx<'_, Echo>, h: HandleId, next: Next) {
    if let Next::Close(why) = next {
        return close(ctx, h, why);
    }
    let echo = ctx.heap();
    let (high, low, ev_write) = (echo.cfg.high_water, echo.cfg.low_water, echo.ev_write);
    let Some(Some(Client { conn, .. })) = echo.conns.get(h.index()) else {
        return;
    };
    if conn.draining && conn.pending() == 0 {
        return close(ctx, h, "input finished and output flushed");
    }
    let Some(Some(Client { conn, .. })) = ctx.heap().conns.get_mut(h.index()) else {
        return;
    };
    let pending = conn.pending();
    let mut ops: [Option<Op>; 3] = [None, None, None];
    if pending > 0 && !conn.write_watched {
        conn.write_watched = true;
        ops[0] = Some(Op::WriteOn);
    } else if pending == 0 && conn.write_watched {
        conn.write_watched = false;
        ops[0] = Some(Op::WriteOff);
    }
    if conn.draining {
        if !conn.read_paused {
            conn.read_paused = true;
            ops[1] = Some(Op::ReadOff);
        }
    } else if pending > high && !conn.read_paused {
        conn.read_paused = true;
        ops[1] = Some(Op::PauseRead);
    } else if pending <= low && conn.read_paused {
        conn.read_paused = false;
        ops[1] = Some(Op::ResumeRead);
    }
    for op in ops.into_iter().flatten() {
        let r = match op {
            Op::WriteOn => ctx.select_write(h, ev_write),
            Op::WriteOff => ctx.select_write_off(h),
            Op::PauseRead => ctx.select_pause_read(h),
            Op::ResumeRead => ctx.select_resume_read(h),
            Op::ReadOff => ctx.select_read_off(h),
        };
        if let Err(e) = r {
            tracing::warn!(handle = %h, error = %e, "watcher change failed");
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    WriteOn,
    WriteOff,
    PauseRead,
    ResumeRead,
    ReadOff,
}

fn close(ctx: &mut Ctx<'_, Echo>, h: HandleId, why: &str) {
    let echo = ctx.heap();
    if let Some(slot) = echo.conns.get_mut(h.index()) {
        if slot.take().is_some() {
            echo.count -= 1;
            echo.cfg.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let clients = echo.count;
    let done = echo.shutting_down && clients == 0;
    let _ = ctx.close_handle(h);
    tracing::debug!(handle = %h, clients, why, "closed");
    if done {
        ctx.alarm_clear("shutdown_deadline");
        tracing::info!("shutdown complete");
    }
}
