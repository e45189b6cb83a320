//! [`FollowTail`]: follow a growing file by name, like `tail -F` (POE's
//! `POE::Wheel::FollowTail`).
//!
//! Why: log files are the classic input of a monitoring daemon, and a
//! plain file never reports "readable, more to come" to `epoll` — it is
//! always readable, even at its end. So following one means polling, and
//! doing it well means noticing truncation and rotation, keeping partial
//! records, and not reading a file twice. This wheel does that on a timer
//! of the owning session, as POE's does.
//!
//! The wheel polls the file every [`poll_interval`](FollowTailBuilder::poll_interval)
//! (default one second), reads whatever was appended, splits it into
//! records with its filter (default [`Line::new`], POE's default) and sends
//! each one to the session's input event as `(R, WheelId)`. A record
//! written in several pieces is delivered once, complete; several records
//! written at once are delivered in order, none twice.
//!
//! It starts at the end of the file — what is already there is skipped —
//! unless [`seek_start`](FollowTailBuilder::seek_start) or
//! [`seek_back`](FollowTailBuilder::seek_back) says otherwise. A file
//! that does not exist yet is waited for and read from its start once it
//! appears.
//!
//! When the file is **rotated** (the name now leads to another file: a
//! different device or inode), the rest of the old file is read first,
//! then the reset event is sent with the `WheelId`, and the new file is
//! read from its start. When it is **truncated** (same file, but what was
//! read is no longer there), the reset event is sent and the file is read
//! from its start. Bytes of an unfinished record from before the reset are
//! dropped. While the name leads nowhere (rotated away, not yet
//! recreated) the old file is still followed.
//!
//! # How truncation is recognised
//!
//! By size alone (`tail -F`'s way: the file is shorter than the offset
//! read to), a truncation followed by writes that take the file past the
//! old offset before the next poll (`copytruncate` rotation of a busy log)
//! looks like an append: the start of the new content is skipped and
//! reading resumes in the middle of it. Modification times do not help —
//! every append changes them too. So the wheel also remembers the last
//! bytes it read (up to 256, the ones just before its offset) and, before
//! reading on, checks that the file still holds them there: if the file
//! is shorter than the offset, or those bytes changed, the file was
//! truncated (or rewritten in place), and it starts over from the
//! beginning. That costs one small `pread` per poll, from the page cache.
//! What it cannot see is a rewrite that puts the very same bytes back at
//! that spot — then the content there is, byte for byte, what was read.
//!
//! # Regular files only
//!
//! The wheel follows regular files. Anything else at the path — a FIFO, a
//! socket, a device, a directory — is refused with an error event (op
//! `"open"`, errno `EINVAL`, message "... is not a regular file ..."),
//! and the wheel goes on polling the name in case a regular file appears
//! there. The type is checked before opening, and the open itself is
//! non-blocking: opening a FIFO for reading otherwise blocks until a
//! writer appears, and that would block the whole kernel.
//!
//! Failures to open, read or stat the file go to the error event as a
//! [`WheelError`](super::WheelError) (op `"open"`, `"read"` or `"stat"`); the same failure
//! is reported once, not at every poll, and the wheel keeps polling.
//!
//! # How it polls
//!
//! Like POE's wheel, it polls from a timer of the owning session: the
//! session gets a handler named `"rpoe::wheel::FollowTail poll"` when the
//! first wheel starts, and a timer of that name per wheel. The timer keeps
//! the session alive while the wheel exists (`alarm_remove_all` stops it,
//! as in POE); dropping the wheel removes it. Records are delivered with a
//! synchronous call into the session from that handler, as POE's
//! `$kernel->call` does.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::filter::{Filter, Line};
use crate::kernel::{Ctx, EventId, TimerGuard, Value};

use super::WheelId;

mod reading;

use reading::{Emit, State};

/// The session handler (and timer name) every FollowTail polls from.
const POLL_EVENT: &str = "rpoe::wheel::FollowTail poll";

type BoxFilter<R> = Box<dyn Filter<Record = R>>;

