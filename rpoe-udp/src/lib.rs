//! [`Udp`]: a datagram wheel (POE's `POE::Wheel::UDP`) that carries
//! records through a filter, written with nothing but rpoe's public wheel
//! API — [`EventSource`], [`SourceCtx`] and [`SourceHandle`].
//!
//! Why a separate crate: it is the proof that the door is wide enough.
//! If this wheel needed something `rpoe` keeps private it would not
//! compile here. `docs/writing-a-wheel.md` walks through this file.
//!
//! Each datagram received is fed to the input filter as one chunk; every
//! record it completes is sent to the session as a [`Datagram`], and
//! bytes left over (an unterminated record) are dropped with the
//! datagram — a record never spans datagrams, which could come from
//! different peers. [`Udp::put`] encodes a record with the output filter
//! and sends it as one datagram; if the socket's send buffer is full the
//! datagram waits in a bounded queue until the socket is writable.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use rpoe::filter::{Filter, FilterError};
use rpoe::kernel::{EventSource, PostAction, SourceCtx, SourceHandle};
use rpoe::mio::net::UdpSocket;
use rpoe::wheel::{WheelError, WheelId};
use rpoe::{Ctx, Error, IoMode};

/// The largest UDP payload over IPv4; the receive buffer's size.
const MAX_DATAGRAM: usize = 65_507;
/// Datagrams received per readiness event before other handles get a turn.
const READS_PER_EVENT: usize = 64;
/// Default bound of the queue of datagrams waiting for a writable socket.
const DEFAULT_MAX_QUEUED: usize = 1024;

type BoxFilter<R> = Box<dyn Filter<Record = R>>;

/// The argument of a [`Udp`] wheel's input event: one record, who sent the
/// datagram it came in, and the wheel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram<R> {
    /// The record.
    pub record: R,
    /// The datagram's source address (POE's `addr` and `port`).
    pub from: SocketAddr,
    /// The wheel that received it.
    pub wheel: WheelId,
}

/// Why [`Udp::put`] refused a record.
#[derive(Debug)]
#[non_exhaustive]
pub enum PutError {
    /// The output filter could not encode it.
    Filter(FilterError),
    /// The queue of datagrams waiting for the socket is full (see
    /// [`UdpBuilder::max_queued`]): the record is dropped, as the network
    /// might have dropped it.
    QueueFull,
    /// The wheel's socket is closed (after a fatal error).
    Closed,
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutError::Filter(e) => write!(f, "cannot encode the record: {e}"),
            PutError::QueueFull => f.write_str("the send queue is full"),
            PutError::Closed => f.write_str("the wheel is closed"),
        }
    }
}

impl std::error::Error for PutError {}

/// The wheel's state, owned by the kernel's source table through a
/// [`SourceHandle`].
struct UdpSource<R> {
    id: WheelId,
    input: BoxFilter<R>,
    output: BoxFilter<R>,
    input_event: Option<String>,
    error_event: Option<String>,
    /// Datagrams waiting for the socket to be writable.
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
    max_queued: usize,
    /// Write interest is on (the queue is not empty).
    writing: bool,
    rbuf: Vec<u8>,
}

impl<R: 'static> UdpSource<R> {
    fn error(&self, cx: &mut SourceCtx<'_, UdpSocket>, op: &'static str, e: &io::Error) {
        if let Some(ev) = &self.error_event {
            cx.emit(
                ev.as_str(),
                WheelError {
                    op,
                    errno: e.raw_os_error().unwrap_or(-1),
                    message: e.to_string(),
                    wheel: self.id,
                },
            );
        }
    }

    /// Receive until the socket would block (or the per-event budget is
    /// spent), emitting one event per record.
    fn receive(&mut self, cx: &mut SourceCtx<'_, UdpSocket>) -> PostAction {
        let mut records = Vec::new();
        for _ in 0..READS_PER_EVENT {
            let (n, from) = match cx.io().recv_from(&mut self.rbuf) {
                Ok(got) => got,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return PostAction::Drained,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // An ICMP error from an earlier send (e.g. port
                // unreachable) is reported here; it concerns one peer,
                // not the socket, so report it and go on.
                Err(e) => {
                    self.error(cx, "read", &e);
                    continue;
                }
            };
            if let Err(e) = self.input.get(&self.rbuf[..n], &mut records) {
                let e = io::Error::new(ErrorKind::InvalidData, e.to_string());
                self.error(cx, "get", &e);
            }
            // A record never spans datagrams.
            let _ = self.input.take_pending();
            if let Some(ev) = &self.input_event {
                for record in records.drain(..) {
                    let wheel = self.id;
                    cx.emit(
                        ev.as_str(),
                        Datagram {
                            record,
                            from,
                            wheel,
                        },
                    );
                }
            } else {
                records.clear();
            }
        }
        // Budget spent with data possibly left: let the kernel report the
        // socket again next round.
        PostAction::Continue
    }

    /// Send queued datagrams until the queue is empty or the socket would
    /// block; keep write interest on exactly while datagrams wait.
    fn send_queued(&mut self, cx: &mut SourceCtx<'_, UdpSocket>) {
        while let Some((bytes, to)) = self.queue.front() {
            match cx.io().send_to(bytes, *to) {
                Ok(_) => {
                    self.queue.pop_front();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // This datagram cannot go (no route, too big...): drop it
                // and report, the others may still go.
                Err(e) => {
                    self.queue.pop_front();
                    self.error(cx, "write", &e);
                }
            }
        }
        let want = !self.queue.is_empty();
        if want != self.writing && cx.set_interest(IoMode::Write, want).is_ok() {
            self.writing = want;
        }
    }
}

