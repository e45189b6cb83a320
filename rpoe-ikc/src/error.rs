//! What can go wrong, as values: returned by the calls that check their
//! input, and carried by the error events of what fails later.

use std::time::Duration;

/// Why an IKC operation failed.
///
/// New variants may be added, so a `match` needs a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kernel, alias, event or prefix name breaks the naming rules
    /// ([`crate::check_name`]).
    #[error("invalid {what} name {name:?}: {why}")]
    InvalidName {
        /// Which kind of name.
        what: &'static str,
        /// The name (at most its first 80 characters).
        name: String,
        /// The rule it breaks.
        why: String,
    },
    /// An address is not `kernel/alias/event` (or `*/alias/event`).
    #[error("invalid address {0:?}: expected kernel/alias/event or */alias/event")]
    InvalidAddress(String),
    /// The arguments could not be serialised.
    #[error("cannot serialise the arguments: {0}")]
    Encode(String),
    /// Arguments (or a reply) that arrived could not be deserialised into
    /// the type their receiver declared.
    #[error("cannot deserialise the arguments: {0}")]
    Decode(String),
    /// The message (payload and headers) is larger than the server's
    /// `max_payload`.
    #[error("message of {size} bytes is larger than the server's max_payload of {max} bytes")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The server's limit.
        max: usize,
    },
    /// The outgoing buffer was full (the bus is down or slower than the
    /// posts): the message was dropped, not queued.
    #[error("outgoing buffer full ({messages} messages, {bytes} bytes): message dropped")]
    BufferFull {
        /// Messages buffered.
        messages: usize,
        /// Bytes buffered.
        bytes: usize,
    },
    /// No reply within the call's timeout.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// Nobody subscribes to the address: no kernel published it, or the
    /// session that did has stopped or unpublished, or its kernel is gone.
    #[error("no responders: nobody serves {0}")]
    NoResponders(String),
    /// The remote side answered with an error: it could not decode the
    /// arguments, or its session dropped the call without answering.
    #[error("remote error: {0}")]
    Remote(String),
    /// The connection to the NATS server failed.
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    /// The NATS client refused an operation.
    #[error("NATS: {0}")]
    Nats(String),
    /// Another session of this kernel already published the alias.
    #[error("alias {0:?} is already published in this kernel")]
    AlreadyPublished(String),
    /// The IKC session shut down (or was never started).
    #[error("the IKC session has shut down")]
    Shutdown,
}
