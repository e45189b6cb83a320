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
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `reference` | on | [`filter::Reference`]: serde values (postcard or JSON) in length-prefixed frames; brings serde, postcard and serde_json |
//! | `process` | on | [`wheel::Run`]: a child process with its stdin, stdout and stderr as records |
//! | `tokio` | off | `rpoe::tokio`: run a kernel on a tokio current-thread runtime, so futures from tokio-based crates work inside sessions; brings tokio (`rt`, `net`, `time`) |
//!
//! `reference` and `process` are on by default because POE ships their counterparts in its own
//! distribution; `default-features = false` leaves the kernel, the other
//! filters and wheels, and the components.
//!
//! # Platform support
//!
//! Linux only, for now: rpoe is developed and tested only there, and
//! [`wheel::Run`] waits for and signals children through pidfds, which
//! are Linux's. Building for another target stops with a
//! `compile_error!` saying so, rather than with errors deep inside the
//! code or, worse, a build that compiles but was never run. All
//! platform calls (pidfds, `waitid`/`kill`, signal plumbing, resource
//! limits, socket shutdown, file identity) are in one private module, so
//! a port to another Unix has one place to fill in.
//!
//! # Minimum supported Rust version
//!
//! 1.88 (`rust-version` in `Cargo.toml`, which clippy's
//! `incompatible_msrv` lint checks the standard library calls against).

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "rpoe supports Linux only: it is tested only there, and wheel::Run uses Linux's pidfds"
);

// The README's examples, compiled and run as doctests so that they stay
// correct (the rendered crate documentation is the text above).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod component;
pub mod filter;
pub mod kernel;
mod os;
pub mod wheel;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

pub use kernel::{
    Callback, ChildEvent, ChildExit, Ctx, Dest, DieInfo, Error, EventId, EventRef, EventSource,
    HandleId, IntoEvent, IoMode, IoSource, Kernel, KernelBuilder, KernelHandle, ManualClock,
    ObjectStates, ParentChange, PostAction, Postback, Postbacked, RemoteDest, RemovedTimer, Sender,
    Session, SessionId, SessionOption, Signal, SourceCtx, SourceHandle, Spawner, StdSocket, Time,
    TimerGuard, TimerId, TryPostError, Value,
};
// Futures in sessions (kernel/task.rs), in their own statement so that
// the list above can change without touching this one.
pub use kernel::{AsyncIo, Sleep, TaskId};

/// The mio crate rpoe is built on, re-exported so that programs and
/// wheels can name its socket types ([`mio::net::TcpStream`],
/// [`mio::net::UdpSocket`], ...) without a direct dependency whose version
/// must match rpoe's.
pub use mio;
