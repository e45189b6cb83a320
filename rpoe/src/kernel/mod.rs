//! The kernel: sessions, the event and timer queue, I/O watchers, and the
//! run loop that dispatches them one at a time.
//!
//! # A round
//!
//! [`Kernel::run`] repeats rounds until no session is left. Each round, as
//! in POE's select loop:
//!
//! 1. posts from other threads are taken from the inbox (at most half of
//!    [`KernelBuilder::events_per_round`] per round, the rest wait there);
//!    if nothing but aliases keeps any session alive, every session is
//!    stopped (POE's unhandled IDLE signal);
//! 2. the OS is polled: without waiting if an event is due, else until the
//!    next timer (or indefinitely);
//! 3. ready handles are dispatched — all reads, then all writes, then urgent data — and
//!    re-armed, so watchers are level-triggered;
//! 4. queued events and timers due by now, and queued before this step
//!    began, are dispatched in due order, FIFO among equals; anything
//!    queued meanwhile waits for the next round, so a handler that yields
//!    forever cannot starve I/O or timers. At most
//!    [`KernelBuilder::events_per_round`] are dispatched (default 4,096):
//!    a larger batch is finished in the following rounds, before anything
//!    queued after it, so the cap lets I/O and signals in between without
//!    changing the order of queued events;
//! 5. sessions that nothing can wake any more are stopped, most recently
//!    idle first, and freed (after the whole batch, when it was split).

// `Ctx` and the files of its methods. Rustdoc lists its `impl` blocks in
// declaration order, hence two groups (rustfmt sorts each): timers come
// before I/O. Its wheel and future methods follow, from `source` and
// `task`.
mod ctx;
mod ctx_args;
mod ctx_events;
mod ctx_timers;

mod ctx_io;
mod ctx_sessions;
mod ctx_signals;

mod builder;
mod caller;
mod clock;
mod dispatch;
mod embed;
mod engine;
mod error;
mod events;
mod handler_table;
mod handles;
mod idhash;
mod ids;
mod inbox;
mod introspect;
#[cfg(test)]
mod memory_tests;
mod names;
mod options;
mod panic_site;
mod payload;
mod postback;
mod queue;
mod remote;
mod sessions;
mod signaling;
mod signals;
mod source;
mod spawner;
mod task;
mod timer_queue;
mod timers;
mod watchers;

use std::any::Any;
use std::time::Duration;

use mio::Events;

pub use builder::KernelBuilder;
pub use clock::{ManualClock, Time};
pub use ctx::Ctx;
pub use ctx_timers::RemovedTimer;
pub use dispatch::{ObjectStates, Session};
pub use error::Error;
pub use events::{ChildEvent, ParentChange};
pub use handles::{IoSource, StdSocket};
pub use ids::{Dest, HandleId, Sender, SessionId, TimerId};
pub use introspect::SessionInfo;
pub use names::{EventId, EventRef, IntoEvent};
pub use options::SessionOption;
pub use payload::{IoMode, Value};
pub use postback::{Callback, Postback, Postbacked};
pub use remote::{KernelHandle, RemoteDest, TryPostError};
pub use signals::{ChildExit, DieInfo, Signal};
pub use source::{EventSource, PostAction, SourceCtx, SourceHandle, TimerGuard};
pub use spawner::Spawner;
pub use task::{AsyncIo, Sleep, TaskId, ASYNC_IO_BUFFER};

use engine::Core;

use dispatch::Delivery;
use payload::Payload;

/// Most readiness events taken from the OS in one poll.
const EVENTS_PER_POLL: usize = 1024;

/// The event kernel. One per thread; it is not `Send`.
///
/// ```
/// use rpoe::{Kernel, Session};
/// use std::time::Duration;
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Vec::<&str>::new())
///         .on("_start", |ctx| {
///             ctx.delay("later", Duration::from_millis(1), ());
///             ctx.yield_event("sooner", ());
///         })
///         .on("sooner", |ctx| ctx.heap().push("sooner"))
///         .on("later", |ctx| ctx.heap().push("later"))
///         .on("_stop", |ctx| assert_eq!(ctx.heap(), &["sooner", "later"])),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
pub struct Kernel {
    id: String,
    /// POE's kernel is itself a session: it outlives the last user session
    /// by one round (see `run_one_timeslice`).
    alive: bool,
    core: Core,
    events: Events,
    /// Handles readable this round, and whether the peer closed or the
    /// handle is in error (then a short read does not mean drained).
    reads: Vec<(u32, bool)>,
    writes: Vec<u32>,
    expedites: Vec<u32>,
    /// The time and queue mark of a batch the events-per-round cap cut
    /// short: the next round finishes it before taking anything newer.
    carry: Option<(Time, u64)>,
}

