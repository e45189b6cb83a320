//! [`ServerTcp`]: a TCP server as one listening session plus one session
//! per connection, each with a [`ReadWrite`] wheel (POE's
//! `POE::Component::Server::TCP`).
//!
//! The callbacks run in the connection's session, whose heap is a
//! [`Client`]: the wheel, the peer's address and your own per-connection
//! state. The server applies the policies a deployed server needs:
//!
//! * a client that sends more than [`ServerTcp::max_input`] bytes
//!   (default [`DEFAULT_MAX_INPUT`](super::DEFAULT_MAX_INPUT), 64 KiB)
//!   without completing a record, or breaks the filter's own limits
//!   (e.g. [`crate::filter::Line::max_length`]), has its connection
//!   closed, after the records before it;
//! * backpressure: a client whose pending output is above the high mark
//!   is not read from until it drains to the low mark;
//! * at end of file (or an error) the connection closes once its output
//!   is written;
//! * beyond the connection limit new connections are closed at once;
//! * out of file descriptors, accepting pauses briefly instead of spinning;
//! * a callback that panics (or a handler added with [`ServerTcp::on`]
//!   that fails) costs only its own connection: see [below](#a-failing-handler).
//!
//! Those policies are the reason to use the component rather than copy a
//! wheels server: each is a few lines that are easy to forget, and a
//! server missing one fails only under load or under attack.
//!
//! # A failing handler
//!
//! In POE a `die` in a handler becomes a DIE signal; if nobody handles
//! it, every session it reaches is stopped and `run` rethrows the error.
//! For a server that would mean one client whose line trips a bug
//! (a panic in `on_input`, say) takes the listener and every other
//! connection down with it — a one-line denial of service. So each
//! connection session watches DIE, as a POE program would with
//! `sig(DIE => ...)` and `sig_handled`: when one of *its own* handlers
//! failed, the connection is closed at once — output still pending is
//! discarded, since the handler stopped half-way and what it put may be
//! incomplete (what it put before failing may already be written: the
//! wheel writes when a handler returns, failed or not) — records the
//! wheel still had for `on_input` are dropped,
//! `on_disconnected` runs, the failure is logged at `error` level
//! (target `rpoe::server_tcp`) and counted in
//! [`ServerTcpInfo::handler_failures`], and the server goes on serving
//! the other connections and accepting new ones. A DIE that started in
//! another session (the listener, a parent) is left alone. Not covered:
//! a failure in `_stop` (hence in an `on_disconnected` run from it),
//! which the kernel reports from `run`, and one in the
//! [`state`](ServerTcp::state) factory, which runs in the listener's
//! session when a connection is accepted.

use std::any::Any;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};

use crate::filter::{Filter, FilterError};
use crate::kernel::{Ctx, DieInfo, Error, Kernel, Session, SessionId, Signal};
use crate::wheel::{Accepted, ListenAccept, ReadWrite, ReadWriteEvent, WheelError, WheelId};

