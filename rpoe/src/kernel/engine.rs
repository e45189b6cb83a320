//! The kernel's shared state ([`Core`]) and the operations both the run
//! loop and handlers use: posting, delivering, spawning, stopping and
//! collecting sessions, timers and watchers.
//!
//! This file holds the struct, its construction, the small state the run
//! loop reads and sets (stop requests, the kept failure, the cross-thread
//! budget, the post clock) and destination lookup. The rest of `Core`'s
//! own methods are in child modules, so they see its private fields
//! without widening them: `enqueue` (the one way into the queue, and the
//! holds it takes), `deliver` (running a handler, the call-depth bound,
//! failures), `lifecycle` (spawn, stop, reparent, detach, collect) and
//! `round` (the run loop's dispatch step and poll timeout). Sibling
//! modules of the kernel (`timers.rs`, `watchers.rs`, `signaling.rs`...)
//! add further `impl Core` blocks; they reach the `pub(super)` tables and
//! the `pub(crate)` methods, never the private fields.

mod deliver;
mod enqueue;
mod lifecycle;
mod round;

use std::rc::Rc;
use std::sync::Arc;

use mio::{Poll, Token, Waker};

use super::builder::Limits;
use super::clock::{Clock, Time};
use super::error::Error;
use super::handles::Handles;
use super::ids::Dest;
use super::names::Names;
use super::postback::Local;
use super::queue::{Queue, SessionKey};
use super::remote::{RemotePost, RemoteQueue};
use super::sessions::Sessions;
use super::signals::Signals;
use super::task::Tasks;

pub(crate) use deliver::{Delivered, Failure};

pub(crate) struct Core {
    /// While several sessions are stopped together (a terminal signal,
    /// `stop()`), the freed sessions, whose heaps are dropped only after
    /// every `_stop` has run — POE's order: all `_stop`s, then DESTROYs.
    deferred_frees: Option<Vec<super::sessions::Entry>>,
    pub(super) names: Names,
    pub(super) sessions: Sessions,
    pub(super) queue: Queue,
    pub(super) handles: Handles,
    pub(super) poll: Poll,
    pub(super) clock: Clock,
    /// Set by `stop()`: the run loop returns after the current handler.
    stop_requested: bool,
    pub(super) signals: Signals,
    /// A failure nobody handled: `run` stops everything and returns it.
    exception: Option<Error>,
    /// Work from postbacks, drained between dispatches.
    pub(super) local: Rc<Local>,
    /// Posts from other threads.
    pub(super) remote: Arc<RemoteQueue>,
    /// Cross-thread posts the kernel may still take this round.
    remote_budget: usize,
    /// Posts taken from the inbox, kept to reuse its allocation.
    remote_batch: Vec<RemotePost>,
    waker: Arc<Waker>,
    /// The owning kernel's id.
    kernel_id: String,
    /// Handlers on the stack right now (0: the kernel itself is running).
    /// The kernel's own counter, to bound its stack
    /// ([`crate::KernelBuilder::call_depth_limit`]) and to know whether a
    /// handler is running; a handler reads its own depth from its frame
    /// ([`crate::Ctx::call_depth`]), not from here.
    depth: u32,
    /// The bounds set by the kernel's builder.
    limits: Limits,
    /// The clock as last read: posts are stamped with it instead of reading
    /// the clock each time. It is refreshed at every round's start, when
    /// due events are sampled, and whenever a timer is set, so a post can
    /// only be stamped earlier than its true time by less than one round.
    post_time: Time,
    /// Futures running in sessions (see `task.rs`).
    pub(super) tasks: Tasks,
}

/// Token of the cross-thread waker.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);
/// Token of the OS-signal pipe.
pub(crate) const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);

impl Core {
    /// Ask the run loop to return after the current handler (`stop()`).
    pub(crate) fn request_stop(&mut self) {
        self.stop_requested = true;
    }

    /// A new run starts: forget an earlier `stop()`.
    pub(crate) fn clear_stop_request(&mut self) {
        self.stop_requested = false;
    }

    /// True once `stop()` was asked for.
    #[inline]
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    /// Keep a failure nobody handled for `run` to return (the first one
    /// counts).
    pub(crate) fn keep_failure(&mut self, e: Error) {
        self.exception.get_or_insert(e);
    }

