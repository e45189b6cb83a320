//! The client session's heap, [`Connection`]: the part of the client
//! the callbacks see.
//!
//! Why a file of its own: this is the connection as user code knows it
//! (`put`, `shutdown`, `state`, the addresses), and the flags the
//! session's handlers (`session.rs`) and the reconnect policy
//! (`reconnect.rs`) keep in it are explained here, next to the fields.

use std::net::SocketAddr;
use std::time::Duration;

use super::reconnect::Jitter;
use crate::filter::FilterError;
use crate::kernel::Time;
use crate::wheel::{ReadWrite, SocketFactory, WheelId};

/// The client session's heap: what the callbacks reach with
/// `ctx.heap()` (POE's client heap with its `server` wheel and
/// `connected` / `shutdown` members). It lives as long as the session,
/// across reconnections; the examples on [`ClientTcp`](super::ClientTcp) and in the
/// [module documentation](super) use its `state`, [`put`](Connection::put)
/// and [`shutdown`](Connection::shutdown).
pub struct Connection<R: 'static, U> {
    pub(super) wheel: Option<ReadWrite<R>>,
    pub(super) factory: Option<SocketFactory>,
    pub(super) remote: SocketAddr,
    pub(super) local: Option<SocketAddr>,
    /// Your state, kept across connections.
    pub state: U,
    pub(super) connected: bool,
    /// Close once the output buffer is empty.
    pub(super) closing: bool,
    /// Shutdown requested (by the heap method or the event) ...
    pub(super) shutdown: bool,
    /// ... and carried out.
    pub(super) shut: bool,
    pub(super) failures: u32,
    /// The next reconnect delay before jitter; `None`: start at `initial`.
    pub(super) next_delay: Option<Duration>,
    /// When the current connection was made.
    pub(super) connected_at: Option<Time>,
    /// Jitter source.
    pub(super) rng: Jitter,
}

impl<R: 'static, U> Connection<R, U> {
    /// Send a record to the server (queued; written when the handler
    /// returns and as the socket allows). Ignored while not connected.
    ///
    /// # Errors
    ///
    /// [`FilterError`] if the filter cannot encode `record`.
    pub fn put(&self, record: &R) -> Result<(), FilterError> {
        match (&self.wheel, self.closing) {
            (Some(w), false) => w.put(record).map(drop),
            _ => Ok(()),
        }
    }

    /// Stop: no more reconnecting; close the connection once everything
    /// put so far is written (POE's `yield "shutdown"`). Takes effect when
    /// the running callback returns.
    pub fn shutdown(&mut self) {
        self.shutdown = true;
    }

    /// True between `on_connected` and `on_disconnected`.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The server's address.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// The local address of the current connection.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local.filter(|_| self.connected)
    }

    /// Failed connect attempts since the last successful one.
    pub fn failed_attempts(&self) -> u32 {
        self.failures
    }

    /// Is `wheel` the connect attempt in progress?
    pub(super) fn is_current(&self, wheel: WheelId) -> bool {
        self.factory.as_ref().map(SocketFactory::id) == Some(wheel)
    }

    /// The connection's wheel, while connected.
    pub fn wheel(&self) -> Option<&ReadWrite<R>> {
        self.wheel.as_ref()
    }
}