impl Kernel {
    /// A kernel on the system's monotonic clock, with the default limits
    /// (see [`KernelBuilder`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the OS poller (epoll) or the cross-thread waker cannot
    /// be created (out of file descriptors, say).
    pub fn new() -> Result<Kernel, Error> {
        KernelBuilder::new().build()
    }

    /// Configure a kernel's limits before building it.
    pub fn builder() -> KernelBuilder {
        KernelBuilder::new()
    }

    /// A kernel on a clock that moves only when told (for tests). Keep a
    /// clone of the clock to advance it. If the kernel would have to wait
    /// for a timer and nothing else can wake it, `run` returns
    /// [`Error::ClockStalled`] instead of hanging.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] as [`Kernel::new`].
    pub fn with_manual_clock(clock: ManualClock) -> Result<Kernel, Error> {
        KernelBuilder::new().manual_clock(clock).build()
    }

    pub(crate) fn with_clock(
        clock: clock::Clock,
        limits: builder::Limits,
    ) -> Result<Kernel, Error> {
        static KERNELS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = KERNELS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{:x}-{n:x}", std::process::id());
        let mut core = Core::new(clock, limits)?;
        core.set_kernel_id(id.clone());
        Ok(Kernel {
            id,
            alive: false,
            core,
            events: Events::with_capacity(EVENTS_PER_POLL),
            reads: Vec::new(),
            writes: Vec::new(),
            expedites: Vec::new(),
            carry: None,
        })
    }