type Input<R, U> = Rc<dyn Fn(&mut Ctx<'_, Client<R, U>>, R)>;
type Hook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Client<R, U>>)>;
/// Starts the session of one accepted connection.
type SpawnClient = Rc<dyn Fn(&mut Ctx<'_, ServerListener>, TcpStream, SocketAddr)>;
/// The listener's own handlers, which `listener_on` may not replace.
const LISTENER_OWN: [&str; 5] = [
    "_start",
    "accepted",
    "accept_error",
    "resume_accept",
    "shutdown",
];
type ListenerHook = Rc<dyn Fn(&mut Ctx<'_, ServerListener>)>;
type StartedHook = Rc<dyn Fn(&mut Ctx<'_, ServerListener>, SocketAddr)>;
type ErrorHook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Client<R, U>>, &WheelError)>;

/// The connection session's DIE watcher (a name users will not pick).
const EV_DIE: &str = "rpoe::server_tcp die";

/// One connection's heap: what the callbacks reach with `ctx.heap()`
/// (POE's connection heap with its `client` wheel, `remote_ip` /
/// `remote_port` and `shutdown` members).
///
/// Per-connection state, and closing from the server side once an answer
/// is written:
///
/// ```
/// use rpoe::component::{ClientTcp, ServerTcp};
/// use rpoe::filter::Line;
/// use rpoe::Kernel;
///
/// let mut kernel = Kernel::new().unwrap();
/// let server = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::literal("\n"))
///     .state(|| 0usize) // lines received on this connection
///     .alias("counter")
///     .on_input(|ctx, line: Vec<u8>| {
///         let client = ctx.heap();
///         client.state += 1;
///         if line == b"quit" {
///             let _ = client.put(&format!("{} lines", client.state).into_bytes());
///             client.shutdown(); // close once that is written
///         }
///     })
///     .spawn(&mut kernel)
///     .unwrap();
///
/// ClientTcp::new(server.addrs[0], Line::literal("\n"))
///     .on_connected(|ctx| {
///         for line in ["a", "b", "quit"] {
///             let _ = ctx.heap().put(&line.as_bytes().to_vec());
///         }
///     })
///     .on_input(|ctx, line: Vec<u8>| {
///         assert_eq!(line, b"3 lines");
///         ctx.post("counter", "shutdown", ()).unwrap();
///     })
///     .spawn(&mut kernel);
/// kernel.run().unwrap();
/// ```
pub struct Client<R: 'static, U> {
    wheel: Option<ReadWrite<R>>,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Your per-connection state.
    pub state: U,
    shutdown: bool,
    paused: bool,
    /// `on_disconnected` has run.
    gone: bool,
    /// Set while `on_input` runs: still set afterwards means it failed,
    /// and the records the wheel delivers before the DIE signal arrives
    /// are dropped (the state they would meet is half-updated).
    in_input: bool,
    /// A handler failed: the DIE watcher has closed the connection.
    failed: bool,
    /// The wheel's flushed event, not yet switched on. Without an
    /// `on_flushed` callback the wheel starts without one, so that it
    /// writes a reply in the round it was put (a wheel reporting flushes
    /// writes on the next writable readiness, as POE's does); it is
    /// switched on only when [`Client::shutdown`] must wait for the
    /// output to drain.
    flushed_off: Option<crate::kernel::EventId>,
}

impl<R: 'static, U> Client<R, U> {
    /// Send a record to the client (queued; written when the handler
    /// returns and as the socket allows).
    ///
    /// # Errors
    ///
    /// [`FilterError`] if the filter cannot encode `record`.
    pub fn put(&self, record: &R) -> Result<(), FilterError> {
        match &self.wheel {
            Some(w) => w.put(record).map(drop),
            None => Ok(()),
        }
    }

    /// Close the connection once everything put so far is written
    /// (POE's `yield "shutdown"` in a connection session).
    pub fn shutdown(&mut self) {
        self.shutdown = true;
        match &self.wheel {
            Some(w) if !w.is_flushing() => self.wheel = None,
            Some(w) => {
                // Close from the flushed handler once the output drains.
                if let Some(ev) = self.flushed_off.take() {
                    w.set_event(ReadWriteEvent::Flushed, Some(ev));
                }
            }
            None => {}
        }
    }

    /// The connection's wheel, while it is open. Its input event is the
    /// batched kind ([`on_input_batch`](crate::wheel::ReadWriteBuilder::on_input_batch):
    /// `(Vec<R>, WheelId)` per read), and it has a flushed event only with
    /// [`ServerTcp::on_flushed`] or while a shutdown waits for output;
    /// mind both before renaming its events.
    pub fn wheel(&self) -> Option<&ReadWrite<R>> {
        self.wheel.as_ref()
    }
}

/// What [`ServerTcp::spawn`] started: the listening session, to post it
/// `"shutdown"`, and the bound addresses, to learn the port when binding
/// to port 0 (used by the [`ServerTcp`] example).
#[derive(Clone, Debug)]
pub struct ServerTcpInfo {
    /// The listening session (post it `"shutdown"` to stop listening).
    pub session: SessionId,
    /// The addresses it listens on (ports resolved).
    pub addrs: Vec<SocketAddr>,
    /// Shared with the connection sessions, which count into it. Atomic
    /// only so that `ServerTcpInfo` stays `Send` (a test or a monitor
    /// thread may hold it); the kernel itself is single-threaded.
    failures: Arc<AtomicU64>,
}

