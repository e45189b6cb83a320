//! **Benchmark-only code.** A hand-written single-threaded echo server on
//! mio: the practical limit of one thread, to measure `rpoe-echo` against.
//!
//! Every socket is registered once, edge-triggered, for reading and
//! writing, so no readiness change ever costs a syscall. All connections
//! read into one shared buffer; complete lines are written straight from
//! it (one `writev` with the carried partial line), and a connection holds
//! a buffer of its own only while it has a partial line or output the
//! socket did not take. Above [`HIGH_WATER`] bytes of pending output a
//! client is not read from until its output drains.

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use memchr::memrchr;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::{announce, listen, MAX_LINE};

/// Size of the read buffer all connections share.
const READ_BUF: usize = 64 * 1024;
/// Stop reading a client while more than this much output waits for it.
const HIGH_WATER: usize = 64 * 1024;
/// The listener's token; clients use their slab key plus one.
const LISTENER: Token = Token(0);

/// One client. An idle client owns no heap memory.
struct Client {
    stream: TcpStream,
    /// The unterminated end of the input so far.
    partial: Vec<u8>,
    /// Output the socket did not take yet, from `out_pos` on.
    out: Vec<u8>,
    out_pos: usize,
    /// Reading stopped at the high-water mark with input possibly left in
    /// the socket (no new edge will say so).
    read_stopped: bool,
    /// The client sent EOF: close once the output is written.
    eof: bool,
}

/// What to do with a client after handling its event.
#[derive(PartialEq, Eq)]
enum Verdict {
    Keep,
    Close,
}

/// Listen on `addr` and echo until killed.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::from_std(listen(addr)?);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    announce(listener.local_addr()?)?;

    let mut clients: Slab<Client> = Slab::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                accept_all(&poll, &listener, &mut clients);
                continue;
            }
            let key = ev.token().0 - 1;
            let Some(c) = clients.get_mut(key) else {
                continue;
            };
            let closed = ev.is_read_closed() || ev.is_error();
            let mut verdict = Verdict::Keep;
            if ev.is_writable() && c.pending() > 0 {
                verdict = c.flush();
                if verdict == Verdict::Keep && c.read_stopped && c.pending() <= HIGH_WATER {
                    verdict = c.read_all(&mut buf, true);
                }
            }
            if verdict == Verdict::Keep && (ev.is_readable() || closed) {
                verdict = c.read_all(&mut buf, closed);
            }
            if verdict == Verdict::Close || (c.eof && c.pending() == 0) {
                let mut c = clients.remove(key);
                let _ = poll.registry().deregister(&mut c.stream);
            }
        }
    }
}

/// Accept every waiting connection (the listener is edge-triggered).
fn accept_all(poll: &Poll, listener: &TcpListener, clients: &mut Slab<Client>) {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nodelay(true);
                let entry = clients.vacant_entry();
                let token = Token(entry.key() + 1);
                if poll
                    .registry()
                    .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                    .is_ok()
                {
                    entry.insert(Client {
                        stream,
                        partial: Vec::new(),
                        out: Vec::new(),
                        out_pos: 0,
                        read_stopped: false,
                        eof: false,
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // Out of descriptors or similar: leave the rest queued.
                eprintln!("mio-echo: accept: {e}");
                return;
            }
        }
    }
}

impl Client {
    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Read until the socket is empty (a short read means it is, unless
    /// the peer closed: then read on to see the EOF) or output backs up.
    fn read_all(&mut self, buf: &mut [u8], to_eof: bool) -> Verdict {
        self.read_stopped = false;
        loop {
            if self.pending() > HIGH_WATER {
                self.read_stopped = true;
                return Verdict::Keep;
            }
            match self.stream.read(buf) {
                Ok(0) => {
                    self.eof = true;
                    self.partial = Vec::new();
                    return Verdict::Keep;
                }
                Ok(n) => {
                    if self.take(&buf[..n]) == Verdict::Close {
                        return Verdict::Close;
                    }
                    if n < buf.len() && !to_eof {
                        return Verdict::Keep;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Verdict::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Verdict::Close,
            }
        }
    }

    /// Echo the complete lines of a chunk, carry its unterminated tail.
    fn take(&mut self, data: &[u8]) -> Verdict {
        let Some(last_nl) = memrchr(b'\n', data) else {
            self.partial.extend_from_slice(data);
            return self.check_partial();
        };
        let (lines, tail) = data.split_at(last_nl + 1);
        if self.pending() == 0 {
            let written = match write_two(&mut self.stream, &self.partial, lines) {
                Ok(n) => n,
                Err(_) => return Verdict::Close,
            };
            let p = self.partial.len();
            if written < p {
                self.out.extend_from_slice(&self.partial[written..]);
                self.out.extend_from_slice(lines);
            } else {
                self.out.extend_from_slice(&lines[written - p..]);
            }
        } else {
            self.out.extend_from_slice(&self.partial);
            self.out.extend_from_slice(lines);
        }
        self.partial = if tail.is_empty() {
            Vec::new()
        } else {
            tail.to_vec()
        };
        self.check_partial()
    }

    fn check_partial(&self) -> Verdict {
        if self.partial.len() >= MAX_LINE {
            Verdict::Close
        } else {
            Verdict::Keep
        }
    }

    /// Write pending output until done or the socket is full; free the
    /// buffer once empty.
    fn flush(&mut self) -> Verdict {
        while self.pending() > 0 {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Verdict::Close,
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Verdict::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Verdict::Close,
            }
        }
        self.out = Vec::new();
        self.out_pos = 0;
        Verdict::Keep
    }
}

/// `writev` of two slices (one `write` when the first is empty);
/// `WouldBlock` counts as nothing written.
fn write_two(sock: &mut TcpStream, a: &[u8], b: &[u8]) -> io::Result<usize> {
    loop {
        let r = if a.is_empty() {
            sock.write(b)
        } else {
            sock.write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
        };
        match r {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
