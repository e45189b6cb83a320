//! Posting into a kernel from other threads: [`KernelHandle`] and the
//! bounded inbox behind it.
//!
//! The kernel is single-threaded; other threads hand it events through an
//! inbox (a mutex-guarded queue) and wake it through its mio waker. The
//! inbox holds at most a fixed number of posts
//! ([`crate::KernelBuilder::inbox_capacity`]), and the kernel takes at
//! most a fixed number of them per round, so a thread that posts faster
//! than the kernel can dispatch is slowed down to the kernel's pace
//! instead of growing memory without bound and starving timers and I/O.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use mio::Waker;

use super::error::Error;
use super::ids::SessionId;

/// Where a [`KernelHandle`] posts.
#[derive(Clone, Debug)]
pub enum RemoteDest {
    /// A session by id.
    Id(SessionId),
    /// A session by alias.
    Alias(String),
}

impl From<SessionId> for RemoteDest {
    fn from(id: SessionId) -> Self {
        RemoteDest::Id(id)
    }
}

impl From<&str> for RemoteDest {
    fn from(a: &str) -> Self {
        RemoteDest::Alias(a.to_string())
    }
}

pub(crate) struct RemotePost {
    pub dest: RemoteDest,
    pub event: String,
    pub args: Box<dyn super::payload::SendArg>,
}

/// The posts waiting for the kernel, and how many posters wait for room.
#[derive(Default)]
pub(crate) struct Inbox {
    pub posts: VecDeque<RemotePost>,
    /// Threads blocked in [`KernelHandle::post`] (so the kernel signals
    /// the condition variable only when someone listens).
    waiting: usize,
}

/// The inbox shared by a kernel and its handles.
pub(crate) struct RemoteQueue {
    inbox: Mutex<Inbox>,
    /// Signalled when the kernel took posts out (or was dropped).
    room: Condvar,
    /// The inbox may hold posts the kernel has not looked at: set by a
    /// poster that found it clear (it then wakes the kernel), and by the
    /// kernel itself when it left posts for the next round.
    pub pending: AtomicBool,
    /// The kernel was dropped: posting fails from now on.
    pub closed: AtomicBool,
    pub capacity: usize,
    /// The thread the kernel lives on (it is not `Send`): a post from it
    /// must never wait for room, since only that thread makes room.
    kernel_thread: ThreadId,
}

impl RemoteQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        RemoteQueue {
            inbox: Mutex::new(Inbox::default()),
            room: Condvar::new(),
            pending: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            capacity,
            kernel_thread: std::thread::current().id(),
        }
    }

    /// The inbox, locked. A poster that panicked while holding the lock
    /// cannot have left it inconsistent (every critical section is a
    /// single push or drain), so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inbox> {
        match self.inbox.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Move up to `max` posts, oldest first, into `out`; wake posters
    /// waiting for room; keep `pending` set if posts are left.
    pub(crate) fn take(&self, max: usize, out: &mut Vec<RemotePost>) {
        let mut inbox = self.lock();
        let n = max.min(inbox.posts.len());
        out.extend(inbox.posts.drain(..n));
        if !inbox.posts.is_empty() {
            self.pending.store(true, Ordering::Release);
        }
        if n > 0 && inbox.waiting > 0 {
            self.room.notify_all();
        }
    }

    /// The kernel is gone: fail blocked and future posts, and drop what
    /// was queued (nobody will ever dispatch it).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let dropped = std::mem::take(&mut self.lock().posts);
        self.room.notify_all();
        drop(dropped);
    }
}

/// How long a post may wait for room.
#[derive(Clone, Copy)]
enum Wait {
    No,
    Until(Instant),
    Forever,
}

/// A cross-thread post that was not queued, with its argument given back
/// so it can be retried or dropped by the caller. From
/// [`KernelHandle::try_post`] and [`KernelHandle::post_timeout`].
///
/// New reasons may be added, so a `match` needs a wildcard arm.
#[non_exhaustive]
pub enum TryPostError<A> {
    /// The kernel's inbox was full (and, for `post_timeout`, stayed full
    /// until the timeout).
    Full(A),
    /// The kernel has been dropped.
    Closed(A),
}

