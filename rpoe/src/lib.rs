//! # rpoe — POE's event kernel, in Rust
//!
//! A single-threaded, deterministic event kernel with the semantics of
//! Perl's POE 1.37: *sessions* own named handlers and a private heap; the
//! [`Kernel`] owns one queue of events and timers and the I/O watchers, and
//! runs one handler at a time. No async colouring: handlers are plain
//! functions of a [`Ctx`].
//!
//! ```
//! use rpoe::{Kernel, Session};
//!
//! let mut kernel = Kernel::new().unwrap();
//! kernel.spawn(
//!     Session::new(String::new())
//!         .on("_start", |ctx| {
//!             let who: &str = ctx.arg::<&str>().copied().unwrap_or("nobody");
//!             ctx.heap().push_str(who);
//!             ctx.yield_event("greet", ());
//!         })
//!         .on("greet", |ctx| format!("hello, {}", ctx.heap())),
//!     "world",
//! );
//! kernel.run().unwrap();
//! ```
//!
//! The layers, lower never importing higher, each mirroring a part of
//! POE: [`kernel`] (`POE::Kernel`, `POE::Session`); [`filter`]
//! (`POE::Filter::*`: bytes to records and back, no I/O); [`wheel`]
//! (`POE::Wheel::*`: buffered I/O state machines a session owns); and
//! [`component`] (`POE::Component::Server::TCP` and `::Client::TCP`:
//! ready-made sessions built from wheels). `docs/porting-from-poe.md`
//! maps POE's API onto them name by name.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod component;
pub mod filter;
pub mod kernel;
pub mod wheel;

pub use kernel::{
    Callback, ChildEvent, ChildExit, Ctx, Dest, DieInfo, Error, EventId, EventRef, HandleId,
    IntoEvent, IoMode, IoSource, Kernel, KernelBuilder, KernelHandle, ManualClock, ObjectStates,
    ParentChange, Postback, Postbacked, RemoteDest, RemovedTimer, Sender, Session, SessionId,
    Signal, Time, TimerId, TryPostError, Value,
};
