//! [`ClientTcp`]: a TCP client as one session that connects with a
//! [`SocketFactory`] and then talks through a [`ReadWrite`] wheel (POE's
//! `POE::Component::Client::TCP`).
//!
//! The callbacks run in the client's session, whose heap is a
//! [`Connection`]: the wheel while connected, the server's address and
//! your own state. The session:
//!
//! * connects when it starts (and again on a posted `"reconnect"`, or
//!   `"connect"` with a new [`SocketAddr`]);
//! * on success calls `on_connected`, then `on_input` for each record the
//!   server sends and `on_flushed` whenever its output buffer empties;
//! * on a failed connect (or one that outlasts the
//!   [connect timeout](ClientTcp::connect_timeout), errno `ETIMEDOUT`)
//!   calls `on_connect_error`;
//! * on a connection error — end of file is a `"read"` error with errno
//!   0 — calls `on_error`, closes the connection (at end of file, once its
//!   output is written) and calls `on_disconnected`;
//! * with [`ClientTcp::reconnect`] set, connects again after every failed
//!   attempt and every lost connection, waiting `initial`, then twice as
//!   long each time up to `max` (plus random jitter); the delay starts
//!   over only once a connection has lasted
//!   [`reconnect_reset_after`](ClientTcp::reconnect_reset_after)
//!   (default [`DEFAULT_RESET_AFTER`], one second) — a server that
//!   accepts and hangs up at once is not hammered;
//! * on [`Connection::shutdown`] (or a posted `"shutdown"`) stops
//!   reconnecting, closes the connection once its output is written and
//!   drops its alias, so the session ends;
//! * on a posted `"reconnect"` (or `"connect"`), as in POE, drops any
//!   connection or attempt in progress (calling `on_disconnected` if it
//!   was connected), cancels a shutdown, and connects now.
//!
//! Why a component: a client that must stay connected — to a database, a
//! chat network, an upstream service — needs the same connect, timeout,
//! back-off and reconnect logic every time, and getting the reconnect
//! loop wrong either hammers the server or gives up for good.
//!
//! ```
//! use std::time::Duration;
//! use rpoe::component::{ClientTcp, ServerTcp};
//! use rpoe::filter::Line;
//! use rpoe::Kernel;
//!
//! let mut kernel = Kernel::new().unwrap();
//! let echo = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::new())
//!     .on_input(|ctx, line: Vec<u8>| {
//!         let _ = ctx.heap().put(&line);
//!     })
//!     .spawn(&mut kernel)
//!     .unwrap();
//!
//! ClientTcp::new(echo.addrs[0], Line::new())
//!     .reconnect(Duration::from_millis(100), Duration::from_secs(5))
//!     .on_connected(|ctx| {
//!         let _ = ctx.heap().put(&b"hello".to_vec());
//!     })
//!     .on_input(move |ctx, line: Vec<u8>| {
//!         println!("server said {}", String::from_utf8_lossy(&line));
//!         ctx.heap().shutdown(); // done: close after the output is written
//!         ctx.post(echo.session, "shutdown", ()).unwrap();
//!     })
//!     .on_connect_error(|_ctx, e| eprintln!("connect failed: {}", e.message))
//!     .spawn(&mut kernel);
//! kernel.run().unwrap();
//! ```

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mio::net::TcpStream;

use crate::filter::Filter;
use crate::kernel::{Ctx, Kernel, Session, SessionId};
use crate::wheel::{ReadWrite, SocketFactory, TcpConnected, WheelError, WheelId};

mod connection;

pub use connection::{Backoff, Connection};

type Input<R, U> = Rc<dyn Fn(&mut Ctx<'_, Connection<R, U>>, R)>;
type Hook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Connection<R, U>>)>;
type ErrorHook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Connection<R, U>>, &WheelError)>;

/// How long a connection must last before the reconnect delay starts over
/// from `initial` (see [`ClientTcp::reconnect_reset_after`]).
pub const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(1);

/// `ETIMEDOUT`, reported for a connect that outlasts the timeout.
const ETIMEDOUT: i32 = crate::os::ETIMEDOUT;

