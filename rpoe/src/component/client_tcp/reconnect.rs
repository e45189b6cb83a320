//! The reconnect policy: how long the client waits before it connects
//! again ([`Backoff`], with jitter), and when that wait starts over.
//!
//! Why a file of its own: the policy is what keeps a client from
//! hammering a server that is down or full, and from giving up on one
//! for good; its rules are few but easy to get subtly wrong (a delay that
//! starts over on every connect, clients that all come back in the same
//! instant), so they are kept together, apart from the session's
//! mechanics in `session.rs`.

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use super::session::remove_aliases;
use super::{ClientTcp, Connection, EV_RETRY};
use crate::filter::Filter;
use crate::kernel::{Ctx, Time};

/// How long a connection must last before the reconnect delay starts over
/// from `initial` (see [`ClientTcp::reconnect_reset_after`]).
pub const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(1);

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
    fn spread(&mut self, delay: Duration) -> Duration {
        let half = u64::try_from(delay.as_nanos() / 2).unwrap_or(u64::MAX);
        if half == 0 {
            return delay;
        }
        delay + Duration::from_nanos(self.next() % half)
    }
}

impl<F: Filter + Clone + 'static, U: 'static> ClientTcp<F, U>
where
    F::Record: 'static,
{
    /// A connection is ending: only one that lasted
    /// [`reconnect_reset_after`](ClientTcp::reconnect_reset_after) starts
    /// the backoff over; a shorter one leaves the delay doubling.
    pub(super) fn connection_ends(&self, c: &mut Connection<F::Record, U>, now: Time) {
        if let Some(at) = c.connected_at.take() {
            if now.saturating_since(at) >= self.reset_after {
                c.next_delay = None;
            }
        }
    }

    /// No connection and no attempt: schedule the next one, or let the
    /// session end.
    pub(super) fn after_loss(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
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
}
