//! A `ReadWrite` wheel against a scripted peer.
//!
//! The wheel runs in a real [`Kernel`] (on a manual clock, so that a round
//! never waits) on one end of a Unix socket pair, with a `Line` filter
//! (`"\n"`), small limits and a small `max_input`; its session echoes every
//! record back. The fuzzer's bytes are a script for the other end: write
//! bytes, let the kernel run, read the echo, half-close, close (a reset
//! when echoed bytes are left unread). A model computes, from the same
//! script, what the wheel must deliver: a Unix stream socket hands the
//! reader everything written since its last read as one chunk, so the
//! chunks the wheel reads are exactly the writes between two runs, and a
//! reference splitter applied to them gives the records and the error.
//!
//! Checked: no panic, no kernel error; the input filter never holds more
//! than its `max_buffer`, nor more than `max_input` when the wheel feeds
//! it again; the records, and the one error, are the model's; the peer
//! reads back exactly the records it sent, framed again.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::rc::Rc;

use mio::net::UnixStream;
use rpoe::filter::{Filter, FilterError, Line};
use rpoe::wheel::{ReadWrite, WheelError, WheelId};
use rpoe::{Kernel, ManualClock, Session};

/// The limits one run uses, taken from the script's first three bytes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `Line::max_length`.
    pub max_length: usize,
    /// `Line::max_buffer`.
    pub max_buffer: usize,
    /// `ReadWriteBuilder::max_input`.
    pub max_input: usize,
}

/// One step of the peer's script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes (not read by the wheel until the next `Run`).
    Write(Vec<u8>),
    /// Let the kernel run until it is idle.
    Run,
    /// Read what the wheel echoed so far.
    Read,
    /// Shut down the peer's write side: the wheel reads end of file.
    HalfClose,
    /// Close the peer: end of file, or a reset if echo is left unread.
    Close,
    /// The session pauses the wheel's input (then the kernel runs).
    Pause,
    /// The session resumes it (then the kernel runs).
    Resume,
}

/// Parse the fuzzer's bytes: three bytes of limits, then actions. An
/// action byte's low three bits choose it; for writes, the high five bits
/// give a length and that many following bytes are the data; for 2, their
/// low bit picks pause or resume.
pub fn parse(data: &[u8]) -> (Limits, Vec<Action>) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let limits = Limits {
        max_length: 1 + usize::from(byte(0) % 64),
        max_buffer: 8 + usize::from(byte(1)),
        max_input: usize::from(byte(2) % 80),
    };
    let mut rest = data.get(3..).unwrap_or(&[]);
    let mut actions = Vec::new();
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = usize::from(op >> 3);
        let write_len = match op & 7 {
            0 | 1 => Some(arg + 1),
            2 => {
                actions.push(if arg & 1 == 0 {
                    Action::Pause
                } else {
                    Action::Resume
                });
                None
            }
            3 => {
                actions.push(Action::Run);
                None
            }
            4 => {
                actions.push(Action::Read);
                None
            }
            5 => {
                actions.push(Action::HalfClose);
                None
            }
            6 => {
                actions.push(Action::Close);
                None
            }
            _ => Some((arg + 1) * 16),
        };
        if let Some(n) = write_len {
            let (bytes, tail) = rest.split_at(n.min(rest.len()));
            actions.push(Action::Write(bytes.to_vec()));
            rest = tail;
        }
    }
    (limits, actions)
}

/// How the wheel's reading must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Still reading.
    Open,
    /// A `"get"` error: a limit was passed.
    Get,
    /// End of file.
    Eof,
    /// End of file or, if echo was left unread, a reset.
    EofOrReset,
}

/// The reference: a plain splitter fed the chunks the wheel reads.
struct Model {
    limits: Limits,
    /// Written by the peer, not yet read by the wheel.
    in_flight: Vec<u8>,
    /// What the filter holds.
    held: Vec<u8>,
    records: Vec<Vec<u8>>,
    end: End,
    /// The peer's write side is shut (or the peer is closed).
    shut: Option<End>,
    /// The wheel's input is paused: nothing is read.
    paused: bool,
}

impl Model {
    /// The wheel reads everything in flight as one chunk.
    fn run(&mut self) {
        if self.end != End::Open || self.paused {
            return;
        }
        let chunk = std::mem::take(&mut self.in_flight);
        if !chunk.is_empty() {
            self.end = self.get(&chunk);
        }
        if self.end == End::Open {
            if let Some(end) = self.shut {
                self.end = end;
            }
        }
    }

