//! The listening session: its heap, [`ServerListener`], and its handlers,
//! which accept connections and start a session for each.
//!
//! Why a file of its own: the listener applies the server-wide policies
//! (the connection limit, pausing accepts when out of file descriptors,
//! `"shutdown"`), and runs the user's listener-side code (`started`,
//! `listener_args`, `listener_on`); none of that concerns a single
//! connection, which is `connection.rs`'s.

use std::any::Any;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};

use crate::kernel::{Ctx, Session};
use crate::wheel::{Accepted, ListenAccept, WheelError};

/// Starts the session of one accepted connection.
pub(super) type SpawnClient = Rc<dyn Fn(&mut Ctx<'_, ServerListener>, TcpStream, SocketAddr)>;
/// A handler added with [`ServerTcp::listener_on`](super::ServerTcp::listener_on).
pub(super) type ListenerHook = Rc<dyn Fn(&mut Ctx<'_, ServerListener>)>;
/// The [`ServerTcp::started`](super::ServerTcp::started) callback.
pub(super) type StartedHook = Rc<dyn Fn(&mut Ctx<'_, ServerListener>, SocketAddr)>;

/// The listener's own handlers, which `listener_on` may not replace.
const LISTENER_OWN: [&str; 5] = [
    "_start",
    "accepted",
    "accept_error",
    "resume_accept",
    "shutdown",
];

/// The listening session's heap (POE's listener session, whose heap
/// `ListenerArgs`, `Started` and `InlineStates`-for-the-listener reach):
/// handed to [`ServerTcp::started`](super::ServerTcp::started) and [`ServerTcp::listener_on`](super::ServerTcp::listener_on)
/// handlers. The accepting machinery stays private; your part is the
/// bound addresses, the connection count and the value given to
/// [`ServerTcp::listener_args`](super::ServerTcp::listener_args).
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

    /// The value given to [`ServerTcp::listener_args`](super::ServerTcp::listener_args), if it is a `T`.
    pub fn args<T: Any>(&mut self) -> Option<&mut T> {
        self.args.as_mut()?.downcast_mut()
    }
}

/// What the listening session is made from: the bound sockets and what
/// the builder configured for the listener side.
pub(super) struct Listening {
    /// The bound sockets, watched once the session starts.
    pub(super) listeners: Vec<TcpListener>,
    /// Their addresses, ports resolved.
    pub(super) addrs: Vec<SocketAddr>,
    pub(super) alias: Option<String>,
    /// The connection limit.
    pub(super) max: usize,
    /// Open connections, shared with the connection sessions, which
    /// count themselves out.
    pub(super) clients: Rc<Cell<usize>>,
    /// How long accepting pauses when out of file descriptors.
    pub(super) emfile_pause: Duration,
    pub(super) started: Option<StartedHook>,
    pub(super) args: Option<Box<dyn Any>>,
    pub(super) handlers: Vec<(String, ListenerHook)>,
    pub(super) spawn_client: SpawnClient,
}

impl Listening {
    /// The listening session, ready to spawn.
    pub(super) fn session(self) -> Session<ServerListener> {
        let first = self.addrs.first().copied();
        let heap = ServerListener {
            pending: self.listeners,
            wheels: Vec::new(),
            clients: self.clients,
            max: self.max,
            addrs: self.addrs,
            args: self.args,
        };
        let alias = self.alias;
        let started = self.started;
        let emfile_pause = self.emfile_pause;
        let spawn_client = self.spawn_client;
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
                spawn_client(ctx, a.stream, a.peer);
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
        for (event, f) in self.handlers {
            if LISTENER_OWN.contains(&event.as_str()) {
                tracing::warn!(target: "rpoe::server_tcp", event = %event, "listener_on cannot replace the listener's own handler; ignored");
                continue;
            }
            session = session.on(&event, move |ctx| f(ctx));
        }
        session
    }
}
