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

use std::io::{self, ErrorKind};
use std::marker::PhantomData;
use std::net::SocketAddr;

use crate::kernel::{
    Ctx, EventId, EventSource, HandleId, IoMode, IoSource, PostAction, SourceCtx, SourceHandle,
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
    ///
    /// # Errors
    ///
    /// `WouldBlock` when no connection is pending; any other error the
    /// OS's `accept` gives (out of descriptors, say).
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
#[must_use = "dropping the wheel closes the listener at once"]
pub struct ListenAccept {
    id: WheelId,
    control: Box<dyn Control>,
}

/// What `ListenAccept` needs of its source, whatever the listener type.
trait Control {
    fn handle(&self) -> Option<HandleId>;
    fn set_paused(&self, paused: bool);
    fn set_event(&self, which: ListenAcceptEvent, event: Option<EventId>);
}

/// One of the events a [`ListenAccept`] sends, to rename at run time with
/// [`ListenAccept::set_event`] (POE's `$wheel->event(AcceptEvent => ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenAcceptEvent {
    /// Each accepted connection (POE's `AcceptEvent`).
    Accept,
    /// A failed accept (POE's `ErrorEvent`).
    Error,
}

impl<L: Acceptor> Control for SourceHandle<AcceptSource<L>> {
    fn handle(&self) -> Option<HandleId> {
        SourceHandle::handle(self)
    }

    fn set_paused(&self, paused: bool) {
        self.defer(move |_, cx| {
            let _ = cx.pause(IoMode::Read, paused);
            PostAction::Continue
        });
    }

    fn set_event(&self, which: ListenAcceptEvent, event: Option<EventId>) {
        let apply = move |src: &mut AcceptSource<L>| match which {
            ListenAcceptEvent::Accept => src.on_accept = event,
            ListenAcceptEvent::Error => src.on_error = event,
        };
        if self.with(apply).is_none() {
            self.defer(move |src, _| {
                apply(src);
                PostAction::Continue
            });
        }
    }
}

/// The wheel's event source: accepts one connection per call, so the
/// session's handler runs between accepts (and can stop them).
struct AcceptSource<L> {
    id: WheelId,
    on_accept: Option<EventId>,
    on_error: Option<EventId>,
    /// Accepts made for the current readiness event.
    accepted: usize,
    _listener: PhantomData<fn() -> L>,
}

impl<L: Acceptor> EventSource for AcceptSource<L> {
    type Io = L;

    fn ready(&mut self, cx: &mut SourceCtx<'_, L>, _mode: IoMode) -> PostAction {
        if self.accepted == ACCEPTS_PER_EVENT {
            // Budget spent: the listener stays ready and fires next round.
            self.accepted = 0;
            return PostAction::Continue;
        }
        loop {
            match cx.io().accept_one() {
                Ok((stream, peer)) => {
                    self.accepted += 1;
                    let wheel = self.id;
                    // Silenced: the connection is dropped, closing it.
                    if let Some(ev) = self.on_accept {
                        cx.emit(
                            ev,
                            Accepted {
                                stream,
                                peer,
                                wheel,
                            },
                        );
                    }
                    return PostAction::Again;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.accepted = 0;
                    return PostAction::Drained;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.accepted = 0;
                    if let Some(ev) = self.on_error {
                        cx.emit(ev, WheelError::io("accept", &e, self.id));
                    }
                    // Let the session decide (pause, retry later) before
                    // trying again: an error like EMFILE would repeat at
                    // once.
                    return PostAction::Continue;
                }
            }
        }
    }
}

impl ListenAccept {
    /// Start accepting on `listener` in the running session: each
    /// connection goes to `on_accept`, failures to `on_error` (`""` for
    /// none).
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if the kernel cannot watch the
    /// listener.
    pub fn new<H: 'static, L: Acceptor>(
        ctx: &mut Ctx<'_, H>,
        listener: L,
        on_accept: &str,
        on_error: &str,
    ) -> Result<ListenAccept, crate::Error> {
        let id = WheelId::next();
        let source = AcceptSource::<L> {
            id,
            on_accept: Some(ctx.event_id(on_accept)),
            on_error: (!on_error.is_empty()).then(|| ctx.event_id(on_error)),
            accepted: 0,
            _listener: PhantomData,
        };
        let handle = ctx.add_source(listener, source)?;
        Ok(ListenAccept {
            id,
            control: Box::new(handle),
        })
    }

    /// The wheel's id.
    pub fn id(&self) -> WheelId {
        self.id
    }

    /// The listener's handle in the kernel (to read its local address with
    /// `ctx.handle::<TcpListener>(h)`).
    pub fn handle(&self) -> Option<HandleId> {
        self.control.handle()
    }

    /// Stop accepting; connections wait in the OS backlog.
    pub fn pause_accept(&self) {
        self.control.set_paused(true);
    }

    /// Accept again.
    pub fn resume_accept(&self) {
        self.control.set_paused(false);
    }

    /// Rename one of the wheel's events from the next connection on, or
    /// stop sending it with `None` (POE's `$wheel->event(AcceptEvent =>
    /// 'other')`). A silenced accept event still accepts each connection
    /// and closes it at once. Takes an interned name, so the wheel can stay
    /// borrowed in the heap:
    /// `let ev = ctx.event_id("other"); ctx.heap().wheel.set_event(ListenAcceptEvent::Accept, Some(ev));`
    pub fn set_event(&self, which: ListenAcceptEvent, event: Option<EventId>) {
        self.control.set_event(which, event);
    }
}