    /// Line::literal("\n") with the limits, then the wheel's max_input.
    fn get(&mut self, chunk: &[u8]) -> End {
        let l = self.limits;
        if self.held.len() + chunk.len() > l.max_buffer {
            return End::Get;
        }
        self.held.extend_from_slice(chunk);
        while let Some(i) = self.held.iter().position(|&b| b == b'\n') {
            if i > l.max_length {
                return End::Get;
            }
            self.records.push(self.held[..i].to_vec());
            self.held.drain(..=i);
        }
        if self.held.len() > l.max_length || self.held.len() > l.max_input {
            return End::Get;
        }
        End::Open
    }
}

/// The wheel's input filter, watched: `Line` plus checks of what it holds.
#[derive(Clone)]
struct Spy {
    line: Line,
    limits: Limits,
    gets_after_error: Rc<Cell<usize>>,
    failed: Rc<Cell<bool>>,
}

impl Filter for Spy {
    type Record = Vec<u8>;
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), FilterError> {
        if self.failed.get() {
            self.gets_after_error.set(self.gets_after_error.get() + 1);
        }
        // The wheel stops feeding a filter that holds more than max_input.
        let held = self.line.pending().len();
        assert!(
            held <= self.limits.max_input,
            "fed again while holding {held} bytes, max_input {}",
            self.limits.max_input
        );
        let r = self.line.get(chunk, out);
        let held = self.line.pending().len();
        assert!(
            held <= self.limits.max_buffer,
            "holds {held} bytes, max_buffer {}",
            self.limits.max_buffer
        );
        if r.is_err() {
            self.failed.set(true);
        }
        r
    }
    fn put(&mut self, record: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), FilterError> {
        self.line.put(record, out)
    }
    fn pending(&self) -> &[u8] {
        self.line.pending()
    }
    fn take_pending(&mut self) -> Vec<u8> {
        self.line.take_pending()
    }
}

/// What the session saw.
#[derive(Default)]
struct Seen {
    records: Vec<Vec<u8>>,
    errors: Vec<WheelError>,
}

struct Heap {
    wheel: Option<ReadWrite<Vec<u8>>>,
    seen: Rc<RefCell<Seen>>,
}

/// Run the kernel until it has nothing left to do now.
fn settle(kernel: &mut Kernel) {
    for _ in 0..3 {
        kernel.run_one_timeslice().expect("kernel error");
    }
    let mut n = 0;
    while kernel.pending_count() > 0 {
        kernel.run_one_timeslice().expect("kernel error");
        n += 1;
        assert!(n < 1000, "kernel never idle");
    }
}

/// Read what is readable from the peer, up to end of file.
fn read_echo(peer: &mut UnixStream, echo: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => echo.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("peer read: {e}"),
        }
    }
}

