//! The kernel's shared state and the operations both the run loop and
//! handlers use: posting, delivering, spawning, stopping and collecting
//! sessions, timers and watchers.

use std::any::Any;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mio::{Poll, Token, Waker};

use super::builder::Limits;
use super::caller::Caller;
use super::clock::{Clock, Time};
use super::dispatch::{reborrow, AnySession, Delivery, Fail, Stack};
use super::error::Error;
use super::events::{ChildEvent, ParentChange};
use super::handles::Handles;
use super::ids::{Dest, Sender, SessionId};
use super::names::{EventId, Names};
use super::payload::{Payload, Value};
use super::postback::Local;
use super::queue::{Due, Kind, Queue, Queued, QueuedSignal, SessionKey, Timer};
use super::remote::{RemotePost, RemoteQueue};
use super::sessions::Sessions;
use super::signals::{DieInfo, Signals};
use super::task::Tasks;

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

/// Levels past the call-depth limit the kernel's lifecycle events may
/// still be delivered at (see `Core::lifecycle_may_nest`).
const LIFECYCLE_HEADROOM: u32 = 16;

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

    /// Queue an event. Events sent by a session that is stopping are
    /// discarded, as POE purges posts made from `_stop`.
    pub(crate) fn post_key(
        &mut self,
        target: SessionKey,
        sender_key: Option<SessionKey>,
        event: EventId,
        payload: Payload,
    ) {
        self.post_key_from(target, sender_key, event, payload, Caller::KERNEL);
    }

    /// [`Core::post_key`] from a handler, recording its origin.
    pub(crate) fn post_key_from(
        &mut self,
        target: SessionKey,
        sender_key: Option<SessionKey>,
        event: EventId,
        payload: Payload,
        caller: Caller,
    ) {
        if !self.local.is_empty() {
            self.drain_local();
        }
        let sender = match sender_key {
            Some(k) => match self.sessions.sender_id(k) {
                Some(id) => Sender::Session(id),
                None => return,
            },
            None => Sender::Kernel,
        };
        self.enqueue(
            target,
            event,
            Kind::Event,
            sender,
            sender_key,
            caller,
            payload,
        );
    }

    /// The one way an entry joins the queue: it holds its target, and
    /// its sender when `hold` names one, until it is dequeued or purged
    /// (see [`Core::release`]), and it is stamped with the post time.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn enqueue(
        &mut self,
        target: SessionKey,
        event: EventId,
        kind: Kind,
        sender: Sender,
        hold: Option<SessionKey>,
        caller: Caller,
        payload: Payload,
    ) {
        match hold {
            Some(k) if k == target => self.sessions.hold(target, 2),
            Some(k) => {
                self.sessions.hold(target, 1);
                self.sessions.hold(k, 1);
            }
            None => self.sessions.hold(target, 1),
        }
        let now = self.post_time;
        self.queue.push(
            now,
            Queued::new(target, event, kind, sender, hold, caller, payload),
        );
    }

    fn push_gc_check(&mut self, target: SessionKey) {
        self.enqueue(
            target,
            EventId::STOP,
            Kind::GcCheck,
            Sender::Kernel,
            None,
            Caller::KERNEL,
            Payload::Empty,
        );
    }

    /// Run a handler now, on the caller's stack. A handler that panics or
    /// fails becomes a DIE signal to its session (a failure in `_stop`, or
    /// after `stop()`, is kept for `run` to return instead); a panic in a
    /// call into the running session unwinds into the caller, as a `die`
    /// does in POE.
    pub(crate) fn deliver(
        &mut self,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
        d: Delivery,
    ) -> Result<Value, Error> {
        self.deliver_inline(stack, key, d)
    }

    /// [`Core::deliver`], inlined into the queue's dispatch loop, where
    /// every queued event goes through it.
    #[inline(always)]
    fn deliver_inline(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        key: SessionKey,
        d: Delivery,
    ) -> Result<Value, Error> {
        self.may_nest(d.event)?;
        let (id, taken) = self
            .sessions
            .take_session(key)
            .ok_or_else(|| Error::NoSuchSession(format!("slot {key}")))?;
        let (session, from_stack) = match taken {
            Some(s) => (s, false),
            None => match reborrow(&mut stack).and_then(|s| s.take(key)) {
                Some(s) => (s, true),
                None => return Err(Error::NoSuchSession(id.to_string())),
            },
        };
        self.trace_dispatch(id, &d);
        let done = Delivered {
            key,
            id,
            event: d.event,
            sender: d.sender,
            self_call: d.active.is_some(),
            origin: d.caller,
        };
        let mut ret = Value::unit();
        let outer = self.enter(id);
        let (session, result) = session.dispatch(self, reborrow(&mut stack), key, id, d, &mut ret);
        self.leave(outer);
        if from_stack {
            if let Some(s) = stack {
                s.restore(key, session);
            }
        } else {
            self.sessions.put_session(key, id, session);
        }
        self.delivered(done, result, ret)
    }

    /// Refuse a delivery past the call-depth limit (see
    /// [`Core::lifecycle_may_nest`] for the kernel's own events).
    #[inline]
    pub(crate) fn may_nest(&self, event: EventId) -> Result<(), Error> {
        if self.depth >= self.limits.call_depth && !self.lifecycle_may_nest(event) {
            return Err(self.call_depth_error(event));
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn trace_dispatch(&self, id: SessionId, d: &Delivery) {
        tracing::trace!(target: "rpoe::dispatch", session = id.num, event = self.names.name(d.event), sender = %d.sender, "dispatch");
    }

    /// How many handlers are on the stack (0: the kernel itself runs).
    #[inline]
    pub(crate) fn handlers_on_stack(&self) -> u32 {
        self.depth
    }

    /// A handler of session `id` starts: it is the active session (a
    /// postback made or called now sends from it) one level deeper.
    #[inline]
    pub(crate) fn enter(&mut self, id: SessionId) -> Option<SessionId> {
        self.depth += 1;
        self.local.enter(id)
    }

    /// The handler [`Core::enter`] started has returned.
    #[inline]
    pub(crate) fn leave(&mut self, outer: Option<SessionId>) {
        self.depth -= 1;
        self.local.leave(outer);
    }

    /// After a handler ran and its session is back in place: run the work
    /// it left for the kernel, and turn a failure into DIE (or re-raise a
    /// panic through a call into the running session, as POE does). The
    /// handler wrote its value into `ret`, made before it ran.
    #[inline(always)]
    pub(crate) fn delivered(
        &mut self,
        done: Delivered,
        result: Result<(), Fail>,
        ret: Value,
    ) -> Result<Value, Error> {
        if !self.local.is_empty() {
            self.drain_local();
        }
        match result {
            Ok(()) => Ok(ret),
            Err(f) => self.delivery_failed(done, f),
        }
    }

    #[cold]
    #[inline(never)]
    fn delivery_failed(&mut self, done: Delivered, f: Fail) -> Result<Value, Error> {
        match f {
            Fail::NoHandler(e) => Err(*e),
            Fail::Panicked(p) if done.self_call => std::panic::resume_unwind(p),
            f => {
                let died_at = match f {
                    Fail::Panicked(_) => super::panic_site::take(),
                    _ => None,
                };
                let what = Failure {
                    message: f.message(),
                    origin: done.origin,
                    died_at,
                };
                Err(self.handler_failed(done.key, done.id, done.event, done.sender, what))
            }
        }
    }

    /// Whether a delivery past the call-depth limit may still run: the
    /// kernel's own lifecycle events (`_start`, `_stop`, `_child`,
    /// `_parent`) get [`LIFECYCLE_HEADROOM`] more levels, so a handler at
    /// the limit that stops or detaches a session does not make it miss
    /// its `_stop` or its parent its `_child`. They cannot recurse on
    /// their own (spawning and calling are checked at the limit), so the
    /// headroom is only ever used a few levels deep.
    #[cold]
    fn lifecycle_may_nest(&self, event: EventId) -> bool {
        let lifecycle = matches!(
            event,
            EventId::START | EventId::STOP | EventId::CHILD | EventId::PARENT
        );
        lifecycle && self.depth < self.limits.call_depth.saturating_add(LIFECYCLE_HEADROOM)
    }

    /// Out of line: keeps the refusal (and its logging) off `deliver`'s
    /// hot path.
    #[cold]
    #[inline(never)]
    pub(crate) fn call_depth_error(&self, event: EventId) -> Error {
        tracing::warn!(target: "rpoe::dispatch", event = self.names.name(event), limit = self.limits.call_depth, "call depth limit reached");
        Error::CallDepth {
            event: self.names.name(event).to_string(),
            limit: self.limits.call_depth,
        }
    }

    /// A handler failed: queue DIE to its session, or keep the error for
    /// `run` when the session is stopping (POE rethrows those at once).
    pub(crate) fn handler_failed(
        &mut self,
        key: SessionKey,
        id: SessionId,
        event: EventId,
        source: Sender,
        failure: Failure,
    ) -> Error {
        let Failure {
            message,
            origin,
            died_at,
        } = failure;
        let name = self.names.name(event).to_string();
        tracing::warn!(target: "rpoe::kernel", session = id.num, event = %name, error = %message, "handler failed");
        let err = Error::HandlerFailed {
            session: id.num,
            event: name.clone(),
            message: message.clone(),
        };
        if self.signals.in_die_watcher(self.depth) {
            // A DIE watcher failed. Queuing another DIE would hand the same
            // handler its own failure, forever if it always fails: POE
            // makes this fatal, and so do we (see `dispatch_signal`).
            self.signals.note_die_failure((id.num, name, message));
            return err;
        }
        let stopping = self.sessions.stopping_or_gone(key);
        if event == EventId::STOP || stopping || self.stop_requested {
            self.keep_failure(err);
            return Error::HandlerFailed {
                session: id.num,
                event: name,
                message,
            };
        }
        let info = DieInfo {
            session: id,
            event: name,
            source,
            message,
            from_state: origin.state.map(|e| self.names.name(e).to_string()),
            file: origin.location.map(|l| l.file()),
            line: origin.location.map(|l| l.line()),
            panic_location: died_at,
        };
        self.queue_signal(key, None, "DIE", Rc::new(info));
        err
    }

    /// Queue a signal for `target` and its descendants (all sessions for
    /// [`super::queue::KERNEL_KEY`]).
    /// Like a post, it holds the sending session until it is dequeued.
    pub(crate) fn queue_signal(
        &mut self,
        target: SessionKey,
        sender_key: Option<SessionKey>,
        name: &str,
        args: Rc<dyn Any>,
    ) {
        let sender = match sender_key.and_then(|k| self.sessions.id_of(k)) {
            Some(id) => Sender::Session(id),
            None => Sender::Kernel,
        };
        let payload = Payload::new(QueuedSignal {
            name: Rc::from(name),
            args,
        });
        self.enqueue(
            target,
            EventId::STOP,
            Kind::Signal,
            sender,
            sender_key,
            Caller::KERNEL,
            payload,
        );
    }

    /// Create a session: `_start` runs now, then the parent's `_child`
    /// (create), then a GC check is queued so an idle session is collected
    /// next round.
    pub(crate) fn spawn(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        parent: Option<SessionKey>,
        session: Box<dyn AnySession>,
        args: Payload,
    ) -> SessionId {
        if self.depth >= self.limits.call_depth {
            // Spawning cannot return an error (POE's create has no failure
            // either), and running the child's `_start` here would go
            // past the limit: fail the spawning handler, as a `die` would.
            panic!("{}", self.call_depth_error(EventId::START));
        }
        let id = self.sessions.insert(session, parent);
        let sender = match parent.and_then(|p| self.sessions.id_of(p)) {
            Some(pid) => Sender::Session(pid),
            None => Sender::Kernel,
        };
        tracing::debug!(target: "rpoe::session", session = id.num, parent = %sender, "spawn");
        let ret = self
            .deliver(
                reborrow(&mut stack),
                id.key,
                Delivery {
                    event: EventId::START,
                    sender,
                    payload: args,
                    active: None,
                    caller: Caller::KERNEL,
                },
            )
            .unwrap_or_else(|_| Value::unit());
        if let Some(p) = parent {
            let still_child =
                self.sessions.key_of(id).is_some() && self.sessions.parent_of(id.key) == Some(p);
            if still_child {
                let _ = self.deliver(
                    reborrow(&mut stack),
                    p,
                    Delivery {
                        event: EventId::CHILD,
                        sender: Sender::Kernel,
                        payload: Payload::new(ChildEvent::Create(id, ret)),
                        active: None,
                        caller: Caller::KERNEL,
                    },
                );
            }
        }
        if self.sessions.key_of(id).is_some() {
            self.push_gc_check(id.key);
        }
        id
    }

    /// Stop one session: hand its children to its parent, run its `_stop`,
    /// tell its parent, then free everything it held.
    pub(crate) fn stop_session(&mut self, mut stack: Option<&mut dyn Stack>, key: SessionKey) {
        let Some((id, parent, children)) = self.sessions.begin_stop(key) else {
            return;
        };
        tracing::debug!(target: "rpoe::session", session = id.num, "stop");
        for child in children {
            self.reparent(reborrow(&mut stack), child, key, parent);
        }
        let ret = self
            .deliver(
                reborrow(&mut stack),
                key,
                Delivery {
                    event: EventId::STOP,
                    sender: Sender::Kernel,
                    payload: Payload::Empty,
                    active: None,
                    caller: Caller::KERNEL,
                },
            )
            .unwrap_or_else(|_| Value::unit());
        if let Some(p) = parent {
            let _ = self.deliver(
                reborrow(&mut stack),
                p,
                Delivery {
                    event: EventId::CHILD,
                    sender: Sender::Kernel,
                    payload: Payload::new(ChildEvent::Lose(id, ret)),
                    active: None,
                    caller: Caller::KERNEL,
                },
            );
        }
        self.free(key);
    }

    /// Move `child` from `old` to `new` (the kernel when `None`), with
    /// `_child gain` to the new parent and `_parent` to the child.
    pub(crate) fn reparent(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        child: SessionKey,
        old: SessionKey,
        new: Option<SessionKey>,
    ) {
        let Some(cid) = self.sessions.id_of(child) else {
            return;
        };
        let old_id = self.sessions.id_of(old);
        self.sessions.move_child(child, old, new);
        if let Some(n) = new {
            let _ = self.deliver(
                reborrow(&mut stack),
                n,
                Delivery {
                    event: EventId::CHILD,
                    sender: Sender::Kernel,
                    payload: Payload::new(ChildEvent::Gain(cid)),
                    active: None,
                    caller: Caller::KERNEL,
                },
            );
        }
        let new_party = match new.and_then(|n| self.sessions.id_of(n)) {
            Some(nid) => Sender::Session(nid),
            None => Sender::Kernel,
        };
        let old_party = old_id.map_or(Sender::Kernel, Sender::Session);
        let _ = self.deliver(
            stack,
            child,
            Delivery {
                event: EventId::PARENT,
                sender: Sender::Kernel,
                payload: Payload::new(ParentChange {
                    old: old_party,
                    new: new_party,
                }),
                active: None,
                caller: Caller::KERNEL,
            },
        );
    }

    /// Make `child` a child of the kernel: its old parent gets `_child`
    /// (lose) unless `quiet` (a detach inside `_start`), then the child
    /// gets `_parent`.
    pub(crate) fn detach(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        child: SessionKey,
        quiet: bool,
    ) {
        let Some(old) = self.sessions.parent_of(child) else {
            return;
        };
        let (Some(cid), Some(oid)) = (self.sessions.id_of(child), self.sessions.id_of(old)) else {
            return;
        };
        self.sessions.move_child(child, old, None);
        if !quiet {
            let _ = self.deliver(
                reborrow(&mut stack),
                old,
                Delivery {
                    event: EventId::CHILD,
                    sender: Sender::Kernel,
                    payload: Payload::new(ChildEvent::Lose(cid, Value::unit())),
                    active: None,
                    caller: Caller::KERNEL,
                },
            );
        }
        let _ = self.deliver(
            stack,
            child,
            Delivery {
                event: EventId::PARENT,
                sender: Sender::Kernel,
                payload: Payload::new(ParentChange {
                    old: Sender::Session(oid),
                    new: Sender::Kernel,
                }),
                active: None,
                caller: Caller::KERNEL,
            },
        );
    }

    /// Release what a dequeued (or purged) event held.
    #[inline(always)]
    fn release(&mut self, target: SessionKey, sender_key: Option<SessionKey>) {
        match sender_key {
            Some(k) if k == target => self.sessions.release(target, 2),
            Some(k) => {
                self.sessions.release(target, 1);
                self.sessions.release(k, 1);
            }
            None => self.sessions.release(target, 1),
        }
    }

    /// Free a session's resources and remove it from the table.
    fn free(&mut self, key: SessionKey) {
        let purged = self
            .queue
            .drain_events(|q| q.target == key || q.sender_key() == Some(key));
        for q in purged {
            self.release(q.target, q.sender_key());
        }
        for t in self.queue.timers_of(key, None) {
            if self.queue.remove_timer(t).is_some() {
                self.sessions.dec(key);
            }
        }
        self.signals.forget_session(key);
        let handles = self.sessions.take_handles(key);
        for hk in handles {
            if let Some(hid) = self.handles.id_at(hk) {
                self.handles.remove(self.poll.registry(), hid);
            }
        }
        let tasks = self.tasks.take_session(key);
        let entry = self.sessions.remove(key);
        // Dropping the heap runs user code (Drop impls); do it last, with
        // the table consistent — or after the other sessions stopping with
        // this one have run their `_stop`.
        match (self.deferred_frees.as_mut(), entry) {
            (Some(later), Some(e)) => later.push(e),
            (_, entry) => drop(entry),
        }
        // The session's futures are dropped (cancelled) now: they belong
        // to a session that is gone, whatever happens to its heap.
        drop(tasks);
    }

    /// Run `stop` (which stops several sessions), then drop the heaps of
    /// the sessions it freed, in the order they were freed. Nested uses
    /// hand their sessions to the outermost one.
    pub(crate) fn with_deferred_frees(&mut self, stop: impl FnOnce(&mut Self)) {
        let outer = self.deferred_frees.replace(Vec::new());
        stop(self);
        let freed = std::mem::replace(&mut self.deferred_frees, outer);
        match (self.deferred_frees.as_mut(), freed) {
            (Some(later), Some(freed)) => later.extend(freed),
            (_, freed) => drop(freed),
        }
    }

    /// Stop every session whose count reached zero, most recent first;
    /// parents freed by that are collected in the same sweep, after the
    /// sessions that were already collectable (POE's order).
    pub(crate) fn gc_sweep(&mut self) {
        loop {
            let batch = self.sessions.take_gc();
            if batch.is_empty() {
                return;
            }
            for key in batch.into_iter().rev() {
                let idle = self.sessions.collectable(key) && self.sessions.is_resting(key);
                if idle {
                    self.stop_session(None, key);
                }
            }
        }
    }

    /// Stop everything, deepest first (POE's `stop()`).
    pub(crate) fn stop_all(&mut self, mut stack: Option<&mut dyn Stack>) {
        let (events, timers) = self.queue.clear();
        for q in events {
            self.release(q.target, q.sender_key());
        }
        for t in timers {
            self.sessions.dec(t.session);
        }
        self.with_deferred_frees(|core| {
            for key in core.sessions.post_order() {
                core.stop_session(reborrow(&mut stack), key);
            }
        });
        self.sessions.clear_gc();
    }

    /// Take the next due entry and dispatch it.
    pub(crate) fn dispatch_next(&mut self, now: Time, mark: u64) -> bool {
        match self.queue.peek_due(now, mark) {
            Due::Nothing => false,
            Due::Timer => {
                if let Some(t) = self.queue.take_timer() {
                    self.fire_timer(t);
                }
                true
            }
            Due::Event => {
                if let Some(q) = self.queue.pop_event() {
                    self.dispatch_queued(q);
                }
                true
            }
        }
    }

    /// Dispatch a dequeued event (or GC check, or signal).
    #[inline(always)]
    fn dispatch_queued(&mut self, q: Queued) {
        let (sender, hold, caller) = (q.sender(), q.sender_key(), q.caller());
        let Queued {
            target,
            event,
            kind,
            mut payload,
            ..
        } = q;
        self.release(target, hold);
        match kind {
            Kind::Event => {
                let r = self.deliver_inline(
                    None,
                    target,
                    Delivery {
                        event,
                        sender,
                        payload,
                        active: None,
                        caller,
                    },
                );
                if let Err(e @ Error::NoHandler { .. }) = r {
                    // POE drops these silently; say so at debug.
                    tracing::debug!(target: "rpoe::dispatch", "event dropped: {e}");
                }
            }
            Kind::GcCheck => {}
            Kind::Signal => {
                if let Some(s) = payload.take::<QueuedSignal>() {
                    self.dispatch_signal(target, s.name, s.args);
                }
            }
        }
    }

    fn fire_timer(&mut self, t: Timer) {
        self.sessions.dec(t.session);
        if t.event == self.tasks.wake_event {
            return self.fire_wake(t.payload);
        }
        if let Some(id) = self.sessions.id_of(t.session) {
            let _ = self.deliver(
                None,
                t.session,
                Delivery {
                    event: t.event,
                    sender: Sender::Session(id),
                    payload: t.payload,
                    active: None,
                    caller: t.caller,
                },
            );
        }
    }

    /// True when nothing but aliases keeps any session alive: POE's IDLE.
    pub(crate) fn is_idle(&self) -> bool {
        self.sessions.len() > 0
            && self.queue.event_count() == 0
            && self.queue.timer_count() == 0
            && self.handles.watched_count() == 0
            && self.sessions.extrefs_live() == 0
            && self.signals.no_child_watchers()
    }

    /// How long the poll may block.
    pub(crate) fn poll_timeout(&mut self) -> Result<Option<Duration>, Error> {
        if self.queue.event_count() > 0
            || !self.local.is_empty()
            || self.tasks.has_ready()
            || self
                .remote
                .pending
                .load(std::sync::atomic::Ordering::Acquire)
        {
            // Work is waiting, including cross-thread posts left in the
            // inbox by the per-round cap (no waker will announce those).
            return Ok(Some(Duration::ZERO));
        }
        let now = self.clock.now();
        match self.queue.next_due() {
            Some(due) if due <= now => Ok(Some(Duration::ZERO)),
            Some(due) => {
                if self.clock.is_manual() {
                    if self.handles.watched_count() == 0 {
                        return Err(Error::ClockStalled(due.since_start()));
                    }
                    Ok(None)
                } else {
                    // epoll waits in whole milliseconds (mio rounds up): a
                    // timer less than 1 ms away is waited for by polling
                    // without blocking, so timers keep sub-millisecond
                    // resolution at the cost of that last millisecond's CPU.
                    let wait = due.saturating_since(now);
                    if wait < Duration::from_millis(1) {
                        Ok(Some(Duration::ZERO))
                    } else {
                        Ok(Some(wait))
                    }
                }
            }
            None => Ok(None),
        }
    }
}

/// What [`Core::delivered`] needs to know about a delivery once its
/// handler has returned.
#[derive(Clone, Copy)]
pub(crate) struct Delivered {
    pub(super) key: SessionKey,
    pub(super) id: SessionId,
    pub(super) event: EventId,
    pub(super) sender: Sender,
    /// A call into the running session: a panic unwinds into the caller.
    pub(super) self_call: bool,
    pub(super) origin: Caller,
}

/// What DIE reports about a failed handler beyond who and which event.
pub(crate) struct Failure {
    /// The panic message or the error's text.
    message: String,
    /// Where the failed event came from.
    origin: Caller,
    /// Where the handler panicked, if it did.
    died_at: Option<(String, u32)>,
}

impl Failure {
    /// A future polled by the kernel panicked: no event was being handled,
    /// so the failure has no origin but the kernel; where it panicked
    /// comes from the panic hook, as for a handler.
    pub(crate) fn future_panicked(message: String) -> Self {
        Failure {
            message,
            origin: Caller::KERNEL,
            died_at: super::panic_site::take(),
        }
    }
}