// The session's events. `reconnect`, `connect` and `shutdown` are also
// for users to post.
const EV_RECONNECT: &str = "reconnect";
/// The first connect and the backoff timer: like `reconnect`, but a
/// shutdown requested meanwhile wins.
const EV_RETRY: &str = "got_retry";
const EV_CONNECT: &str = "connect";
const EV_SHUTDOWN: &str = "shutdown";
const EV_OK: &str = "got_connect_success";
const EV_FAIL: &str = "got_connect_error";
const EV_TIMEOUT: &str = "got_connect_timeout";
const EV_INPUT: &str = "got_server_input";
const EV_ERROR: &str = "got_server_error";
const EV_FLUSHED: &str = "got_server_flush";
const EV_HIGH: &str = "got_high";
const EV_LOW: &str = "got_low";

/// A TCP client; configure it, then [`ClientTcp::spawn`] it (see the
/// [module documentation](self) for the life cycle).
///
/// A client that keeps a count in its own state, times out slow
/// connects, and reconnects each time the server hangs up, until it has
/// connected three times:
///
/// ```
/// use std::time::Duration;
/// use rpoe::component::{ClientTcp, ServerTcp};
/// use rpoe::filter::Line;
/// use rpoe::Kernel;
///
/// let mut kernel = Kernel::new().unwrap();
/// // A server that says one line to each connection, then hangs up.
/// let server = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::literal(b"\n"))
///     .alias("server")
///     .on_connected(|ctx| {
///         let _ = ctx.heap().put(&b"hi".to_vec());
///         ctx.heap().shutdown();
///     })
///     .spawn(&mut kernel)
///     .unwrap();
///
/// ClientTcp::new(server.addrs[0], Line::literal(b"\n"))
///     .state(|| 0u32) // connections so far
///     .alias("client") // other sessions may post it "shutdown"
///     .connect_timeout(Duration::from_secs(5))
///     .reconnect(Duration::from_millis(10), Duration::from_millis(100))
///     .on_connected(|ctx| ctx.heap().state += 1)
///     .on_input(|_ctx, line: Vec<u8>| assert_eq!(line, b"hi"))
///     .on_disconnected(|ctx| {
///         if ctx.heap().state == 3 {
///             ctx.heap().shutdown(); // no more reconnecting
///             let _ = ctx.post("server", "shutdown", ());
///         }
///     })
///     .spawn(&mut kernel);
/// kernel.run().unwrap();
/// ```
#[must_use = "a builder does nothing until it is spawned"]
pub struct ClientTcp<F: Filter + Clone + 'static, U: 'static = ()>
where
    F::Record: 'static,
{
    remote: SocketAddr,
    bind: Option<SocketAddr>,
    filter: F,
    alias: Option<String>,
    connect_timeout: Option<Duration>,
    backoff: Option<Backoff>,
    reset_after: Duration,
    marks: Option<(usize, usize)>,
    max_input: usize,
    new_state: Rc<dyn Fn() -> U>,
    on_started: Option<Hook<F::Record, U>>,
    on_connected: Option<Hook<F::Record, U>>,
    on_input: Input<F::Record, U>,
    on_flushed: Option<Hook<F::Record, U>>,
    on_disconnected: Option<Hook<F::Record, U>>,
    on_connect_error: Option<ErrorHook<F::Record, U>>,
    on_error: Option<ErrorHook<F::Record, U>>,
    on_high: Option<Hook<F::Record, U>>,
    on_low: Option<Hook<F::Record, U>>,
    states: Vec<(String, Hook<F::Record, U>)>,
}

impl<F: Filter + Clone + 'static> ClientTcp<F, ()>
where
    F::Record: 'static,
{
    /// A client of `remote` framing the connection with `filter` (POE's
    /// default is [`crate::filter::Line::new`]).
    pub fn new(remote: SocketAddr, filter: F) -> Self {
        ClientTcp {
            remote,
            bind: None,
            filter,
            alias: None,
            connect_timeout: None,
            backoff: None,
            reset_after: DEFAULT_RESET_AFTER,
            marks: None,
            max_input: super::DEFAULT_MAX_INPUT,
            new_state: Rc::new(|| ()),
            on_started: None,
            on_connected: None,
            on_input: Rc::new(|_, _| {}),
            on_flushed: None,
            on_disconnected: None,
            on_connect_error: None,
            on_error: None,
            on_high: None,
            on_low: None,
            states: Vec::new(),
        }
    }
}

