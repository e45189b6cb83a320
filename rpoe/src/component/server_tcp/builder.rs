//! [`ServerTcp`], the builder: the server's settings and callbacks, and
//! binding the listeners when it is started.
//!
//! Why a file of its own: this is the whole of what a program writes to
//! have a server, and the one place its defaults are set. Starting it
//! binds the sockets here, so that a busy port is an error for the caller;
//! the sessions it starts are built from `listener.rs` and
//! `connection.rs`.

use std::any::Any;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;

use super::connection::{spawn_client, ClientShared};
use super::listener::{ListenerHook, Listening, SpawnClient, StartedHook};
use super::{Client, ErrorHook, Hook, Input, ServerListener, ServerTcpInfo};
use crate::component::DEFAULT_MAX_INPUT;
use crate::filter::Filter;
use crate::kernel::{Ctx, Error, Kernel, Session, SessionId};
use crate::wheel::WheelError;

/// A TCP server; configure it, then [`ServerTcp::spawn`] it.
///
/// A server that greets each client with its address, then echoes; a
/// [`ClientTcp`](crate::component::ClientTcp) checks the greeting and stops both:
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
            max_input: DEFAULT_MAX_INPUT,
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
    /// Default [`DEFAULT_MAX_INPUT`](crate::component::DEFAULT_MAX_INPUT), 64 KiB,
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
        self.launch(|session| on.spawn_session(session, ()))
    }

    /// Bind the listeners and start the server in `kernel`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the builder was misused (a setting given after
    /// `state`, see the builder's methods); [`Error::Io`] if a listener cannot
    /// be bound (address in use, permission denied).
    pub fn spawn(self, kernel: &mut Kernel) -> Result<ServerTcpInfo, Error> {
        self.launch(|session| kernel.spawn(session, ()))
    }

    /// Bind the listeners and start the server as a child of the running
    /// session.
    ///
    /// # Errors
    ///
    /// As [`ServerTcp::spawn`].
    pub fn spawn_child<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<ServerTcpInfo, Error> {
        self.launch(|session| ctx.spawn(session, ()))
    }

    /// Bind the listeners, then start the listening session with `spawn`
    /// (the one difference between `start`, `spawn` and `spawn_child`).
    fn launch(
        self,
        spawn: impl FnOnce(Session<ServerListener>) -> SessionId,
    ) -> Result<ServerTcpInfo, Error> {
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
        let session = Listening {
            listeners,
            addrs: addrs.clone(),
            alias: self.alias,
            max: self.max_clients.unwrap_or_else(default_max_clients),
            clients,
            emfile_pause: self.emfile_pause,
            started: self.started,
            args: self.listener_args,
            handlers: self.listener_handlers,
            spawn_client,
        }
        .session();
        Ok(ServerTcpInfo {
            session: spawn(session),
            addrs,
            failures,
        })
    }
}

/// The smaller of 10000 and the descriptor limit less a margin.
fn default_max_clients() -> usize {
    let limit = crate::os::open_files_limit().unwrap_or(1024);
    10_000usize.min(limit.saturating_sub(32).max(1) as usize)
}
