//! What the IKC tells the kernel's sessions about itself: the argument
//! of the error event ([`Failed`]), of a monitor's event ([`BusEvent`]),
//! and the counters ([`Stats`]). Plain values, so they live apart from the
//! code that produces them.

use crate::Error;
#[cfg(doc)]
use crate::{Config, Ikc};

/// The argument of the [`Config::error_event`]: what failed, and why.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Failed {
    /// The address (`kernel/alias/event`) of a post that failed, or the
    /// published `alias/event` whose incoming message was refused.
    pub to: String,
    /// Why.
    pub error: Error,
}

/// What the bus did: the argument of the event a session chose with
/// [`Ikc::monitor`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusEvent {
    /// The first connection is up.
    Connected,
    /// The connection was lost; the client is reconnecting (outgoing
    /// messages wait in the bounded buffer meanwhile).
    Disconnected,
    /// Connected again after a loss; subscriptions were renewed.
    Reconnected,
    /// A subscription's buffer overflowed and the client dropped
    /// messages (the number is the client's subscription id).
    SlowConsumer(u64),
    /// The server is about to shut down (lame duck mode).
    LameDuck,
    /// The server or the client reported an error.
    Error(String),
    /// The first connection failed; the IKC session has ended.
    ConnectFailed(String),
    /// The IKC session shut down and closed the connection.
    Closed,
}

/// Counters, from [`Ikc::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages handed to the NATS client.
    pub sent: u64,
    /// Messages delivered to published sessions.
    pub delivered: u64,
    /// Messages dropped because the outgoing buffer was full.
    pub dropped_full: u64,
    /// Incoming messages refused because they did not deserialise.
    pub decode_errors: u64,
    /// Slow-consumer reports from the client.
    pub slow_consumer: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Messages not handed to the client yet: those in the outgoing
    /// buffer, and the one being handed over.
    pub pending: usize,
}
