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
//! writable, until the buffer is empty. A wheel whose write would send
//! an event — a flushed event is set, or the buffer is at a watermark
//! with its event set — writes where POE's does instead: on the next
//! writable readiness (still one write for all the round's puts), so those
//! events come in that round's I/O phase — after what an input handler
//! yielded, before what a queued handler yielded after its put, as in POE
//! (conformance scenario 74).
//!
//! Events (all optional, named by the user): input `(R, WheelId)` (or,
//! with [`ReadWriteBuilder::on_input_batch`], `(Vec<R>, WheelId)` once per
//! read); error
//! [`WheelError`] (end of file is a `"read"` error with errno 0; reading
//! stops there, and an unterminated trailing record is dropped, as in
//! POE); flushed `WheelId` when the output buffer empties; high `WheelId`
//! when a write leaves the buffer at or above the high mark, low `WheelId`
//! when it drains to the low mark.

use std::any::Any;
use std::io::{Read, Write};
use std::marker::PhantomData;

use crate::filter::Filter;
use crate::kernel::{
    Ctx, EventId, EventSource, IoMode, IoSource, PostAction, SourceCtx, SourceHandle,
};

use super::in_buf::ReadOutcome;
use super::{WheelError, WheelId};

mod machine;

use machine::{EventIds, State};

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
#[must_use = "a builder does nothing until it is started (or spawned)"]
pub struct ReadWriteBuilder<S, R> {
    stream: S,
    input: BoxFilter<R>,
    output: BoxFilter<R>,
    events: Events,
    high: Option<usize>,
    low: Option<usize>,
    max_input: Option<usize>,
}

#[derive(Default, Clone)]
struct Events {
    input: Option<String>,
    /// The input event carries every record of a read (`on_input_batch`).
    input_batch: bool,
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
///             assert!(server.is_flushing()); // written when next writable
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
#[must_use = "dropping the wheel closes the stream at once"]
pub struct ReadWrite<R: 'static> {
    id: WheelId,
    inner: Box<dyn Control<R>>,
}

impl<R: 'static> std::fmt::Debug for ReadWrite<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadWrite({})", self.id)
    }
}

/// What the user-facing handle can ask of the running wheel.
/// What `ReadWrite` needs of its running source, whatever the stream
/// type. Dropping it (a [`SourceHandle`]) closes the stream.
trait Control<R> {
    fn put(&self, record: &R) -> Result<bool, crate::filter::FilterError>;
    fn pause_input(&self, paused: bool);
    fn shutdown_output(&self);
    fn set_marks(&self, high: Option<usize>, low: Option<usize>);
    fn pending(&self) -> usize;
    fn flush_owed(&self) -> bool;
    fn set_input_filter(&self, f: BoxFilter<R>);
    fn set_output_filter(&self, f: BoxFilter<R>);
    fn set_event(&self, which: ReadWriteEvent, event: Option<EventId>);
}

/// One of the events a [`ReadWrite`] sends, to rename it at run time with
/// [`ReadWrite::set_event`] (POE's `$wheel->event(InputEvent => ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadWriteEvent {
    /// Each record read (POE's `InputEvent`).
    Input,
    /// Errors and end of file (POE's `ErrorEvent`).
    Error,
    /// The output buffer emptied (POE's `FlushedEvent`).
    Flushed,
    /// The output buffer reached the high mark (POE's `HighEvent`).
    High,
    /// The output buffer drained to the low mark (POE's `LowEvent`).
    Low,
}

