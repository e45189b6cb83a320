//! [`SocketFactory`]: make stream sockets without blocking — connect to a
//! TCP or Unix-domain address, or bind, listen and accept (POE's
//! `POE::Wheel::SocketFactory`).
//!
//! **Connect mode** ([`SocketFactory::connect`]) starts a non-blocking
//! connect and watches the socket for writability. When it becomes
//! writable the wheel asks the socket how the connect went (`SO_ERROR`,
//! then `getpeername`) and sends the session one event:
//!
//! * success: a [`Connected`] — the connected, non-blocking mio stream,
//!   the peer's address and the wheel's id (POE's `SuccessEvent(socket,
//!   address, port, wheel_id)`); for TCP take it as a [`TcpConnected`],
//!   for a Unix socket as a [`UnixConnected`];
//! * failure: a [`WheelError`] with op `"connect"` and the OS error
//!   (`ECONNREFUSED`, `ENETUNREACH`, `ETIMEDOUT`, ...), POE's
//!   `FailureEvent(op, errno, message, wheel_id)`.
//!
//! **Listen mode** ([`SocketFactory::listen`]) binds (IPv4, IPv6 or a
//! Unix path; `SO_REUSEADDR` by default; a configurable backlog), listens,
//! and accepts through a [`ListenAccept`] it owns: every accepted
//! connection is sent to the success event as the same [`Connected`]
//! payload, and a failed accept to the failure event (op `"accept"`).
//!
//! As in POE, a failure while setting the socket up (ops `"socket"`,
//! `"bind"`, `"listen"`, `"connect"`) is not returned by
//! [`SocketFactoryBuilder::start`]: it is posted to the failure event, so
//! every outcome arrives the same way. `start` fails only if the kernel
//! refuses to watch the socket.
//!
//! Addresses are socket addresses, not host names: resolving a name
//! blocks, so do it before (or in a worker) and pass the result.
//!
//! Why a wheel for this: a non-blocking connect is easy to get subtly
//! wrong (`EINPROGRESS`, then writability — which a failed connect
//! signals too — then `SO_ERROR` to tell which), and a listener needs its
//! options set between `socket` and `bind`. The factory does both and
//! reports every outcome as one event.
//!
//! ```
//! use rpoe::wheel::{SocketFactory, TcpConnected, WheelError};
//! use rpoe::{Kernel, Session};
//!
//! // Something to connect to.
//! let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = server.local_addr().unwrap();
//!
//! let mut kernel = Kernel::new().unwrap();
//! kernel.spawn(
//!     Session::new(None::<SocketFactory>)
//!         .on("_start", move |ctx| {
//!             let wheel = SocketFactory::connect(addr)
//!                 .on_success("connected")
//!                 .on_failure("failed")
//!                 .start(ctx)
//!                 .unwrap();
//!             *ctx.heap() = Some(wheel);
//!         })
//!         .on("connected", move |ctx| {
//!             let c = ctx.take_arg::<TcpConnected>().unwrap();
//!             assert_eq!(c.peer, addr);
//!             *ctx.heap() = None; // the factory's work is done
//!             // ... start a ReadWrite on c.stream
//!         })
//!         .on("failed", |ctx| {
//!             let e = ctx.take_arg::<WheelError>().unwrap();
//!             panic!("{} failed: {} (errno {})", e.op, e.message, e.errno);
//!         }),
//!     (),
//! );
//! kernel.run().unwrap();
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::kernel::{
    Ctx, EventId, EventSource, IoMode, IoSource, PostAction, SourceCtx, SourceHandle,
};

use super::{Accepted, ListenAccept, ListenAcceptEvent, WheelError, WheelId};

mod connector;

use connector::{ConnectControl, Connector};

/// Default listen backlog (as mio's `TcpListener::bind`).
const DEFAULT_BACKLOG: i32 = 1024;

/// Writable wake-ups that find the connect still in progress before the
/// wheel gives up with `ENOTCONN` (a guard against a socket that reports
/// writable forever without finishing; never reached in practice).
const MAX_SPURIOUS: u32 = 64;

/// Where to connect or listen: a TCP address (IPv4 or IPv6) or the path of
/// a Unix-domain socket (POE's `SocketDomain` plus the address
/// parameters, in one value).
///
/// ```
/// use std::net::SocketAddr;
/// use std::path::Path;
/// use rpoe::wheel::Endpoint;
///
/// let tcp = Endpoint::from("127.0.0.1:80".parse::<SocketAddr>().unwrap());
/// assert_eq!(tcp.to_string(), "127.0.0.1:80");
/// assert!(tcp.unix().is_none());
///
/// let unix = Endpoint::from(Path::new("/run/app.sock"));
/// assert_eq!(unix.unix(), Some(Path::new("/run/app.sock")));
/// assert_eq!(unix.to_string(), "unix:/run/app.sock");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix-domain stream socket path.
    Unix(PathBuf),
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Endpoint {
        Endpoint::Tcp(a)
    }
}

