//! Running a kernel inside another event loop: its file descriptor, its
//! next deadline and a turn that never blocks.
//!
//! Why: a program may already own its main loop (a GUI toolkit's, tokio's,
//! another reactor's). The kernel then need not own the thread: the outer
//! loop watches [`Kernel::as_raw_fd`] for readability, wakes up by
//! [`Kernel::next_deadline`] at the latest, and calls [`Kernel::turn`]
//! whenever either happens. The kernel's readiness, timers, cross-thread
//! posts and woken futures all show up through that one descriptor or the
//! deadline, so the outer loop needs no other hook. `rpoe::tokio` (the
//! `tokio` feature) is this, done for tokio.
//!
//! The example is on [`Kernel::turn`].

use std::os::fd::{AsRawFd, RawFd};
use std::task::Waker;
use std::time::Duration;

use super::{Error, Kernel};

impl Kernel {
    /// Run one round without waiting for I/O or timers: what is ready or
    /// due now is dispatched, then it returns. Returns false once the
    /// kernel has finished (no session left, or [`Kernel::stop`] called):
    /// after that call the kernel is in the state [`Kernel::run`] leaves
    /// it in. A failure nobody handled is returned as `run` would.
    ///
    /// # Errors
    ///
    /// As [`Kernel::run`].
    pub fn turn(&mut self) -> Result<bool, Error> {
        self.core.clear_stop_request();
        if self.core.sessions.len() == 0 {
            self.core.drain_local();
            self.alive = false;
            self.finish()?;
            return Ok(false);
        }
        self.alive = true;
        let more = self.round(false)?;
        if !more {
            self.core.drain_local();
            self.alive = false;
            self.finish()?;
        }
        Ok(more)
    }

    /// Give the kernel the waker of the outer loop's task that drives it
    /// (or `None` to take it back): from then on a future of the kernel
    /// woken while the kernel is between turns wakes that task, instead
    /// of making the kernel's descriptor readable.
    ///
    /// Why: the descriptor is the way to reach a kernel that may be
    /// blocked in the OS, and reaching it costs a system call to write
    /// the kernel's wake-up counter plus the outer loop's poll to notice.
    /// An outer loop that polls the kernel as a future (as `rpoe::tokio`
    /// does) is woken more cheaply through its own waker — tokio's costs
    /// no system call when the wake comes from the runtime's own thread,
    /// which is where a future's I/O (a client library's connection task)
    /// runs. With a hook set the outer loop must treat a wake of its task
    /// as "turn the kernel" (check [`Kernel::next_deadline`]), as it
    /// treats the descriptor. Posts from other threads
    /// ([`crate::KernelHandle`]), I/O watchers and signals still come
    /// through the descriptor. [`Kernel::run`] and
    /// [`Kernel::run_one_timeslice`], which block in the OS, take the hook
    /// back themselves.
    pub fn set_wake_hook(&mut self, waker: Option<&Waker>) {
        self.core.tasks.set_hook(waker);
    }

    /// How long an outer loop may wait before the next [`Kernel::turn`]
    /// if the kernel's descriptor stays quiet: `Some(ZERO)` when work is
    /// waiting (queued events, woken futures, posts from other threads),
    /// the time to the next timer, or `None` to wait for the descriptor
    /// alone. With a manual clock and a timer pending it is the time to
    /// that timer on the manual clock.
    pub fn next_deadline(&mut self) -> Option<Duration> {
        if self.core.sessions.len() == 0 || self.core.is_idle() {
            // The next turn has work without any event: retiring the
            // kernel, or POE's IDLE/ZOMBIE step for sessions that only
            // aliases keep alive (the run loop checks that before it
            // polls; an outer loop must not wait for it).
            return Some(Duration::ZERO);
        }
        match self.core.poll_timeout() {
            Ok(t) => t,
            // Stalled manual clock: nothing can wake the kernel, which the
            // next `turn` cannot change either; let the caller decide.
            Err(_) => self
                .core
                .queue
                .next_due()
                .map(|due| due.saturating_since(self.core.clock.now())),
        }
    }
}

/// The kernel's poll descriptor (epoll): readable whenever a handle the
/// kernel watches is ready, a cross-thread post or a future's wake
/// arrived, or an OS signal the kernel watches was delivered.
impl AsRawFd for Kernel {
    fn as_raw_fd(&self) -> RawFd {
        self.core.poll.as_raw_fd()
    }
}
