//! The echo server as one rpoe session: the seed's design (one session,
//! `select_read` on the listener and each client, `select_write` only while
//! output is pending), with per-connection state in a table indexed by the
//! handle's dense index instead of hash maps.
//!
//! # A connection's life
//!
//! * **Open**: complete lines are echoed; reading pauses while pending
//!   output is above the high-water mark.
//! * **Finishing**: the client sent EOF. Its complete lines are echoed,
//!   then the connection is closed plainly (the client sends nothing more,
//!   so nothing unread can turn the close into a reset).
//! * **Closing**: the server decided to close (over-long line, a timeout,
//!   eviction, the budget, shutdown) while the client may still be
//!   sending. Input is read and discarded, so a client blocked writing can
//!   get on to reading; pending output is written (or dropped, for reasons
//!   that say the client will not read it).
//! * **Lingering**: output written, the write side is shut (the client
//!   reads EOF after the last echoed byte) and input is discarded until
//!   the client closes, for at most `--linger`. Only then is the socket
//!   closed: closing with unread input makes the OS send a reset, which
//!   throws away data the client has not read yet (DESIGN.md, "Closing
//!   without losing").
//!
//! Timeouts are kept in [`Timeline`] lists and checked by one `sweep`
//! timer set for the earliest deadline, not by a timer per connection.

use std::io::{ErrorKind, Read};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use rpoe::{Ctx, EventId, HandleId, Kernel, Session, Signal, Time};

use crate::conn::{Conn, Fed};
use crate::metrics::{self, Closed, Counters, Metrics};
use crate::timeline::{List, Timeline};

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
    /// Close a connection that received nothing and had nothing pending
    /// this long.
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose unfinished line is older than this.
    pub line_timeout: Option<Duration>,
    /// Close a connection whose pending output has not moved this long.
    pub send_timeout: Option<Duration>,
    /// At the cap, evict the connection idle longest if idle this long.
    pub evict_idle_after: Option<Duration>,
    /// Longest a closing connection's input is discarded after its write
    /// side is shut.
    pub linger: Duration,
    /// Most bytes this kernel's connections may buffer together.
    pub max_buffered: usize,
    /// Clients connected, across all workers.
    pub clients: Arc<AtomicUsize>,
    /// Set when a second signal cut the shutdown short.
    pub forced: Arc<AtomicBool>,
    /// Every worker's counters; this session writes those of `worker`.
    pub metrics: Metrics,
    /// This kernel's worker number (0: the main thread's, which also logs
    /// the summed counters on SIGUSR1).
    pub worker: usize,
}

/// Size of the one read buffer all connections share.
const READ_BUF: usize = 64 * 1024;
/// Most reads from one client per event before others get a turn (the
/// watcher is level-triggered, so what is left is read next round).
const READS_PER_EVENT: usize = 8;
/// At most one warning of a kind per this long.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Most input discarded from one closing connection before it is closed
/// anyway: the time bound (`--linger`, the send timeout) is what protects
/// the client's data; this bounds the CPU a peer that ignores our EOF and
/// keeps sending can make us spend.
const DISCARD_MAX: usize = 16 * 1024 * 1024;
/// Most expired connections handled per list per sweep; the rest wait for
/// the next round, so a mass expiry cannot stall everyone else.
const SWEEP_BATCH: usize = 1024;
/// How long an open connection must have been silent, with nothing
/// pending, for a graceful shutdown to consider it finished: long enough
/// for data the client already wrote to cross a reopened TCP window.
const SHUTDOWN_QUIET: Duration = Duration::from_millis(250);
/// Most over-budget closes per read event (each frees the biggest holder).
const BUDGET_BATCH: usize = 64;

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

/// Why the server closes a connection the client may still be sending on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    LineTooLong,
    IdleTimeout,
    LineTimeout,
    SendTimeout,
    Evicted,
    OverBudget,
    Shutdown,
}

impl Reason {
    const COUNT: usize = 7;