impl From<PathBuf> for Endpoint {
    fn from(p: PathBuf) -> Endpoint {
        Endpoint::Unix(p)
    }
}

impl From<&Path> for Endpoint {
    fn from(p: &Path) -> Endpoint {
        Endpoint::Unix(p.to_path_buf())
    }
}

impl Endpoint {
    /// The TCP address, if this is one.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            Endpoint::Tcp(a) => Some(*a),
            Endpoint::Unix(_) => None,
        }
    }

    /// The Unix socket path, if this is one.
    pub fn unix(&self) -> Option<&Path> {
        match self {
            Endpoint::Tcp(_) => None,
            Endpoint::Unix(p) => Some(p),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "{a}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// The success event's argument: the new stream, the peer's address and
/// the wheel's id. It is the same struct [`ListenAccept`] sends, so one
/// handler can serve both (the [`SocketFactory`] example does).
pub type Connected<S, A> = Accepted<S, A>;

/// [`Connected`] for TCP: take it with `ctx.take_arg::<TcpConnected>()`
/// (see the [module example](self)).
pub type TcpConnected = Connected<mio::net::TcpStream, SocketAddr>;

/// [`Connected`] for a Unix-domain socket: take it with
/// `ctx.take_arg::<UnixConnected>()`.
pub type UnixConnected = Connected<mio::net::UnixStream, std::os::unix::net::SocketAddr>;

/// Configures a [`SocketFactory`]; made by [`SocketFactory::connect`] or
/// [`SocketFactory::listen`].
///
/// A failure while making the socket arrives as an event, like a failure
/// to connect; here the port is taken:
///
/// ```
/// use rpoe::wheel::{SocketFactory, WheelError};
/// use rpoe::{Kernel, Session};
///
/// let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = taken.local_addr().unwrap();
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(None::<SocketFactory>)
///         .on("_start", move |ctx| {
///             let f = SocketFactory::listen(addr)
///                 .on_success("accepted")
///                 .on_failure("failed")
///                 .start(ctx)
///                 .unwrap(); // Ok: the failure is posted, not returned
///             assert!(!f.is_listening());
///             *ctx.heap() = Some(f);
///         })
///         .on("failed", |ctx| {
///             let e = ctx.take_arg::<WheelError>().unwrap();
///             assert_eq!(e.op, "bind"); // EADDRINUSE
///             *ctx.heap() = None;
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until it is started (or spawned)"]
pub struct SocketFactoryBuilder {
    endpoint: Endpoint,
    listen: bool,
    bind: Option<SocketAddr>,
    reuse_address: Option<bool>,
    only_v6: Option<bool>,
    backlog: i32,
    on_success: Option<String>,
    on_failure: Option<String>,
}

impl SocketFactoryBuilder {
    /// Name the success event: a [`Connected`] per connection. Needed in
    /// listen mode, where connections accepted without it are closed.
    pub fn on_success(mut self, event: &str) -> Self {
        self.on_success = Some(event.to_string());
        self
    }

    /// Name the failure event: a [`WheelError`] whose op is `"socket"`,
    /// `"bind"`, `"listen"`, `"connect"` or `"accept"`.
    pub fn on_failure(mut self, event: &str) -> Self {
        self.on_failure = Some(event.to_string());
        self
    }

    /// Connect mode: bind the socket to this local address before
    /// connecting (POE's `BindAddress` / `BindPort`). Ignored in listen
    /// mode and for Unix sockets.
    pub fn bind(mut self, local: SocketAddr) -> Self {
        self.bind = Some(local);
        self
    }

    /// Set `SO_REUSEADDR` (POE's `Reuse`). Default: on when listening,
    /// off when connecting.
    pub fn reuse_address(mut self, reuse: bool) -> Self {
        self.reuse_address = Some(reuse);
        self
    }

    /// For an IPv6 address: accept or refuse IPv4-mapped traffic
    /// (`IPV6_V6ONLY`). Default: the system's.
    pub fn only_v6(mut self, only: bool) -> Self {
        self.only_v6 = Some(only);
        self
    }

    /// Listen mode: the length of the queue of connections not yet
    /// accepted (POE's `ListenQueue`). Default 1024.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog;
        self
    }

    /// Create the socket and start connecting (or listening) on behalf of
    /// the running session. Failures of the socket itself arrive as the
    /// failure event; this returns an error only if the kernel cannot
    /// watch the socket.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] if the kernel cannot watch the socket. Failures
    /// of the socket itself (cannot be created, bound, connected) arrive as the
    /// failure event instead.
    pub fn start<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<SocketFactory, crate::Error> {
        if self.listen {
            self.start_listen(ctx)
        } else {
            self.start_connect(ctx)
        }
    }

    fn start_connect<H: 'static>(
        self,
        ctx: &mut Ctx<'_, H>,
    ) -> Result<SocketFactory, crate::Error> {
        let id = WheelId::next();
        let made = match &self.endpoint {
            Endpoint::Tcp(addr) => self.tcp_socket(*addr).and_then(|sock| {
                begin_connect(&sock, &SockAddr::from(*addr))?;
                let local = sock.local_addr().ok().and_then(|a| a.as_socket());
                let stream = mio::net::TcpStream::from_std(sock.into());
                Ok((Stream::Tcp(stream), local.map(Endpoint::Tcp)))
            }),
            Endpoint::Unix(path) => unix_socket().and_then(|sock| {
                let target = SockAddr::unix(path).map_err(|e| ("connect", e))?;
                begin_connect(&sock, &target)?;
                let stream = mio::net::UnixStream::from_std(OwnedFd::from(sock).into());
                Ok((Stream::Unix(stream), None))
            }),
        };
        let mut factory = SocketFactory {
            id,
            endpoint: self.endpoint.clone(),
            local: None,
            mode: Mode::Idle,
        };
        let (io, local) = match made {
            Ok(m) => m,
            Err((op, e)) => {
                self.post_failure(ctx, WheelError::io(op, &e, id));
                return Ok(factory);
            }
        };
        factory.local = local;
        // Even a connect that finished at once is reported through the
        // writable event, so success always arrives as an event.
        let on_success = self.on_success.as_deref().map(|n| ctx.event_id(n));
        let on_failure = self.on_failure.as_deref().map(|n| ctx.event_id(n));
        let conn = match io {
            Stream::Tcp(s) => Connector::start(ctx, id, s, on_success, on_failure)?,
            Stream::Unix(s) => Connector::start(ctx, id, s, on_success, on_failure)?,
        };
        factory.mode = Mode::Connecting(conn);
        Ok(factory)
    }

    fn start_listen<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<SocketFactory, crate::Error> {
        let on_success = self.on_success.clone().unwrap_or_default();
        let on_failure = self.on_failure.clone().unwrap_or_default();
        let made = match &self.endpoint {
            Endpoint::Tcp(addr) => self.tcp_listener(*addr).map(|l| {
                let local = l.local_addr().ok().map(Endpoint::Tcp);
                (Listener::Tcp(l), local)
            }),
            Endpoint::Unix(path) => self.unix_listener(path).map(|l| {
                let local = l
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(Path::to_path_buf))
                    .map(Endpoint::Unix);
                (Listener::Unix(l), local)
            }),
        };
        let (listener, local) = match made {
            Ok(m) => m,
            Err((op, e)) => {
                let id = WheelId::next();
                self.post_failure(ctx, WheelError::io(op, &e, id));
                return Ok(SocketFactory {
                    id,
                    endpoint: self.endpoint,
                    local: None,
                    mode: Mode::Idle,
                });
            }
        };
        let wheel = match listener {
            Listener::Tcp(l) => ListenAccept::new(ctx, l, &on_success, &on_failure)?,
            Listener::Unix(l) => ListenAccept::new(ctx, l, &on_success, &on_failure)?,
        };
        Ok(SocketFactory {
            id: wheel.id(),
            endpoint: self.endpoint,
            local,
            mode: Mode::Listening(wheel),
        })
    }

    /// A TCP socket for `addr`'s family, non-blocking, options applied,
    /// bound if asked.
    fn tcp_socket(&self, addr: SocketAddr) -> Result<Socket, (&'static str, io::Error)> {
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| ("socket", e))?;
        sock.set_nonblocking(true).map_err(|e| ("socket", e))?;
        let reuse = self.reuse_address.unwrap_or(self.listen);
        if reuse {
            sock.set_reuse_address(true).map_err(|e| ("socket", e))?;
        }
        if let (Some(v6), true) = (self.only_v6, addr.is_ipv6()) {
            sock.set_only_v6(v6).map_err(|e| ("socket", e))?;
        }
        if let Some(local) = self.bind.filter(|_| !self.listen) {
            sock.bind(&local.into()).map_err(|e| ("bind", e))?;
        }
        Ok(sock)
    }

    fn tcp_listener(
        &self,
        addr: SocketAddr,
    ) -> Result<mio::net::TcpListener, (&'static str, io::Error)> {
        let sock = self.tcp_socket(addr)?;
        sock.bind(&addr.into()).map_err(|e| ("bind", e))?;
        sock.listen(self.backlog).map_err(|e| ("listen", e))?;
        Ok(mio::net::TcpListener::from_std(sock.into()))
    }

    fn unix_listener(
        &self,
        path: &Path,
    ) -> Result<mio::net::UnixListener, (&'static str, io::Error)> {
        let sock = unix_socket()?;
        let addr = SockAddr::unix(path).map_err(|e| ("bind", e))?;
        sock.bind(&addr).map_err(|e| ("bind", e))?;
        sock.listen(self.backlog).map_err(|e| ("listen", e))?;
        Ok(mio::net::UnixListener::from_std(OwnedFd::from(sock).into()))
    }

    /// Queue the failure event (a handler is running: post, as POE's
    /// `yield`).
    fn post_failure<H: 'static>(&self, ctx: &mut Ctx<'_, H>, err: WheelError) {
        tracing::debug!(target: "rpoe::socket_factory", endpoint = %self.endpoint, error = %err, "socket setup failed");
        if let Some(ev) = &self.on_failure {
            ctx.yield_event(ev.as_str(), err);
        }
    }
}

