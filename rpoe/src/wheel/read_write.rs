//! [`ReadWrite`]: buffered, filtered I/O on one stream (POE's
//! `POE::Wheel::ReadWrite`).
//!
//! Why: it is the wheel almost every connection uses. It replaces the
//! hand-kept input and output buffers of a bare-watcher program — and the
//! switching of the write watcher on and off — with records in and
//! `put` out, and it bounds what it holds: input by its filter's limits,
//! output by the high and low marks a server uses for backpressure.
//!
//! Input is read until the socket would block, split into records by the
//! input filter, and each record is handed to the session's input handler
//! as `(record, WheelId)`. [`ReadWrite::put`] encodes records with the
//! output filter into a buffer that the wheel writes when the handler that
//! called it returns (or, to keep order, when it next posts an event) —
//! so consecutive puts become one write — and then whenever the stream is
//! writable, until the buffer is empty.
//!
//! Events (all optional, named by the user): input `(R, WheelId)`; error
//! [`WheelError`] (end of file is a `"read"` error with errno 0; reading
//! stops there, and an unterminated trailing record is dropped, as in
//! POE); flushed `WheelId` when the output buffer empties; high `WheelId`
//! when a write leaves the buffer at or above the high mark, low `WheelId`
//! when it drains to the low mark.

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::marker::PhantomData;
use std::rc::{Rc, Weak};

use crate::filter::Filter;
use crate::kernel::{
    Core, Ctx, EventId, HandleId, IoMode, IoSource, KDelivery, KPayload, LocalOp, Sender,
    SessionId, SessionKey, Target, WheelIo,
};

use super::{WheelError, WheelId};

/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// Reads per readiness event before other handles get a turn.
const READS_PER_EVENT: usize = 16;

type BoxFilter<R> = Box<dyn Filter<Record = R>>;

/// Configures a [`ReadWrite`] before it is started in a session.
///
/// An echo service on one end of a connected pair of sockets (a stand-in
/// for an accepted TCP connection), and a second wheel on the other end
/// playing the client:
///
/// ```
/// use mio::net::UnixStream;
/// use rpoe::filter::Line;
/// use rpoe::wheel::{ReadWrite, WheelError, WheelId};
/// use rpoe::{Ctx, Kernel, Session};
///
/// #[derive(Default)]
/// struct Heap {
///     server: Option<ReadWrite<Vec<u8>>>,
///     client: Option<ReadWrite<Vec<u8>>>,
///     echoed: Vec<Vec<u8>>,
/// }
///
/// fn start(ctx: &mut Ctx<'_, Heap>) {
///     let (near, far) = UnixStream::pair().unwrap();
///     let server = ReadWrite::builder(near, Line::literal(b"\n"))
///         .on_input("line")
///         .on_error("error")
///         .start(ctx)
///         .unwrap();
///     let client = ReadWrite::builder(far, Line::literal(b"\n"))
///         .on_input("echoed")
///         .start(ctx)
///         .unwrap();
///     client.put(&b"hello".to_vec()).unwrap();
///     client.put(&b"world".to_vec()).unwrap(); // one write, when start returns
///     let heap = ctx.heap();
///     heap.server = Some(server);
///     heap.client = Some(client);
/// }
///
/// fn line(ctx: &mut Ctx<'_, Heap>) {
///     let (line, _id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///     if let Some(w) = &ctx.heap().server {
///         w.put(&line).unwrap(); // echo it back
///     }
/// }
///
/// fn echoed(ctx: &mut Ctx<'_, Heap>) {
///     let (line, _id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///     let heap = ctx.heap();
///     heap.echoed.push(line);
///     if heap.echoed.len() == 2 {
///         heap.client = None; // hang up: the server reads end of file
///     }
/// }
///
/// fn error(ctx: &mut Ctx<'_, Heap>) {
///     let e = ctx.take_arg::<WheelError>().unwrap();
///     assert!(e.is_eof());
///     ctx.heap().server = None; // closes the stream
/// }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Heap::default())
///         .on("_start", start)
///         .on("line", line)
///         .on("echoed", echoed)
///         .on("error", error)
///         .on("_stop", |ctx| {
///             assert_eq!(ctx.heap().echoed, [b"hello".to_vec(), b"world".to_vec()]);
///         }),
///     (),
/// );
/// kernel.run().unwrap(); // returns once both wheels are gone
/// ```
pub struct ReadWriteBuilder<S, R> {
    stream: S,
    input: BoxFilter<R>,
    output: BoxFilter<R>,
    events: Events,
    high: Option<usize>,
    low: Option<usize>,
}

