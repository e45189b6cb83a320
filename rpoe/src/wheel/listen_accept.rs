//! [`ListenAccept`]: accept connections on a listening socket (POE's
//! `POE::Wheel::ListenAccept`).
//!
//! Why: accepting is the other half of every server's bookkeeping — watch
//! the listener, accept until the OS says "would block", report `EMFILE`
//! without spinning on it. This wheel does that for a listener you made
//! yourself (any options, any address family);
//! [`SocketFactory`](super::SocketFactory) makes the listener too.
//!
//! Each accepted connection reaches the session's accept event as an
//! [`Accepted`] (take it with `ctx.take_arg::<Accepted<_, _>>()`); a failed
//! accept reaches the error event as a [`WheelError`] with op `"accept"`.
//! At most a bounded number of connections is accepted per readiness event,
//! so a connect storm cannot starve other handles; the listener stays
//! ready and fires again next round.

use std::cell::Cell;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};

use crate::kernel::{
    Core, Ctx, EventId, HandleId, IoMode, IoSource, KPayload, LocalOp, SessionId, SessionKey,
    Target, WheelIo,
};

use super::{WheelError, WheelId};

/// Connections accepted per readiness event.
const ACCEPTS_PER_EVENT: usize = 64;

/// A listening socket the wheel can accept on: implemented for mio's
/// `TcpListener` and `UnixListener`.
///
/// A Unix-domain listener works as a TCP one does; only the stream and
/// address types of [`Accepted`] change:
///
/// ```
/// use mio::net::{UnixListener, UnixStream};
/// use rpoe::wheel::{Accepted, ListenAccept};
/// use rpoe::{Kernel, Session};
///
/// let path = std::env::temp_dir().join(format!("rpoe-doc-accept-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
///
/// struct Heap {
///     wheel: Option<ListenAccept>,
///     client: Option<std::os::unix::net::UnixStream>,
/// }
/// let mut kernel = Kernel::new().unwrap();
/// let p = path.clone();
/// kernel.spawn(
///     Session::new(Heap { wheel: None, client: None })
///         .on("_start", move |ctx| {
///             let listener = UnixListener::bind(&p).unwrap();
///             ctx.heap().wheel = Some(ListenAccept::new(ctx, listener, "accepted", "").unwrap());
///             ctx.heap().client = Some(std::os::unix::net::UnixStream::connect(&p).unwrap());
///         })
///         .on("accepted", |ctx| {
///             let a = ctx
///                 .take_arg::<Accepted<UnixStream, std::os::unix::net::SocketAddr>>()
///                 .unwrap();
///             assert!(a.peer.is_unnamed()); // the client did not bind a path
///             ctx.heap().wheel = None;
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
pub trait Acceptor: IoSource {
    /// The connected stream type.
    type Stream: 'static;
    /// The peer address type.
    type Addr: 'static;
    /// Accept one pending connection (non-blocking).
    fn accept_one(&self) -> io::Result<(Self::Stream, Self::Addr)>;
}

impl Acceptor for mio::net::TcpListener {
    type Stream = mio::net::TcpStream;
    type Addr = SocketAddr;
    fn accept_one(&self) -> io::Result<(Self::Stream, Self::Addr)> {
        self.accept()
    }
}

impl Acceptor for mio::net::UnixListener {
    type Stream = mio::net::UnixStream;
    type Addr = std::os::unix::net::SocketAddr;
    fn accept_one(&self) -> io::Result<(Self::Stream, Self::Addr)> {
        self.accept()
    }
}

/// The argument of the accept event (POE's socket, peer address, wheel id),
/// taken with `ctx.take_arg::<Accepted<S, A>>()`: for TCP
/// `Accepted<mio::net::TcpStream, std::net::SocketAddr>` (also named
/// [`TcpConnected`](super::TcpConnected)). The stream is yours: start a
/// [`ReadWrite`](super::ReadWrite) on it, or post it to another session.
/// See the [`ListenAccept`] example.
pub struct Accepted<S, A> {
    /// The new connection, non-blocking.
    pub stream: S,
    /// The peer's address.
    pub peer: A,
    /// The wheel that accepted it.
    pub wheel: WheelId,
}

/// A running accept wheel; dropping it closes the listener.
///
/// ```
/// use std::net::SocketAddr;
/// use mio::net::{TcpListener, TcpStream};
/// use rpoe::wheel::{Accepted, ListenAccept, WheelError};
/// use rpoe::{Kernel, Session};
///
/// struct Heap {
///     wheel: Option<ListenAccept>,
///     client: Option<std::net::TcpStream>,
/// }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Heap { wheel: None, client: None })
///         .on("_start", |ctx| {
///             let l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///             let wheel = ListenAccept::new(ctx, l, "accepted", "accept_error").unwrap();
///             // The listener now belongs to the kernel; borrow it by handle.
///             let h = wheel.handle().unwrap();
///             let addr = ctx.handle::<TcpListener>(h).unwrap().local_addr().unwrap();
///             ctx.heap().wheel = Some(wheel);
///             // Someone connects (to loopback, a blocking connect is quick).
///             ctx.heap().client = Some(std::net::TcpStream::connect(addr).unwrap());
///         })
///         .on("accepted", |ctx| {
///             let a = ctx.take_arg::<Accepted<TcpStream, SocketAddr>>().unwrap();
///             let client = ctx.heap().client.as_ref().unwrap();
///             assert_eq!(a.peer, client.local_addr().unwrap());
///             // a.stream is the connection: start a ReadWrite on it, or
///             // post it to a session of its own. One is enough here:
///             ctx.heap().wheel = None; // stop listening
///         })
///         .on("accept_error", |ctx| {
///             let e = ctx.take_arg::<WheelError>().unwrap();
///             eprintln!("{e}"); // EMFILE: pause_accept, retry after a delay
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
pub struct ListenAccept {
    inner: Rc<Inner>,
}