impl ServerTcpInfo {
    /// How many connections were closed because one of their handlers
    /// failed (panicked, or returned an error) — see
    /// [the module documentation](self#a-failing-handler). Each is also
    /// logged. A server bug that clients can trigger shows up here
    /// instead of stopping the server.
    pub fn handler_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// A TCP server; configure it, then [`ServerTcp::spawn`] it.
///
/// A server that greets each client with its address, then echoes; a
/// [`ClientTcp`](super::ClientTcp) checks the greeting and stops both:
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use rpoe::component::{ClientTcp, ServerTcp};
/// use rpoe::filter::Line;
/// use rpoe::Kernel;
///
/// let mut kernel = Kernel::new().unwrap();
/// let gone = Rc::new(Cell::new(0));
/// let g = gone.clone();
/// let info = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::new())
///     .alias("greeter")
///     .max_clients(100)
///     .watermarks(256 * 1024, 64 * 1024)
///     .on_connected(|ctx| {
///         let banner = format!("hello {}", ctx.heap().remote);
///         let _ = ctx.heap().put(&banner.into_bytes());
///     })
///     .on_input(|ctx, line: Vec<u8>| {
///         let _ = ctx.heap().put(&line); // echo
///     })
///     .on_error(|_ctx, e| {
///         if !e.is_eof() {
///             eprintln!("{e}");
///         }
///     })
///     .on_disconnected(move |_ctx| g.set(g.get() + 1))
///     .spawn(&mut kernel)
///     .unwrap();
/// println!("listening on {}", info.addrs[0]); // the port is resolved
///
/// ClientTcp::new(info.addrs[0], Line::new())
///     .on_input(|ctx, line: Vec<u8>| {
///         let me = ctx.heap().local_addr().unwrap();
///         assert_eq!(line, format!("hello {me}").into_bytes());
///         ctx.heap().shutdown();
///         ctx.post("greeter", "shutdown", ()).unwrap(); // or post to info.session
///     })
///     .spawn(&mut kernel);
/// kernel.run().unwrap();
/// assert_eq!(gone.get(), 1);
/// ```
#[must_use = "a builder does nothing until it is started (or spawned)"]
pub struct ServerTcp<F: Filter + Clone + 'static, U: 'static = ()>
where
    F::Record: 'static,
{
    addrs: Vec<SocketAddr>,
    filter: F,
    alias: Option<String>,
    max_clients: Option<usize>,
    high_water: usize,
    low_water: usize,
    max_input: usize,
    emfile_pause: Duration,
    new_state: Rc<dyn Fn() -> U>,
    on_input: Input<F::Record, U>,
    on_connected: Option<Hook<F::Record, U>>,
    on_disconnected: Option<Hook<F::Record, U>>,
    on_flushed: Option<Hook<F::Record, U>>,
    on_error: Option<ErrorHook<F::Record, U>>,
    handlers: Vec<(String, Hook<F::Record, U>)>,
    started: Option<StartedHook>,
    listener_args: Option<Box<dyn Any>>,
    listener_handlers: Vec<(String, ListenerHook)>,
    /// The first callback set, to refuse a later `state()` that would
    /// drop it.
    hooked: Option<&'static str>,
    /// Why the builder cannot be spawned (it was used out of order).
    misuse: Option<String>,
}

impl<F: Filter + Clone + 'static> ServerTcp<F, ()>
where
    F::Record: 'static,
{
    /// A server on `addr` framing each connection with `filter`.
    pub fn new(addr: SocketAddr, filter: F) -> Self {
        ServerTcp {
            addrs: vec![addr],
            filter,
            alias: None,
            max_clients: None,
            high_water: 64 * 1024,
            low_water: 16 * 1024,
            max_input: super::DEFAULT_MAX_INPUT,
            emfile_pause: Duration::from_millis(100),
            new_state: Rc::new(|| ()),
            on_input: Rc::new(|_, _| {}),
            on_connected: None,
            on_disconnected: None,
            on_flushed: None,
            on_error: None,
            handlers: Vec::new(),
            started: None,
            listener_args: None,
            listener_handlers: Vec::new(),
            hooked: None,
            misuse: None,
        }
    }
}

impl<F: Filter + Clone + 'static, U: 'static> ServerTcp<F, U>
where
    F::Record: 'static,
{
    /// Give each connection its own state, made by `make` when the
    /// connection is accepted (POE's `ClientArgs`, generalised). Set it
    /// before the callbacks: they take the heap type it changes, so the
    /// ones set before it cannot be kept — then [`ServerTcp::spawn`]
    /// refuses the server with [`Error::Invalid`] naming the callback,
    /// instead of running without it.
    ///
    /// ```
    /// use rpoe::component::ServerTcp;
    /// use rpoe::filter::Line;
    /// use rpoe::{Error, Kernel};
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// let addr = "127.0.0.1:0".parse().unwrap();
    /// let wrong = ServerTcp::new(addr, Line::new())
    ///     .on_connected(|_ctx| println!("never runs"))
    ///     .state(|| 0u32)
    ///     .spawn(&mut kernel);
    /// assert!(matches!(wrong, Err(Error::Invalid(why)) if why.contains("on_connected")));
    /// ```
    pub fn state<V: 'static>(self, make: impl Fn() -> V + 'static) -> ServerTcp<F, V> {
        let misuse = self.misuse.or_else(|| {
            self.hooked.map(|hook| {
                format!(
                    "ServerTcp::state() was called after {hook}(): callbacks set before state() \
                     take the old state type and would never run; call state() first"
                )
            })
        });
        ServerTcp {
            addrs: self.addrs,
            filter: self.filter,
            alias: self.alias,
            max_clients: self.max_clients,
            high_water: self.high_water,
            low_water: self.low_water,
            max_input: self.max_input,
            emfile_pause: self.emfile_pause,
            new_state: Rc::new(make),
            on_input: Rc::new(|_, _| {}),
            on_connected: None,
            on_disconnected: None,
            on_flushed: None,
            on_error: None,
            handlers: Vec::new(),
            started: self.started,
            listener_args: self.listener_args,
            listener_handlers: self.listener_handlers,
            hooked: None,
            misuse,
        }
    }

