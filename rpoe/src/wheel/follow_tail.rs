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
//! [`WheelError`] (op `"open"`, `"read"` or `"stat"`); the same failure
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
use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::filter::{Filter, Line};
use crate::kernel::{Ctx, EventId, TimerGuard, Value};

use super::{WheelError, WheelId};

/// The session handler (and timer name) every FollowTail polls from.
const POLL_EVENT: &str = "rpoe::wheel::FollowTail poll";
/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes just before the offset that are remembered, to recognise a
/// truncation the size does not show (see the module documentation).
const FINGERPRINT: usize = 256;
/// `EINVAL`, the errno of the error event for a path that is not a
/// regular file.
const EINVAL: i32 = 22;
/// Reads per poll; past it the next poll comes at once instead of after
/// the interval, so one huge append cannot hold the session up.
const READS_PER_POLL: usize = 16;

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
    /// Name the event that receives a [`WheelError`].
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
        let mut state = State {
            id,
            path: self.path,
            file: None,
            ident: None,
            pos: 0,
            filter: self.filter,
            ev,
            interval: self.interval,
            timer: None,
            closed: false,
            last_error: None,
            buf: Vec::new(),
            seen: Vec::new(),
        };
        // Where "the end" is is decided now, not at the first poll: lines
        // appended between the two are new.
        if let Ok(Opened::File(mut file, meta)) = open_regular(&state.path) {
            let len = meta.len();
            let pos = match self.start {
                Start::End => len,
                Start::Beginning => 0,
                Start::Back(n) => len.saturating_sub(n),
            };
            file.seek(SeekFrom::Start(pos))?;
            state.pos = pos;
            state.ident = Some(ident(&meta));
            state.file = Some(file);
            state.load_fingerprint();
        }
        // Other open failures (and a path that is not a regular file) are
        // reported by the first poll.
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

struct State<R> {
    id: WheelId,
    path: PathBuf,
    /// The file being followed, if open.
    file: Option<File>,
    /// Device and inode of the file last opened.
    ident: Option<(u64, u64)>,
    /// Offset read up to.
    pos: u64,
    filter: BoxFilter<R>,
    ev: EventIds,
    interval: Duration,
    /// The pending poll timer.
    timer: Option<TimerGuard>,
    /// The wheel was dropped.
    closed: bool,
    /// The last failure reported, to report each one once.
    last_error: Option<(&'static str, i32)>,
    buf: Vec<u8>,
    /// The last bytes read (at most [`FINGERPRINT`]), which end at `pos`.
    seen: Vec<u8>,
}

struct Inner<R> {
    state: RefCell<State<R>>,
}

/// What a poll owes the session, in order.
enum Emit<R> {
    Input(R),
    Reset,
    Error(WheelError),
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

fn ident(meta: &Metadata) -> (u64, u64) {
    crate::os::file_identity(meta)
}

/// What is at the followed path.
enum Opened {
    /// A regular file, opened, and its metadata.
    File(File, Metadata),
    /// Nothing yet.
    Missing,
    /// Something else: what it is.
    NotRegular(&'static str),
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    crate::os::file_kind(t)
}

/// Open `path` if it is a regular file, without ever blocking: the type is
/// checked first (a `stat` never blocks), and the open is non-blocking in
/// case something else was put there in between (then the type is caught
/// by the `fstat` after it). For a regular file `O_NONBLOCK` changes
/// nothing.
fn open_regular(path: &Path) -> std::io::Result<Opened> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Ok(Opened::NotRegular(kind_of(m.file_type()))),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    }
    let file = match crate::os::open_read_nonblocking(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Opened::NotRegular(kind_of(meta.file_type())));
    }
    Ok(Opened::File(file, meta))
}

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

impl<R> State<R> {
    fn fail(&mut self, op: &'static str, e: &std::io::Error, emits: &mut Vec<Emit<R>>) {
        let key = (op, e.raw_os_error().unwrap_or(-1));
        if self.last_error != Some(key) {
            self.last_error = Some(key);
            emits.push(Emit::Error(WheelError::io(op, e, self.id)));
        }
    }

    /// Start over at the beginning of the current file.
    fn reset(&mut self, emits: &mut Vec<Emit<R>>) {
        let _ = self.filter.take_pending();
        self.pos = 0;
        self.seen.clear();
        emits.push(Emit::Reset);
    }

    /// Remember the bytes just before `pos` of the open file (when it was
    /// opened somewhere other than its start).
    fn load_fingerprint(&mut self) {
        self.seen.clear();
        let Some(file) = &self.file else {
            return;
        };
        let n = self.pos.min(FINGERPRINT as u64) as usize;
        let mut bytes = vec![0; n];
        if crate::os::read_exact_at(file, &mut bytes, self.pos - n as u64).is_ok() {
            self.seen = bytes;
        }
    }

    /// Keep the last [`FINGERPRINT`] bytes read.
    fn remember(&mut self, n: usize) {
        let chunk = &self.buf[..n];
        if chunk.len() >= FINGERPRINT {
            self.seen.clear();
            self.seen
                .extend_from_slice(&chunk[chunk.len() - FINGERPRINT..]);
        } else {
            self.seen.extend_from_slice(chunk);
            let excess = self.seen.len().saturating_sub(FINGERPRINT);
            self.seen.drain(..excess);
        }
    }

