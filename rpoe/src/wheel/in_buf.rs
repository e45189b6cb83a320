//! [`InBuf`]: the input side of a wheel's stream, beside
//! [`OutBuf`](super::out_buf::OutBuf) — one read loop for every wheel
//! that reads a byte stream.
//!
//! Why one type: the loop has three rules that are easy to get subtly
//! wrong in each copy — read until the OS says `WouldBlock` (or a short
//! read says the same) so the kernel need not re-arm the handle; but not
//! when the peer closed with this readiness, since then a short read is
//! followed by end of file, not by a new readiness event; and read at most
//! a bounded number of chunks per event so one busy stream cannot starve
//! the others.

use std::io::{self, ErrorKind, Read};

/// Bytes read per `read` call.
pub(crate) const READ_CHUNK: usize = 64 * 1024;
/// Reads per readiness event before other handles get a turn.
pub(crate) const READS_PER_EVENT: usize = 16;

/// How a read loop ended.
#[derive(Debug)]
pub(crate) enum ReadOutcome<E> {
    /// The stream has no more data now; the OS reports new data by itself.
    Drained,
    /// The per-event budget ran out with data possibly left: the kernel
    /// should report the stream ready again.
    More,
    /// End of file.
    Eof,
    /// A read failed.
    Failed(io::Error),
    /// The consumer refused a chunk.
    Refused(E),
}

/// A reusable read buffer of [`READ_CHUNK`] bytes, allocated on first use.
#[derive(Default)]
pub(crate) struct InBuf {
    buf: Vec<u8>,
}

impl InBuf {
    /// Read from `r` until it would block, hits end of file or fails, or
    /// [`READS_PER_EVENT`] reads were made, giving each chunk to `consume`
    /// (which may refuse it, ending the loop). `peer_closed`: the OS said
    /// with this readiness that the peer closed, so a short read does not
    /// mean drained.
    pub(crate) fn read_from<E>(
        &mut self,
        r: &mut impl Read,
        peer_closed: bool,
        mut consume: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> ReadOutcome<E> {
        if self.buf.len() < READ_CHUNK {
            self.buf.resize(READ_CHUNK, 0);
        }
        for _ in 0..READS_PER_EVENT {
            match r.read(&mut self.buf) {
                Ok(0) => return ReadOutcome::Eof,
                Ok(n) => {
                    if let Err(e) = consume(&self.buf[..n]) {
                        return ReadOutcome::Refused(e);
                    }
                    // A short read empties the stream; unless the peer
                    // closed with this event, more data or end of file
                    // raises a new one.
                    if n < self.buf.len() && !peer_closed {
                        return ReadOutcome::Drained;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return ReadOutcome::Drained,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return ReadOutcome::Failed(e),
            }
        }
        ReadOutcome::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns the scripted results in turn.
    struct Script(Vec<io::Result<usize>>);

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let next = self.0.remove(0)?;
            buf[..next].fill(b'x');
            Ok(next)
        }
    }

    fn run(script: Vec<io::Result<usize>>, peer_closed: bool) -> (ReadOutcome<()>, usize) {
        let mut got = 0;
        let outcome = InBuf::default().read_from(&mut Script(script), peer_closed, |c| {
            got += c.len();
            Ok(())
        });
        (outcome, got)
    }

    #[test]
    fn a_short_read_drains_unless_the_peer_closed() {
        let (o, n) = run(vec![Ok(10)], false);
        assert!(matches!(o, ReadOutcome::Drained) && n == 10);
        let (o, n) = run(vec![Ok(10), Ok(0)], true);
        assert!(matches!(o, ReadOutcome::Eof) && n == 10);
    }

    #[test]
    fn the_budget_bounds_reads_per_event() {
        let script = (0..READS_PER_EVENT).map(|_| Ok(READ_CHUNK)).collect();
        let (o, n) = run(script, false);
        assert!(matches!(o, ReadOutcome::More) && n == READ_CHUNK * READS_PER_EVENT);
    }

    #[test]
    fn would_block_interrupted_and_errors() {
        let wb = || Err(io::Error::from(ErrorKind::WouldBlock));
        let intr = || Err(io::Error::from(ErrorKind::Interrupted));
        let (o, n) = run(vec![intr(), Ok(READ_CHUNK), wb()], false);
        assert!(matches!(o, ReadOutcome::Drained) && n == READ_CHUNK);
        let (o, _) = run(
            vec![Err(io::Error::from(ErrorKind::ConnectionReset))],
            false,
        );
        assert!(matches!(o, ReadOutcome::Failed(_)));
        let refused = InBuf::default().read_from(&mut Script(vec![Ok(1)]), false, |_| Err(7));
        assert!(matches!(refused, ReadOutcome::Refused(7)));
    }
}