    /// Create a top-level session; its `_start` runs now with `args`
    /// (sender: the kernel).
    pub fn spawn<H: 'static>(&mut self, session: Session<H>, args: impl Any) -> SessionId {
        self.alive = true;
        self.core.refresh_now();
        let built = session.build(&mut self.core.names);
        self.core.spawn(None, None, built, Payload::new(args))
    }

    /// Queue an event from outside any handler (sender: the kernel).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `dest` names no live session.
    pub fn post<'d>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        event: impl IntoEvent,
        args: impl Any,
    ) -> Result<(), Error> {
        let key = self.core.resolve_or_err(&dest.into())?;
        let ev = self.core.names.resolve_transient(&event);
        self.core.refresh_now();
        self.core.post_key(key, None, ev, Payload::new(args));
        Ok(())
    }

    /// Run a handler now from outside any handler and return its value.
    ///
    /// # Errors
    ///
    /// As [`Ctx::call`]: [`Error::NoSuchSession`], [`Error::NoHandler`],
    /// [`Error::CallDepth`] or [`Error::HandlerFailed`].
    pub fn call<'d>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        event: impl IntoEvent,
        args: impl Any,
    ) -> Result<Value, Error> {
        let key = self.core.resolve_or_err(&dest.into())?;
        let ev = self.core.names.resolve_transient(&event);
        let r = self
            .core
            .deliver(None, key, Delivery::from_kernel(ev, Payload::new(args)));
        self.core.gc_sweep();
        r
    }

    /// A `Send + Clone` handle that posts into this kernel from any thread
    /// and wakes it, through a bounded inbox (see [`KernelHandle`] for
    /// what happens when it is full).
    pub fn handle(&self) -> KernelHandle {
        KernelHandle {
            queue: self.core.remote.clone(),
            waker: self.core.waker(),
        }
    }

    /// Send a signal to a session and its descendants, from outside any
    /// handler (POE's `signal`).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `dest` names no live session.
    pub fn signal<'d>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        name: &str,
        args: impl Any,
    ) -> Result<(), Error> {
        let key = self.core.resolve_or_err(&dest.into())?;
        self.core
            .queue_signal(key, None, name, std::rc::Rc::new(args));
        Ok(())
    }

    /// Send a signal to every session (POE's `signal($poe_kernel, ...)`).
    pub fn signal_all(&mut self, name: &str, args: impl Any) {
        self.core
            .queue_signal(queue::KERNEL_KEY, None, name, std::rc::Rc::new(args));
    }

    /// The ids of all live sessions, in creation order.
    pub fn session_ids(&self) -> Vec<SessionId> {
        let mut v: Vec<SessionId> = self.core.sessions.ids().collect();
        v.sort_unstable_by_key(|id| id.number());
        v
    }

    /// The live session with this public number.
    pub fn session_by_number(&self, number: u64) -> Option<SessionId> {
        self.core
            .sessions
            .by_number(number)
            .and_then(|k| self.core.sessions.id_of(k))
    }

    /// What keeps a session alive, and what it holds.
    pub fn session_info(&self, session: SessionId) -> Option<SessionInfo> {
        self.core.session_info(session)
    }

    /// Number of handles the kernel holds.
    pub fn handle_count(&self) -> usize {
        self.core.handles.len()
    }

    /// This kernel's id (POE's `ID`): the process id and a per-process
    /// counter, in hex.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Intern an event name. The id keeps naming it for the kernel's
    /// life (names only posted by string are freed once nothing queued
    /// uses them; names given out as ids never are).
    pub fn event_id(&mut self, name: &str) -> EventId {
        self.core.names.intern(name)
    }

    /// The session an alias (or a session number) names, if any.
    pub fn alias_resolve(&self, alias: &str) -> Option<SessionId> {
        self.core
            .resolve(&Dest::Alias(alias))
            .and_then(|k| self.core.sessions.id_of(k))
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.core.sessions.len()
    }

    /// Number of queued events and pending timers.
    pub fn pending_count(&self) -> usize {
        self.core.queue.event_count() + self.core.queue.timer_count()
    }

    /// The kernel clock's current reading.
    pub fn now(&self) -> Time {
        self.core.clock.now()
    }

    /// Stop every session now, deepest first (their `_stop` handlers run
    /// before this returns) and discard all queued work.
    pub fn stop(&mut self) {
        self.core.request_stop();
        self.core.stop_all(None);
    }

    /// Dispatch until no session is left, then return. Returns at once if
    /// there are no sessions; may be called again afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::HandlerFailed`] if a handler failed and nobody handled the DIE
    /// signal (every session was stopped); [`Error::DieHandlerFailed`] if a DIE
    /// handler itself failed; [`Error::ClockStalled`] on a manual clock that
    /// must be advanced; [`Error::Io`] if polling the OS fails.
    pub fn run(&mut self) -> Result<(), Error> {
        self.core.clear_stop_request();
        // This loop blocks in the OS: wakes must reach the descriptor.
        self.core.tasks.set_hook(None);
        while self.round(true)? {}
        // Work queued by wheels dropped in the last handlers (closing
        // handles, reaping children) is done before returning.
        self.core.drain_local();
        self.core.sweep_names_all();
        self.alive = false;
        self.finish()
    }

    /// A failure recorded after the last dispatch (e.g. a `_stop` that
    /// panicked during the final sweep) is still reported.
    fn finish(&mut self) -> Result<(), Error> {
        match self.core.take_failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Run exactly one round (a batch of events larger than
    /// [`KernelBuilder::events_per_round`] takes several). Like POE's, the
    /// round may wait for I/O or the next timer (on a manual clock it
    /// never waits), and it returns true while the kernel is alive: POE's
    /// kernel is itself a session,
    /// so the call after the last session stopped still returns true (it
    /// retires the kernel) and only the one after that returns false.
    ///
    /// # Errors
    ///
    /// As [`Kernel::run`].
    pub fn run_one_timeslice(&mut self) -> Result<bool, Error> {
        self.core.clear_stop_request();
        self.core.tasks.set_hook(None);
        if self.core.sessions.len() == 0 {
            let was = std::mem::replace(&mut self.alive, false);
            self.finish()?;
            return Ok(was);
        }
        let may_block = !self.core.clock.is_manual();
        self.round(may_block)?;
        Ok(true)
    }

    /// Run rounds while `keep_going()` is true and sessions remain.
    ///
    /// # Errors
    ///
    /// As [`Kernel::run`].
    pub fn run_while(&mut self, mut keep_going: impl FnMut() -> bool) -> Result<(), Error> {
        while keep_going() && self.run_one_timeslice()? {}
        Ok(())
    }

    fn round(&mut self, may_block: bool) -> Result<bool, Error> {
        // While the round runs, wakes from this thread need no system
        // call: the kernel looks at its ready tasks before it blocks.
        self.core.tasks.set_busy(true);
        let r = self.round_inner(may_block);
        self.core.tasks.set_busy(false);
        r
    }

    fn round_inner(&mut self, may_block: bool) -> Result<bool, Error> {
        let core = &mut self.core;
        if core.sessions.len() == 0 || core.stop_requested() {
            return Ok(false);
        }
        core.refresh_now();
        // This round's share of cross-thread posts: less than the events
        // a round dispatches, so under a flood of them the queue drains
        // faster than it fills.
        let share = (core.limits().events_per_round / 2).max(1);
        core.open_remote_budget(share);
        core.drain_remote();
        core.drain_local();
        core.idle_check();

        let timeout = if may_block {
            core.poll_timeout()?
        } else {
            Some(Duration::ZERO)
        };
        // With work due and no handle or signal to ask the OS about, the
        // poll would only return nothing: skip the system call.
        // (Cross-thread posts are seen through their flag either way.)
        let nothing_to_poll = timeout == Some(Duration::ZERO)
            && core.handles.watched_count() == 0
            && core.signals.os_pipe().is_none();
        if nothing_to_poll {
            self.events.clear();
        } else {
            let blocks = timeout != Some(Duration::ZERO);
            if blocks {
                core.tasks.set_busy(false);
            }
            let polled = core.poll.poll(&mut self.events, timeout);
            if blocks {
                core.tasks.set_busy(true);
            }
            if let Err(e) = polled {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e.into());
                }
            }
        }
        self.reads.clear();
        self.writes.clear();
        self.expedites.clear();
        let mut signalled = false;
        for ev in self.events.iter() {
            match ev.token() {
                engine::WAKER_TOKEN => continue,
                engine::SIGNAL_TOKEN => {
                    signalled = true;
                    continue;
                }
                _ => {}
            }
            let key = ev.token().0 as u32;
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                self.reads.push((key, ev.is_read_closed() || ev.is_error()));
            }
            if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                self.writes.push(key);
            }
            if ev.is_priority() {
                self.expedites.push(key);
            }
        }
        core.drain_remote();
        if signalled {
            core.pump_os_signals();
        }
        core.reap_children();
        if !self.reads.is_empty() || !self.writes.is_empty() || !self.expedites.is_empty() {
            for &(key, closed) in &self.reads {
                core.dispatch_io(key, IoMode::Read, closed);
                if core.stop_requested() {
                    core.drain_local();
                    return Ok(false);
                }
            }
            for &key in &self.writes {
                core.dispatch_io(key, IoMode::Write, false);
                if core.stop_requested() {
                    core.drain_local();
                    return Ok(false);
                }
            }
            // Urgent data last, as POE's loops enqueue MODE_EX after
            // MODE_RD and MODE_WR.
            for &key in &self.expedites {
                core.dispatch_io(key, IoMode::Expedite, false);
                if core.stop_requested() {
                    core.drain_local();
                    return Ok(false);
                }
            }
            core.handles.rearm_all(core.poll.registry());
            if self.carry.is_none() {
                core.gc_sweep();
            }
        }

        // Futures woken since the last round: their outputs join this
        // round's batch.
        core.poll_tasks();

        // The batch: what was due and queued when this step began — or,
        // if the last round stopped at the cap, the rest of that round's
        // batch first, with its time and mark, so the cap changes when
        // I/O gets its turn but never the order of queued events.
        let fresh = core.refresh_now();
        let (now, mark) = self
            .carry
            .take()
            .unwrap_or_else(|| (fresh, core.queue.seq_mark()));
        let mut budget = core.limits().events_per_round;
        while budget > 0 && core.dispatch_next(now, mark) {
            budget -= 1;
            if let Some(e) = core.take_failure() {
                // A failure nobody handled (checked, as POE does, after
                // each dispatched event): stop everything, then report it.
                core.stop_all(None);
                // A failure of a `_stop` run by that is not reported.
                let _ = core.take_failure();
                return Err(e);
            }
            if core.stop_requested() {
                break;
            }
        }
        if budget == 0 && !core.stop_requested() {
            // Cut short by the cap: finish this batch next round. The GC
            // sweep waits for the end of the batch too, as it would have
            // without the cap.
            self.carry = Some((now, mark));
            return Ok(core.sessions.len() > 0);
        }
        core.gc_sweep();
        // Heaps freed by the sweep may have dropped postbacks.
        core.drain_local();
        core.sweep_names();
        Ok(core.sessions.len() > 0 && !core.stop_requested())
    }
}

impl Drop for Kernel {
    /// Handles held by other threads fail from now on; sessions still alive
    /// are dropped without `_stop` (with a warning), like a POE program
    /// that exits without running its kernel to the end.
    fn drop(&mut self) {
        self.core.remote.close();
        if self.core.sessions.len() > 0 {
            tracing::warn!(target: "rpoe::kernel", sessions = self.core.sessions.len(), "kernel dropped with live sessions; their _stop handlers will not run");
        }
    }
}