#[derive(Default, Clone)]
struct Events {
    input: Option<String>,
    error: Option<String>,
    flushed: Option<String>,
    high: Option<String>,
    low: Option<String>,
}

/// A running wheel; dropping it closes the stream.
///
/// A request and its answer over a half-closed stream: the client sends
/// its request and shuts down its write side ([`shutdown_output`]); the
/// server answers after reading end of file, and closes only once the
/// answer is written ([`is_flushing`], the flushed event).
///
/// [`shutdown_output`]: ReadWrite::shutdown_output
/// [`is_flushing`]: ReadWrite::is_flushing
///
/// ```
/// use mio::net::UnixStream;
/// use rpoe::filter::Line;
/// use rpoe::wheel::{ReadWrite, WheelError, WheelId};
/// use rpoe::{Kernel, Session};
///
/// #[derive(Default)]
/// struct Heap {
///     server: Option<ReadWrite<Vec<u8>>>,
///     client: Option<ReadWrite<Vec<u8>>>,
///     request: Vec<u8>,
///     answer: Vec<u8>,
/// }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Heap::default())
///         .on("_start", |ctx| {
///             let (near, far) = UnixStream::pair().unwrap();
///             let server = ReadWrite::builder(near, Line::literal("\n"))
///                 .on_input("request")
///                 .on_error("server_eof")
///                 .on_flushed("server_flushed")
///                 .start(ctx)
///                 .unwrap();
///             let client = ReadWrite::builder(far, Line::literal("\n"))
///                 .on_input("answer")
///                 .on_error("client_eof")
///                 .start(ctx)
///                 .unwrap();
///             client.put(&b"sum 1 2".to_vec()).unwrap();
///             client.shutdown_output(); // after the request is written
///             let heap = ctx.heap();
///             (heap.server, heap.client) = (Some(server), Some(client));
///         })
///         .on("request", |ctx| {
///             let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///             ctx.heap().request = line;
///         })
///         .on("server_eof", |ctx| {
///             let heap = ctx.heap();
///             assert_eq!(heap.request, b"sum 1 2");
///             let server = heap.server.as_ref().unwrap();
///             server.put(&b"3".to_vec()).unwrap();
///             assert!(server.is_flushing()); // written when this handler returns
///         })
///         .on("server_flushed", |ctx| ctx.heap().server = None)
///         .on("answer", |ctx| {
///             let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///             ctx.heap().answer = line;
///         })
///         .on("client_eof", |ctx| {
///             assert!(ctx.take_arg::<WheelError>().unwrap().is_eof());
///             ctx.heap().client = None;
///         })
///         .on("_stop", |ctx| assert_eq!(ctx.heap().answer, b"3")),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
pub struct ReadWrite<R: 'static> {
    inner: Rc<dyn Control<R>>,
}

impl<R: 'static> std::fmt::Debug for ReadWrite<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadWrite({})", self.inner.id())
    }
}

/// What the user-facing handle can ask of the running wheel.
trait Control<R> {
    fn id(&self) -> WheelId;
    fn put(&self, record: &R) -> Result<bool, crate::filter::FilterError>;
    fn pause_input(&self, paused: bool);
    fn shutdown_output(&self);
    fn set_marks(&self, high: Option<usize>, low: Option<usize>);
    fn pending(&self) -> usize;
    fn flush_owed(&self) -> bool;
    fn set_input_filter(&self, f: BoxFilter<R>);
    fn set_output_filter(&self, f: BoxFilter<R>);
    fn close(&self);
}

