//! The load generator's event loop: one thread, one mio poll, every
//! connection edge-triggered. It connects, moves lines, verifies every
//! echoed byte, records round trips, notices stalls, and at the end
//! drains, half-closes and waits for the server's EOF so that no byte goes
//! unchecked.
//!
//! A connection counts as made only once a first line has come back
//! through it: a connect completes as soon as the server's kernel answers,
//! long before a busy server (or one with a tiny backlog, like the Perl
//! seed) accepts it, and the measurement must not start before then.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::conn::{Conn, State};
use super::error::LoadError;
use crate::lines::LineMaker;
use crate::stats::Samples;

/// Size of the one read buffer all connections share.
const READ_BUF: usize = 64 * 1024;
/// Longest single wait in the loop, so stalls are noticed promptly.
const MAX_WAIT: Duration = Duration::from_millis(100);

/// Knobs of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Fail when nothing arrives for this long while something is expected.
    pub stall_timeout: Duration,
    /// Most connects in progress at once.
    pub connect_concurrency: usize,
}

/// All connections of one run and the loop that drives them.
pub struct Engine {
    poll: Poll,
    events: Events,
    ready: Vec<(usize, Readiness)>,
    conns: Vec<Conn>,
    maker: LineMaker,
    rbuf: Box<[u8]>,
    opts: EngineOptions,
    addr: SocketAddr,
    last_progress: Instant,
    /// Closed loop: send a new line for every line echoed.
    refill: bool,
    /// Round trips are recorded into `samples` while this is set.
    recording: bool,
    samples: Samples,
    lines: u64,
    bytes: u64,
    outstanding: u64,
    connecting: usize,
    awaiting_eof: usize,
}

/// The readiness flags of one event, copied out of mio's event list.
#[derive(Clone, Copy)]
struct Readiness {
    read: bool,
    write: bool,
    closed: bool,
}

impl Engine {
    /// Open `n` connections to `addr` and wait until each has echoed its
    /// first line (sequence number 0).
    pub fn connect(
        addr: SocketAddr,
        n: usize,
        maker: LineMaker,
        opts: EngineOptions,
    ) -> Result<Engine, LoadError> {
        if n > crate::lines::MAX_CONNS {
            return Err(LoadError::Setup(format!(
                "{n} connections: at most {} fit the line format",
                crate::lines::MAX_CONNS
            )));
        }
        let poll = Poll::new().map_err(|e| LoadError::Setup(format!("poll: {e}")))?;
        let mut engine = Engine {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::new(),
            conns: Vec::with_capacity(n),
            maker,
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            opts,
            addr,
            last_progress: Instant::now(),
            refill: false,
            recording: false,
            samples: Samples::default(),
            lines: 0,
            bytes: 0,
            outstanding: 0,
            connecting: 0,
            awaiting_eof: 0,
        };
        let concurrency = engine.opts.connect_concurrency.max(1);
        while engine.conns.len() < n || engine.connecting > 0 {
            while engine.connecting < concurrency && engine.conns.len() < n {
                engine.start_connect()?;
            }
            engine.turn(MAX_WAIT)?;
        }
        Ok(engine)
    }

    fn start_connect(&mut self) -> Result<(), LoadError> {
        let id = self.conns.len() as u32;
        let err = |source| LoadError::Connect {
            conn: id,
            addr: self.addr,
            source,
        };
        let mut stream = TcpStream::connect(self.addr).map_err(err)?;
        self.poll
            .registry()
            .register(
                &mut stream,
                Token(id as usize),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(err)?;
        self.conns.push(Conn::new(id, stream, &self.maker));
        self.connecting += 1;
        Ok(())
    }

    /// Number of connections.
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }

    /// Lines echoed so far, all connections.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Bytes echoed so far, all connections.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Lines sent and not yet echoed, all connections.
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }

    /// Whether every echoed line triggers a new one (closed loop).
    pub fn set_refill(&mut self, on: bool) {
        self.refill = on;
    }

    /// Start recording round trips, forgetting earlier ones.
    pub fn start_recording(&mut self) {
        self.samples.clear();
        self.recording = true;
    }

    /// Stop recording and hand the round trips over.
    pub fn stop_recording(&mut self) -> Samples {
        self.recording = false;
        std::mem::take(&mut self.samples)
    }

    /// Queue `count` lines on connection `i`, stamped `now`, and write them.
    pub fn send_lines(&mut self, i: usize, count: u64, now: Instant) -> Result<(), LoadError> {
        let c = &mut self.conns[i];
        for _ in 0..count {
            c.queue_line(&self.maker, now);
        }
        self.outstanding += count;
        c.flush()
    }

    /// One loop turn: wait up to `timeout` (at most [`MAX_WAIT`]) for
    /// readiness, handle it, and check for a stall.
    pub fn turn(&mut self, timeout: Duration) -> Result<(), LoadError> {
        if let Err(e) = self
            .poll
            .poll(&mut self.events, Some(timeout.min(MAX_WAIT)))
        {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(LoadError::Setup(format!("poll: {e}")));
            }
        }
        let now = Instant::now();
        self.ready.clear();
        self.ready.extend(self.events.iter().map(|ev| {
            (
                ev.token().0,
                Readiness {
                    read: ev.is_readable(),
                    write: ev.is_writable(),
                    closed: ev.is_read_closed() || ev.is_error(),
                },
            )
        }));
        let mut progressed = false;
        for k in 0..self.ready.len() {
            let (i, r) = self.ready[k];
            progressed |= self.handle(i, r, now)?;
        }
        if progressed {
            self.last_progress = now;
        } else if self.waiting() && now.duration_since(self.last_progress) > self.opts.stall_timeout
        {
            return Err(LoadError::Stall {
                secs: now.duration_since(self.last_progress).as_secs_f64(),
                detail: self.describe_wait(),
            });
        }
        Ok(())
    }

    /// Handle one connection's readiness; returns whether anything arrived.
    fn handle(&mut self, i: usize, r: Readiness, now: Instant) -> Result<bool, LoadError> {
        let mut progressed = false;
        let c = &mut self.conns[i];
        if c.state == State::Connecting {
            if !finish_connect(c, self.addr)? {
                return Ok(false);
            }
            c.state = State::Handshake;
            c.queue_line(&self.maker, now);
            self.outstanding += 1;
            c.flush()?;
            progressed = true;
        }
        let c = &mut self.conns[i];
        if (r.read || r.closed)
            && matches!(c.state, State::Handshake | State::Open | State::WriteShut)
        {
            let (recording, samples) = (self.recording, &mut self.samples);
            let got = c.read_some(&self.maker, &mut self.rbuf, r.closed, |sent| {
                if recording {
                    samples.push(now.duration_since(sent));
                }
            })?;
            self.bytes += got.bytes;
            self.lines += got.lines;
            self.outstanding -= got.lines;
            progressed |= got.bytes > 0;
            if c.state == State::Handshake && c.received() > 0 {
                c.state = State::Open;
                self.connecting -= 1;
            }
            if got.eof {
                if let Some(e) = c.early_eof() {
                    return Err(e);
                }
                if c.state != State::WriteShut {
                    return Err(LoadError::ClosedEarly {
                        conn: c.id,
                        outstanding: 0,
                        mid_line: false,
                    });
                }
                c.state = State::Closed;
                let _ = self.poll.registry().deregister(&mut c.stream);
                self.awaiting_eof -= 1;
                progressed = true;
            } else if self.refill && c.state == State::Open && got.lines > 0 {
                for _ in 0..got.lines {
                    c.queue_line(&self.maker, now);
                }
                self.outstanding += got.lines;
                c.flush()?;
            }
        }
        let c = &mut self.conns[i];
        if r.write && matches!(c.state, State::Handshake | State::Open) && c.has_output() {
            c.flush()?;
        }
        Ok(progressed)
    }

    /// Whether something is still expected from the server.
    fn waiting(&self) -> bool {
        self.outstanding > 0 || self.connecting > 0 || self.awaiting_eof > 0
    }

    fn describe_wait(&self) -> String {
        let behind: Vec<&Conn> = self.conns.iter().filter(|c| c.outstanding() > 0).collect();
        let mut parts = Vec::new();
        if self.connecting > 0 {
            parts.push(format!(
                "{} connection(s) not yet accepted and served",
                self.connecting
            ));
        }
        if let Some(c) = behind.first() {
            parts.push(format!(
                "{} line(s) not echoed on {} connection(s) (e.g. connection {}: {} echoed, {} outstanding)",
                self.outstanding,
                behind.len(),
                c.id,
                c.received(),
                c.outstanding()
            ));
        }
        if self.awaiting_eof > 0 {
            parts.push(format!(
                "{} connection(s) not closed by the server after our half-close",
                self.awaiting_eof
            ));
        }
        parts.join("; ")
    }

    /// Turn until every line sent has been echoed.
    pub fn drain(&mut self) -> Result<(), LoadError> {
        self.refill = false;
        while self.outstanding > 0 {
            self.turn(MAX_WAIT)?;
        }
        Ok(())
    }

    /// Drain, then half-close every connection and wait for the server to
    /// close each one, checking that nothing more arrives.
    pub fn finish(mut self) -> Result<(), LoadError> {
        self.drain()?;
        for c in &mut self.conns {
            if c.state == State::Open {
                c.stream
                    .shutdown(Shutdown::Write)
                    .map_err(|e| LoadError::io(c.id, "shutdown", e))?;
                c.state = State::WriteShut;
                self.awaiting_eof += 1;
            }
        }
        self.last_progress = Instant::now();
        while self.awaiting_eof > 0 {
            self.turn(MAX_WAIT)?;
        }
        Ok(())
    }
}

/// Complete a non-blocking connect; `Ok(false)` if it is still under way.
fn finish_connect(c: &mut Conn, addr: SocketAddr) -> Result<bool, LoadError> {
    let err = |source| LoadError::Connect {
        conn: c.id,
        addr,
        source,
    };
    match c.stream.take_error() {
        Ok(Some(e)) | Err(e) => return Err(err(e)),
        Ok(None) => {}
    }
    match c.stream.peer_addr() {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
        Err(e) => return Err(err(e)),
    }
    c.stream.set_nodelay(true).map_err(err)?;
    Ok(true)
}