impl<A> TryPostError<A> {
    /// The argument that was not posted.
    pub fn into_inner(self) -> A {
        match self {
            TryPostError::Full(a) | TryPostError::Closed(a) => a,
        }
    }

    /// Whether it failed because the inbox was full (retrying later may
    /// work) rather than because the kernel is gone.
    pub fn is_full(&self) -> bool {
        matches!(self, TryPostError::Full(_))
    }
}

impl<A> fmt::Debug for TryPostError<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPostError::Full(_) => f.write_str("Full(..)"),
            TryPostError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<A> fmt::Display for TryPostError<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPostError::Full(_) => f.write_str("the kernel's cross-thread inbox is full"),
            TryPostError::Closed(_) => f.write_str("the kernel is gone"),
        }
    }
}

impl<A> std::error::Error for TryPostError<A> {}

impl<A> From<TryPostError<A>> for Error {
    fn from(e: TryPostError<A>) -> Error {
        match e {
            TryPostError::Full(_) => Error::InboxFull,
            TryPostError::Closed(_) => Error::NoSuchSession("the kernel is gone".into()),
        }
    }
}

/// Posts into a kernel from any thread and wakes it (what POE cannot do).
/// `Send + Sync + Clone`. Events arrive with the kernel as sender, in the
/// order each thread posted them. A handle does not keep any session
/// alive; hold a refcount ([`crate::Ctx::refcount_increment`]) while
/// replies are expected.
///
/// # Back-pressure
///
/// Posts wait in a bounded inbox
/// ([`crate::KernelBuilder::inbox_capacity`], default 65,536) until the
/// kernel takes them, at most half of
/// [`crate::KernelBuilder::events_per_round`] per round. When the inbox
/// is full:
///
/// - [`KernelHandle::post`] blocks the posting thread until the kernel
///   makes room, so a producer faster than the kernel runs at the
///   kernel's pace and nothing is lost — the behaviour a worker pool
///   handing back results wants. Called on the kernel's own thread (from
///   a handler, say) it cannot wait for itself, so it fails with
///   [`Error::InboxFull`] instead of deadlocking;
/// - [`KernelHandle::try_post`] fails at once with
///   [`TryPostError::Full`], giving the argument back (to drop, count or
///   retry: load shedding);
/// - [`KernelHandle::post_timeout`] waits at most the given time.
///
/// Memory is bounded by the capacity in posts, each about 100 bytes plus
/// its argument. A kernel that is not running (before or between `run`
/// calls) takes nothing, so a blocking `post` then waits until it runs
/// again or is dropped; use `post_timeout` where that matters. Dropping
/// the kernel fails every waiting and later post.
///
/// ```
/// use rpoe::{Kernel, Session};
///
/// let mut kernel = Kernel::new().unwrap();
/// let remote = kernel.handle();
/// kernel.spawn(
///     Session::new(())
///         .on("_start", |ctx| {
///             ctx.alias_set("sink").unwrap();
///             let me = ctx.id();
///             ctx.refcount_increment(me, "waiting").unwrap();
///         })
///         .on("from_thread", |ctx| {
///             assert_eq!(ctx.take_arg::<String>().unwrap(), "hi");
///             let me = ctx.id();
///             ctx.refcount_decrement(me, "waiting").unwrap();
///         }),
///     (),
/// );
/// let t = std::thread::spawn(move || remote.post("sink", "from_thread", String::from("hi")).unwrap());
/// kernel.run().unwrap();
/// t.join().unwrap();
/// ```
#[derive(Clone)]
pub struct KernelHandle {
    pub(crate) queue: Arc<RemoteQueue>,
    pub(crate) waker: Arc<Waker>,
}

impl KernelHandle {
    /// Queue `event` with `args` for `dest` and wake the kernel, waiting
    /// for room while the inbox is full (see "Back-pressure" above). Fails
    /// if the kernel has been dropped, or with [`Error::InboxFull`] when
    /// called on the kernel's own thread with the inbox full. An unknown
    /// destination is dropped by the kernel (logged at debug level).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if the kernel has been dropped;
    /// [`Error::InboxFull`] on the kernel's own thread with the inbox full.
    pub fn post<A: Any + Send>(
        &self,
        dest: impl Into<RemoteDest>,
        event: &str,
        args: A,
    ) -> Result<(), Error> {
        self.push(dest.into(), event, args, Wait::Forever)
            .map_err(Error::from)
    }