impl<S, R> ReadWriteBuilder<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    /// Name the event that receives each record, as `(R, WheelId)`.
    pub fn on_input(mut self, event: &str) -> Self {
        self.events.input = Some(event.into());
        self
    }
    /// Name the event that receives a [`WheelError`] (including EOF).
    pub fn on_error(mut self, event: &str) -> Self {
        self.events.error = Some(event.into());
        self
    }
    /// Name the event sent (with the `WheelId`) when the output buffer
    /// becomes empty.
    pub fn on_flushed(mut self, event: &str) -> Self {
        self.events.flushed = Some(event.into());
        self
    }
    /// High-water mark: `put` returns true at or above it, and `event` is
    /// sent when a write leaves the buffer there.
    pub fn on_high(mut self, mark: usize, event: &str) -> Self {
        self.high = Some(mark);
        self.events.high = Some(event.into());
        self
    }
    /// Low-water mark: `event` is sent when the buffer drains to it after
    /// having been high.
    pub fn on_low(mut self, mark: usize, event: &str) -> Self {
        self.low = Some(mark);
        self.events.low = Some(event.into());
        self
    }
    /// Use a different filter for output than for input.
    pub fn output_filter(mut self, f: impl Filter<Record = R> + 'static) -> Self {
        self.output = Box::new(f);
        self
    }

    /// Give the stream to the kernel on behalf of the running session and
    /// start reading.
    pub fn start<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<ReadWrite<R>, crate::Error> {
        let id = WheelId::next();
        let owner = ctx.frame.key;
        let owner_id = ctx.frame.id;
        let mut name = |e: &Option<String>| e.as_deref().map(|n| ctx.core.names.resolve(&n));
        let ev = EventIds {
            input: name(&self.events.input),
            error: name(&self.events.error),
            flushed: name(&self.events.flushed),
            high: name(&self.events.high),
            low: name(&self.events.low),
        };
        let handle = ctx.core.add_handle(owner, Box::new(self.stream));
        let inner = Rc::new_cyclic(|me: &Weak<Inner<S, R>>| Inner {
            me: me.clone(),
            local: ctx.core.local.clone(),
            state: RefCell::new(State {
                id,
                owner,
                owner_id,
                handle: Some(handle),
                input: self.input,
                output: self.output,
                out: Vec::new(),
                out_start: 0,
                ev,
                high: self.high,
                low: self.low,
                is_high: false,
                write_on: false,
                flush_queued: false,
                batching: false,
                flush_after_batch: false,
                read_paused: false,
                shutdown_output: false,
                rbuf: Vec::new(),
                carry: Vec::new(),
            }),
            _s: PhantomData,
        });
        let target = Target::Wheel(inner.clone());
        ctx.core
            .set_target(owner, handle, IoMode::Read, Some(target))?;
        Ok(ReadWrite { inner })
    }
}

impl<R: 'static> ReadWrite<R> {
    /// A builder for a wheel on `stream`, with `filter` both ways.
    pub fn builder<S, F>(stream: S, filter: F) -> ReadWriteBuilder<S, R>
    where
        S: IoSource + Read + Write,
        F: Filter<Record = R> + Clone + 'static,
    {
        ReadWriteBuilder {
            stream,
            input: Box::new(filter.clone()),
            output: Box::new(filter),
            events: Events::default(),
            high: None,
            low: None,
        }
    }

    /// A builder with separate input and output filters (POE's
    /// `InputFilter` / `OutputFilter`); neither needs to be `Clone`, so
    /// closure-based filters such as [`crate::filter::Map`] fit here.
    ///
    /// ```
    /// use rpoe::filter::{Line, Map};
    /// use rpoe::wheel::ReadWrite;
    ///
    /// let (mine, _peer) = mio::net::UnixStream::pair().unwrap();
    /// // Lines in as upper-case Strings, Strings out as lines.
    /// let upper = Map::new(
    ///     Line::literal(b"\n"),
    ///     |l: Vec<u8>| String::from_utf8_lossy(&l).to_uppercase(),
    ///     |s: &String| s.clone().into_bytes(),
    /// );
    /// let out = Map::new(
    ///     Line::literal(b"\n"),
    ///     |l: Vec<u8>| String::from_utf8_lossy(&l).into_owned(),
    ///     |s: &String| s.clone().into_bytes(),
    /// );
    /// let _builder = ReadWrite::builder_with(mine, upper, out).on_input("line");
    /// ```
    pub fn builder_with<S, I, O>(stream: S, input: I, output: O) -> ReadWriteBuilder<S, R>
    where
        S: IoSource + Read + Write,
        I: Filter<Record = R> + 'static,
        O: Filter<Record = R> + 'static,
    {
        ReadWriteBuilder {
            stream,
            input: Box::new(input),
            output: Box::new(output),
            events: Events::default(),
            high: None,
            low: None,
        }
    }

    /// The wheel's id (the last element of every event it sends).
    pub fn id(&self) -> WheelId {
        self.inner.id()
    }

    /// Encode `record` into the output buffer. The buffer is written when
    /// the current handler returns and then as the stream allows. Returns
    /// true if the buffer is at or above the high mark (POE's `put`).
    pub fn put(&self, record: &R) -> Result<bool, crate::filter::FilterError> {
        self.inner.put(record)
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// True while output is pending or its flushed event has not been
    /// sent yet: close after this turns false to lose nothing (and miss
    /// no flushed event).
    pub fn is_flushing(&self) -> bool {
        self.inner.pending() > 0 || self.inner.flush_owed()
    }

    /// Stop reading (data waits in the OS) until [`ReadWrite::resume_input`].
    pub fn pause_input(&self) {
        self.inner.pause_input(true);
    }

    /// Resume reading.
    pub fn resume_input(&self) {
        self.inner.pause_input(false);
    }

    /// Half-close: once the output buffer is written, shut down the write
    /// side of the stream (the peer sees end of file).
    pub fn shutdown_output(&self) {
        self.inner.shutdown_output();
    }

    /// Change the high and low marks.
    pub fn set_marks(&self, high: Option<usize>, low: Option<usize>) {
        self.inner.set_marks(high, low);
    }

    /// Switch the input filter; bytes the old one held are fed to the new.
    pub fn set_input_filter(&self, f: impl Filter<Record = R> + 'static) {
        self.inner.set_input_filter(Box::new(f));
    }

    /// Switch the output filter.
    pub fn set_output_filter(&self, f: impl Filter<Record = R> + 'static) {
        self.inner.set_output_filter(Box::new(f));
    }
}

