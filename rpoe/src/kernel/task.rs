//! Futures in sessions: a future's output is an event.
//!
//! Why: Rust's async crates hand out futures, and POE's model has no
//! place for a second scheduler. So a future is one more event source of
//! its session (DESIGN.md, "Futures are event sources"): the kernel polls
//! it when its waker fired, and its output is queued to the session as an
//! ordinary event, FIFO with everything else. Ordering and determinism
//! stay the kernel's.
//!
//! # Guarantees
//!
//! - [`Ctx::spawn_future`] polls the future for the first time in the
//!   kernel's next round, never inside the spawning handler.
//! - A woken task is polled once in the round after its wake, before that
//!   round's batch of queued events is sampled; a task woken many times
//!   is polled once. Each round polls every woken task at most once, so a
//!   future that wakes itself forever cannot starve I/O or events.
//! - The output is queued (sender: the session itself) when the future
//!   completes, so it arrives after events queued before that moment and
//!   before events queued after it.
//! - A pending task holds its session alive, as a postback does (it is a
//!   public refcount under the tag `rpoe::task`, so
//!   [`crate::Kernel::session_info`] shows it). When the session stops —
//!   for whatever reason — its tasks are dropped, i.e. cancelled, after
//!   its `_stop` handler ran.
//! - A future that panics is dropped, and the panic becomes a DIE signal
//!   to its session exactly as a panicking handler's would (the event in
//!   the [`crate::DieInfo`] is the task's reply event).
//! - Wakes may come from any thread: a waker pushes the task onto a
//!   shared ready list and, when the kernel may be blocked, wakes it
//!   through its poll waker (one system call per idle-to-busy transition;
//!   none for wakes made by the kernel's own thread while it runs).
//!
//! The kernel's own readiness and timers are usable from futures without
//! another runtime: [`Ctx::sleep`] (a timer on the kernel's clock, so a
//! manual clock keeps it deterministic) and [`Ctx::add_async`] (a
//! non-blocking socket registered with the kernel, read and written with
//! `async` methods).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::ThreadId;

use slab::Slab;

mod async_io;
mod sleep;

pub use async_io::{AsyncIo, ASYNC_IO_BUFFER};
pub use sleep::Sleep;

use super::ctx::Ctx;
use super::dispatch::Fail;
use super::engine::Core;
use super::ids::{Sender, SessionId};
use super::names::{EventId, IntoEvent, Names};
use super::payload::Payload;
use super::queue::SessionKey;

/// The public-refcount tag under which pending tasks hold their session.
pub(crate) const TASK_TAG: &str = "rpoe::task";

/// The internal event name of a [`Sleep`]'s timer (it wakes a future
/// instead of running a handler).
const WAKE_EVENT: &str = "rpoe::task_wake";

/// Identifies a task started by [`Ctx::spawn_future`]. Ids are not
/// reused while the kernel lives.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaskId {
    key: u32,
    gen: u64,
}

impl TaskId {
    /// The task's public number (unique for the kernel's lifetime).
    pub fn number(self) -> u64 {
        self.gen
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.gen)
    }
}

/// The tasks woken since the kernel last looked, shared with every waker.
pub(crate) struct ReadyList {
    list: Mutex<Woken>,
    /// The list is not empty: read without the lock on every round, so a
    /// kernel without woken tasks pays an atomic load, not a lock.
    nonempty: AtomicBool,
    /// The kernel is running on its thread (not blocked in the OS poll,
    /// and not parked by an outer loop): a wake from that thread needs no
    /// system call, since the kernel looks at the list before it blocks.
    busy: AtomicBool,
    kernel_thread: ThreadId,
    waker: Arc<mio::Waker>,
}

/// What the ready list's lock guards: the woken tasks and the outer
/// loop's waker, read together so that a wake sees a consistent pair.
struct Woken {
    ids: Vec<TaskId>,
    /// Set by [`crate::Kernel::set_wake_hook`]: how to wake an outer loop
    /// that drives the kernel, instead of its poll waker.
    hook: Option<Waker>,
}

impl ReadyList {
    fn lock(&self) -> std::sync::MutexGuard<'_, Woken> {
        // Every critical section is a push or a swap: a poisoned lock
        // cannot hold a half-made list.
        match self.list.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn push(&self, id: TaskId) {
        let (was_empty, hook) = {
            let mut list = self.lock();
            list.ids.push(id);
            self.nonempty.store(true, Ordering::Release);
            let first = list.ids.len() == 1;
            (first, if first { list.hook.clone() } else { None })
        };
        if was_empty
            && !(self.busy.load(Ordering::Acquire)
                && std::thread::current().id() == self.kernel_thread)
        {
            // Woken outside the lock: a waker may run arbitrary code.
            if let Some(hook) = hook {
                hook.wake();
            } else if let Err(e) = self.waker.wake() {
                tracing::warn!(target: "rpoe::kernel", error = %e, "could not wake the kernel for a task");
            }
        }
    }
}