    fn as_str(self) -> &'static str {
        match self {
            Reason::LineTooLong => "line too long",
            Reason::IdleTimeout => "idle timeout",
            Reason::LineTimeout => "line timeout",
            Reason::SendTimeout => "send timeout",
            Reason::Evicted => "evicted",
            Reason::OverBudget => "over budget",
            Reason::Shutdown => "shutdown",
        }
    }

    /// How the connection counts once closed.
    fn closed(self) -> Closed {
        match self {
            Reason::LineTooLong => Closed::LineTooLong,
            Reason::IdleTimeout => Closed::IdleTimeout,
            Reason::LineTimeout => Closed::LineTimeout,
            Reason::SendTimeout => Closed::SendTimeout,
            Reason::Evicted => Closed::Evicted,
            Reason::OverBudget => Closed::OverBudget,
            Reason::Shutdown => Closed::Shutdown,
        }
    }

    /// The pending output is dropped rather than written: the client does
    /// not read it (send timeout), or the slot or the memory is needed now.
    fn drops_output(self) -> bool {
        matches!(
            self,
            Reason::SendTimeout | Reason::Evicted | Reason::OverBudget
        )
    }
}

/// Where a connection is in its life (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    Finishing,
    Closing(Reason),
    Lingering(Reason),
}

/// What finally closes a socket (the `detail` of the close log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Finishing (the client sent EOF) and the output is flushed.
    Eof,
    ReadError,
    WriteError,
    /// Shutting the write side failed: the peer is gone.
    WriteSideGone,
    /// The client closed while we lingered.
    ClientClosed,
    LingerOver,
    TooManyLingering,
    DiscardLimit,
    ShutdownTimeout,
}

impl End {
    fn detail(self) -> &'static str {
        match self {
            End::Eof => "input finished and output flushed",
            End::ReadError => "read error",
            End::WriteError => "write error",
            End::WriteSideGone => "write side already gone",
            End::ClientClosed => "client closed while lingering",
            End::LingerOver => "linger time over",
            End::TooManyLingering => "too many lingering connections",
            End::DiscardLimit => "discarded too much input while closing",
            End::ShutdownTimeout => "shutdown timeout",
        }
    }

    /// How a connection the server had not begun to close counts. The
    /// lingering-only ends cannot happen without a server reason (which
    /// then counts instead); they map to their nearest client-side cause.
    fn closed(self) -> Closed {
        match self {
            End::Eof | End::ClientClosed | End::LingerOver | End::TooManyLingering => Closed::Eof,
            End::ReadError | End::DiscardLimit => Closed::ReadError,
            End::WriteError | End::WriteSideGone => Closed::WriteError,
            End::ShutdownTimeout => Closed::ShutdownTimeout,
        }
    }
}

/// A connected client: its handle, its buffers and its phase.
struct Client {
    h: HandleId,
    conn: Conn,
    phase: Phase,
    /// The read watcher is off for good (Finishing).
    read_off: bool,
    /// Input thrown away since closing began.
    discarded: usize,
    /// For the close log line.
    peer: SocketAddr,
    since: Time,
    received: u64,
    /// Why the server began closing it, if it did (kept when the client's
    /// EOF then turns Closing into Finishing).
    reason: Option<Reason>,
}

/// The session's heap.
pub struct Echo {
    cfg: Config,
    listener_handles: Vec<HandleId>,
    conns: Vec<Option<Client>>,
    timeline: Timeline,
    /// Connections counted against the cap (all but lingering ones).
    count: usize,
    /// Lingering connections (write side shut, discarding input).
    lingering: usize,
    /// Bytes held by all connections' buffers.
    buffered: usize,
    shutting_down: bool,
    rbuf: Box<[u8]>,
    ev_read: EventId,
    ev_write: EventId,
    /// When the sweep timer is set for, if it is.
    sweep_at: Option<Time>,
    /// The earliest deadline entered since the last sweep.
    next_due: Option<Time>,
    emfile_log: RateLimit,
    full_log: RateLimit,
    close_log: [RateLimit; Reason::COUNT],
    /// This worker's counters (written only here).
    counters: Arc<Counters>,
}

/// The server session. Its `_start` watches SIGINT, SIGTERM and SIGHUP;
/// the listeners come later with a `listen` event (a
/// `Vec<mio::net::TcpListener>`), so signals are caught before anyone can
/// know the server is up.
pub fn session(kernel: &mut Kernel, cfg: Config) -> Session<Echo> {
    let counters = cfg.metrics.worker(cfg.worker);
    let heap = Echo {
        cfg,
        listener_handles: Vec::new(),
        conns: Vec::new(),
        timeline: Timeline::default(),
        count: 0,
        lingering: 0,
        buffered: 0,
        shutting_down: false,
        rbuf: vec![0; READ_BUF].into_boxed_slice(),
        ev_read: kernel.event_id("read"),
        ev_write: kernel.event_id("write"),
        sweep_at: None,
        next_due: None,
        emfile_log: RateLimit::default(),
        full_log: RateLimit::default(),
        close_log: Default::default(),
        counters,
    };
    Session::new(heap)
        .on("_start", start)
        .on("listen", listen)
        .on("accept", accept)
        .on("resume_accept", resume_accept)
        .on("read", read)
        .on("write", write)
        .on("sweep", sweep)
        .on("shutdown", shutdown)
        .on("shutdown_deadline", shutdown_deadline)
        .on("hup", hup)
        .on("usr1", usr1)
}

