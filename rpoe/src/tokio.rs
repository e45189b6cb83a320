//! Running a kernel on a tokio current-thread runtime (the `tokio`
//! feature), so that futures from tokio-based crates (hyper, reqwest,
//! tokio-postgres, async-nats...) run inside sessions.
//!
//! Why a bridge and not an async kernel: the kernel stays what POE is — one
//! thread, one queue, its own order — and tokio only lends it its reactor
//! and timers. The kernel runs as tokio's main future: tokio watches the
//! kernel's poll descriptor ([`Kernel`]'s `AsRawFd`) with an `AsyncFd` and
//! sleeps until [`Kernel::next_deadline`]; whenever either fires, the
//! kernel takes one non-blocking [`Kernel::turn`]. So there is no busy
//! loop (with nothing to do the thread sleeps in tokio's reactor) and no
//! added latency beyond one wake-up of the descriptor. Futures started
//! with [`crate::Ctx::spawn_future`] are polled inside the runtime's
//! context: `tokio::runtime::Handle::current()`, tokio's sockets and
//! timers work in them. Their wakes from the runtime's thread (a client
//! library's connection task handing them a message, say) skip the
//! descriptor: while tokio drives the kernel, the kernel holds the driving
//! task's waker ([`Kernel::set_wake_hook`]), so such a wake costs no
//! system call, as between two tokio tasks; wakes from other threads
//! still come through the descriptor. And while the kernel has work of
//! its own it takes a few turns in a row before it lets tokio poll its
//! reactor (each such poll is a system call).
//!
//! ```
//! use rpoe::{Kernel, Session};
//! use std::time::Duration;
//!
//! let mut kernel = Kernel::new().unwrap();
//! kernel.spawn(
//!     Session::new(false)
//!         .on("_start", |ctx| {
//!             ctx.spawn_future("slept", async {
//!                 // A tokio timer, inside a session.
//!                 tokio::time::sleep(Duration::from_millis(1)).await;
//!             });
//!         })
//!         .on("slept", |ctx| *ctx.heap() = true)
//!         .on("_stop", |ctx| assert!(*ctx.heap())),
//!     (),
//! );
//! rpoe::tokio::run(&mut kernel).unwrap();
//! ```

use std::future::{poll_fn, Future};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;

use crate::{Error, Kernel};

/// The kernel's descriptor as tokio wants it (tokio does not close it:
/// the kernel owns it and outlives the `AsyncFd`).
struct KernelFd(RawFd);

impl AsRawFd for KernelFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// Run `kernel` to the end (as [`Kernel::run`]) on a new tokio
/// current-thread runtime with its I/O and time drivers.
///
/// # Errors
///
/// What [`Kernel::run`] returns, or [`Error::Io`] if the runtime cannot
/// be built.
pub fn run(kernel: &mut Kernel) -> Result<(), Error> {
    let rt = ::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(drive(kernel))
}

/// Run `kernel` to the end inside an already running tokio runtime, on
/// the current thread: await it in `block_on` or on a `LocalSet` (the
/// future is not `Send`, as the kernel is not). Other tokio tasks of the
/// thread keep running while the kernel waits.
///
/// # Errors
///
/// What [`Kernel::run`] returns, or [`Error::Io`] if tokio cannot watch
/// the kernel's descriptor (no reactor: the runtime was built without
/// `enable_io`).
pub async fn drive(kernel: &mut Kernel) -> Result<(), Error> {
    // Recent tokio deprecates this safe constructor in favour of an
    // unchecked one, because it cannot know the descriptor stays open and
    // the same while registered. Here it does: it is the kernel's epoll
    // descriptor, and the kernel is mutably borrowed for as long as the
    // `AsyncFd` lives (it is dropped at the end of this function), so it
    // can be neither closed nor replaced meanwhile. The workspace forbids
    // unchecked code; the safe, deprecated call states the same contract.
    #[allow(deprecated)]
    let fd = AsyncFd::with_interest(KernelFd(kernel.as_raw_fd()), Interest::READABLE)?;
    let kernel = &mut HookGuard(kernel);
    let mut eager = 0;
    while kernel.0.turn()? {
        match kernel.0.next_deadline() {
            Some(Duration::ZERO) if eager < EAGER_TURNS => {
                // The kernel's own work (a woken future, an event its
                // futures queued): turn again at once. Yielding to tokio
                // costs a poll of its reactor per yield, and what woke
                // that work is usually the kernel itself.
                eager += 1;
            }
            Some(Duration::ZERO) => {
                // Work is still waiting: let tokio's other tasks and its
                // reactor have their turn first, then go on.
                eager = 0;
                ::tokio::task::yield_now().await;
            }
            deadline => {
                eager = 0;
                wait(kernel.0, &fd, deadline).await?;
            }
        }
    }
    Ok(())
}

/// How many turns in a row the kernel takes while it has work of its own
/// before it lets tokio run (a call's answer wakes the future that waits
/// for it, whose event's handler starts the next call: three turns).
/// Each turn is bounded by the kernel's per-round limits, so tokio's
/// tasks wait at most this many rounds plus one.
const EAGER_TURNS: u32 = 2;

/// Holds the kernel while tokio drives it, and takes back the wake hook
/// (see [`Kernel::set_wake_hook`]) however the driving ends — returned,
/// failed, or the future dropped.
struct HookGuard<'k>(&'k mut Kernel);

impl Drop for HookGuard<'_> {
    fn drop(&mut self) {
        self.0.set_wake_hook(None);
    }
}

/// Wait until the kernel's descriptor is readable, a future of the kernel
/// was woken, or `deadline` passed.
async fn wait(
    kernel: &mut Kernel,
    fd: &AsyncFd<KernelFd>,
    deadline: Option<Duration>,
) -> Result<(), Error> {
    let mut sleep = pin!(deadline.map(::tokio::time::sleep));
    poll_fn(|cx| {
        // A future of the kernel woken from this thread (by a tokio task:
        // a client library's connection, say) wakes this task directly,
        // without a system call; from now until the next turn.
        kernel.set_wake_hook(Some(cx.waker()));
        if kernel.next_deadline() == Some(Duration::ZERO) {
            return Poll::Ready(Ok(()));
        }
        if let Poll::Ready(r) = fd.poll_read_ready(cx) {
            // Clear before the turn: readiness that comes during the turn
            // is a new edge and wakes the next wait.
            r?.clear_ready();
            return Poll::Ready(Ok(()));
        }
        if let Some(s) = sleep.as_mut().as_pin_mut() {
            if s.poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
        }
        Poll::Pending
    })
    .await
}