impl<R: 'static> Drop for ReadWrite<R> {
    fn drop(&mut self) {
        self.inner.close();
    }
}

#[derive(Clone, Copy)]
struct EventIds {
    input: Option<EventId>,
    error: Option<EventId>,
    flushed: Option<EventId>,
    high: Option<EventId>,
    low: Option<EventId>,
}

struct State<R> {
    id: WheelId,
    owner: SessionKey,
    owner_id: SessionId,
    /// `None` once closed.
    handle: Option<HandleId>,
    input: BoxFilter<R>,
    output: BoxFilter<R>,
    out: Vec<u8>,
    out_start: usize,
    ev: EventIds,
    high: Option<usize>,
    low: Option<usize>,
    is_high: bool,
    write_on: bool,
    flush_queued: bool,
    /// The wheel is handing a batch of events to its session: puts made
    /// meanwhile are written once, after the batch.
    batching: bool,
    flush_after_batch: bool,
    read_paused: bool,
    shutdown_output: bool,
    rbuf: Vec<u8>,
    /// Records completed by a filter switch, delivered with the next read.
    carry: Vec<R>,
}

impl<R> State<R> {
    fn pending(&self) -> usize {
        self.out.len() - self.out_start
    }
}

struct Inner<S, R> {
    me: Weak<Inner<S, R>>,
    local: Rc<crate::kernel::LocalQueue>,
    state: RefCell<State<R>>,
    _s: PhantomData<S>,
}

/// An event the wheel owes its session, sent once the state is released.
enum Emit<R> {
    Input(R),
    Error(WheelError),
    Flushed,
    High,
    Low,
}