enum Listener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

/// A socket whose connect is in progress.
enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

fn unix_socket() -> Result<Socket, (&'static str, io::Error)> {
    let sock = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| ("socket", e))?;
    sock.set_nonblocking(true).map_err(|e| ("socket", e))?;
    Ok(sock)
}

/// Start a non-blocking connect. Finished or in progress, the outcome is
/// read when the socket becomes writable. (`EAGAIN` from a Unix-socket
/// connect means the listener's queue is full: a failure.)
fn begin_connect(sock: &Socket, to: &SockAddr) -> Result<(), (&'static str, io::Error)> {
    match sock.connect(to) {
        Ok(()) => Ok(()),
        Err(e) if in_progress(&e) => Ok(()),
        Err(e) => Err(("connect", e)),
    }
}

/// The connect has not finished yet (`EINPROGRESS` from `connect`,
/// `ENOTCONN` from `getpeername`).
fn in_progress(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotConnected || crate::os::connect_in_progress(e)
}

/// A running socket factory; dropping it closes a socket still connecting
/// or listening. A connected socket, once sent in the success event,
/// belongs to the session. (Connect mode: see the [module
/// documentation](self).)
///
/// Listen mode, on IPv6 and IPv4 at once where the system allows it, and
/// a second factory in connect mode that connects to it over IPv4; both
/// success events go to one handler:
///
/// ```
/// use std::net::SocketAddr;
/// use rpoe::wheel::{Endpoint, SocketFactory, TcpConnected, WheelError};
/// use rpoe::{Kernel, Session};
///
/// #[derive(Default)]
/// struct Heap {
///     listener: Option<SocketFactory>,
///     connector: Option<SocketFactory>,
///     streams: Vec<TcpConnected>,
/// }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Heap::default())
///         .on("_start", |ctx| {
///             let any: SocketAddr = "[::]:0".parse().unwrap();
///             let f = SocketFactory::listen(any)
///                 .only_v6(false)
///                 .backlog(128)
///                 .on_success("connected")
///                 .on_failure("failed")
///                 .start(ctx)
///                 .unwrap();
///             // The port is resolved. (None if the socket could not be
///             // made — say, no IPv6 here: "failed" is on its way.)
///             if let Some(Endpoint::Tcp(a)) = f.local_addr() {
///                 let v4: SocketAddr = ([127, 0, 0, 1], a.port()).into();
///                 let c = SocketFactory::connect(v4)
///                     .on_success("connected")
///                     .on_failure("failed")
///                     .start(ctx)
///                     .unwrap();
///                 ctx.heap().connector = Some(c);
///             }
///             ctx.heap().listener = Some(f);
///         })
///         .on("connected", |ctx| {
///             let c = ctx.take_arg::<TcpConnected>().unwrap(); // c.stream is yours
///             let heap = ctx.heap();
///             heap.streams.push(c);
///             if heap.streams.len() == 2 {
///                 // Both ends of one connection: done.
///                 *heap = Heap::default();
///             }
///         })
///         .on("failed", |ctx| {
///             let e = ctx.take_arg::<WheelError>().unwrap();
///             eprintln!("{e}"); // op "socket", "bind", "listen", "connect" or "accept"
///             *ctx.heap() = Heap::default();
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
#[must_use = "dropping the wheel closes a socket still connecting or listening"]
pub struct SocketFactory {
    id: WheelId,
    endpoint: Endpoint,
    local: Option<Endpoint>,
    mode: Mode,
}