    /// Was the open file truncated since it was last read — shorter than
    /// `pos`, or no longer holding the bytes that were read just before
    /// `pos`? (See the module documentation for why the size alone is not
    /// enough.) `Err` if it cannot be told.
    fn truncated(&self) -> std::io::Result<bool> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        if file.metadata()?.len() < self.pos {
            return Ok(true);
        }
        if self.seen.is_empty() {
            return Ok(false);
        }
        let mut now = vec![0; self.seen.len()];
        match crate::os::read_exact_at(file, &mut now, self.pos - self.seen.len() as u64) {
            Ok(()) => Ok(now != self.seen),
            // Shrunk between the two calls.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Report that the path is not a regular file (once).
    fn refuse(&mut self, what: &'static str, emits: &mut Vec<Emit<R>>) {
        let key = ("open", EINVAL);
        if self.last_error != Some(key) {
            self.last_error = Some(key);
            emits.push(Emit::Error(WheelError {
                op: "open",
                errno: EINVAL,
                message: format!(
                    "{} is not a regular file ({what}); FollowTail follows regular files only",
                    self.path.display()
                ),
                wheel: self.id,
            }));
        }
    }

    /// One poll: open the file if needed, read what was appended, then
    /// look for truncation and rotation. Returns true if data may remain.
    fn poll(&mut self, emits: &mut Vec<Emit<R>>) -> bool {
        if self.file.is_none() && !self.open(emits) {
            return false;
        }
        let mut budget = READS_PER_POLL;
        // Truncated since the last read? Checked before reading on: after
        // a truncation and a regrowth, what lies past `pos` is the middle
        // of new content.
        match self.truncated() {
            Ok(false) => {}
            Ok(true) => {
                if let Some(f) = self.file.as_mut() {
                    if let Err(e) = f.seek(SeekFrom::Start(0)) {
                        self.fail("read", &e, emits);
                        self.file = None;
                        return false;
                    }
                }
                self.reset(emits);
            }
            Err(e) => {
                self.fail("stat", &e, emits);
                return false;
            }
        }
        if self.read(emits, &mut budget) {
            return true;
        }
        if self.file.is_none() {
            return false;
        }

        // Rotated: the name leads to another file now. The old one has
        // been read to its end above.
        match std::fs::metadata(&self.path) {
            Ok(m) if Some(ident(&m)) != self.ident => {
                self.file = None;
                if self.open(emits) {
                    return self.read(emits, &mut budget);
                }
            }
            Ok(_) => {}
            // Gone for now (being rotated): keep following the old file.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => self.fail("stat", &e, emits),
        }
        false
    }

    /// Open the file by name. Returns true if it is open. A file other
    /// than the one last followed is read from its start, after a reset
    /// if one was followed before.
    fn open(&mut self, emits: &mut Vec<Emit<R>>) -> bool {
        let (mut file, meta) = match open_regular(&self.path) {
            Ok(Opened::File(f, m)) => (f, m),
            Ok(Opened::Missing) => return false,
            Ok(Opened::NotRegular(what)) => {
                self.refuse(what, emits);
                return false;
            }
            Err(e) => {
                self.fail("open", &e, emits);
                return false;
            }
        };
        let new = ident(&meta);
        match self.ident {
            // The same file again (after a read error): carry on.
            Some(old) if old == new => {
                if let Err(e) = file.seek(SeekFrom::Start(self.pos)) {
                    self.fail("read", &e, emits);
                    return false;
                }
            }
            Some(_) => self.reset(emits),
            // The file appeared: all of it is new.
            None => self.pos = 0,
        }
        self.ident = Some(new);
        self.file = Some(file);
        true
    }

    /// Read to the end of the file (within `budget` reads), feeding the
    /// filter. Returns true if the budget ran out first.
    fn read(&mut self, emits: &mut Vec<Emit<R>>, budget: &mut usize) -> bool {
        if self.buf.len() < READ_CHUNK {
            self.buf.resize(READ_CHUNK, 0);
        }
        let mut records = Vec::new();
        let mut more = false;
        loop {
            if *budget == 0 {
                more = true;
                break;
            }
            let Some(file) = self.file.as_mut() else {
                break;
            };
            *budget -= 1;
            match file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.pos += n as u64;
                    self.remember(n);
                    if let Err(e) = self.filter.get(&self.buf[..n], &mut records) {
                        // A record over the filter's limit: drop what it
                        // holds and carry on after it.
                        let _ = self.filter.take_pending();
                        let err = WheelError {
                            op: "get",
                            errno: 22,
                            message: e.to_string(),
                            wheel: self.id,
                        };
                        emits.extend(records.drain(..).map(Emit::Input));
                        emits.push(Emit::Error(err));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    emits.extend(records.drain(..).map(Emit::Input));
                    self.fail("read", &e, emits);
                    // Reopened (and checked) at the next poll.
                    self.file = None;
                    return false;
                }
            }
        }
        if !records.is_empty() {
            self.last_error = None;
        }
        emits.extend(records.into_iter().map(Emit::Input));
        more
    }
}
