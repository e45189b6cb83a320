//! One load-generator connection: the lines it has sent, what is still to
//! be written, and the check of what comes back.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;

use super::error::LoadError;
use crate::lines::{LineMaker, Verifier};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The non-blocking connect has not completed.
    Connecting,
    /// Connected; the first line is out and its echo awaited (then the
    /// server has surely accepted the connection).
    Handshake,
    /// Lines flow.
    Open,
    /// Our side is shut for writing; waiting for the server's EOF.
    WriteShut,
    /// The server closed it after echoing everything.
    Closed,
}

/// What one read pass found.
#[derive(Debug, Default)]
pub struct Received {
    /// Bytes read.
    pub bytes: u64,
    /// Lines completed (all verified).
    pub lines: u64,
    /// The server closed its side.
    pub eof: bool,
}

/// A connection of the load generator.
pub struct Conn {
    /// Connection id (also its poll token and the id in its lines).
    pub id: u32,
    /// The socket.
    pub stream: TcpStream,
    /// Life-cycle state.
    pub state: State,
    verifier: Verifier,
    out: Vec<u8>,
    out_pos: usize,
    sent: u64,
    /// When each line not yet echoed was queued, oldest first.
    stamps: VecDeque<Instant>,
}

impl Conn {
    /// A connection whose non-blocking connect is under way.
    pub fn new(id: u32, stream: TcpStream, maker: &LineMaker) -> Conn {
        Conn {
            id,
            stream,
            state: State::Connecting,
            verifier: Verifier::new(maker, id),
            out: Vec::new(),
            out_pos: 0,
            sent: 0,
            stamps: VecDeque::new(),
        }
    }

    /// Lines sent (or queued) and not yet echoed in full.
    pub fn outstanding(&self) -> u64 {
        self.sent - self.verifier.received()
    }

    /// Lines echoed in full.
    pub fn received(&self) -> u64 {
        self.verifier.received()
    }

    /// Whether output is waiting for the socket.
    pub fn has_output(&self) -> bool {
        self.out_pos < self.out.len()
    }

    /// Queue the connection's next line; `stamp` is when it counts as sent,
    /// for its round-trip time.
    pub fn queue_line(&mut self, maker: &LineMaker, stamp: Instant) {
        maker.push(&mut self.out, self.id, self.sent);
        self.sent += 1;
        self.stamps.push_back(stamp);
    }

    /// Write queued output until done or the socket is full.
    pub fn flush(&mut self) -> Result<(), LoadError> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => {
                    return Err(LoadError::io(
                        self.id,
                        "write",
                        io::ErrorKind::WriteZero.into(),
                    ))
                }
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LoadError::io(self.id, "write", e)),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    /// Read what the socket has, verifying every byte, and report each
    /// completed line's send stamp to `on_line`.
    ///
    /// Sockets are edge-triggered. A read shorter than the buffer drained
    /// the socket (data arriving later raises a new edge), so no extra
    /// read is spent to see `WouldBlock` — unless `until_empty` says the
    /// peer closed or errored, when the read that returns 0 must be made.
    pub fn read_some(
        &mut self,
        maker: &LineMaker,
        buf: &mut [u8],
        until_empty: bool,
        mut on_line: impl FnMut(Instant),
    ) -> Result<Received, LoadError> {
        let mut got = Received::default();
        loop {
            let n = match self.stream.read(buf) {
                Ok(0) => {
                    got.eof = true;
                    return Ok(got);
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LoadError::io(self.id, "read", e)),
            };
            let lines = self
                .verifier
                .feed(maker, &buf[..n], self.sent)
                .map_err(|what| LoadError::Mismatch {
                    conn: self.id,
                    what,
                })?;
            for t in self.stamps.drain(..lines as usize) {
                on_line(t);
            }
            got.bytes += n as u64;
            got.lines += lines;
            if n < buf.len() && !until_empty {
                return Ok(got);
            }
        }
    }

    /// The error for an EOF from the server, if it came too early.
    pub fn early_eof(&self) -> Option<LoadError> {
        (self.outstanding() > 0 || self.verifier.mid_line()).then(|| LoadError::ClosedEarly {
            conn: self.id,
            outstanding: self.outstanding(),
            mid_line: self.verifier.mid_line(),
        })
    }
}