struct Inner {
    me: Weak<Inner>,
    id: WheelId,
    owner: SessionKey,
    owner_id: SessionId,
    handle: Cell<Option<HandleId>>,
    on_accept: EventId,
    on_error: Option<EventId>,
    local: Rc<crate::kernel::LocalQueue>,
    accept: AcceptFn,
}

/// Accepts one connection on the wheel's listener, as an event payload;
/// `None` if the listener is gone.
type AcceptFn = Box<dyn Fn(&mut Core, HandleId) -> Option<io::Result<KPayload>>>;

impl ListenAccept {
    /// Start accepting on `listener` in the running session: each
    /// connection goes to `on_accept`, failures to `on_error` (`""` for
    /// none).
    pub fn new<H: 'static, L: Acceptor>(
        ctx: &mut Ctx<'_, H>,
        listener: L,
        on_accept: &str,
        on_error: &str,
    ) -> Result<ListenAccept, crate::Error> {
        let id = WheelId::next();
        let owner = ctx.frame.key;
        let owner_id = ctx.frame.id;
        let on_accept = ctx.core.names.intern(on_accept);
        let on_error = (!on_error.is_empty()).then(|| ctx.core.names.intern(on_error));
        let handle = ctx.core.add_handle(owner, Box::new(listener));
        let accept = Box::new(move |core: &mut Core, h: HandleId| {
            let l = core
                .handles
                .get_mut(h)
                .and_then(|e| (*e.io).as_any_mut().downcast_mut::<L>())?;
            Some(l.accept_one().map(|(stream, peer)| {
                KPayload::new(Accepted {
                    stream,
                    peer,
                    wheel: id,
                })
            }))
        });
        let inner = Rc::new_cyclic(|me| Inner {
            me: me.clone(),
            id,
            owner,
            owner_id,
            handle: Cell::new(Some(handle)),
            on_accept,
            on_error,
            local: ctx.core.local.clone(),
            accept,
        });
        ctx.core.set_target(
            owner,
            handle,
            IoMode::Read,
            Some(Target::Wheel(inner.clone())),
        )?;
        Ok(ListenAccept { inner })
    }

    /// The wheel's id.
    pub fn id(&self) -> WheelId {
        self.inner.id
    }

    /// The listener's handle in the kernel (to read its local address with
    /// `ctx.handle::<TcpListener>(h)`).
    pub fn handle(&self) -> Option<HandleId> {
        self.inner.handle.get()
    }

    /// Stop accepting; connections wait in the OS backlog.
    pub fn pause_accept(&self) {
        self.set_paused(true);
    }

    /// Accept again.
    pub fn resume_accept(&self) {
        self.set_paused(false);
    }

    fn set_paused(&self, paused: bool) {
        let (owner, Some(h)) = (self.inner.owner, self.inner.handle.get()) else {
            return;
        };
        self.inner
            .local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(move |core: &mut Core| {
                let _ = core.pause_watcher(owner, h, IoMode::Read, paused);
            })));
    }
}

impl Drop for ListenAccept {
    fn drop(&mut self) {
        let (owner, Some(h)) = (self.inner.owner, self.inner.handle.take()) else {
            return;
        };
        self.inner
            .local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(move |core: &mut Core| {
                let _ = core.remove_handle(owner, h);
            })));
    }
}

impl WheelIo for Inner {
    fn ready(&self, core: &mut Core, handle: HandleId, _mode: IoMode) {
        let _keep = self.me.upgrade();
        for _ in 0..ACCEPTS_PER_EVENT {
            if self.handle.get() != Some(handle) {
                return;
            }
            let (event, payload) = match (self.accept)(core, handle) {
                None => return,
                Some(Ok(p)) => (self.on_accept, p),
                Some(Err(e)) if e.kind() == ErrorKind::WouldBlock => {
                    core.handles.drained(handle, IoMode::Read);
                    return;
                }
                Some(Err(e)) if e.kind() == ErrorKind::Interrupted => continue,
                Some(Err(e)) => {
                    let Some(ev) = self.on_error else {
                        return;
                    };
                    let err = WheelError::io("accept", &e, self.id);
                    (ev, KPayload::new(err))
                }
            };
            let is_error = event != self.on_accept;
            core.wheel_event(self.owner, self.owner_id, event, payload);
            if is_error {
                // Let the session decide (pause, retry later) before trying
                // again: an error like EMFILE would repeat at once.
                return;
            }
        }
    }
}
