//! One client connection: its partial line, its pending output, and the
//! line framing that decides what to echo.
//!
//! Buffers are allocated only while they hold bytes and freed once drained,
//! so an idle connection costs a few dozen bytes.

use std::io::{self, IoSlice, Write};

use memchr::{memchr_iter, memrchr};

/// How a chunk of input splits against the line carried from before.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    /// Bytes of the chunk, from its start, that complete lines (together
    /// with the carried partial line) and may be echoed.
    pub complete: usize,
    /// A line (newline included) longer than the limit was found, or the
    /// unterminated tail already reaches it: the connection must close
    /// after echoing `complete`.
    pub too_long: bool,
}

/// Split `data` given `carried` bytes of unterminated line before it.
/// Each line, newline included, may be at most `max_line` bytes; an
/// unterminated tail of `max_line` bytes can no longer end in time, so it
/// counts as too long at once. Scans each byte once.
pub fn split(carried: usize, data: &[u8], max_line: usize) -> Split {
    if carried + data.len() < max_line {
        // No line can reach the limit: only the last newline matters.
        let complete = memrchr(b'\n', data).map_or(0, |i| i + 1);
        return Split {
            complete,
            too_long: false,
        };
    }
    let mut line_start = 0;
    let mut carried = carried;
    for nl in memchr_iter(b'\n', data) {
        if carried + nl + 1 - line_start > max_line {
            return Split {
                complete: line_start,
                too_long: true,
            };
        }
        line_start = nl + 1;
        carried = 0;
    }
    Split {
        complete: line_start,
        too_long: carried + data.len() - line_start >= max_line,
    }
}

/// What became of a chunk of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Fed {
    /// Complete lines were echoed or queued; keep reading.
    Ok,
    /// A line was over the limit: the lines before it are echoed or
    /// queued; read no more and close once the output is written.
    TooLong,
}

/// A connected client.
#[derive(Default)]
pub struct Conn {
    partial: Vec<u8>,
    out: Vec<u8>,
    out_start: usize,
    /// Reading is paused because pending output is above the high mark.
    pub read_paused: bool,
    /// The write watcher is on.
    pub write_watched: bool,
    /// Complete lines received so far (for the counters and the close
    /// log line).
    pub lines: u64,
    /// Bytes written to the client so far.
    pub sent: u64,
}