fn start(ctx: &mut Ctx<'_, Echo>) {
    for (sig, event) in [
        ("INT", "shutdown"),
        ("TERM", "shutdown"),
        ("HUP", "hup"),
        ("USR1", "usr1"),
    ] {
        if let Err(e) = ctx.sig(sig, event) {
            tracing::warn!(signal = sig, error = %e, "cannot watch signal");
        }
    }
}

/// Take the listeners and start accepting.
fn listen(ctx: &mut Ctx<'_, Echo>) {
    let Ok(listeners) = ctx.take_arg::<Vec<TcpListener>>() else {
        return;
    };
    for listener in listeners {
        let h = ctx.add_handle(listener);
        ctx.heap().listener_handles.push(h);
        if let Err(e) = ctx.select_read(h, "accept") {
            tracing::error!(error = %e, "cannot watch a listener");
        }
    }
}

/// SIGINT/SIGTERM: stop accepting; keep reading each client and echoing
/// its complete lines until it sends EOF, or has had nothing more to say
/// and nothing pending for [`SHUTDOWN_QUIET`]; then close it as a
/// lingering close — all within `shutdown_timeout`. A second signal stops
/// at once.
///
/// Why a quiet period rather than the first would-block: bytes a client
/// has already written may still sit in its own send buffer, waiting for
/// the window our reads reopen; a read that would block says only that
/// none has arrived *yet* (measured on loopback: 10 clients × 1 MiB, a
/// quarter echoed if we stopped at the first would-block).
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
    if ctx.heap().count + ctx.heap().lingering == 0 {
        ctx.alarm_clear("sweep");
        return;
    }
    ctx.delay("shutdown_deadline", timeout, ());
    // Open connections now end once quiet (see `timeout_of`): sweep now
    // to close those that already are, and set the timer for the rest.
    let now = ctx.now();
    let echo = ctx.heap();
    echo.next_due = Some(now);
    echo.sweep_at = None;
    ctx.alarm_clear("sweep");
    arm(ctx);
}

fn shutdown_deadline(ctx: &mut Ctx<'_, Echo>) {
    let echo = ctx.heap();
    tracing::warn!(
        clients = echo.count,
        lingering = echo.lingering,
        "shutdown timeout: closing connections with output still pending"
    );
    let all: Vec<HandleId> = ctx.heap().conns.iter().flatten().map(|c| c.h).collect();
    for h in all {
        close(ctx, h, End::ShutdownTimeout);
    }
}

/// SIGHUP: nothing to reopen (logs go to stderr), so it is ignored.
fn hup(ctx: &mut Ctx<'_, Echo>) {
    ctx.sig_handled();
    tracing::info!("SIGHUP ignored: logs go to stderr, there is nothing to reopen");
}

/// SIGUSR1: log this kernel's state (every worker logs its own), and on
/// worker 0 the counters summed over all workers. Cheap enough to run on
/// demand: the kernel's introspection is a scan of its tables.
fn usr1(ctx: &mut Ctx<'_, Echo>) {
    ctx.sig_handled();
    let me = ctx.id();
    let info = ctx.session_info(me);
    let (sessions, pending) = (ctx.session_count(), ctx.pending_count());
    let echo = ctx.heap();
    tracing::info!(
        worker = echo.cfg.worker,
        sessions,
        pending_events = pending,
        handles = info.as_ref().map_or(0, |i| i.handles),
        watched_handles = info.as_ref().map_or(0, |i| i.watched_handles),
        timers = info.as_ref().map_or(0, |i| i.timers),
        clients = echo.count,
        lingering = echo.lingering,
        buffered_bytes = echo.buffered,
        shutting_down = echo.shutting_down,
        "kernel"
    );
    if echo.cfg.worker == 0 {
        let totals = echo.cfg.metrics.totals().summary();
        tracing::info!(counters = %totals, "counters");
    }
}

