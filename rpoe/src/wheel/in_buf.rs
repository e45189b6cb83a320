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

/// The read loop of one stream. It owns no buffer: every stream on a
/// thread reads into one scratch buffer of [`READ_CHUNK`] bytes shared by
/// the thread (see [`with_scratch`]), so a connection costs no read buffer
/// between reads — only what its filter keeps of an unfinished record.
#[derive(Default)]
pub(crate) struct InBuf;

thread_local! {
    /// The thread's read buffer, lent to one read loop at a time.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Run `f` with the thread's scratch buffer, [`READ_CHUNK`] bytes long.
///
/// Why lent out of a `Cell` rather than borrowed from a `RefCell`: a
/// consumer (a user's filter) may, however oddly, drive another read loop
/// on this thread; the nested loop then finds the cell empty and uses a
/// buffer of its own instead of panicking on a double borrow. The buffer
/// goes back afterwards, so the next read on the thread reuses it.
fn with_scratch<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    let mut buf = SCRATCH.with(|s| s.take());
    if buf.len() < READ_CHUNK {
        buf.resize(READ_CHUNK, 0);
    }
    let out = f(&mut buf);
    SCRATCH.with(|s| s.set(buf));
    out
}

impl InBuf {
    /// Read from `r` until it would block, hits end of file or fails, or
    /// [`READS_PER_EVENT`] reads were made, giving each chunk to `consume`
    /// (which may refuse it, ending the loop). `peer_closed`: the OS said
    /// with this readiness that the peer closed, so a short read does not
    /// mean drained. The chunk lives in the thread's scratch buffer: a
    /// consumer keeps what it needs of it by copying.
    pub(crate) fn read_from<E>(
        &mut self,
        r: &mut impl Read,
        peer_closed: bool,
        consume: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> ReadOutcome<E> {
        with_scratch(|buf| Self::read_into(buf, r, peer_closed, consume))
    }

    fn read_into<E>(
        buf: &mut [u8],
        r: &mut impl Read,
        peer_closed: bool,
        mut consume: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> ReadOutcome<E> {
        for _ in 0..READS_PER_EVENT {
            match r.read(buf) {
                Ok(0) => return ReadOutcome::Eof,
                Ok(n) => {
                    if let Err(e) = consume(&buf[..n]) {
                        return ReadOutcome::Refused(e);
                    }
                    // A short read empties the stream; unless the peer
                    // closed with this event, more data or end of file
                    // raises a new one.
                    if n < buf.len() && !peer_closed {
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
        let outcome = InBuf.read_from(&mut Script(script), peer_closed, |c| {
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
        let refused = InBuf.read_from(&mut Script(vec![Ok(1)]), false, |_| Err(7));
        assert!(matches!(refused, ReadOutcome::Refused(7)));
    }

    /// Issue 12: a stream's read loop owns no buffer (the thread's scratch
    /// buffer is lent to it), and a loop started from inside another's
    /// consumer still works, on a buffer of its own.
    #[test]
    fn no_buffer_per_stream_and_nested_loops_work() {
        assert_eq!(std::mem::size_of::<InBuf>(), 0);
        let mut inner_got = 0;
        let outcome = InBuf.read_from(&mut Script(vec![Ok(3)]), false, |c| {
            assert_eq!(c, b"xxx");
            let nested = InBuf.read_from(&mut Script(vec![Ok(5)]), false, |c| {
                inner_got += c.len();
                Ok::<(), ()>(())
            });
            assert!(matches!(nested, ReadOutcome::Drained));
            assert_eq!(c, b"xxx", "the outer chunk is untouched");
            Ok::<(), ()>(())
        });
        assert!(matches!(outcome, ReadOutcome::Drained) && inner_got == 5);
        let kept = SCRATCH.with(|s| {
            let b = s.take();
            let len = b.len();
            s.set(b);
            len
        });
        assert_eq!(kept, READ_CHUNK, "the scratch buffer is kept for reuse");
    }
}
