//! [`Client`], the heap of one connection's session: the part of a
//! connection the callbacks see.
//!
//! Why a file of its own: this is the connection as user code knows it
//! (`put`, `shutdown`, the peer's address, its state); the handlers that
//! drive it live in `connection.rs`, and the flags they share with it are
//! explained here, next to the fields.

use std::net::SocketAddr;

use crate::filter::FilterError;
use crate::kernel::EventId;
use crate::wheel::{ReadWrite, ReadWriteEvent};

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
    pub(super) wheel: Option<ReadWrite<R>>,
    /// The peer's address.
    pub remote: SocketAddr,
    /// Your per-connection state.
    pub state: U,
    pub(super) shutdown: bool,
    pub(super) paused: bool,
    /// `on_disconnected` has run.
    pub(super) gone: bool,
    /// Set while `on_input` runs: still set afterwards means it failed,
    /// and the records the wheel delivers before the DIE signal arrives
    /// are dropped (the state they would meet is half-updated).
    pub(super) in_input: bool,
    /// A handler failed: the DIE watcher has closed the connection.
    pub(super) failed: bool,
    /// The wheel's flushed event, not yet switched on. Without an
    /// `on_flushed` callback the wheel starts without one, so that it
    /// writes a reply in the round it was put (a wheel reporting flushes
    /// writes on the next writable readiness, as POE's does); it is
    /// switched on only when [`Client::shutdown`] must wait for the
    /// output to drain.
    pub(super) flushed_off: Option<EventId>,
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
    /// [`ServerTcp::on_flushed`](super::ServerTcp::on_flushed) or while a shutdown waits for output;
    /// mind both before renaming its events.
    pub fn wheel(&self) -> Option<&ReadWrite<R>> {
        self.wheel.as_ref()
    }
}