fn accept(ctx: &mut Ctx<'_, Echo>) {
    let Some((listener, _)) = ctx.io() else {
        return;
    };
    let now = ctx.now();
    for _ in 0..ctx.heap().cfg.accept_batch {
        let accepted = match ctx.handle::<TcpListener>(listener) {
            Ok(l) => l.accept(),
            Err(_) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let echo = ctx.heap();
                let clients = echo.cfg.clients.load(Ordering::Relaxed);
                if clients >= echo.cfg.max_connections && !evict_one(ctx, now) {
                    let echo = ctx.heap();
                    echo.counters.rejected();
                    if let Some(quiet) = echo.full_log.due() {
                        tracing::warn!(%peer, max = echo.cfg.max_connections, suppressed = quiet, "connection limit reached and no connection idle long enough to evict; closing new connections");
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
                    phase: Phase::Open,
                    read_off: false,
                    discarded: 0,
                    peer,
                    since: now,
                    received: 0,
                    reason: None,
                });
                echo.counters.accepted();
                echo.stamp(h.index(), List::Idle, now);
                echo.count += 1;
                echo.cfg.clients.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, handle = %h, clients = echo.count, "connected");
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                ctx.heap().counters.accept_error(&e);
                // EMFILE / ENFILE: pause instead of spinning on a listener
                // that stays readable; keep it, and retry shortly.
                let pause = ctx.heap().cfg.emfile_pause;
                if let Some(quiet) = ctx.heap().emfile_log.due() {
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, suppressed = quiet, "out of file descriptors; pausing accepts");
                }
                let _ = ctx.select_pause_read(listener);
                ctx.delay_add("resume_accept", pause, listener);
                break;
            }
            Err(e) => {
                // The client gave up before we accepted it, or similar.
                ctx.heap().counters.accept_error(&e);
                tracing::debug!(error = %e, "accept failed");
            }
        }
    }
    arm(ctx);
}

/// At the cap: evict the connection idle longest — nothing received and
/// nothing pending (head of the idle list) or output not moving (head of
/// the send list) — if it has been so for `evict_idle_after`. O(1): the
/// list heads are the oldest. Returns whether a slot was freed.
fn evict_one(ctx: &mut Ctx<'_, Echo>, now: Time) -> bool {
    let echo = ctx.heap();
    let Some(after) = echo.cfg.evict_idle_after else {
        return false;
    };
    let oldest = [List::Idle, List::Send]
        .into_iter()
        .filter_map(|l| echo.timeline.front(l))
        .min_by_key(|&(_, since)| since);
    let Some((slot, since)) = oldest else {
        return false;
    };
    if now.saturating_since(since) < after {
        return false;
    }
    let Some(Some(c)) = echo.conns.get(slot) else {
        return false;
    };
    let h = c.h;
    echo.counters.evicted();
    close_for(ctx, h, Reason::Evicted, now);
    true
}

fn resume_accept(ctx: &mut Ctx<'_, Echo>) {
    if let Ok(&listener) = ctx.arg::<HandleId>() {
        let _ = ctx.select_resume_read(listener);
    }
}

/// What a read or write handler decided for its connection.
enum Next {
    Continue,
    Close(End),
}

fn read(ctx: &mut Ctx<'_, Echo>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let now = ctx.now();
    let peer_closed = ctx.io_peer_closed();
    let (next, drained) = read_some(ctx, h, peer_closed, now);
    if drained {
        // Drained: the OS will report new data by itself, so the kernel
        // need not re-arm the socket.
        ctx.io_drained();
    }
    settle(ctx, h, next, now);
    enforce_budget(ctx, now);
    arm(ctx);
}

