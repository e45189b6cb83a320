//! The client session's heap, [`Connection`], and the reconnect
//! [`Backoff`].

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use crate::kernel::Time;

use crate::filter::FilterError;
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

/// How long to wait before connecting again: `initial`, doubling after
/// each further failure up to `max`, each wait lengthened by a random
/// part of up to half of it. Set with
/// [`ClientTcp::reconnect`](super::ClientTcp::reconnect); see there for
/// when it starts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

/// A tiny xorshift64* generator for reconnect jitter: not cryptographic,
/// just different per client, so that clients cut off together do not
/// come back in lockstep. Seeded from std's `RandomState` (random keys
/// per process, a fresh one per call) mixed with the time and the
/// server's address; no dependency needed for that.
pub(super) struct Jitter(u64);

impl Jitter {
    pub(super) fn new(remote: SocketAddr) -> Jitter {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write(remote.to_string().as_bytes());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        h.write_u64(nanos ^ u64::from(std::process::id()));
        // xorshift must not start at zero.
        Jitter(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `delay` plus a random part of up to half of it: never shorter than
    /// the nominal delay, so `initial` stays a minimum.
    pub(super) fn spread(&mut self, delay: Duration) -> Duration {
        let half = u64::try_from(delay.as_nanos() / 2).unwrap_or(u64::MAX);
        if half == 0 {
            return delay;
        }
        delay + Duration::from_nanos(self.next() % half)
    }
}
