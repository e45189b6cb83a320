//! [`KernelBuilder`]: a kernel with limits other than the defaults.
//!
//! Every resource a handler or another thread can make the kernel
//! consume has a bound (DESIGN.md, "Invariants"); the builder is where a
//! program that knows better than the defaults sets them.

use super::clock::{Clock, ManualClock};
use super::error::Error;
use super::Kernel;

/// The bounds a kernel enforces, fixed when it is built.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Most posts waiting in the cross-thread inbox.
    pub inbox_capacity: usize,
    /// Most queued events and timers dispatched in one round.
    pub events_per_round: usize,
    /// Most handlers on the stack at once.
    pub call_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            inbox_capacity: KernelBuilder::DEFAULT_INBOX_CAPACITY,
            events_per_round: KernelBuilder::DEFAULT_EVENTS_PER_ROUND,
            call_depth: KernelBuilder::DEFAULT_CALL_DEPTH_LIMIT,
        }
    }
}

/// Builds a [`Kernel`] with other limits (or a manual clock) than
/// [`Kernel::new`]'s.
///
/// ```
/// use rpoe::{Kernel, ManualClock};
///
/// let kernel = Kernel::builder()
///     .inbox_capacity(1024)
///     .events_per_round(256)
///     .call_depth_limit(64)
///     .manual_clock(ManualClock::new())
///     .build()
///     .unwrap();
/// # drop(kernel);
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until it is built"]
pub struct KernelBuilder {
    clock: Option<ManualClock>,
    limits: Limits,
}

impl KernelBuilder {
    /// Default for [`KernelBuilder::call_depth_limit`]: 256 handlers on the
    /// stack at once.
    ///
    /// Measured: one level of `ctx.call` (the kernel's frames plus a small
    /// handler) takes about 5 KiB of stack in a debug build and 1.3 KiB
    /// in a release build, the same on the main thread and on a spawned
    /// one. 256 levels are then about 1.3 MiB (debug) or 340 KiB (release),
    /// which fits the 2 MiB stack Rust gives spawned threads and test
    /// threads with room left for the thread's own frames and for handlers
    /// with larger locals; the 8 MiB main thread has room to spare. POE
    /// code rarely nests calls more than a few levels; deep recursion
    /// through `call` is almost always a bug, which this turns from a
    /// stack overflow (an abort of the whole process) into an error.
    pub const DEFAULT_CALL_DEPTH_LIMIT: u32 = 256;

    /// Default for [`KernelBuilder::inbox_capacity`]: 65,536 posts.
    pub const DEFAULT_INBOX_CAPACITY: usize = 65_536;

    /// Default for [`KernelBuilder::events_per_round`]: 4,096 events.
    pub const DEFAULT_EVENTS_PER_ROUND: usize = 4_096;

    /// Start from the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use a clock that moves only when told (see
    /// [`Kernel::with_manual_clock`]).
    pub fn manual_clock(mut self, clock: ManualClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How many posts from other threads ([`crate::KernelHandle`]) may
    /// wait for the kernel at once; default
    /// [`Self::DEFAULT_INBOX_CAPACITY`]. When the inbox is full,
    /// [`crate::KernelHandle::post`] waits for room,
    /// [`crate::KernelHandle::try_post`] fails at once. The bound is in
    /// posts, not bytes: each costs about 80 bytes plus its argument.
    /// Must be at least 1.
    pub fn inbox_capacity(mut self, posts: usize) -> Self {
        self.limits.inbox_capacity = posts;
        self
    }

    /// How many queued events and due timers one round dispatches at most
    /// before the kernel polls I/O and reads the clock again; default
    /// [`Self::DEFAULT_EVENTS_PER_ROUND`]. Events left over keep their
    /// place at the head of the queue, so the order of events is the same
    /// as without the cap; what changes is that I/O, signals and garbage
    /// collection get a turn between batches. Posts from other threads
    /// taken into the queue per round are capped at half of this, so that
    /// under a flood of them the queue drains faster than it fills.
    /// Must be at least 1.
    pub fn events_per_round(mut self, events: usize) -> Self {
        self.limits.events_per_round = events;
        self
    }

    /// How many handlers may be on the stack at once (a handler counts
    /// one, each nested [`crate::Ctx::call`], callback, `_start` of a
    /// spawned child... one more); default
    /// [`Self::DEFAULT_CALL_DEPTH_LIMIT`]. A `call` that would go deeper
    /// returns [`Error::CallDepth`] instead of running the handler. Raise
    /// it only on a thread with a stack to match (see the default's
    /// measurements). Must be at least 1.
    pub fn call_depth_limit(mut self, depth: u32) -> Self {
        self.limits.call_depth = depth;
        self
    }

    /// Build the kernel. [`Error::Invalid`] if a limit is out of range.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if a limit is zero; [`Error::Io`] as
    /// [`Kernel::new`].
    pub fn build(self) -> Result<Kernel, Error> {
        // DIE reports where a handler panicked; only the panic hook knows.
        super::panic_site::install();
        let l = self.limits;
        if l.inbox_capacity == 0 {
            return Err(Error::Invalid("inbox capacity must be at least 1".into()));
        }
        if l.events_per_round == 0 {
            return Err(Error::Invalid("events per round must be at least 1".into()));
        }
        if l.call_depth == 0 {
            return Err(Error::Invalid("call depth limit must be at least 1".into()));
        }
        let clock = match self.clock {
            Some(c) => Clock::Manual(c),
            None => Clock::System(std::time::Instant::now()),
        };
        Kernel::with_clock(clock, l)
    }
}