/// Read and echo what the client sent (or discard it, once closing), up to
/// [`READS_PER_EVENT`] reads. Also says whether the socket was drained.
/// Unless `peer_closed`, a short read proves it (later data or EOF raises
/// a new event), which saves the read that would only return `WouldBlock`.
fn read_some(ctx: &mut Ctx<'_, Echo>, h: HandleId, peer_closed: bool, now: Time) -> (Next, bool) {
    let Ok((echo, stream)) = ctx.heap_and_handle::<TcpStream>(h) else {
        return (Next::Continue, false);
    };
    let idx = h.index();
    let Echo {
        cfg,
        conns,
        rbuf,
        timeline,
        buffered,
        next_due,
        shutting_down,
        close_log,
        counters,
        ..
    } = echo;
    let mut lists = Lists {
        timeline,
        next_due,
        cfg,
        shutting_down: *shutting_down,
    };
    let Some(Some(client)) = conns.get_mut(idx) else {
        return (Next::Continue, false);
    };
    for _ in 0..READS_PER_EVENT {
        let n = match stream.read(rbuf) {
            Ok(0) => {
                match client.phase {
                    Phase::Open => {
                        let before = client.conn.held();
                        client.conn.drop_partial();
                        *buffered -= before - client.conn.held();
                        client.phase = Phase::Finishing;
                        lists.timeline.remove(idx, List::Line);
                    }
                    Phase::Closing(_) => client.phase = Phase::Finishing,
                    Phase::Lingering(_) => return (Next::Close(End::ClientClosed), true),
                    Phase::Finishing => {}
                }
                return (Next::Continue, true);
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (Next::Continue, true),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return (Next::Close(End::ReadError), false),
        };
        client.received += n as u64;
        if client.phase != Phase::Open {
            counters.received(n, 0);
            client.discarded += n;
            if client.discarded > DISCARD_MAX {
                return (Next::Close(End::DiscardLimit), false);
            }
        } else {
            let conn = &mut client.conn;
            let (held0, partial0, pending0) = (conn.held(), conn.partial_len(), conn.pending());
            let (lines0, sent0) = (conn.lines, conn.sent);
            let fed = conn.feed(&rbuf[..n], cfg.max_line, stream);
            counters.received(n, conn.lines - lines0);
            counters.sent((conn.sent - sent0) as usize);
            *buffered = *buffered + conn.held() - held0;
            match fed {
                Ok(Fed::Ok) => {
                    let partial = conn.partial_len();
                    if partial == 0 {
                        lists.timeline.remove(idx, List::Line);
                    } else if partial0 == 0 || partial != partial0 + n {
                        // A new line began in this chunk.
                        lists.stamp(idx, List::Line, now);
                    }
                    if conn.pending() == 0 {
                        lists.stamp(idx, List::Idle, now);
                    } else if pending0 == 0 {
                        lists.stamp(idx, List::Send, now);
                    }
                }
                Ok(Fed::TooLong) => {
                    log_close(close_log, h, Reason::LineTooLong);
                    begin_closing(client, buffered, Reason::LineTooLong);
                    lists.timeline.remove(idx, List::Line);
                }
                Err(_) => return (Next::Close(End::WriteError), false),
            }
        }
        if n < rbuf.len() && !peer_closed {
            return (Next::Continue, true);
        }
        if client.phase == Phase::Open && client.conn.pending() > cfg.high_water {
            break;
        }
    }
    (Next::Continue, false)
}

/// The timeline with what [`Echo::stamp`] needs, borrowed apart from the
/// connection table.
struct Lists<'a> {
    timeline: &'a mut Timeline,
    next_due: &'a mut Option<Time>,
    cfg: &'a Config,
    shutting_down: bool,
}

impl Lists<'_> {
    /// Put `slot` at the tail of `list` stamped `now`, and note its
    /// deadline for the sweep timer.
    fn stamp(&mut self, slot: usize, list: List, now: Time) {
        self.timeline.push(slot, list, now);
        if let Some(t) = timeout_of(self.cfg, self.shutting_down, list) {
            let due = now + t + slack(t);
            if self.next_due.is_none_or(|d| due < d) {
                *self.next_due = Some(due);
            }
        }
    }
}

impl Echo {
    fn stamp(&mut self, slot: usize, list: List, now: Time) {
        Lists {
            timeline: &mut self.timeline,
            next_due: &mut self.next_due,
            cfg: &self.cfg,
            shutting_down: self.shutting_down,
        }
        .stamp(slot, list, now);
    }
}

/// How long an entry may stay at the head of `list`. While shutting
/// down, an open connection that has received nothing and has nothing
/// pending for [`SHUTDOWN_QUIET`] is done.
fn timeout_of(cfg: &Config, shutting_down: bool, list: List) -> Option<Duration> {
    match list {
        List::Idle if shutting_down => Some(
            cfg.idle_timeout
                .map_or(SHUTDOWN_QUIET, |t| t.min(SHUTDOWN_QUIET)),
        ),
        List::Idle => cfg.idle_timeout,
        List::Send => cfg.send_timeout,
        List::Line => cfg.line_timeout,
        List::Linger => Some(cfg.linger),
    }
}