impl<S, R> ReadWriteBuilder<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    /// Name the event that receives each record, as `(R, WheelId)`.
    pub fn on_input(mut self, event: &str) -> Self {
        self.events.input = Some(event.into());
        self.events.input_batch = false;
        self
    }
    /// Name the event that receives the records of each read together, as
    /// `(Vec<R>, WheelId)` (never an empty `Vec`), instead of one event per
    /// record ([`on_input`](Self::on_input); the last of the two called
    /// wins).
    ///
    /// Why: an event costs a dispatch and a boxed argument, which for
    /// short records (64-byte lines) is much of the work per record; a
    /// handler that loops over the batch does the same work with one
    /// event per read. Ordering is unchanged — the records of one read
    /// were already handed over together, before anything they queued —
    /// except that a handler which drops the wheel should stop looping
    /// (per-record events stop being delivered then). A rename with
    /// [`ReadWrite::set_event`] applies from the next read.
    pub fn on_input_batch(mut self, event: &str) -> Self {
        self.events.input = Some(event.into());
        self.events.input_batch = true;
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
    /// The most input bytes the input filter may hold without completing
    /// a record (its [`pending`](Filter::pending) bytes, counted after
    /// each read). Past it the wheel stops reading and sends the error
    /// event a `"get"` [`WheelError`] (errno `EINVAL`, as for the filter's
    /// own limits) after the records completed before; what the filter
    /// held is dropped. Default: no limit beyond the filter's own.
    ///
    /// Why here and not only in the filter: the filter is often one the
    /// caller passed in with generous defaults (POE's `Line` allows
    /// 64 MiB lines), and a server must bound what a peer can make it
    /// hold whatever filter it frames with. Checked after the filter has
    /// taken a read, so a wheel holds at most this plus one read
    /// (64 KiB) of unframed input. What counts is what the filter reports
    /// as pending: for a [`Stackable`](crate::filter::Stackable) that is
    /// its first filter's bytes only, so bound the later ones with their
    /// own limits.
    pub fn max_input(mut self, bytes: usize) -> Self {
        self.max_input = Some(bytes);
        self
    }
    /// Use a different filter for output than for input.
    pub fn output_filter(mut self, f: impl Filter<Record = R> + 'static) -> Self {
        self.output = Box::new(f);
        self
    }

    /// Give the stream to the kernel on behalf of the running session and
    /// start reading.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] if the OS refuses to watch the stream (it is
    /// closed then).
    pub fn start<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<ReadWrite<R>, crate::Error> {
        let id = WheelId::next();
        let mut name = |e: &Option<String>| e.as_deref().map(|n| ctx.event_id(n));
        let ev = EventIds {
            input: name(&self.events.input),
            error: name(&self.events.error),
            flushed: name(&self.events.flushed),
            high: name(&self.events.high),
            low: name(&self.events.low),
        };
        let state = State::<S, R> {
            id,
            input: self.input,
            output: self.output,
            out: Default::default(),
            inbuf: Default::default(),
            ev,
            batch_input: self.events.input_batch,
            high: self.high,
            low: self.low,
            is_high: false,
            write_on: false,
            flush_queued: false,
            batching: false,
            flush_after_batch: false,
            read_paused: false,
            shutdown_output: false,
            max_input: self.max_input,
            carry: Vec::new(),
            _s: PhantomData,
        };
        let inner = Box::new(ctx.add_source(self.stream, state)?);
        Ok(ReadWrite { id, inner })
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
            max_input: None,
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
            max_input: None,
        }
    }

    /// The wheel's id (the last element of every event it sends).
    pub fn id(&self) -> WheelId {
        self.id
    }

    /// Rename one of the wheel's events, or stop sending it (`None`), from
    /// now on (POE's `$wheel->event(InputEvent => 'other')`). A handler
    /// can hand a conversation to another state this way without a new
    /// wheel. The name comes interned ([`Ctx::event_id`]), so the wheel can
    /// be renamed while it sits borrowed in the heap:
    /// `let ev = ctx.event_id("other"); ctx.heap().wheel.set_event(ReadWriteEvent::Input, Some(ev));`
    ///
    /// Records read in one chunk are handed over together after the read,
    /// so a rename made while handling one of them applies from the next
    /// chunk on (POE looks the name up again for each record).
    pub fn set_event(&self, which: ReadWriteEvent, event: Option<EventId>) {
        self.inner.set_event(which, event);
    }

    /// Encode `record` into the output buffer. The buffer is written when
    /// the current handler returns and then as the stream allows. Returns
    /// true if the buffer is at or above the high mark (POE's `put`).
    ///
    /// # Errors
    ///
    /// [`crate::filter::FilterError`] if the filter cannot encode `record`
    /// (nothing is buffered then).
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