/// The waker of one task: a wake queues the task once until it is polled.
struct TaskWaker {
    id: TaskId,
    queued: AtomicBool,
    ready: Arc<ReadyList>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.push(self.id);
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Payload>>>;

struct Task {
    gen: u64,
    owner: SessionKey,
    owner_id: SessionId,
    event: EventId,
    /// `None` while it is being polled.
    fut: Option<BoxFuture>,
    wake: Arc<TaskWaker>,
    waker: Waker,
}

/// The kernel's tasks.
pub(crate) struct Tasks {
    slab: Slab<Task>,
    next_gen: u64,
    ready: Arc<ReadyList>,
    /// The ready list taken this round (kept to reuse its allocation).
    batch: Vec<TaskId>,
    /// The interned name of sleep timers.
    pub wake_event: EventId,
}

impl Tasks {
    pub(crate) fn new(names: &mut Names, waker: Arc<mio::Waker>) -> Tasks {
        Tasks {
            slab: Slab::new(),
            next_gen: 1,
            ready: Arc::new(ReadyList {
                list: Mutex::new(Woken {
                    ids: Vec::new(),
                    hook: None,
                }),
                nonempty: AtomicBool::new(false),
                busy: AtomicBool::new(false),
                kernel_thread: std::thread::current().id(),
                waker,
            }),
            batch: Vec::new(),
            wake_event: names.intern(WAKE_EVENT),
        }
    }

    /// Whether a woken task waits to be polled.
    pub(crate) fn has_ready(&self) -> bool {
        self.ready.nonempty.load(Ordering::Acquire)
    }

    /// Route wakes through `hook` (see [`crate::Kernel::set_wake_hook`]).
    pub(crate) fn set_hook(&self, hook: Option<&Waker>) {
        let mut list = self.ready.lock();
        match (&list.hook, hook) {
            (Some(old), Some(new)) if old.will_wake(new) => {}
            (None, None) => {}
            _ => list.hook = hook.cloned(),
        }
    }

    /// Tell wakers whether the kernel is running on its thread (see
    /// [`ReadyList::busy`]).
    pub(crate) fn set_busy(&self, busy: bool) {
        self.ready.busy.store(busy, Ordering::Release);
    }

    /// Remove every task of a session that is being freed, returning the
    /// futures for the caller to drop once its tables are consistent.
    pub(crate) fn take_session(&mut self, key: SessionKey) -> Vec<BoxFuture> {
        if self.slab.is_empty() {
            return Vec::new();
        }
        let keys: Vec<usize> = self
            .slab
            .iter()
            .filter(|(_, t)| t.owner == key)
            .map(|(k, _)| k)
            .collect();
        keys.into_iter()
            .filter_map(|k| self.slab.remove(k).fut)
            .collect()
    }
}

impl Core {
    /// Poll every task woken since the last call. Completed tasks queue
    /// their output; panicked ones become DIE signals.
    pub(crate) fn poll_tasks(&mut self) {
        if !self.tasks.has_ready() {
            return;
        }
        let mut batch = std::mem::take(&mut self.tasks.batch);
        {
            let mut list = self.tasks.ready.lock();
            std::mem::swap(&mut batch, &mut list.ids);
            self.tasks.ready.nonempty.store(false, Ordering::Release);
        }
        for id in batch.drain(..) {
            let Some(t) = self.tasks.slab.get_mut(id.key as usize) else {
                continue;
            };
            if t.gen != id.gen {
                continue;
            }
            let Some(mut fut) = t.fut.take() else {
                continue;
            };
            t.wake.queued.store(false, Ordering::Release);
            let waker = t.waker.clone();
            let (owner, owner_id, event) = (t.owner, t.owner_id, t.event);
            let outer = self.local.enter(owner_id);
            let polled = catch_unwind(AssertUnwindSafe(|| {
                fut.as_mut().poll(&mut Context::from_waker(&waker))
            }));
            self.local.leave(outer);
            match polled {
                Ok(Poll::Pending) => {
                    if let Some(t) = self.tasks.slab.get_mut(id.key as usize) {
                        if t.gen == id.gen {
                            t.fut = Some(fut);
                        }
                    }
                }
                Ok(Poll::Ready(payload)) => {
                    self.tasks.slab.remove(id.key as usize);
                    self.post_key(owner, Some(owner), event, payload);
                    let _ = self.refcount_add(owner, TASK_TAG, -1);
                    drop(fut);
                }
                Err(panic) => {
                    self.tasks.slab.remove(id.key as usize);
                    drop(fut);
                    let message = Fail::Panicked(panic).message();
                    let _ = self.handler_failed(
                        owner,
                        owner_id,
                        event,
                        Sender::Session(owner_id),
                        super::engine::Failure::future_panicked(message),
                    );
                    let _ = self.refcount_add(owner, TASK_TAG, -1);
                }
            }
            if !self.local.is_empty() {
                self.drain_local();
            }
        }
        self.tasks.batch = batch;
    }