impl<F: Filter + Clone + 'static, U: 'static> ClientTcp<F, U>
where
    F::Record: 'static,
{
    /// Give the client its own state, made by `make` (once, when it is
    /// spawned; it lives across reconnections). Set it before the
    /// callbacks, which it resets.
    pub fn state<V: 'static>(self, make: impl Fn() -> V + 'static) -> ClientTcp<F, V> {
        ClientTcp {
            remote: self.remote,
            bind: self.bind,
            filter: self.filter,
            alias: self.alias,
            connect_timeout: self.connect_timeout,
            backoff: self.backoff,
            reset_after: self.reset_after,
            marks: self.marks,
            max_input: self.max_input,
            new_state: Rc::new(make),
            on_started: None,
            on_connected: None,
            on_input: Rc::new(|_, _| {}),
            on_flushed: None,
            on_disconnected: None,
            on_connect_error: None,
            on_error: None,
            on_high: None,
            on_low: None,
            states: Vec::new(),
        }
    }

    /// Bind the local end to this address before connecting (POE's
    /// `BindAddress` / `BindPort`).
    pub fn bind(mut self, local: SocketAddr) -> Self {
        self.bind = Some(local);
        self
    }

    /// Give the session an alias (to post it `"shutdown"`, `"reconnect"`
    /// or `"connect"`). It is dropped at shutdown.
    pub fn alias(mut self, alias: &str) -> Self {
        self.alias = Some(alias.to_string());
        self
    }

    /// Give up on a connect attempt after `timeout` (`on_connect_error`
    /// gets op `"connect"`, errno `ETIMEDOUT`).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Connect again after a failed attempt or a lost connection, waiting
    /// `initial` the first time and doubling up to `max`. Without it the
    /// session ends after its connection does (or its attempt fails),
    /// unless a callback posts `"reconnect"`.
    ///
    /// Each wait is lengthened by a random part of up to half of it
    /// (jitter), so that many clients cut off at once — a server restart
    /// — do not all come back in the same instant; a wait is never shorter
    /// than its nominal delay.
    ///
    /// A successful connect does *not* start the delay over: a server at
    /// its connection limit accepts and closes at once, and starting over
    /// on every connect turned that into a reconnect every `initial`
    /// forever. The delay starts over only when a connection that lasted
    /// at least [`reconnect_reset_after`](ClientTcp::reconnect_reset_after)
    /// ends.
    pub fn reconnect(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = Some(Backoff {
            initial,
            max: max.max(initial),
        });
        self
    }

    /// How long a connection must last for the reconnect delay to start
    /// over from `initial` when it ends (default [`DEFAULT_RESET_AFTER`],
    /// one second). Shorter-lived connections count as failures: the next
    /// wait keeps doubling.
    pub fn reconnect_reset_after(mut self, lasted: Duration) -> Self {
        self.reset_after = lasted;
        self
    }

    /// Output watermarks: `on_high` is called when the output buffer
    /// reaches `high` bytes, `on_low` when it drains to `low`.
    pub fn watermarks(mut self, high: usize, low: usize) -> Self {
        self.marks = Some((high, low.min(high)));
        self
    }

    /// The most bytes the server may send without completing a record
    /// (what the filter holds unframed); past it the connection is closed
    /// after the records before, `on_error` getting a `"get"` error, and
    /// the usual reconnect policy applies. Default
    /// [`DEFAULT_MAX_INPUT`](super::DEFAULT_MAX_INPUT), 64 KiB, whatever
    /// the filter's own limits: a misbehaving or hostile server must not
    /// make the client hold unbounded input. Use `usize::MAX` to rely on
    /// the filter alone.
    pub fn max_input(mut self, bytes: usize) -> Self {
        self.max_input = bytes;
        self
    }

    /// Called when the session starts, before it connects (POE's
    /// `Started`).
    pub fn on_started(
        mut self,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>) + 'static,
    ) -> Self {
        self.on_started = Some(Rc::new(f));
        self
    }

    /// Called when a connection is made (POE's `Connected`).
    pub fn on_connected(
        mut self,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>) + 'static,
    ) -> Self {
        self.on_connected = Some(Rc::new(f));
        self
    }

    /// Handle each record the server sends (POE's `ServerInput`).
    pub fn on_input(
        mut self,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>, F::Record) + 'static,
    ) -> Self {
        self.on_input = Rc::new(f);
        self
    }

    /// Called when the output buffer empties (POE's `ServerFlushed`).
    pub fn on_flushed(
        mut self,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>) + 'static,
    ) -> Self {
        self.on_flushed = Some(Rc::new(f));
        self
    }

    /// Called when an established connection ends, for any reason (POE's
    /// `Disconnected`).
    pub fn on_disconnected(
        mut self,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>) + 'static,
    ) -> Self {
        self.on_disconnected = Some(Rc::new(f));
        self
    }

    /// Called when a connect attempt fails (POE's `ConnectError`).
    ///
    /// ```
    /// use rpoe::component::ClientTcp;
    /// use rpoe::filter::Line;
    /// use rpoe::Kernel;
    ///
    /// // A port nobody listens on (just released).
    /// let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// ClientTcp::new(addr, Line::new())
    ///     .on_connect_error(|ctx, e| {
    ///         assert_eq!(e.op, "connect"); // errno ECONNREFUSED
    ///         assert_eq!(ctx.heap().failed_attempts(), 1);
    ///     })
    ///     .spawn(&mut kernel); // without reconnect(), the session then ends
    /// kernel.run().unwrap();
    /// ```
    pub fn on_connect_error(
        mut self,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>, &WheelError) + 'static,
    ) -> Self {
        self.on_connect_error = Some(Rc::new(f));
        self
    }

    /// Called on a connection error or end of file, before the connection
    /// closes (POE's `ServerError`).
    pub fn on_error(
        mut self,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>, &WheelError) + 'static,
    ) -> Self {
        self.on_error = Some(Rc::new(f));
        self
    }

    /// Called when the output buffer reaches the high mark (POE's
    /// `ServerHigh`); see [`ClientTcp::watermarks`].
    pub fn on_high(mut self, f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>) + 'static) -> Self {
        self.on_high = Some(Rc::new(f));
        self
    }

    /// Called when the output buffer drains to the low mark (POE's
    /// `ServerLow`).
    pub fn on_low(mut self, f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>) + 'static) -> Self {
        self.on_low = Some(Rc::new(f));
        self
    }

    /// Add a handler of your own to the session (POE's `InlineStates`),
    /// e.g. for a timer; shutdown requests it makes are honoured as in the
    /// callbacks.
    pub fn on(
        mut self,
        event: &str,
        f: impl Fn(&mut Ctx<'_, Connection<F::Record, U>>) + 'static,
    ) -> Self {
        self.states.push((event.to_string(), Rc::new(f)));
        self
    }

    /// Start the client in `kernel`; it connects at once.
    pub fn spawn(self, kernel: &mut Kernel) -> SessionId {
        kernel.spawn(self.build(), ())
    }

    /// Start the client as a child of the running session.
    pub fn spawn_child<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> SessionId {
        ctx.spawn(self.build(), ())
    }

    /// Start the client from anywhere: from `main` with the [`Kernel`], or
    /// as a child of the running session with a handler's [`Ctx`] (see
    /// [`Spawner`](crate::Spawner)).
    pub fn start(self, on: &mut impl crate::Spawner) -> SessionId {
        on.spawn_session(self.build(), ())
    }

    fn build(mut self) -> Session<Connection<F::Record, U>> {
        let heap = Connection {
            wheel: None,
            factory: None,
            remote: self.remote,
            local: None,
            state: (self.new_state)(),
            connected: false,
            closing: false,
            shutdown: false,
            shut: false,
            failures: 0,
            next_delay: None,
            connected_at: None,
            rng: connection::Jitter::new(self.remote),
        };
        let states = std::mem::take(&mut self.states);
        let me = Rc::new(self);
        let mut session = Session::new(heap);
        for (name, f) in states {
            let me = me.clone();
            session = session.on(&name, move |ctx| {
                f(ctx);
                me.settle(ctx);
            });
        }
        let m = me.clone();
        session = session.on("_start", move |ctx| {
            if let Some(a) = &m.alias {
                let _ = ctx.alias_set(a);
            }
            ctx.yield_event(EV_RETRY, ());
            if let Some(f) = &m.on_started {
                f(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_RECONNECT, move |ctx| m.start_connect(ctx));
        let m = me.clone();
        session = session.on(EV_RETRY, move |ctx| {
            if !ctx.heap().shutdown {
                m.start_connect(ctx);
            }
        });
        let m = me.clone();
        session = session.on(EV_CONNECT, move |ctx| {
            if let Ok(addr) = ctx.take_arg::<SocketAddr>() {
                ctx.heap().remote = addr;
            }
            m.start_connect(ctx);
        });
        let m = me.clone();
        session = session.on(EV_OK, move |ctx| {
            let Ok(c) = ctx.take_arg::<TcpConnected>() else {
                return;
            };
            if !ctx.heap().is_current(c.wheel) {
                return; // an attempt given up meanwhile: drop the stream
            }
            m.connected(ctx, c.stream);
        });
        let m = me.clone();
        session = session.on(EV_FAIL, move |ctx| {
            let Ok(e) = ctx.take_arg::<WheelError>() else {
                return;
            };
            if !ctx.heap().is_current(e.wheel) {
                return;
            }
            m.connect_failed(ctx, e);
        });
        let m = me.clone();
        session = session.on(EV_TIMEOUT, move |ctx| {
            let Ok(wheel) = ctx.take_arg::<WheelId>() else {
                return;
            };
            if !ctx.heap().is_current(wheel) {
                return; // a late timer of an attempt already settled
            }
            let e = std::io::Error::from_raw_os_error(ETIMEDOUT);
            m.connect_failed(ctx, WheelError::io("connect", &e, wheel));
        });
        let m = me.clone();
        session = session.on(EV_INPUT, move |ctx| {
            let Ok((record, _)) = ctx.take_arg::<(F::Record, WheelId)>() else {
                return;
            };
            if ctx.heap().shutdown || ctx.heap().closing {
                return;
            }
            (m.on_input)(ctx, record);
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_FLUSHED, move |ctx| {
            if let Some(f) = &m.on_flushed {
                f(ctx);
            }
            if ctx.heap().closing {
                m.close(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_ERROR, move |ctx| {
            let Ok(e) = ctx.take_arg::<WheelError>() else {
                return;
            };
            if let Some(f) = &m.on_error {
                f(ctx, &e);
            }
            let c = ctx.heap();
            let pending = c.wheel.as_ref().map_or(0, ReadWrite::pending);
            if e.is_eof() && pending > 0 {
                c.closing = true; // the server may still read: write first
            } else {
                m.close(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_HIGH, move |ctx| {
            if let Some(f) = &m.on_high {
                f(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_LOW, move |ctx| {
            if let Some(f) = &m.on_low {
                f(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_SHUTDOWN, move |ctx| {
            ctx.heap().shutdown = true;
            m.settle(ctx);
        });
        let m = me;
        session.on("_stop", move |ctx| {
            let c = ctx.heap();
            c.factory = None;
            if std::mem::take(&mut c.connected) {
                c.wheel = None;
                if let Some(f) = &m.on_disconnected {
                    f(ctx);
                }
            }
        })
    }

    /// (Re)start a connect attempt, dropping any connection or attempt in
    /// progress.
    fn start_connect(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        ctx.alarm_clear(EV_RECONNECT);
        ctx.alarm_clear(EV_RETRY);
        ctx.alarm_clear(EV_TIMEOUT);
        let c = ctx.heap();
        c.shutdown = false;
        c.shut = false;
        c.factory = None;
        if c.connected {
            self.close_quietly(ctx);
        }
        if let Some(a) = &self.alias {
            let _ = ctx.alias_set(a);
        }
        let remote = ctx.heap().remote;
        let mut b = SocketFactory::connect(remote)
            .on_success(EV_OK)
            .on_failure(EV_FAIL);
        if let Some(local) = self.bind {
            b = b.bind(local);
        }
        match b.start(ctx) {
            Ok(f) => {
                if let Some(t) = self.connect_timeout {
                    ctx.delay(EV_TIMEOUT, t, f.id());
                }
                ctx.heap().factory = Some(f);
            }
            Err(e) => {
                tracing::warn!(target: "rpoe::client_tcp", error = %e, "cannot watch a connecting socket");
                let io = std::io::Error::other(e.to_string());
                self.connect_failed(ctx, WheelError::io("connect", &io, WheelId::next()));
                return;
            }
        }
        self.settle(ctx);
    }

    fn connected(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>, stream: TcpStream) {
        ctx.alarm_clear(EV_TIMEOUT);
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok();
        let mut b = ReadWrite::builder(stream, self.filter.clone())
            .on_input(EV_INPUT)
            .on_error(EV_ERROR)
            .on_flushed(EV_FLUSHED)
            .max_input(self.max_input);
        if let Some((high, low)) = self.marks {
            b = b.on_high(high, EV_HIGH).on_low(low, EV_LOW);
        }
        let c = ctx.heap();
        c.factory = None;
        match b.start(ctx) {
            Ok(w) => {
                let now = ctx.now();
                let c = ctx.heap();
                c.wheel = Some(w);
                c.local = local;
                c.connected = true;
                c.closing = false;
                c.failures = 0;
                // The backoff delay is kept: see `close_quietly`.
                c.connected_at = Some(now);
            }
            Err(e) => {
                let io = std::io::Error::other(e.to_string());
                self.connect_failed(ctx, WheelError::io("connect", &io, WheelId::next()));
                return;
            }
        }
        if let Some(f) = &self.on_connected {
            f(ctx);
        }
        self.settle(ctx);
    }

    fn connect_failed(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>, e: WheelError) {
        ctx.alarm_clear(EV_TIMEOUT);
        let c = ctx.heap();
        c.factory = None;
        c.failures += 1;
        if let Some(f) = &self.on_connect_error {
            f(ctx, &e);
        }
        self.settle(ctx);
        self.after_loss(ctx);
    }

    /// Drop the connection and tell the user, then reconnect or finish.
    fn close(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        if !ctx.heap().connected {
            ctx.heap().wheel = None;
            return;
        }
        self.close_quietly(ctx);
        self.settle(ctx);
        self.after_loss(ctx);
    }

    /// Drop the connection and call `on_disconnected`.
    fn close_quietly(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        let now = ctx.now();
        let c = ctx.heap();
        // Only a connection that lasted starts the backoff over.
        if let Some(at) = c.connected_at.take() {
            if now.saturating_since(at) >= self.reset_after {
                c.next_delay = None;
            }
        }
        c.wheel = None;
        c.closing = false;
        c.connected = false;
        if let Some(f) = &self.on_disconnected {
            f(ctx);
        }
    }

    /// No connection and no attempt: schedule the next one, or let the
    /// session end.
    fn after_loss(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        let c = ctx.heap();
        if c.shutdown || c.connected || c.factory.is_some() {
            return;
        }
        match self.backoff {
            Some(b) => {
                let delay = c.next_delay.unwrap_or(b.initial);
                c.next_delay = Some(delay.saturating_mul(2).min(b.max));
                let wait = c.rng.spread(delay);
                ctx.delay(EV_RETRY, wait, ());
            }
            None => remove_aliases(ctx),
        }
    }

    /// Carry out a shutdown requested during the callback that just ran.
    fn settle(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        let c = ctx.heap();
        if !c.shutdown || c.shut {
            return;
        }
        c.shut = true;
        c.factory = None;
        ctx.alarm_clear(EV_RECONNECT);
        ctx.alarm_clear(EV_RETRY);
        ctx.alarm_clear(EV_TIMEOUT);
        let c = ctx.heap();
        if c.connected {
            if c.wheel.as_ref().is_some_and(|w| w.pending() > 0) {
                c.closing = true;
            } else {
                self.close_quietly(ctx);
            }
        }
        remove_aliases(ctx);
    }
}

fn remove_aliases<H: 'static>(ctx: &mut Ctx<'_, H>) {
    for a in ctx.alias_list() {
        let _ = ctx.alias_remove(&a);
    }
}
