//! A connected client's record and the words for its life: the
//! [`Phase`] it is in, the [`Reason`] the server closes it for, and the
//! [`End`] that finally closes its socket (see the parent module's docs
//! for the phases).

use std::net::SocketAddr;

use rpoe::{HandleId, Time};

use crate::conn::Conn;
use crate::metrics::Closed;

/// Why the server closes a connection the client may still be sending on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    LineTooLong,
    IdleTimeout,
    LineTimeout,
    SendTimeout,
    Evicted,
    OverBudget,
    Shutdown,
}

impl Reason {
    pub(super) const COUNT: usize = 7;

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Reason::LineTooLong => "line too long",
            Reason::IdleTimeout => "idle timeout",
            Reason::LineTimeout => "line timeout",
            Reason::SendTimeout => "send timeout",
            Reason::Evicted => "evicted",
            Reason::OverBudget => "over budget",
            Reason::Shutdown => "shutdown",
        }
    }

    /// How the connection counts once closed.
    pub(super) fn closed(self) -> Closed {
        match self {
            Reason::LineTooLong => Closed::LineTooLong,
            Reason::IdleTimeout => Closed::IdleTimeout,
            Reason::LineTimeout => Closed::LineTimeout,
            Reason::SendTimeout => Closed::SendTimeout,
            Reason::Evicted => Closed::Evicted,
            Reason::OverBudget => Closed::OverBudget,
            Reason::Shutdown => Closed::Shutdown,
        }
    }

    /// The pending output is dropped rather than written: the client does
    /// not read it (send timeout), or the slot or the memory is needed now.
    pub(super) fn drops_output(self) -> bool {
        matches!(
            self,
            Reason::SendTimeout | Reason::Evicted | Reason::OverBudget
        )
    }
}

/// Where a connection is in its life (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Open,
    Finishing,
    Closing(Reason),
    Lingering(Reason),
}

/// What finally closes a socket (the `detail` of the close log line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Finishing (the client sent EOF) and the output is flushed.
    Eof,
    ReadError,
    WriteError,
    /// Shutting the write side failed: the peer is gone.
    WriteSideGone,
    /// The client closed while we lingered.
    ClientClosed,
    LingerOver,
    TooManyLingering,
    DiscardLimit,
    ShutdownTimeout,
}

impl End {
    pub(super) fn detail(self) -> &'static str {
        match self {
            End::Eof => "input finished and output flushed",
            End::ReadError => "read error",
            End::WriteError => "write error",
            End::WriteSideGone => "write side already gone",
            End::ClientClosed => "client closed while lingering",
            End::LingerOver => "linger time over",
            End::TooManyLingering => "too many lingering connections",
            End::DiscardLimit => "discarded too much input while closing",
            End::ShutdownTimeout => "shutdown timeout",
        }
    }

    /// How a connection the server had not begun to close counts. The
    /// lingering-only ends cannot happen without a server reason (which
    /// then counts instead); they map to their nearest client-side cause.
    pub(super) fn closed(self) -> Closed {
        match self {
            End::Eof | End::ClientClosed | End::LingerOver | End::TooManyLingering => Closed::Eof,
            End::ReadError | End::DiscardLimit => Closed::ReadError,
            End::WriteError | End::WriteSideGone => Closed::WriteError,
            End::ShutdownTimeout => Closed::ShutdownTimeout,
        }
    }
}

/// A connected client: its handle, its buffers and its phase.
pub(super) struct Client {
    pub(super) h: HandleId,
    pub(super) conn: Conn,
    pub(super) phase: Phase,
    /// The read watcher is off for good (Finishing).
    pub(super) read_off: bool,
    /// Input thrown away since closing began.
    pub(super) discarded: usize,
    /// For the close log line.
    pub(super) peer: SocketAddr,
    pub(super) since: Time,
    pub(super) received: u64,
    /// Why the server began closing it, if it did (kept when the client's
    /// EOF then turns Closing into Finishing).
    pub(super) reason: Option<Reason>,
}