/// Where reading starts in a file that exists when the wheel starts.
#[derive(Clone, Copy, Debug)]
enum Start {
    End,
    Beginning,
    Back(u64),
}

#[derive(Default, Clone)]
struct Names {
    input: Option<String>,
    reset: Option<String>,
    error: Option<String>,
}

/// Configures a [`FollowTail`] before it is started in a session.
///
/// ```
/// use std::io::Write;
/// use std::time::Duration;
/// use rpoe::wheel::{FollowTail, WheelId};
/// use rpoe::{Kernel, Session};
///
/// let path = std::env::temp_dir().join(format!("rpoe-doc-tail-{}", std::process::id()));
/// std::fs::write(&path, "already there\n").unwrap();
///
/// struct Heap { tail: Option<FollowTail<Vec<u8>>>, path: std::path::PathBuf }
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Heap { tail: None, path: path.clone() })
///         .on("_start", |ctx| {
///             let path = ctx.heap().path.clone();
///             let tail = FollowTail::builder(&path)
///                 .poll_interval(Duration::from_millis(10))
///                 .on_input("line")
///                 .on_reset("reset")
///                 .start(ctx)
///                 .unwrap();
///             ctx.heap().tail = Some(tail);
///             // Another program appends to the log...
///             let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
///             f.write_all(b"new line\n").unwrap();
///         })
///         .on("line", |ctx| {
///             let (line, _id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///             assert_eq!(line, b"new line"); // the old content was skipped
///             ctx.heap().tail = None; // stop following
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
#[must_use = "a builder does nothing until it is started (or spawned)"]
pub struct FollowTailBuilder<R> {
    path: PathBuf,
    filter: BoxFilter<R>,
    interval: Duration,
    start: Start,
    names: Names,
}

impl<R: 'static> FollowTailBuilder<R> {
    /// Split the file with `filter` instead of [`Line::new`].
    pub fn filter<F>(self, filter: F) -> FollowTailBuilder<F::Record>
    where
        F: Filter + 'static,
        F::Record: 'static,
    {
        FollowTailBuilder {
            path: self.path,
            filter: Box::new(filter),
            interval: self.interval,
            start: self.start,
            names: self.names,
        }
    }
    /// How often to look for new data (POE's `PollInterval`; default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
    /// Read the file from its beginning (POE's `Seek => 0`).
    pub fn seek_start(mut self) -> Self {
        self.start = Start::Beginning;
        self
    }
    /// Start `bytes` before the end of the file, or at its beginning if it
    /// is shorter (POE's `SeekBack`). The first record may be partial.
    pub fn seek_back(mut self, bytes: u64) -> Self {
        self.start = Start::Back(bytes);
        self
    }
    /// Name the event that receives each record, as `(R, WheelId)`.
    pub fn on_input(mut self, event: &str) -> Self {
        self.names.input = Some(event.into());
        self
    }
    /// Name the event sent (with the `WheelId`) when the file was truncated
    /// or replaced and is read again from its start.
    pub fn on_reset(mut self, event: &str) -> Self {
        self.names.reset = Some(event.into());
        self
    }
    /// Name the event that receives a [`WheelError`](super::WheelError).
    pub fn on_error(mut self, event: &str) -> Self {
        self.names.error = Some(event.into());
        self
    }

    /// Open the file (if it exists), find the starting point, and start
    /// polling in the running session; the first poll is due at once.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] if the file exists but cannot be positioned at
    /// the starting point. A missing or unreadable file is not an error here:
    /// it is polled for, and reported to the error event.
    pub fn start<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<FollowTail<R>, crate::Error> {
        let id = WheelId::next();
        let mut name = |e: &Option<String>| e.as_deref().map(|n| ctx.event_id(n));
        let ev = EventIds {
            input: name(&self.names.input),
            reset: name(&self.names.reset),
            error: name(&self.names.error),
        };
        let state = State::new(id, self.path, self.filter, ev, self.interval, self.start)?;
        let inner = Rc::new(Inner {
            state: RefCell::new(state),
        });
        ctx.state(POLL_EVENT, poll_handler::<H>);
        let weak: Weak<dyn Tail> = Rc::downgrade(&inner) as Weak<dyn Tail>;
        let timer = ctx.delay_add(POLL_EVENT, Duration::ZERO, Tick(weak));
        inner.state.borrow_mut().timer = Some(ctx.timer_guard(timer));
        Ok(FollowTail { inner })
    }
}