enum Mode {
    /// Connected, failed, or never started: nothing left to do.
    Idle,
    /// The running connector: dropping it stops the connect.
    Connecting(Box<dyn ConnectControl>),
    Listening(ListenAccept),
}

impl fmt::Debug for SocketFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Idle => "idle",
            Mode::Connecting(_) => "connecting",
            Mode::Listening(_) => "listening",
        };
        write!(f, "SocketFactory({}, {mode} {})", self.id, self.endpoint)
    }
}

impl SocketFactory {
    /// A factory that connects to `remote` (a [`SocketAddr`] or a Unix
    /// socket path).
    pub fn connect(remote: impl Into<Endpoint>) -> SocketFactoryBuilder {
        Self::builder(remote.into(), false)
    }

    /// A factory that binds to `local` (port 0 for any free port), listens
    /// and accepts.
    pub fn listen(local: impl Into<Endpoint>) -> SocketFactoryBuilder {
        Self::builder(local.into(), true)
    }

    fn builder(endpoint: Endpoint, listen: bool) -> SocketFactoryBuilder {
        SocketFactoryBuilder {
            endpoint,
            listen,
            bind: None,
            reuse_address: None,
            only_v6: None,
            backlog: DEFAULT_BACKLOG,
            on_success: None,
            on_failure: None,
        }
    }