impl<R: 'static> EventSource for UdpSource<R> {
    type Io = UdpSocket;

    fn ready(&mut self, cx: &mut SourceCtx<'_, UdpSocket>, mode: IoMode) -> PostAction {
        match mode {
            IoMode::Read => self.receive(cx),
            IoMode::Write => {
                self.send_queued(cx);
                PostAction::Drained
            }
            // Never asked for: the wheel watches no urgent data.
            _ => PostAction::Disable,
        }
    }
}

/// Configures a [`Udp`] wheel: the filter, the event names, the queue
/// bound. Started with [`UdpBuilder::start`] inside a handler.
#[must_use = "a builder does nothing until it is started"]
pub struct UdpBuilder<R> {
    socket: UdpSocket,
    input: BoxFilter<R>,
    output: BoxFilter<R>,
    input_event: Option<String>,
    error_event: Option<String>,
    max_queued: usize,
}

impl<R: 'static> UdpBuilder<R> {
    /// The event each received record is sent as, with a [`Datagram`]
    /// argument (POE's `InputEvent`). Without one, input is discarded.
    pub fn on_input(mut self, event: &str) -> Self {
        self.input_event = Some(event.to_string());
        self
    }

    /// The event for errors, with a [`WheelError`] argument (POE's
    /// `ErrorEvent`): `"read"` and `"write"` for the OS's errors, `"get"`
    /// for input the filter refused. None of them closes the wheel.
    pub fn on_error(mut self, event: &str) -> Self {
        self.error_event = Some(event.to_string());
        self
    }

    /// At most this many datagrams wait for the socket to be writable;
    /// [`Udp::put`] refuses more. Default 1024.
    pub fn max_queued(mut self, max: usize) -> Self {
        self.max_queued = max;
        self
    }

    /// Start the wheel in the handler's session.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the kernel cannot watch the socket.
    pub fn start<H: 'static>(self, ctx: &mut Ctx<'_, H>) -> Result<Udp<R>, Error> {
        let id = WheelId::next();
        let source = UdpSource {
            id,
            input: self.input,
            output: self.output,
            input_event: self.input_event,
            error_event: self.error_event,
            queue: VecDeque::new(),
            max_queued: self.max_queued,
            writing: false,
            rbuf: vec![0; MAX_DATAGRAM],
        };
        let source = ctx.add_source(self.socket, source)?;
        Ok(Udp { id, source })
    }
}

/// A UDP socket whose datagrams are records (POE's `POE::Wheel::UDP`).
///
/// ```
/// use rpoe::filter::Line;
/// use rpoe::mio::net::UdpSocket;
/// use rpoe::{Kernel, Session};
/// use rpoe_udp::{Datagram, Udp};
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Vec::<Udp<Vec<u8>>>::new())
///         .on("_start", |ctx| {
///             let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///             let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///             let to = b.local_addr().unwrap();
///             let a = Udp::builder(a, Line::literal(b"\n")).start(ctx).unwrap();
///             let b = Udp::builder(b, Line::literal(b"\n"))
///                 .on_input("got")
///                 .start(ctx)
///                 .unwrap();
///             a.put(&b"hello".to_vec(), to).unwrap();
///             ctx.heap().extend([a, b]);
///         })
///         .on("got", |ctx| {
///             let d = ctx.take_arg::<Datagram<Vec<u8>>>().unwrap();
///             assert_eq!(d.record, b"hello");
///             ctx.heap().clear(); // both wheels go: the session ends
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
#[must_use = "dropping the wheel closes the socket at once"]
pub struct Udp<R: 'static> {
    id: WheelId,
    source: SourceHandle<UdpSource<R>>,
}

impl<R: 'static> Udp<R> {
    /// A builder for a wheel on `socket` (bound, non-blocking: a
    /// `rpoe::mio::net::UdpSocket`), with `filter` both ways.
    pub fn builder<F>(socket: UdpSocket, filter: F) -> UdpBuilder<R>
    where
        F: Filter<Record = R> + Clone + 'static,
    {
        UdpBuilder {
            socket,
            input: Box::new(filter.clone()),
            output: Box::new(filter),
            input_event: None,
            error_event: None,
            max_queued: DEFAULT_MAX_QUEUED,
        }
    }

    /// The wheel's id, carried by its events.
    pub fn id(&self) -> WheelId {
        self.id
    }

    /// Encode `record` and send it to `to` as one datagram, after the
    /// running handler returns (so several puts from one handler go out
    /// back to back, in order).
    ///
    /// # Errors
    ///
    /// [`PutError::Filter`] if the output filter refuses the record,
    /// [`PutError::QueueFull`] if too many datagrams wait for the socket,
    /// [`PutError::Closed`] if the wheel's socket is gone.
    pub fn put(&self, record: &R, to: SocketAddr) -> Result<(), PutError> {
        if !self.source.is_open() {
            return Err(PutError::Closed);
        }
        let queued = self
            .source
            .with(|s| {
                if s.queue.len() >= s.max_queued {
                    return Err(PutError::QueueFull);
                }
                let mut bytes = Vec::new();
                s.output.put(record, &mut bytes).map_err(PutError::Filter)?;
                s.queue.push_back((bytes, to));
                Ok(s.queue.len())
            })
            .ok_or(PutError::Closed)??;
        // The first datagram queued asks for a flush; later ones ride it.
        if queued == 1 {
            self.source.defer(|s, cx| {
                if cx.is_open() {
                    s.send_queued(cx);
                }
                PostAction::Continue
            });
        }
        Ok(())
    }

    /// Datagrams waiting for the socket to be writable.
    pub fn queued(&self) -> usize {
        self.source.with(|s| s.queue.len()).unwrap_or(0)
    }
}