/// A running tail; dropping it stops following the file.
///
/// Read a file from its beginning, then see it truncated and rewritten:
///
/// ```
/// use std::time::Duration;
/// use rpoe::filter::Line;
/// use rpoe::wheel::{FollowTail, WheelId};
/// use rpoe::{Kernel, Session};
///
/// let path = std::env::temp_dir().join(format!("rpoe-doc-reset-{}", std::process::id()));
/// std::fs::write(&path, "a\nb\n").unwrap();
///
/// #[derive(Default)]
/// struct Heap { tail: Option<FollowTail<Vec<u8>>>, seen: Vec<String> }
///
/// let mut kernel = Kernel::new().unwrap();
/// let (p, q) = (path.clone(), path.clone());
/// kernel.spawn(
///     Session::new(Heap::default())
///         .on("_start", move |ctx| {
///             let tail = FollowTail::builder(&p)
///                 .filter(Line::literal("\n"))
///                 .seek_start()
///                 .poll_interval(Duration::from_millis(10))
///                 .on_input("line")
///                 .on_reset("reset")
///                 .start(ctx)
///                 .unwrap();
///             ctx.heap().tail = Some(tail);
///         })
///         .on("line", move |ctx| {
///             let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///             let line = String::from_utf8(line).unwrap();
///             let heap = ctx.heap();
///             heap.seen.push(line.clone());
///             match line.as_str() {
///                 "b" => {
///                     assert_eq!(heap.tail.as_ref().unwrap().tell(), 4);
///                     std::fs::write(&q, "c\n").unwrap(); // truncated: shorter than 4
///                 }
///                 "c" => heap.tail = None, // done
///                 _ => {}
///             }
///         })
///         .on("reset", |ctx| ctx.heap().seen.push("(reset)".into()))
///         .on("_stop", |ctx| assert_eq!(ctx.heap().seen, ["a", "b", "(reset)", "c"])),
///     (),
/// );
/// kernel.run().unwrap();
/// std::fs::remove_file(&path).unwrap();
/// ```
#[must_use = "dropping the wheel stops following the file at once"]
pub struct FollowTail<R: 'static> {
    inner: Rc<Inner<R>>,
}

impl<R: 'static> std::fmt::Debug for FollowTail<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.state.borrow();
        write!(f, "FollowTail({}, {})", st.id, st.path.display())
    }
}

impl FollowTail<Vec<u8>> {
    /// A builder following the file at `path`, split into lines by
    /// [`Line::new`] (any of CRLF, LF, CR, LFCR ends a line).
    pub fn builder(path: impl AsRef<Path>) -> FollowTailBuilder<Vec<u8>> {
        FollowTailBuilder {
            path: path.as_ref().to_path_buf(),
            filter: Box::new(Line::new()),
            interval: Duration::from_secs(1),
            start: Start::End,
            names: Names::default(),
        }
    }
}

impl<R: 'static> FollowTail<R> {
    /// The wheel's id (the last element of every event it sends).
    pub fn id(&self) -> WheelId {
        self.inner.state.borrow().id
    }

    /// The offset in the current file up to which it has been read (POE's
    /// `tell`); bytes of an unfinished record are included.
    pub fn tell(&self) -> u64 {
        self.inner.state.borrow().pos
    }

    /// The path being followed.
    pub fn path(&self) -> PathBuf {
        self.inner.state.borrow().path.clone()
    }

    /// Rename one of the wheel's events, or stop sending it (`None`), from
    /// now on (POE's `$wheel->event(InputEvent => 'other')`). Takes an
    /// interned name, so the wheel can stay borrowed in the heap:
    /// `let ev = ctx.event_id("other"); ctx.heap().tail.set_event(FollowTailEvent::Input, Some(ev));`
    ///
    /// The events of one poll are named when the poll reads them, so a
    /// rename made while handling one of them applies from the next poll
    /// on (POE looks the name up again for each record).
    pub fn set_event(&self, which: FollowTailEvent, event: Option<EventId>) {
        let mut st = self.inner.state.borrow_mut();
        let slot = match which {
            FollowTailEvent::Input => &mut st.ev.input,
            FollowTailEvent::Error => &mut st.ev.error,
            FollowTailEvent::Reset => &mut st.ev.reset,
        };
        *slot = event;
    }
}

