//! Wheels: buffered I/O state machines that plug into a session and send
//! it events named by the user (POE's `POE::Wheel::*`).
//!
//! A wheel is created inside a handler, keeps its handle in the kernel on
//! behalf of that session (so the session stays alive while the wheel
//! exists), runs its own I/O code when the handle is ready, and calls the
//! session's handlers with the results — each event carrying the wheel's
//! [`WheelId`], as POE's do. Dropping the wheel (removing it from the
//! heap) closes everything it owns.

use std::cell::Cell;
use std::fmt;

pub mod follow_tail;
pub mod listen_accept;
pub mod read_write;
pub mod run;
pub mod socket_factory;

pub use follow_tail::{FollowTail, FollowTailBuilder};
pub use listen_accept::{Accepted, Acceptor, ListenAccept};
pub use read_write::{ReadWrite, ReadWriteBuilder};
pub use run::{Run, RunBuilder, RunError, RunStream};
pub use socket_factory::{
    Connected, Endpoint, SocketFactory, SocketFactoryBuilder, TcpConnected, UnixConnected,
};

/// Identifies a wheel. Unique within a thread for the thread's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WheelId(pub(crate) u64);

impl WheelId {
    pub(crate) fn next() -> WheelId {
        thread_local! {
            static NEXT: Cell<u64> = const { Cell::new(1) };
        }
        NEXT.with(|n| {
            let id = n.get();
            n.set(id + 1);
            WheelId(id)
        })
    }

    /// The wheel's number.
    pub fn number(self) -> u64 {
        self.0
    }
}

impl fmt::Display for WheelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wheel {}", self.0)
    }
}

/// The argument of a wheel's error event (POE's `ErrorEvent` arguments:
/// operation, errno, message, wheel id). End of file is a `"read"` error
/// with errno 0 and an empty message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelError {
    /// What failed: `"read"`, `"write"`, `"accept"`, `"connect"`, `"get"`
    /// (a filter refused the input), ...
    pub op: &'static str,
    /// The OS error number, 0 for end of file.
    pub errno: i32,
    /// The error's text, empty for end of file.
    pub message: String,
    /// The wheel that failed.
    pub wheel: WheelId,
}

impl WheelError {
    /// True for the end-of-file "error".
    pub fn is_eof(&self) -> bool {
        self.op == "read" && self.errno == 0
    }

    pub(crate) fn io(op: &'static str, e: &std::io::Error, wheel: WheelId) -> WheelError {
        WheelError {
            op,
            errno: e.raw_os_error().unwrap_or(-1),
            message: e.to_string(),
            wheel,
        }
    }
}

impl fmt::Display for WheelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_eof() {
            write!(f, "{}: end of file", self.wheel)
        } else {
            write!(f, "{}: {} failed: {}", self.wheel, self.op, self.message)
        }
    }
}