/// How late a timeout may fire, so that deadlines close together are
/// handled by one sweep: 1/32 of it, between 1 ms and 1 s.
fn slack(timeout: Duration) -> Duration {
    (timeout / 32).clamp(Duration::from_millis(1), Duration::from_secs(1))
}

/// Move an open (or finishing) connection to Closing: its unfinished line
/// is dropped, and its pending output too if `reason` says so.
fn begin_closing(client: &mut Client, buffered: &mut usize, reason: Reason) {
    let before = client.conn.held();
    client.conn.drop_partial();
    if reason.drops_output() {
        client.conn.drop_output();
    }
    *buffered -= before - client.conn.held();
    if matches!(client.phase, Phase::Open | Phase::Closing(_)) {
        client.phase = Phase::Closing(reason);
    }
    if client.reason.is_none() {
        client.reason = Some(reason);
    }
}

fn log_close(logs: &mut [RateLimit; Reason::COUNT], h: HandleId, reason: Reason) {
    if let Some(quiet) = logs[reason as usize].due() {
        tracing::info!(handle = %h, reason = reason.as_str(), suppressed = quiet, "closing connection");
    }
    tracing::debug!(handle = %h, reason = reason.as_str(), "closing connection");
}

/// Start a server-side close of `h` for `reason`, then bring it on.
fn close_for(ctx: &mut Ctx<'_, Echo>, h: HandleId, reason: Reason, now: Time) {
    let echo = ctx.heap();
    let Some(Some(client)) = echo.conns.get_mut(h.index()) else {
        return;
    };
    if matches!(client.phase, Phase::Lingering(_)) {
        return;
    }
    begin_closing(client, &mut echo.buffered, reason);
    echo.timeline.remove(h.index(), List::Line);
    log_close(&mut echo.close_log, h, reason);
    match reason {
        Reason::IdleTimeout => echo.counters.timed_out(metrics::Timeout::Idle),
        Reason::LineTimeout => echo.counters.timed_out(metrics::Timeout::Line),
        Reason::SendTimeout => echo.counters.timed_out(metrics::Timeout::Send),
        _ => {}
    }
    settle(ctx, h, Next::Continue, now);
}

fn write(ctx: &mut Ctx<'_, Echo>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let now = ctx.now();
    let next = match ctx.heap_and_handle::<TcpStream>(h) {
        Ok((echo, stream)) => match echo.conns.get_mut(h.index()) {
            Some(Some(Client { conn, .. })) => {
                let (held0, pending0, sent0) = (conn.held(), conn.pending(), conn.sent);
                let r = conn.flush(stream);
                echo.counters.sent((conn.sent - sent0) as usize);
                echo.buffered = echo.buffered + conn.held() - held0;
                match r {
                    Ok(left) if left > 0 && left < pending0 => {
                        // Output moved: the send timeout starts again.
                        echo.stamp(h.index(), List::Send, now);
                        Next::Continue
                    }
                    Ok(_) => Next::Continue,
                    Err(_) => Next::Close(End::WriteError),
                }
            }
            _ => Next::Continue,
        },
        Err(_) => Next::Continue,
    };
    // flush writes until WouldBlock or nothing is left (then the watcher
    // goes off): either way no re-arm is needed.
    ctx.io_drained();
    settle(ctx, h, next, now);
    arm(ctx);
}