/// One of the events a [`FollowTail`] sends, to rename at run time with
/// [`FollowTail::set_event`] (POE's `$wheel->event(InputEvent => ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FollowTailEvent {
    /// Each record read (POE's `InputEvent`).
    Input,
    /// A failed open, stat or read (POE's `ErrorEvent`).
    Error,
    /// The file was replaced or truncated (POE's `ResetEvent`).
    Reset,
}

impl<R: 'static> Drop for FollowTail<R> {
    fn drop(&mut self) {
        let mut st = self.inner.state.borrow_mut();
        st.closed = true;
        st.file = None;
        // Dropping the guard removes the pending poll.
        let timer = st.timer.take();
        drop(st);
        drop(timer);
    }
}

#[derive(Clone, Copy)]
struct EventIds {
    input: Option<EventId>,
    reset: Option<EventId>,
    error: Option<EventId>,
}

struct Inner<R> {
    state: RefCell<State<R>>,
}

/// A poll, seen without the record type (one handler serves every
/// FollowTail of a session, whatever its filter).
trait Tail {
    /// Read what is new; returns the events to send and whether data may
    /// remain (poll again at once).
    fn poll(&self) -> (Vec<(EventId, Value)>, bool);
    fn closed(&self) -> bool;
    fn interval(&self) -> Duration;
    fn set_timer(&self, timer: Option<TimerGuard>);
}

/// The poll timer's argument.
struct Tick(Weak<dyn Tail>);

/// The session handler behind every FollowTail's timer.
fn poll_handler<H: 'static>(ctx: &mut Ctx<'_, H>) {
    let Ok(Tick(weak)) = ctx.take_arg::<Tick>() else {
        return;
    };
    let Some(tail) = weak.upgrade() else {
        return;
    };
    // It fired: nothing to remove any more.
    tail.set_timer(None);
    if tail.closed() {
        return;
    }
    let (emits, more) = tail.poll();
    for (event, payload) in emits {
        if tail.closed() {
            return;
        }
        // POE's `$kernel->call($session, $event, ...)`.
        let me = ctx.id();
        let _ = ctx.call_value(me, event, payload);
    }
    if tail.closed() {
        return;
    }
    let delay = if more {
        Duration::ZERO
    } else {
        tail.interval()
    };
    let timer = ctx.delay_add(POLL_EVENT, delay, Tick(weak));
    let guard = ctx.timer_guard(timer);
    tail.set_timer(Some(guard));
}

impl<R: 'static> Tail for Inner<R> {
    fn poll(&self) -> (Vec<(EventId, Value)>, bool) {
        let mut st = self.state.borrow_mut();
        let mut emits = Vec::new();
        let more = st.poll(&mut emits);
        let (id, ev) = (st.id, st.ev);
        let out = emits
            .into_iter()
            .filter_map(|e| match e {
                Emit::Input(r) => ev.input.map(|e| (e, Value::new((r, id)))),
                Emit::Reset => ev.reset.map(|e| (e, Value::new(id))),
                Emit::Error(err) => ev.error.map(|e| (e, Value::new(err))),
            })
            .collect();
        (out, more)
    }

    fn closed(&self) -> bool {
        self.state.borrow().closed
    }

    fn interval(&self) -> Duration {
        self.state.borrow().interval
    }

    fn set_timer(&self, timer: Option<TimerGuard>) {
        let old = std::mem::replace(&mut self.state.borrow_mut().timer, timer);
        // The timer it guarded fired (that is when this is called): there
        // is nothing to remove.
        if let Some(old) = old {
            let _ = old.disarm();
        }
    }
}
