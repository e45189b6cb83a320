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
//!
//! # Where each part lives
//!
//! The handlers are grouped by job, one module each: [`accept`] (the
//! listeners), [`io`] (a connection's reads and writes), [`watchers`]
//! (watchers and lists following a connection's state), [`closing`] (the
//! ways a connection ends), [`sweep`] (timeouts), [`budget`] (eviction and
//! the memory budget), [`shutdown`] and [`signals`]. [`client`] holds a
//! connection's record and the words for its life, [`ratelimit`] keeps
//! recurring warnings to one line per interval. Split by job so that each
//! part can be read, and changed, without the rest in view.

mod accept;
mod budget;
mod client;
mod closing;
mod io;
mod ratelimit;
mod shutdown;
mod signals;
mod sweep;
mod watchers;

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use rpoe::{EventId, HandleId, Kernel, Session, Time};

use crate::metrics::{Counters, Metrics};
use crate::timeline::Timeline;
use client::{Client, Reason};
use ratelimit::RateLimit;

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
        .on("_start", signals::start)
        .on("listen", accept::listen)
        .on("accept", accept::accept)
        .on("resume_accept", accept::resume_accept)
        .on("read", io::read)
        .on("write", io::write)
        .on("sweep", sweep::sweep)
        .on("shutdown", shutdown::shutdown)
        .on("shutdown_deadline", shutdown::shutdown_deadline)
        .on("hup", signals::hup)
        .on("usr1", signals::usr1)
}