/// Bring the connection's lists and watchers in line with its state:
/// finishing and flushed closes it, closing and flushed starts lingering;
/// write watcher on while output is pending; reading paused above the
/// high mark and resumed at the low one while open, on while closing
/// (input is discarded), off once the client sent EOF.
fn settle(ctx: &mut Ctx<'_, Echo>, h: HandleId, next: Next, now: Time) {
    if let Next::Close(why) = next {
        return close(ctx, h, why);
    }
    let echo = ctx.heap();
    let (high, low, ev_write) = (echo.cfg.high_water, echo.cfg.low_water, echo.ev_write);
    let idx = h.index();
    let Some(Some(client)) = echo.conns.get(idx) else {
        return;
    };
    let (phase, pending) = (client.phase, client.conn.pending());
    match phase {
        Phase::Finishing if pending == 0 => return close(ctx, h, End::Eof),
        Phase::Closing(reason) if pending == 0 => return linger(ctx, h, reason, now),
        Phase::Lingering(_) => return,
        _ => {}
    }
    // Pending output: the send list; open with nothing pending: the idle list.
    if pending > 0 {
        if !echo.timeline.member(idx, List::Send) {
            echo.stamp(idx, List::Send, now);
        }
    } else if !echo.timeline.member(idx, List::Idle) {
        echo.stamp(idx, List::Idle, now);
    }
    let Some(Some(Client {
        conn,
        read_off,
        phase,
        ..
    })) = echo.conns.get_mut(idx)
    else {
        return;
    };
    let mut ops: [Option<Op>; 2] = [None, None];
    if pending > 0 && !conn.write_watched {
        conn.write_watched = true;
        ops[0] = Some(Op::WriteOn);
    } else if pending == 0 && conn.write_watched {
        conn.write_watched = false;
        ops[0] = Some(Op::WriteOff);
    }
    match phase {
        Phase::Finishing => {
            if !*read_off {
                *read_off = true;
                ops[1] = Some(Op::ReadOff);
            }
        }
        Phase::Closing(_) => {
            if conn.read_paused {
                conn.read_paused = false;
                ops[1] = Some(Op::ResumeRead);
            }
        }
        _ => {
            if pending > high && !conn.read_paused {
                conn.read_paused = true;
                ops[1] = Some(Op::PauseRead);
                echo.counters.paused();
            } else if pending <= low && conn.read_paused {
                conn.read_paused = false;
                ops[1] = Some(Op::ResumeRead);
            }
        }
    }
    apply(ctx, h, ev_write, ops);
}