/// Run one script (the fuzz target's body).
pub fn run(data: &[u8]) {
    let (limits, actions) = parse(data);
    let (near, peer) = UnixStream::pair().expect("socketpair");
    let mut peer = Some(peer);

    let seen = Rc::new(RefCell::new(Seen::default()));
    let gets_after_error = Rc::new(Cell::new(0));
    let spy = Spy {
        line: Line::literal("\n")
            .max_length(limits.max_length)
            .max_buffer(limits.max_buffer),
        limits,
        gets_after_error: gets_after_error.clone(),
        failed: Rc::new(Cell::new(false)),
    };

    let mut kernel = Kernel::with_manual_clock(ManualClock::new()).expect("kernel");
    let near = RefCell::new(Some(near));
    let spy = RefCell::new(Some(spy));
    let session = kernel.spawn(
        Session::new(Heap {
            wheel: None,
            seen: seen.clone(),
        })
        .on("_start", move |ctx| {
            let wheel = ReadWrite::builder_with(
                near.borrow_mut().take().unwrap(),
                spy.borrow_mut().take().unwrap(),
                Line::literal("\n"),
            )
            .max_input(limits.max_input)
            .on_input("input")
            .on_error("error")
            .start(ctx)
            .expect("start");
            ctx.heap().wheel = Some(wheel);
        })
        .on("input", |ctx| {
            let (record, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
            let heap = ctx.heap();
            if let Some(w) = &heap.wheel {
                w.put(&record).unwrap();
            }
            heap.seen.borrow_mut().records.push(record);
        })
        .on("pause", |ctx| {
            let pause = ctx.take_arg::<bool>().unwrap();
            if let Some(w) = &ctx.heap().wheel {
                if pause {
                    w.pause_input();
                } else {
                    w.resume_input();
                }
            }
        })
        .on("error", |ctx| {
            let e = ctx.take_arg::<WheelError>().unwrap();
            ctx.heap().seen.borrow_mut().errors.push(e);
        }),
        (),
    );

    let mut model = Model {
        limits,
        in_flight: Vec::new(),
        held: Vec::new(),
        records: Vec::new(),
        end: End::Open,
        shut: None,
        paused: false,
    };
    let mut echo = Vec::new();
    let mut echo_lost = false;

    let check = |model: &Model, seen: &Seen, closed: bool| {
        assert_eq!(
            seen.records, model.records,
            "records differ from the model's"
        );
        // Writing the echo fails only once the peer is gone.
        let (writes, reads): (Vec<_>, Vec<_>) = seen.errors.iter().partition(|e| e.op == "write");
        assert!(
            writes
                .iter()
                .all(|e| closed && (e.errno == 32 || e.errno == 104)),
            "write errors: {writes:?}"
        );
        assert!(reads.len() <= 1, "more than one read error: {reads:?}");
        let got = reads.first();
        match (model.end, got) {
            (End::Open, None) => {}
            (End::Get, Some(e)) if e.op == "get" && e.errno == 22 => {}
            (End::Eof, Some(e)) if e.is_eof() => {}
            (End::EofOrReset, Some(e)) if e.is_eof() || (e.op == "read" && e.errno == 104) => {}
            (end, got) => panic!("model ends {end:?}, wheel sent {got:?}"),
        }
    };

    for action in actions {
        match action {
            Action::Write(bytes) => {
                let Some(p) = peer.as_mut() else { continue };
                if model.shut.is_some() || model.in_flight.len() + bytes.len() > 32 * 1024 {
                    continue;
                }
                // Small writes into an empty-enough socket: all or nothing.
                match p.write(&bytes) {
                    Ok(n) => assert_eq!(n, bytes.len(), "short write to a socket pair"),
                    // The wheel's end is closed: only once its session has
                    // stopped, after the wheel stopped reading.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                        assert_ne!(model.end, End::Open, "peer write: {e}");
                        continue;
                    }
                    Err(e) => panic!("peer write: {e}"),
                }
                model.in_flight.extend_from_slice(&bytes);
            }
            Action::Run => {
                settle(&mut kernel);
                model.run();
                check(&model, &seen.borrow(), echo_lost);
            }
            Action::Pause | Action::Resume => {
                // The kernel runs (reading what is in flight unless
                // paused), then the session (un)pauses, then it runs again.
                let pause = action == Action::Pause;
                settle(&mut kernel);
                model.run();
                if kernel.post(session, "pause", pause).is_ok() {
                    settle(&mut kernel);
                }
                model.paused = pause;
                model.run();
                check(&model, &seen.borrow(), echo_lost);
            }
            Action::Read => {
                if let Some(p) = peer.as_mut() {
                    read_echo(p, &mut echo);
                }
            }
            Action::HalfClose => {
                if let Some(p) = peer.as_mut() {
                    if model.shut.is_none() {
                        p.shutdown(std::net::Shutdown::Write).expect("shutdown");
                        model.shut = Some(End::Eof);
                    }
                }
            }
            Action::Close => {
                if let Some(p) = peer.take() {
                    // Echo left unread is lost, and makes the close a
                    // reset: the wheel reads ECONNRESET after the data.
                    echo_lost = true;
                    drop(p);
                    // Even after a half-close, if the wheel has not read
                    // its end of file yet.
                    model.shut = Some(End::EofOrReset);
                }
            }
        }
    }

    // Hang up (if still there) and let the wheel read everything.
    if let Some(p) = peer.as_mut() {
        if model.shut.is_none() {
            p.shutdown(std::net::Shutdown::Write).expect("shutdown");
            model.shut = Some(End::Eof);
        }
    }
    settle(&mut kernel);
    model.run();
    check(&model, &seen.borrow(), echo_lost);
    assert_eq!(
        gets_after_error.get(),
        0,
        "the wheel fed its filter after an error"
    );

    // The echo: every record, framed again, in order, nothing else.
    if let Some(p) = peer.as_mut() {
        read_echo(p, &mut echo);
    }
    let expected: Vec<u8> = model
        .records
        .iter()
        .flat_map(|r| r.iter().copied().chain([b'\n']))
        .collect();
    if echo_lost {
        assert!(
            expected.starts_with(&echo),
            "echo is not a prefix of the records"
        );
    } else {
        assert_eq!(echo, expected, "echo differs from the records");
    }

    kernel.stop();
}