    fn spawn_task(
        &mut self,
        owner: SessionKey,
        owner_id: SessionId,
        event: EventId,
        fut: BoxFuture,
    ) -> TaskId {
        let gen = self.tasks.next_gen;
        self.tasks.next_gen += 1;
        let entry = self.tasks.slab.vacant_entry();
        let id = TaskId {
            key: entry.key() as u32,
            gen,
        };
        let wake = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(false),
            ready: self.tasks.ready.clone(),
        });
        let waker = Waker::from(wake.clone());
        entry.insert(Task {
            gen,
            owner,
            owner_id,
            event,
            fut: Some(fut),
            wake,
            waker: waker.clone(),
        });
        let _ = self.refcount_add(owner, TASK_TAG, 1);
        waker.wake();
        id
    }
}

/// # Futures
///
/// Running futures inside this session: `spawn_future` (its output comes
/// back as an event), the kernel-timer futures [`Sleep`], and
/// [`AsyncIo`] for awaiting reads and writes on a handle.
impl<H: 'static> Ctx<'_, H> {
    /// Start a future in this session; its output comes back to the
    /// session as `event` (the output is the event's argument: take it
    /// with [`Ctx::take_arg`]), queued like any other event. The future
    /// need not be `Send`: it runs on the kernel's thread, polled by the
    /// kernel whenever its waker fires. It holds the session alive while
    /// pending and is dropped (cancelled) if the session stops first. A
    /// panic inside it becomes a DIE signal to the session.
    ///
    /// Ordering: the first poll comes in the kernel's next round, never
    /// inside this handler; a woken task is polled once in the round after
    /// its wake, before that round's batch of queued events is taken; the
    /// output is queued (sender: this session) the moment the future
    /// completes, so it follows events queued before that and precedes
    /// those queued after. Each round polls a woken task at most once, so
    /// a future that keeps waking itself cannot starve I/O or events.
    ///
    /// ```
    /// use rpoe::{Kernel, Session};
    /// use std::time::Duration;
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// kernel.spawn(
    ///     Session::new(0u32)
    ///         .on("_start", |ctx| {
    ///             let nap = ctx.sleep(Duration::from_millis(1));
    ///             ctx.spawn_future("answer", async move {
    ///                 nap.await;
    ///                 42u32
    ///             });
    ///         })
    ///         .on("answer", |ctx| *ctx.heap() = ctx.take_arg::<u32>().unwrap())
    ///         .on("_stop", |ctx| assert_eq!(*ctx.heap(), 42)),
    ///     (),
    /// );
    /// kernel.run().unwrap();
    /// ```
    pub fn spawn_future<F>(&mut self, event: impl IntoEvent, fut: F) -> TaskId
    where
        F: Future + 'static,
        F::Output: Any,
    {
        let event = self.core.names.resolve(&event);
        let fut: BoxFuture = Box::pin(async move { Payload::new(fut.await) });
        self.core
            .spawn_task(self.frame.key, self.frame.id, event, fut)
    }

    /// Cancel a task of this session: its future is dropped now, its
    /// event never comes. Returns false if it already completed (its
    /// event may still be queued), was cancelled, or belongs to another
    /// session.
    pub fn task_cancel(&mut self, id: TaskId) -> bool {
        let key = self.frame.key;
        let owned = self
            .core
            .tasks
            .slab
            .get(id.key as usize)
            .is_some_and(|t| t.gen == id.gen && t.owner == key);
        if !owned {
            return false;
        }
        let task = self.core.tasks.slab.remove(id.key as usize);
        let _ = self.core.refcount_add(key, TASK_TAG, -1);
        drop(task);
        true
    }

    /// Number of this session's pending tasks.
    pub fn task_count(&self) -> usize {
        let key = self.frame.key;
        self.core
            .tasks
            .slab
            .iter()
            .filter(|(_, t)| t.owner == key)
            .count()
    }
}