fn apply(ctx: &mut Ctx<'_, Echo>, h: HandleId, ev_write: EventId, ops: [Option<Op>; 2]) {
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

/// Output written: shut the write side (the client reads EOF after the
/// last echoed byte) and discard input until the client closes or
/// `--linger` passes. The connection no longer counts against the cap;
/// lingering ones are bounded by the cap too (the oldest is closed first).
fn linger(ctx: &mut Ctx<'_, Echo>, h: HandleId, reason: Reason, now: Time) {
    let shut = match ctx.handle::<TcpStream>(h) {
        Ok(s) => s.shutdown(Shutdown::Write),
        Err(_) => return,
    };
    if shut.is_err() {
        // Not connected any more (reset by the peer): nothing to protect.
        return close(ctx, h, End::WriteSideGone);
    }
    let echo = ctx.heap();
    let ev_write = echo.ev_write;
    let idx = h.index();
    let Some(Some(client)) = echo.conns.get_mut(idx) else {
        return;
    };
    client.phase = Phase::Lingering(reason);
    let mut ops: [Option<Op>; 2] = [None, None];
    if client.conn.write_watched {
        client.conn.write_watched = false;
        ops[0] = Some(Op::WriteOff);
    }
    if client.conn.read_paused {
        client.conn.read_paused = false;
        ops[1] = Some(Op::ResumeRead);
    }
    echo.count -= 1;
    echo.cfg.clients.fetch_sub(1, Ordering::Relaxed);
    echo.lingering += 1;
    echo.timeline.remove(idx, List::Line);
    echo.stamp(idx, List::Linger, now);
    tracing::debug!(handle = %h, reason = reason.as_str(), "write side shut; lingering");
    let oldest = (echo.lingering > echo.cfg.max_connections)
        .then(|| echo.timeline.front(List::Linger))
        .flatten()
        .and_then(|(slot, _)| echo.conns.get(slot).and_then(|c| c.as_ref()).map(|c| c.h));
    apply(ctx, h, ev_write, ops);
    if let Some(old) = oldest {
        close(ctx, old, End::TooManyLingering);
    }
}

/// The sweep timer: close what is due in each list (oldest first, at most
/// [`SWEEP_BATCH`] per list), then set the timer for the next deadline.
fn sweep(ctx: &mut Ctx<'_, Echo>) {
    let now = ctx.now();
    let echo = ctx.heap();
    echo.sweep_at = None;
    echo.next_due = None;
    let mut more = false;
    for list in [List::Linger, List::Idle, List::Line, List::Send] {
        let echo = ctx.heap();
        let Some(timeout) = timeout_of(&echo.cfg, echo.shutting_down, list) else {
            continue;
        };
        let mut done = 0;
        while let Some((slot, since)) = ctx.heap().timeline.front(list) {
            if now.saturating_since(since) < timeout {
                break;
            }
            if done == SWEEP_BATCH {
                more = true;
                break;
            }
            done += 1;
            let echo = ctx.heap();
            let Some(h) = echo.conns.get(slot).and_then(|c| c.as_ref()).map(|c| c.h) else {
                // Cannot happen (closing removes from every list); do not spin.
                echo.timeline.remove(slot, list);
                continue;
            };
            match list {
                List::Linger => close(ctx, h, End::LingerOver),
                List::Idle if ctx.heap().shutting_down => close_for(ctx, h, Reason::Shutdown, now),
                List::Idle => close_for(ctx, h, Reason::IdleTimeout, now),
                List::Line => close_for(ctx, h, Reason::LineTimeout, now),
                List::Send => close_for(ctx, h, Reason::SendTimeout, now),
            }
            // Whatever happened, the entry left the head of this list.
            if ctx.heap().timeline.front(list).map(|(s, _)| s) == Some(slot) {
                ctx.heap().timeline.remove(slot, list);
            }
        }
    }
    let echo = ctx.heap();
    let mut due = more.then_some(now);
    for list in [List::Linger, List::Idle, List::Line, List::Send] {
        let timeout = timeout_of(&echo.cfg, echo.shutting_down, list);
        if let (Some(t), Some((_, since))) = (timeout, echo.timeline.front(list)) {
            let d = since + t + slack(t);
            due = Some(due.map_or(d, |x: Time| x.min(d)));
        }
    }
    echo.next_due = due;
    arm(ctx);
}

/// Set the sweep timer if a deadline entered since is earlier than it.
fn arm(ctx: &mut Ctx<'_, Echo>) {
    let echo = ctx.heap();
    let Some(due) = echo.next_due else {
        return;
    };
    if echo.shutting_down && echo.count + echo.lingering == 0 {
        return;
    }
    if echo.sweep_at.is_none_or(|at| due < at) {
        echo.sweep_at = Some(due);
        ctx.alarm("sweep", due, ());
    }
}

/// Past the budget, close the connections holding the most until the
/// total is back under it. Finding the biggest is a scan of the table:
/// it runs only while over budget (an attack or too small a budget), and
/// each scan frees the largest holding, so it is not a per-read cost.
fn enforce_budget(ctx: &mut Ctx<'_, Echo>, now: Time) {
    for _ in 0..BUDGET_BATCH {
        let echo = ctx.heap();
        if echo.buffered <= echo.cfg.max_buffered {
            return;
        }
        let biggest = echo
            .conns
            .iter()
            .flatten()
            .filter(|c| !matches!(c.phase, Phase::Lingering(_)))
            .max_by_key(|c| c.conn.held())
            .filter(|c| c.conn.held() > 0)
            .map(|c| c.h);
        let Some(h) = biggest else {
            return;
        };
        close_for(ctx, h, Reason::OverBudget, now);
        // A finishing connection closes plainly; either way its buffers
        // are gone now.
    }
}

/// Close the socket now (the peer finished, failed, or its linger ended),
/// count it under its reason and log its one close line (at debug: with
/// many clients an info line per close would be the busiest thing the
/// server does).
fn close(ctx: &mut Ctx<'_, Echo>, h: HandleId, end: End) {
    let now = ctx.now();
    let echo = ctx.heap();
    if let Some(slot) = echo.conns.get_mut(h.index()) {
        if let Some(client) = slot.take() {
            let reason = client.reason.map_or(end.closed(), Reason::closed);
            echo.counters.closed(reason);
            tracing::debug!(
                peer = %client.peer,
                handle = %h,
                duration_ms = now.saturating_since(client.since).as_millis() as u64,
                bytes_in = client.received,
                bytes_out = client.conn.sent,
                lines = client.conn.lines,
                reason = reason.name(),
                detail = end.detail(),
                "connection closed"
            );
            if matches!(client.phase, Phase::Lingering(_)) {
                echo.lingering -= 1;
            } else {
                echo.count -= 1;
                echo.cfg.clients.fetch_sub(1, Ordering::Relaxed);
            }
            echo.buffered -= client.conn.held();
            echo.timeline.remove_all(h.index());
        }
    }
    let (clients, lingering) = (echo.count, echo.lingering);
    let done = echo.shutting_down && clients + lingering == 0;
    let _ = ctx.close_handle(h);
    tracing::trace!(handle = %h, clients, lingering, "closed");
    if done {
        ctx.alarm_clear("shutdown_deadline");
        ctx.alarm_clear("sweep");
        ctx.heap().sweep_at = None;
        tracing::info!("shutdown complete");
    }
}