    /// Listen on another address too.
    pub fn also_bind(mut self, addr: SocketAddr) -> Self {
        self.addrs.push(addr);
        self
    }

    /// Give the listening session an alias.
    pub fn alias(mut self, alias: &str) -> Self {
        self.alias = Some(alias.to_string());
        self
    }

    /// Most connections at once; beyond it new ones are closed at once.
    /// Default: the smaller of 10000 and the descriptor limit less 32.
    pub fn max_clients(mut self, n: usize) -> Self {
        self.max_clients = Some(n);
        self
    }

    /// Backpressure marks: stop reading a client above `high` bytes of
    /// pending output, resume at `low`.
    pub fn watermarks(mut self, high: usize, low: usize) -> Self {
        self.high_water = high;
        self.low_water = low.min(high);
        self
    }

    /// The most bytes a client may send without completing a record
    /// (what the filter holds unframed); past it the connection is closed
    /// after the records before, and `on_error` gets a `"get"` error.
    /// Default [`DEFAULT_MAX_INPUT`](super::DEFAULT_MAX_INPUT), 64 KiB,
    /// whatever the filter's own limits: see there for why. The filter's
    /// own limits still apply when smaller. Use `usize::MAX` to rely on
    /// the filter alone.
    pub fn max_input(mut self, bytes: usize) -> Self {
        self.max_input = bytes;
        self
    }