    /// The wheel's id (the last element of every event it sends).
    pub fn id(&self) -> WheelId {
        self.id
    }

    /// The address given to [`SocketFactory::connect`] or
    /// [`SocketFactory::listen`].
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The socket's own address (POE's `getsockname`): the bound address
    /// with its port resolved when listening, the local address chosen
    /// for a TCP connect. `None` for an unnamed Unix socket or a socket
    /// that could not be made.
    pub fn local_addr(&self) -> Option<&Endpoint> {
        self.local.as_ref()
    }

    /// True in listen mode while the listener is open.
    pub fn is_listening(&self) -> bool {
        matches!(self.mode, Mode::Listening(_))
    }

    /// The accept wheel of listen mode.
    pub fn listener(&self) -> Option<&ListenAccept> {
        match &self.mode {
            Mode::Listening(l) => Some(l),
            _ => None,
        }
    }

    /// Listen mode: stop accepting; connections wait in the backlog.
    pub fn pause_accept(&self) {
        if let Mode::Listening(l) = &self.mode {
            l.pause_accept();
        }
    }

    /// Listen mode: accept again.
    pub fn resume_accept(&self) {
        if let Mode::Listening(l) = &self.mode {
            l.resume_accept();
        }
    }

    /// Rename the success or failure event, or stop sending it (`None`),
    /// from now on (POE's `$wheel->event(SuccessEvent => 'other')`): for
    /// the connect in progress, or for the connections accepted next. A
    /// failure already queued by `start` keeps its name. Takes an interned
    /// name, so the wheel can stay borrowed in the heap:
    /// `let ev = ctx.event_id("other"); ctx.heap().factory.set_event(SocketFactoryEvent::Success, Some(ev));`
    pub fn set_event(&self, which: SocketFactoryEvent, event: Option<EventId>) {
        match &self.mode {
            Mode::Idle => {}
            Mode::Connecting(c) => c.set_event(which, event),
            Mode::Listening(l) => {
                let which = match which {
                    SocketFactoryEvent::Success => ListenAcceptEvent::Accept,
                    SocketFactoryEvent::Failure => ListenAcceptEvent::Error,
                };
                l.set_event(which, event);
            }
        }
    }
}

/// One of the events a [`SocketFactory`] sends, to rename at run time
/// with [`SocketFactory::set_event`] (POE's `$wheel->event(SuccessEvent
/// => ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketFactoryEvent {
    /// A connect finished, or a connection was accepted (POE's
    /// `SuccessEvent`).
    Success,
    /// A socket could not be made, bound, connected or accepted on
    /// (POE's `FailureEvent`).
    Failure,
}

// A ListenAccept closes its listener when dropped, a connector its
// socket.