    /// Queue the event if the inbox has room, else fail at once with
    /// [`TryPostError::Full`], which gives `args` back. Never blocks.
    ///
    /// # Errors
    ///
    /// [`TryPostError::Full`] if the inbox has no room; the error for a
    /// dropped kernel otherwise (both give `args` back).
    pub fn try_post<A: Any + Send>(
        &self,
        dest: impl Into<RemoteDest>,
        event: &str,
        args: A,
    ) -> Result<(), TryPostError<A>> {
        self.push(dest.into(), event, args, Wait::No)
    }

    /// Like [`KernelHandle::post`], but wait at most `timeout` for room
    /// ([`TryPostError::Full`] with `args` back after that). On the
    /// kernel's own thread it does not wait.
    ///
    /// # Errors
    ///
    /// [`TryPostError::Full`] if no room came within `timeout` (or at once on
    /// the kernel's own thread); the error for a dropped kernel otherwise.
    pub fn post_timeout<A: Any + Send>(
        &self,
        dest: impl Into<RemoteDest>,
        event: &str,
        args: A,
        timeout: Duration,
    ) -> Result<(), TryPostError<A>> {
        let wait = match Instant::now().checked_add(timeout) {
            Some(deadline) => Wait::Until(deadline),
            None => Wait::Forever,
        };
        self.push(dest.into(), event, args, wait)
    }

    /// The most posts the inbox holds.
    pub fn capacity(&self) -> usize {
        self.queue.capacity
    }

    /// Posts waiting in the inbox right now (for monitoring; it may have
    /// changed by the time you look at the number).
    pub fn queued(&self) -> usize {
        self.queue.lock().posts.len()
    }

    fn push<A: Any + Send>(
        &self,
        dest: RemoteDest,
        event: &str,
        args: A,
        mut wait: Wait,
    ) -> Result<(), TryPostError<A>> {
        let q = &*self.queue;
        // Allocate before taking the lock, to keep it short.
        let mut post = Some(RemotePost {
            dest,
            event: event.to_string(),
            args: super::payload::send_slot(args),
        });
        let mut inbox = q.lock();
        // `Some(full?)` when the post was refused.
        let refused = loop {
            if q.closed.load(Ordering::Acquire) {
                break Some(false);
            }
            if inbox.posts.len() < q.capacity {
                if let Some(p) = post.take() {
                    inbox.posts.push_back(p);
                }
                break None;
            }
            if !matches!(wait, Wait::No) && std::thread::current().id() == q.kernel_thread {
                // Only this thread makes room: waiting would deadlock.
                wait = Wait::No;
            }
            let timeout = match wait {
                Wait::No => break Some(true),
                Wait::Forever => None,
                Wait::Until(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break Some(true),
                },
            };
            inbox.waiting += 1;
            inbox = match timeout {
                None => match q.room.wait(inbox) {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                },
                Some(left) => match q.room.wait_timeout(inbox, left) {
                    Ok((g, _)) => g,
                    Err(poisoned) => poisoned.into_inner().0,
                },
            };
            inbox.waiting -= 1;
        };
        drop(inbox);
        if let (Some(full), Some(p)) = (refused, post) {
            let Some(args) = super::payload::unslot::<A>(p.args) else {
                unreachable!("boxed above as an A")
            };
            return Err(if full {
                TryPostError::Full(args)
            } else {
                TryPostError::Closed(args)
            });
        }
        // Wake the kernel only if it may not know yet: a post into an
        // inbox already flagged costs no system call.
        if !q.pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.waker.wake() {
                // The post is queued; the kernel finds it at its next
                // round whatever woke it.
                tracing::warn!(target: "rpoe::kernel", error = %e, "could not wake the kernel");
            }
        }
        Ok(())
    }
}