impl<S, R> Inner<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    fn queue(&self, task: impl FnOnce(&mut Core) + 'static) {
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(task)));
    }

    /// Write what the buffer holds; returns events owed. Never calls user
    /// code (it may run while a handler is on the stack).
    fn write_out(&self, core: &mut Core) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut st = self.state.borrow_mut();
        let Some(h) = st.handle else {
            return emit;
        };
        let Some(sock) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<S>())
        else {
            return emit;
        };
        let mut failed = None;
        while st.pending() > 0 {
            let start = st.out_start;
            match sock.write(&st.out[start..]) {
                Ok(0) => {
                    failed = Some(std::io::Error::from(ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => st.out_start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            emit.push(Emit::Error(WheelError::io("write", &e, st.id)));
            st.out.clear();
            st.out_start = 0;
        }
        let left = st.pending();
        if left == 0 {
            st.out = Vec::new();
            st.out_start = 0;
        } else if st.out_start > st.out.len() / 2 {
            let start = st.out_start;
            st.out.drain(..start);
            st.out_start = 0;
        }
        if st.is_high && st.low.is_some_and(|low| left <= low) {
            st.is_high = false;
            emit.push(Emit::Low);
        } else if !st.is_high && st.high.is_some_and(|high| left >= high) {
            st.is_high = true;
            emit.push(Emit::High);
        }
        if left == 0 {
            emit.push(Emit::Flushed);
            if st.shutdown_output {
                if let Some(sock) = core
                    .handles
                    .get_mut(h)
                    .and_then(|e| (*e.io).as_any_mut().downcast_mut::<S>())
                {
                    let _ = sock.flush();
                }
                let _ = shutdown_write(core, h);
            }
        }
        let want_write = left > 0;
        let (owner, write_on) = (st.owner, st.write_on);
        st.write_on = want_write;
        drop(st);
        if want_write != write_on {
            let target = want_write.then(|| self.target());
            let _ = core.set_target(owner, h, IoMode::Write, target.flatten());
        }
        emit
    }

    fn target(&self) -> Option<Target> {
        let me: Rc<dyn WheelIo> = self.me.upgrade()?;
        Some(Target::Wheel(me))
    }

    /// Send owed events to the session. Only called at kernel level (no
    /// handler on the stack) or through `post` when one might be.
    fn send(&self, core: &mut Core, emits: Vec<Emit<R>>, direct: bool) {
        if direct {
            self.state.borrow_mut().batching = true;
        }
        self.send_each(core, emits, direct);
        if direct {
            let flush = {
                let mut st = self.state.borrow_mut();
                st.batching = false;
                std::mem::take(&mut st.flush_after_batch)
            };
            if flush {
                // One write for everything the batch's handlers put.
                let emits = self.write_out(core);
                self.send(core, emits, true);
            }
        }
    }

    fn send_each(&self, core: &mut Core, emits: Vec<Emit<R>>, direct: bool) {
        for e in emits {
            let (owner, owner_id, id, ev, open) = {
                let st = self.state.borrow();
                (st.owner, st.owner_id, st.id, st.ev, st.handle.is_some())
            };
            if !open {
                return;
            }
            let (event, payload) = match e {
                Emit::Input(r) => (ev.input, KPayload::new((r, id))),
                Emit::Error(err) => (ev.error, KPayload::new(err)),
                Emit::Flushed => (ev.flushed, KPayload::new(id)),
                Emit::High => (ev.high, KPayload::new(id)),
                Emit::Low => (ev.low, KPayload::new(id)),
            };
            let Some(event) = event else {
                continue;
            };
            if direct {
                let _ = core.deliver(
                    None,
                    owner,
                    KDelivery {
                        event,
                        sender: Sender::Session(owner_id),
                        payload,
                        active: None,
                    },
                );
            } else {
                core.post_key(owner, Some(owner), event, payload);
            }
        }
    }

    fn read_in(&self, core: &mut Core, h: HandleId) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        if st.rbuf.len() < READ_CHUNK {
            st.rbuf.resize(READ_CHUNK, 0);
        }
        let Some(sock) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<S>())
        else {
            return emit;
        };
        let mut records = std::mem::take(&mut st.carry);
        let mut drained = false;
        let mut end: Option<WheelError> = None;
        for _ in 0..READS_PER_EVENT {
            match sock.read(&mut st.rbuf) {
                Ok(0) => {
                    end = Some(WheelError {
                        op: "read",
                        errno: 0,
                        message: String::new(),
                        wheel: st.id,
                    });
                    break;
                }
                Ok(n) => {
                    if let Err(e) = st.input.get(&st.rbuf[..n], &mut records) {
                        end = Some(WheelError {
                            op: "get",
                            errno: 22,
                            message: e.to_string(),
                            wheel: st.id,
                        });
                        break;
                    }
                    // A short read empties the socket; unless the peer
                    // closed with this event, more data or EOF raises a
                    // new one (see Ctx::io_peer_closed).
                    if n < st.rbuf.len() && !core.io_closed {
                        drained = true;
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    end = Some(WheelError::io("read", &e, st.id));
                    break;
                }
            }
        }
        if st.rbuf.len() > READ_CHUNK {
            st.rbuf.truncate(READ_CHUNK);
        }
        emit.extend(records.into_iter().map(Emit::Input));
        if let Some(err) = end {
            // Reading is over: stop watching for input.
            let owner = st.owner;
            let _ = core.set_target(owner, h, IoMode::Read, None);
            emit.push(Emit::Error(err));
        } else if drained {
            core.handles.drained(h, IoMode::Read);
        }
        emit
    }
}

/// Shut down the write side of a handle (for sockets: `shutdown(Write)`).
fn shutdown_write(core: &mut Core, h: HandleId) -> std::io::Result<()> {
    let Some(e) = core.handles.get_mut(h) else {
        return Ok(());
    };
    let any = (*e.io).as_any_mut();
    if let Some(s) = any.downcast_mut::<mio::net::TcpStream>() {
        return s.shutdown(std::net::Shutdown::Write);
    }
    if let Some(s) = any.downcast_mut::<mio::net::UnixStream>() {
        return s.shutdown(std::net::Shutdown::Write);
    }
    Ok(())
}

impl<S, R> WheelIo for Inner<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    fn ready(&self, core: &mut Core, handle: HandleId, mode: IoMode) {
        let emits = match mode {
            IoMode::Read => self.read_in(core, handle),
            IoMode::Write => {
                let e = self.write_out(core);
                core.handles.drained(handle, IoMode::Write);
                e
            }
        };
        self.send(core, emits, true);
    }
}

