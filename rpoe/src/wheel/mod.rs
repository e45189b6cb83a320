//! Wheels: buffered I/O state machines that plug into a session and send
//! it events named by the user (POE's `POE::Wheel::*`).
//!
//! Why: with bare I/O watchers every session repeats the same bookkeeping
//! — read until the socket would block, keep the partial record, queue
//! output, turn the write watcher on while output is pending and off when
//! it drains, notice end of file. (`examples/seed_server.rs` does it by
//! hand, as the POE tutorial's second stage does.) A wheel is that
//! bookkeeping packaged once, so a handler sees only whole records and
//! writes with one `put`; it is the tutorial's third stage
//! (`examples/wheels_server.rs`).
//!
//! A wheel is created inside a handler, keeps its handle in the kernel on
//! behalf of that session (so the session stays alive while the wheel
//! exists), runs its own I/O code when the handle is ready, and calls the
//! session's handlers with the results — each event carrying the wheel's
//! [`WheelId`], as POE's do. Dropping the wheel (removing it from the
//! heap) closes everything it owns.
//!
//! | wheel | does | POE |
//! |---|---|---|
//! | [`ReadWrite`] | filtered, buffered reading and writing of one stream | `POE::Wheel::ReadWrite` |
//! | [`ListenAccept`] | accepts connections on a listener you made | `POE::Wheel::ListenAccept` |
//! | [`SocketFactory`] | connects, or binds + listens + accepts, without blocking | `POE::Wheel::SocketFactory` |
//! | [`FollowTail`] | follows a growing, rotating file by name | `POE::Wheel::FollowTail` |
//! | [`Run`] | a child process with its stdin, stdout and stderr as records | `POE::Wheel::Run` |
//!
//! Differences from POE's wheels, all on purpose: event arguments are
//! typed values — `(record, WheelId)` for input, a [`WheelError`] for
//! errors, the `WheelId` alone for flushed / close / reset — read with
//! `ctx.take_arg::<T>()`; events are named once, when the wheel is made
//! (there is no `event()` to rename them later); and a POE driver
//! (`POE::Driver::SysRW`) is not a separate object, its reading and
//! writing being part of each wheel.

use std::cell::Cell;
use std::fmt;

pub mod follow_tail;
mod in_buf;
pub mod listen_accept;
mod out_buf;
pub mod read_write;
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub mod run;
pub mod socket_factory;

pub use follow_tail::{FollowTail, FollowTailBuilder, FollowTailEvent};
pub use listen_accept::{Accepted, Acceptor, ListenAccept, ListenAcceptEvent};
pub use read_write::{ReadWrite, ReadWriteBuilder, ReadWriteEvent};
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub use run::{Run, RunBuilder, RunError, RunEvent, RunStream};
pub use socket_factory::{
    Connected, Endpoint, SocketFactory, SocketFactoryBuilder, SocketFactoryEvent, TcpConnected,
    UnixConnected,
};

/// Identifies a wheel. Unique within a thread for the thread's life.
///
/// Every event a wheel sends carries its id, so one session can run many
/// wheels and tell their events apart — POE's `$heap->{wheels}{$wheel->ID}`
/// idiom:
///
/// ```
/// use std::collections::HashMap;
/// use std::io::Write;
/// use mio::net::UnixStream;
/// use rpoe::filter::Line;
/// use rpoe::wheel::{ReadWrite, WheelError, WheelId};
/// use rpoe::{Kernel, Session};
///
/// type Wheels = HashMap<WheelId, ReadWrite<Vec<u8>>>;
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Wheels::new())
///         .on("_start", |ctx| {
///             for greeting in ["one", "two"] {
///                 // Stand-ins for two connections: each peer says one
///                 // line and hangs up.
///                 let (near, mut far) = UnixStream::pair().unwrap();
///                 far.write_all(format!("{greeting}\n").as_bytes()).unwrap();
///                 drop(far);
///                 let wheel = ReadWrite::builder(near, Line::new())
///                     .on_input("input")
///                     .on_error("error")
///                     .start(ctx)
///                     .unwrap();
///                 ctx.heap().insert(wheel.id(), wheel);
///             }
///         })
///         .on("input", |ctx| {
///             let (line, id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///             assert!(ctx.heap().contains_key(&id));
///             println!("{id} said {}", String::from_utf8_lossy(&line));
///         })
///         .on("error", |ctx| {
///             let e = ctx.take_arg::<WheelError>().unwrap();
///             ctx.heap().remove(&e.wheel); // that connection only
///         })
///         .on("_stop", |ctx| assert!(ctx.heap().is_empty())),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WheelId(pub(crate) u64);

impl WheelId {
    /// A fresh id, never returned before on this thread: for wheels
    /// written outside this crate (see [`crate::kernel::EventSource`]),
    /// so their events carry ids of the same kind as the built-in ones.
    #[allow(clippy::should_implement_trait)]
    pub fn next() -> WheelId {
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
///
/// ```
/// use mio::net::UnixStream;
/// use rpoe::filter::Line;
/// use rpoe::wheel::{ReadWrite, WheelError};
/// use rpoe::{Kernel, Session};
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(None::<ReadWrite<Vec<u8>>>)
///         .on("_start", |ctx| {
///             let (near, far) = UnixStream::pair().unwrap();
///             drop(far); // the peer hangs up at once
///             let wheel = ReadWrite::builder(near, Line::new())
///                 .on_error("error")
///                 .start(ctx)
///                 .unwrap();
///             *ctx.heap() = Some(wheel);
///         })
///         .on("error", |ctx| {
///             let e = ctx.take_arg::<WheelError>().unwrap();
///             assert!(e.is_eof());
///             assert_eq!((e.op, e.errno, e.message.as_str()), ("read", 0, ""));
///             assert_eq!(e.to_string(), format!("{}: end of file", e.wheel));
///             *ctx.heap() = None; // drop the wheel: the stream is closed
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
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
            message: errstr(e),
            wheel,
        }
    }
}

/// An I/O error's text as POE hands it over (`$!` as a string: "Connection
/// refused"), without the " (os error N)" std appends — the number is
/// [`WheelError::errno`] already.
pub(crate) fn errstr(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => {
            let suffix = format!(" (os error {code})");
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
        None => text,
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
