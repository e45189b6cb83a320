//! [`ClientTcp`], the builder: the client's settings and callbacks, and
//! starting its session.
//!
//! Why a file of its own: this is the whole of what a program writes to
//! have a client, and the one place its defaults are set; what the
//! session does with them is `session.rs`'s, and how long it waits
//! between attempts is `reconnect.rs`'s.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::{Backoff, Connection, ErrorHook, Hook, Input, DEFAULT_RESET_AFTER};
use crate::component::DEFAULT_MAX_INPUT;
use crate::filter::Filter;
use crate::kernel::{Ctx, Kernel, SessionId};
use crate::wheel::WheelError;

/// A TCP client; configure it, then [`ClientTcp::spawn`] it (see the
/// [module documentation](super) for the life cycle).
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
    pub(super) remote: SocketAddr,
    pub(super) bind: Option<SocketAddr>,
    pub(super) filter: F,
    pub(super) alias: Option<String>,
    pub(super) connect_timeout: Option<Duration>,
    pub(super) backoff: Option<Backoff>,
    pub(super) reset_after: Duration,
    pub(super) marks: Option<(usize, usize)>,
    pub(super) max_input: usize,
    pub(super) new_state: Rc<dyn Fn() -> U>,
    pub(super) on_started: Option<Hook<F::Record, U>>,
    pub(super) on_connected: Option<Hook<F::Record, U>>,
    pub(super) on_input: Input<F::Record, U>,
    pub(super) on_flushed: Option<Hook<F::Record, U>>,
    pub(super) on_disconnected: Option<Hook<F::Record, U>>,
    pub(super) on_connect_error: Option<ErrorHook<F::Record, U>>,
    pub(super) on_error: Option<ErrorHook<F::Record, U>>,
    pub(super) on_high: Option<Hook<F::Record, U>>,
    pub(super) on_low: Option<Hook<F::Record, U>>,
    pub(super) states: Vec<(String, Hook<F::Record, U>)>,
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
            max_input: DEFAULT_MAX_INPUT,
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
    /// [`DEFAULT_MAX_INPUT`](crate::component::DEFAULT_MAX_INPUT), 64 KiB, whatever
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
}