impl<S, R> Control<R> for Inner<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    fn id(&self) -> WheelId {
        self.state.borrow().id
    }

    fn put(&self, record: &R) -> Result<bool, crate::filter::FilterError> {
        let (high, queue_flush) = {
            let mut guard = self.state.borrow_mut();
            if guard.handle.is_none() {
                return Ok(false);
            }
            let st = &mut *guard;
            st.output.put(record, &mut st.out)?;
            let pending = st.pending();
            let high = st.high.is_some_and(|h| pending >= h);
            if high {
                st.is_high = true;
            }
            if st.batching {
                st.flush_after_batch |= pending > 0;
            }
            let queue_flush = !st.flush_queued && !st.batching && pending > 0;
            st.flush_queued |= queue_flush;
            (high, queue_flush)
        };
        if queue_flush {
            let me = self.me.clone();
            self.queue(move |core| {
                if let Some(me) = me.upgrade() {
                    me.state.borrow_mut().flush_queued = false;
                    let emits = me.write_out(core);
                    // Right after the handler that put, unless another
                    // handler is still on the stack: then queue them.
                    let direct = core.depth == 0;
                    me.send(core, emits, direct);
                }
            });
        }
        Ok(high)
    }

    fn pause_input(&self, paused: bool) {
        let mut st = self.state.borrow_mut();
        if st.read_paused == paused {
            return;
        }
        st.read_paused = paused;
        let (owner, h) = (st.owner, st.handle);
        drop(st);
        if let Some(h) = h {
            self.queue(move |core| {
                let _ = core.pause_watcher(owner, h, IoMode::Read, paused);
            });
        }
    }

    fn shutdown_output(&self) {
        let mut st = self.state.borrow_mut();
        st.shutdown_output = true;
        let empty = st.pending() == 0;
        let h = st.handle;
        drop(st);
        if let (true, Some(h)) = (empty, h) {
            self.queue(move |core| {
                let _ = shutdown_write(core, h);
            });
        }
    }

    fn set_marks(&self, high: Option<usize>, low: Option<usize>) {
        let mut st = self.state.borrow_mut();
        st.high = high;
        st.low = low;
    }

    fn pending(&self) -> usize {
        self.state.borrow().pending()
    }

    fn flush_owed(&self) -> bool {
        let st = self.state.borrow();
        st.flush_queued || st.flush_after_batch
    }

    fn set_input_filter(&self, mut f: BoxFilter<R>) {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        // Hand the bytes the old filter held to the new one; records that
        // completes are delivered before those of the next read.
        let left = st.input.take_pending();
        let _ = f.get(&left, &mut st.carry);
        st.input = f;
        if !st.carry.is_empty() {
            // Deliver them now rather than with a read that may never come.
            let me = self.me.clone();
            drop(guard);
            self.queue(move |core| {
                if let Some(me) = me.upgrade() {
                    let records = std::mem::take(&mut me.state.borrow_mut().carry);
                    let emits = records.into_iter().map(Emit::Input).collect();
                    me.send(core, emits, false);
                }
            });
        }
    }

    fn set_output_filter(&self, f: BoxFilter<R>) {
        self.state.borrow_mut().output = f;
    }

    fn close(&self) {
        let mut st = self.state.borrow_mut();
        let Some(h) = st.handle.take() else {
            return;
        };
        let owner = st.owner;
        drop(st);
        self.queue(move |core| {
            let _ = core.remove_handle(owner, h);
        });
    }
}