impl Conn {
    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.out.len() - self.out_start
    }

    /// Take a chunk just read: echo its complete lines straight away when
    /// nothing is queued before them (one `writev` of the carried partial
    /// line and the chunk's complete lines), queue what the socket does
    /// not take, and carry the unterminated tail.
    pub fn feed(&mut self, data: &[u8], max_line: usize, sock: &mut impl Write) -> io::Result<Fed> {
        let s = split(self.partial.len(), data, max_line);
        if s.complete > 0 {
            let lines = &data[..s.complete];
            // A vectorised count: the split above looked only for the
            // last newline.
            self.lines += memchr_iter(b'\n', lines).count() as u64;
            if self.pending() == 0 {
                let written = write_two(sock, &self.partial, lines)?;
                self.sent += written as u64;
                self.queue_after(written, lines);
            } else {
                self.out.extend_from_slice(&self.partial);
                self.out.extend_from_slice(lines);
            }
            self.partial.clear();
        }
        if s.too_long {
            self.partial = Vec::new();
            return Ok(Fed::TooLong);
        }
        let tail = &data[s.complete..];
        if tail.is_empty() {
            if self.partial.capacity() > 0 {
                self.partial = Vec::new();
            }
        } else {
            self.partial.extend_from_slice(tail);
        }
        Ok(Fed::Ok)
    }

    /// Queue whatever of `partial ++ lines` the first `written` bytes did
    /// not cover.
    fn queue_after(&mut self, written: usize, lines: &[u8]) {
        let p = self.partial.len();
        if written < p {
            self.out.extend_from_slice(&self.partial[written..]);
            self.out.extend_from_slice(lines);
        } else if written - p < lines.len() {
            self.out.extend_from_slice(&lines[written - p..]);
        }
    }

    /// Write as much pending output as the socket takes. Returns the bytes
    /// still pending; frees the buffer once it is empty.
    pub fn flush(&mut self, sock: &mut impl Write) -> io::Result<usize> {
        while self.pending() > 0 {
            match sock.write(&self.out[self.out_start..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out_start += n;
                    self.sent += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.pending() == 0 {
            self.out = Vec::new();
            self.out_start = 0;
        } else if self.out_start > self.out.len() / 2 {
            self.out.drain(..self.out_start);
            self.out_start = 0;
        }
        Ok(self.pending())
    }

    /// Drop the partial line (at EOF it is never echoed).
    pub fn drop_partial(&mut self) {
        self.partial = Vec::new();
    }

    /// Drop the pending output (it will never be written).
    pub fn drop_output(&mut self) {
        self.out = Vec::new();
        self.out_start = 0;
    }

    /// Bytes of the unfinished line carried so far.
    pub fn partial_len(&self) -> usize {
        self.partial.len()
    }

    /// Bytes of memory the buffers hold (their capacity), for the budget
    /// across connections.
    pub fn held(&self) -> usize {
        self.partial.capacity() + self.out.capacity()
    }
}

/// `writev` two slices; `WouldBlock` counts as nothing written.
fn write_two(sock: &mut impl Write, a: &[u8], b: &[u8]) -> io::Result<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `room` bytes, then would block.
    struct Sock {
        got: Vec<u8>,
        room: usize,
    }

    impl Write for Sock {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            // Like writev: as much of the concatenation as there is room for.
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            self.write(&all)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// `split(carried, chunk, max)` finds `complete` bytes of whole lines
    /// and says `too_long` as given.
    fn assert_split(carried: usize, chunk: &[u8], max: usize, complete: usize, too_long: bool) {
        assert_eq!(
            split(carried, chunk, max),
            Split { complete, too_long },
            "split({carried}, {:?}, {max})",
            String::from_utf8_lossy(chunk)
        );
    }

    #[test]
    fn split_finds_last_newline() {
        assert_split(0, b"a\nb\nc", 100, 4, false);
        assert_split(3, b"abc", 100, 0, false);
    }

    #[test]
    fn split_counts_carried_bytes_and_newline() {
        // max 4: "abc\n" is exactly 4, fine; "abcd\n" is 5, too long.
        assert_split(2, b"c\n", 4, 2, false);
        assert_split(2, b"cd\n", 4, 0, true);
        assert_split(0, b"ok\nabcde\n", 4, 3, true);
        // An unterminated tail of max bytes can no longer fit its newline.
        assert_split(0, b"ok\nabcd", 4, 3, true);
        assert_split(0, b"ok\nabc", 4, 3, false);
    }

    #[test]
    fn feed_echoes_complete_lines_in_order_across_chunks() {
        let mut c = Conn::default();
        let mut s = Sock {
            got: Vec::new(),
            room: usize::MAX,
        };
        for chunk in [&b"he"[..], b"llo\nwor", b"ld\r\n\n", b"tail"] {
            assert_eq!(c.feed(chunk, 1000, &mut s).unwrap(), Fed::Ok);
        }
        assert_eq!(s.got, b"hello\nworld\r\n\n");
        assert_eq!(c.pending(), 0);
        assert_eq!((c.lines, c.sent), (3, 14));
    }

    #[test]
    fn feed_queues_what_the_socket_refuses_and_flush_sends_it() {
        let mut c = Conn::default();
        let mut s = Sock {
            got: Vec::new(),
            room: 3,
        };
        c.feed(b"ab", 1000, &mut s).unwrap();
        c.feed(b"c\nde\nf", 1000, &mut s).unwrap();
        assert_eq!(s.got, b"abc");
        assert_eq!(c.pending(), 4);
        s.room = 100;
        assert_eq!(c.flush(&mut s).unwrap(), 0);
        assert_eq!(s.got, b"abc\nde\n");
        c.feed(b"\n", 1000, &mut s).unwrap();
        assert_eq!(s.got, b"abc\nde\nf\n");
        assert_eq!((c.lines, c.sent), (3, 9));
    }

    #[test]
    fn feed_stops_at_an_over_long_line() {
        let mut c = Conn::default();
        let mut s = Sock {
            got: Vec::new(),
            room: usize::MAX,
        };
        assert_eq!(c.feed(b"ok\n0123456789", 8, &mut s).unwrap(), Fed::TooLong);
        assert_eq!(s.got, b"ok\n");
    }
}