    /// Handle each record a client sends (POE's `ClientInput`).
    pub fn on_input(
        mut self,
        f: impl Fn(&mut Ctx<'_, Client<F::Record, U>>, F::Record) + 'static,
    ) -> Self {
        self.on_input = Rc::new(f);
        self.hooked.get_or_insert("on_input");
        self
    }

    /// Called when a client connects (POE's `ClientConnected`).
    pub fn on_connected(
        mut self,
        f: impl Fn(&mut Ctx<'_, Client<F::Record, U>>) + 'static,
    ) -> Self {
        self.on_connected = Some(Rc::new(f));
        self.hooked.get_or_insert("on_connected");
        self
    }

    /// Called when a connection ends (POE's `ClientDisconnected`).
    pub fn on_disconnected(
        mut self,
        f: impl Fn(&mut Ctx<'_, Client<F::Record, U>>) + 'static,
    ) -> Self {
        self.on_disconnected = Some(Rc::new(f));
        self.hooked.get_or_insert("on_disconnected");
        self
    }

    /// Called when a client's output buffer empties (POE's `ClientFlushed`).
    pub fn on_flushed(mut self, f: impl Fn(&mut Ctx<'_, Client<F::Record, U>>) + 'static) -> Self {
        self.on_flushed = Some(Rc::new(f));
        self.hooked.get_or_insert("on_flushed");
        self
    }

    /// Called on a connection error or end of file, before the connection
    /// closes (POE's `ClientError`).
    pub fn on_error(
        mut self,
        f: impl Fn(&mut Ctx<'_, Client<F::Record, U>>, &WheelError) + 'static,
    ) -> Self {
        self.on_error = Some(Rc::new(f));
        self.hooked.get_or_insert("on_error");
        self
    }

    /// Add a handler of your own to every connection's session (POE's
    /// `InlineStates` for the client sessions): post or yield `event` to a
    /// connection to run it. Each connection also handles `"shutdown"`
    /// itself: close once everything put so far is written.
    pub fn on(
        mut self,
        event: &str,
        f: impl Fn(&mut Ctx<'_, Client<F::Record, U>>) + 'static,
    ) -> Self {
        self.handlers.push((event.to_string(), Rc::new(f)));
        self.hooked.get_or_insert("on");
        self
    }

    /// Run `f` in the listener session once it is listening (POE's
    /// `Started`), with the first bound address — the port the OS chose
    /// for port 0 — so the code that announces or records the address
    /// lives with the server, as in POE. [`ServerListener::addrs`] has
    /// them all.
    pub fn started(
        mut self,
        f: impl Fn(&mut Ctx<'_, ServerListener>, SocketAddr) + 'static,
    ) -> Self {
        self.started = Some(Rc::new(f));
        self
    }

    /// A value for the listener session (POE's `ListenerArgs`), read in
    /// its handlers with [`ServerListener::args`].
    pub fn listener_args(mut self, args: impl Any) -> Self {
        self.listener_args = Some(Box::new(args));
        self
    }

    /// Add a handler of your own to the listener session (POE's
    /// `InlineStates` on the listener side, e.g. a state that posts to all
    /// connections or counts them). Post to the listener by the session id
    /// in [`ServerTcpInfo`] or its [`alias`](ServerTcp::alias). The
    /// listener's own states (`_start`, `accepted`, `accept_error`,
    /// `resume_accept`, `"shutdown"`) cannot be replaced: such a handler
    /// is ignored, with a warning. Unlike a connection's callbacks, a
    /// panic here (or in [`ServerTcp::started`]) is not contained: it is
    /// a DIE in the listener, as a `die` in POE's listener would be.
    pub fn listener_on(
        mut self,
        event: &str,
        f: impl Fn(&mut Ctx<'_, ServerListener>) + 'static,
    ) -> Self {
        self.listener_handlers.push((event.to_string(), Rc::new(f)));
        self
    }

    /// Bind the listeners and start the server from anywhere: from `main`
    /// with the [`Kernel`], or as a child of the running session with a
    /// handler's [`Ctx`] (see [`Spawner`](crate::Spawner)).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if an address cannot be bound; [`Error::Invalid`] if
    /// the builder was used out of order (see [`ServerTcp::state`]).
    pub fn start(self, on: &mut impl crate::Spawner) -> Result<ServerTcpInfo, Error> {
        let (session, addrs, failures) = self.build()?;
        let id = on.spawn_session(session, ());
        Ok(ServerTcpInfo {
            session: id,
            addrs,
            failures,
        })
    }

    /// Bind the listeners and start the server in `kernel`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the builder was misused (a setting given after
    /// `state`, see the builder's methods); [`Error::Io`] if a listener cannot
    /// be bound (address in use, permission denied).
    pub fn spawn(self, kernel: &mut Kernel) -> Result<ServerTcpInfo, Error> {
        let (session, addrs, failures) = self.build()?;
        let id = kernel.spawn(session, ());
        Ok(ServerTcpInfo {
            session: id,
            addrs,
            failures,
        })
    }

    /// Bind the listeners and start the server as a child of the running
    /// session.
    ///
    /// # Errors
    ///
    /// As [`ServerTcp::spawn`].
    pub fn spawn_child<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<ServerTcpInfo, Error> {
        let (session, addrs, failures) = self.build()?;
        let id = ctx.spawn(session, ());
        Ok(ServerTcpInfo {
            session: id,
            addrs,
            failures,
        })
    }

    #[allow(clippy::type_complexity)]
    fn build(
        mut self,
    ) -> Result<(Session<ServerListener>, Vec<SocketAddr>, Arc<AtomicU64>), Error> {
        if let Some(why) = self.misuse {
            return Err(Error::Invalid(why));
        }
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for a in &self.addrs {
            let l = TcpListener::bind(*a)?;
            addrs.push(l.local_addr()?);
            listeners.push(l);
        }
        let max = self.max_clients.unwrap_or_else(default_max_clients);
        let alias = self.alias.clone();
        let started = self.started.take();
        let args = self.listener_args.take();
        let listener_handlers = std::mem::take(&mut self.listener_handlers);
        let first = addrs.first().copied();
        let emfile_pause = self.emfile_pause;
        let failures = Arc::new(AtomicU64::new(0));
        let clients = Rc::new(Cell::new(0));
        // Everything a connection's handlers need, shared by all of them:
        // a connection then costs one pointer per handler, not a copy of
        // the filter and of every callback (issue 12: bytes per idle
        // connection).
        let shared = Rc::new(ClientShared {
            filter: self.filter,
            high: self.high_water,
            low: self.low_water,
            max_input: self.max_input,
            new_state: self.new_state,
            on_input: self.on_input,
            on_connected: self.on_connected,
            on_disconnected: self.on_disconnected,
            on_flushed: self.on_flushed,
            on_error: self.on_error,
            handlers: self.handlers,
            counter: clients.clone(),
            failures: failures.clone(),
        });
        let spawn_client: SpawnClient =
            Rc::new(move |ctx, stream, peer| spawn_client(&shared, ctx, stream, peer));
        let heap = ServerListener {
            pending: listeners,
            wheels: Vec::new(),
            clients,
            max,
            addrs: addrs.clone(),
            args,
        };
        let accepting = spawn_client.clone();
        let session = Session::new(heap)
            .on("_start", move |ctx| {
                if let Some(a) = &alias {
                    let _ = ctx.alias_set(a);
                }
                for l in std::mem::take(&mut ctx.heap().pending) {
                    match ListenAccept::new(ctx, l, "accepted", "accept_error") {
                        Ok(w) => ctx.heap().wheels.push(w),
                        Err(e) => tracing::error!(target: "rpoe::server_tcp", error = %e, "cannot watch a listener"),
                    }
                }
                if let (Some(f), Some(addr)) = (&started, first) {
                    f(ctx, addr);
                }
            })
            .on("accepted", move |ctx| {
                let Ok(a) = ctx.take_arg::<Accepted<TcpStream, SocketAddr>>() else {
                    return;
                };
                let heap = ctx.heap();
                if heap.clients.get() >= heap.max {
                    tracing::debug!(target: "rpoe::server_tcp", peer = %a.peer, max = heap.max, "connection limit reached; closing");
                    return; // dropping the stream closes it
                }
                heap.clients.set(heap.clients.get() + 1);
                accepting(ctx, a.stream, a.peer);
            })
            .on("accept_error", move |ctx| {
                let Ok(e) = ctx.take_arg::<WheelError>() else {
                    return;
                };
                if matches!(e.errno, 23 | 24) {
                    // Out of descriptors: pause instead of spinning.
                    tracing::warn!(target: "rpoe::server_tcp", error = %e.message, "out of file descriptors; pausing accepts");
                    for w in &ctx.heap().wheels {
                        w.pause_accept();
                    }
                    ctx.delay("resume_accept", emfile_pause, ());
                } else {
                    tracing::debug!(target: "rpoe::server_tcp", error = %e.message, "accept failed");
                }
            })
            .on("resume_accept", |ctx| {
                for w in &ctx.heap().wheels {
                    w.resume_accept();
                }
            })
            .on("shutdown", |ctx| {
                ctx.heap().wheels.clear();
                ctx.alarm_clear("resume_accept");
                let aliases = ctx.alias_list();
                for a in aliases {
                    let _ = ctx.alias_remove(&a);
                }
            });
        let mut session = session;
        for (event, f) in listener_handlers {
            if LISTENER_OWN.contains(&event.as_str()) {
                tracing::warn!(target: "rpoe::server_tcp", event = %event, "listener_on cannot replace the listener's own handler; ignored");
                continue;
            }
            session = session.on(&event, move |ctx| f(ctx));
        }
        Ok((session, addrs, failures))
    }
}

/// What every connection of one server shares: its configuration and
/// callbacks, held once by the server.
struct ClientShared<F: Filter, U: 'static>
where
    F::Record: 'static,
{
    filter: F,
    high: usize,
    low: usize,
    max_input: usize,
    new_state: Rc<dyn Fn() -> U>,
    on_input: Input<F::Record, U>,
    on_connected: Option<Hook<F::Record, U>>,
    on_disconnected: Option<Hook<F::Record, U>>,
    on_flushed: Option<Hook<F::Record, U>>,
    on_error: Option<ErrorHook<F::Record, U>>,
    handlers: Vec<(String, Hook<F::Record, U>)>,
    counter: Rc<Cell<usize>>,
    failures: Arc<AtomicU64>,
}

impl<F: Filter + Clone + 'static, U: 'static> ClientShared<F, U>
where
    F::Record: 'static,
{
    /// `on_disconnected` runs once, from a live handler as soon as the
    /// wheel is gone (so it may still post), else from `_stop`.
    fn disconnected(&self, ctx: &mut Ctx<'_, Client<F::Record, U>>) {
        let c = ctx.heap();
        if c.wheel.is_none() && !c.gone {
            c.gone = true;
            if let Some(f) = &self.on_disconnected {
                f(ctx);
            }
        }
    }
}

/// Spawn the session of one accepted connection. Its handlers each hold
/// only a pointer to `shared`.
fn spawn_client<F: Filter + Clone + 'static, U: 'static>(
    shared: &Rc<ClientShared<F, U>>,
    ctx: &mut Ctx<'_, ServerListener>,
    stream: TcpStream,
    peer: SocketAddr,
) where
    F::Record: 'static,
{
    let _ = stream.set_nodelay(true);
    let client = Client {
        wheel: None,
        remote: peer,
        state: (shared.new_state)(),
        shutdown: false,
        paused: false,
        gone: false,
        in_input: false,
        failed: false,
        flushed_off: None,
    };
    let s = shared.clone();
    let session = Session::new(client).on("_start", move |ctx: &mut Ctx<'_, Client<F::Record, U>>| {
        let Ok(stream) = ctx.take_arg::<TcpStream>() else {
            return;
        };
        // First, so that a failure in `on_connected` is contained too.
        if let Err(e) = ctx.sig("DIE", EV_DIE) {
            tracing::warn!(target: "rpoe::server_tcp", error = %e, "cannot watch DIE");
        }
        let mut wheel = ReadWrite::builder(stream, s.filter.clone())
            .on_input_batch("input")
            .on_error("error");
        if s.on_flushed.is_some() {
            wheel = wheel.on_flushed("flushed");
        } else {
            ctx.heap().flushed_off = Some(ctx.event_id("flushed"));
        }
        let wheel = wheel
            .on_high(s.high, "high")
            .on_low(s.low, "low")
            .max_input(s.max_input)
            .start(ctx);
        match wheel {
            Ok(w) => ctx.heap().wheel = Some(w),
            Err(e) => {
                tracing::warn!(target: "rpoe::server_tcp", error = %e, "cannot start a connection");
                return;
            }
        }
        if let Some(f) = &s.on_connected {
            f(ctx);
        }
    });
    let s = shared.clone();
    let session = session.on("input", move |ctx| {
        // The records of one read, in one event (`on_input_batch`): an
        // event per 64-byte line was a third of the server's work.
        let Ok((records, _)) = ctx.take_arg::<(Vec<F::Record>, WheelId)>() else {
            return;
        };
        for record in records {
            let c = ctx.heap();
            // An earlier record's handler failed, or the connection is
            // closed: the wheel would deliver no more records.
            if c.in_input || c.wheel.is_none() {
                return;
            }
            c.in_input = true;
            (s.on_input)(ctx, record);
            ctx.heap().in_input = false;
            s.disconnected(ctx);
        }
        // Backpressure, once the read's records are handled (pausing
        // only stops the reads to come).
        let c = ctx.heap();
        if !c.paused && c.wheel.as_ref().is_some_and(|w| w.pending() >= s.high) {
            c.paused = true;
            if let Some(w) = &c.wheel {
                w.pause_input();
            }
        }
    });
    let session = session
        .on("low", |ctx| {
            let c = ctx.heap();
            if c.paused && !c.shutdown {
                c.paused = false;
                if let Some(w) = &c.wheel {
                    w.resume_input();
                }
            }
        })
        .on("high", |ctx| {
            let c = ctx.heap();
            if !c.paused {
                c.paused = true;
                if let Some(w) = &c.wheel {
                    w.pause_input();
                }
            }
        });
    let s = shared.clone();
    let session = session.on("flushed", move |ctx| {
        if let Some(f) = &s.on_flushed {
            f(ctx);
        }
        let c = ctx.heap();
        if c.shutdown {
            c.wheel = None;
        }
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on("error", move |ctx| {
        let Ok(e) = ctx.take_arg::<WheelError>() else {
            return;
        };
        if let Some(f) = &s.on_error {
            f(ctx, &e);
        }
        // End of input (or a broken stream): close once written.
        let c = ctx.heap();
        if e.op == "write" {
            c.wheel = None;
        } else {
            c.shutdown();
        }
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on("shutdown", move |ctx| {
        ctx.heap().shutdown();
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on(EV_DIE, move |ctx| {
        let Ok(signal) = ctx.take_arg::<Signal>() else {
            return;
        };
        // DIE also reaches the descendants of a failing session
        // (and this one is the listener's): only our own failures
        // are ours to contain.
        let Some(info) = signal.arg::<DieInfo>() else {
            return;
        };
        if info.session != ctx.id() {
            return;
        }
        ctx.sig_handled();
        let c = ctx.heap();
        if std::mem::replace(&mut c.failed, true) {
            return; // one connection, one failure
        }
        s.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            target: "rpoe::server_tcp",
            peer = %c.remote,
            event = %info.event,
            error = %info.message,
            "a connection's handler failed; closing that connection"
        );
        c.shutdown = true;
        c.wheel = None;
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on("_stop", move |ctx| {
        s.counter.set(s.counter.get().saturating_sub(1));
        ctx.heap().wheel = None;
        s.disconnected(ctx);
    });
    let session = shared
        .handlers
        .iter()
        .enumerate()
        .fold(session, |session, (i, (name, _))| {
            let s = shared.clone();
            session.on(name, move |ctx| (s.handlers[i].1)(ctx))
        });
    ctx.spawn(session, stream);
}

/// The listening session's heap.
/// The listening session's heap (POE's listener session, whose heap
/// `ListenerArgs`, `Started` and `InlineStates`-for-the-listener reach):
/// handed to [`ServerTcp::started`] and [`ServerTcp::listener_on`]
/// handlers. The accepting machinery stays private; your part is the
/// bound addresses, the connection count and the value given to
/// [`ServerTcp::listener_args`].
pub struct ServerListener {
    pending: Vec<TcpListener>,
    wheels: Vec<ListenAccept>,
    clients: Rc<Cell<usize>>,
    max: usize,
    addrs: Vec<SocketAddr>,
    args: Option<Box<dyn Any>>,
}

impl ServerListener {
    /// The addresses the server is bound to (with the ports the OS chose
    /// for port 0), in the order they were given.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Open connections (each a child session of this one).
    pub fn clients(&self) -> usize {
        self.clients.get()
    }

    /// The value given to [`ServerTcp::listener_args`], if it is a `T`.
    pub fn args<T: Any>(&mut self) -> Option<&mut T> {
        self.args.as_mut()?.downcast_mut()
    }
}

/// The smaller of 10000 and the descriptor limit less a margin.
fn default_max_clients() -> usize {
    let limit = crate::os::open_files_limit().unwrap_or(1024);
    10_000usize.min(limit.saturating_sub(32).max(1) as usize)
}