    /// Take the failure kept for `run`, if any.
    #[inline]
    pub(crate) fn take_failure(&mut self) -> Option<Error> {
        self.exception.take()
    }

    /// This kernel's id.
    pub(crate) fn kernel_id(&self) -> &str {
        &self.kernel_id
    }

    /// Name the kernel (once, when it is built).
    pub(crate) fn set_kernel_id(&mut self, id: String) {
        self.kernel_id = id;
    }

    /// The waker other threads use to wake the poll.
    pub(crate) fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// The bounds set by the kernel's builder.
    #[inline]
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A round starts: the kernel may take up to `budget` cross-thread
    /// posts in it.
    pub(crate) fn open_remote_budget(&mut self, budget: usize) {
        self.remote_budget = budget;
    }

    /// Take up to this round's remaining share of cross-thread posts, into
    /// a reused buffer; `None` if the share is spent or none are pending.
    /// Hand the buffer back with [`Core::return_remote_batch`].
    pub(crate) fn take_remote_batch(&mut self) -> Option<Vec<RemotePost>> {
        use std::sync::atomic::Ordering;
        // A plain load first: most rounds find no cross-thread post, and it
        // spares them the locked read-modify-write of the swap.
        if self.remote_budget == 0
            || !self.remote.pending.load(Ordering::Acquire)
            || !self.remote.pending.swap(false, Ordering::AcqRel)
        {
            return None;
        }
        let mut posts = std::mem::take(&mut self.remote_batch);
        self.remote.take(self.remote_budget, &mut posts);
        self.remote_budget -= posts.len();
        Some(posts)
    }

    /// Give back the (drained) buffer of [`Core::take_remote_batch`].
    pub(crate) fn return_remote_batch(&mut self, posts: Vec<RemotePost>) {
        self.remote_batch = posts;
    }

    /// Read the clock and remember the reading for posts.
    pub(crate) fn refresh_now(&mut self) -> Time {
        let t = self.clock.now();
        self.post_time = t;
        t
    }

    pub(crate) fn new(clock: Clock, limits: Limits) -> Result<Core, Error> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER_TOKEN)?);
        let mut names = Names::new();
        let tasks = Tasks::new(&mut names, waker.clone());
        Ok(Core {
            names,
            sessions: Sessions::new(),
            queue: Queue::new(),
            handles: Handles::new(),
            poll,
            clock,
            stop_requested: false,
            signals: Signals::default(),
            exception: None,
            deferred_frees: None,
            local: Rc::new(Local::default()),
            remote: Arc::new(RemoteQueue::new(limits.inbox_capacity)),
            remote_budget: 0,
            remote_batch: Vec::new(),
            waker,
            kernel_id: String::new(),
            depth: 0,
            limits,
            post_time: Time::default(),
            tasks,
        })
    }

    pub(crate) fn resolve(&self, dest: &Dest<'_>) -> Option<SessionKey> {
        match dest {
            Dest::Id(id) => self.sessions.key_of(*id),
            Dest::Alias(a) => self.sessions.by_alias(a).or_else(|| {
                a.parse::<u64>()
                    .ok()
                    .and_then(|n| self.sessions.by_number(n))
            }),
            Dest::Number(n) => self.sessions.by_number(*n),
        }
    }

    /// [`Core::resolve`] for a send from session `from` (see
    /// [`Sessions::by_alias_from`]).
    #[inline]
    pub(crate) fn resolve_from(
        &mut self,
        from: SessionKey,
        dest: &Dest<'_>,
    ) -> Result<SessionKey, Error> {
        match dest {
            Dest::Alias(a) => match self.sessions.by_alias_from(from, a) {
                Some(k) => Ok(k),
                None => self.resolve_or_err(dest),
            },
            _ => self.resolve_or_err(dest),
        }
    }

    pub(crate) fn resolve_or_err(&self, dest: &Dest<'_>) -> Result<SessionKey, Error> {
        self.resolve(dest)
            .ok_or_else(|| Error::NoSuchSession(dest.to_string()))
    }
}
