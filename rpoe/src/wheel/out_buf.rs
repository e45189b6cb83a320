//! The output buffer of the writing wheels (ReadWrite, Run's stdin):
//! encoded bytes waiting for a non-blocking writer, written from a moving
//! start offset (no copy per partial write), compacted when more than half
//! is spent and freed once empty, so an idle wheel holds no buffer.

use std::io::{self, ErrorKind, Write};

#[derive(Default)]
pub(crate) struct OutBuf {
    data: Vec<u8>,
    start: usize,
}

impl OutBuf {
    /// Bytes waiting to be written.
    pub(crate) fn pending(&self) -> usize {
        self.data.len() - self.start
    }

    /// Where a filter appends what it encodes.
    pub(crate) fn tail(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Forget everything pending (and free it).
    pub(crate) fn clear(&mut self) {
        *self = OutBuf::default();
    }

    /// Write until the writer would block or nothing is left. An error
    /// other than `WouldBlock`/`Interrupted` (or a write of 0 bytes) is
    /// returned as is; what was written before it stays written.
    pub(crate) fn write_to(&mut self, w: &mut impl Write) -> io::Result<()> {
        let mut result = Ok(());
        while self.pending() > 0 {
            match w.write(&self.data[self.start..]) {
                Ok(0) => {
                    result = Err(io::Error::from(ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => self.start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if self.pending() == 0 {
            self.clear();
        } else if self.start > self.data.len() / 2 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` bytes per call, then would block once.
    struct Slow {
        got: Vec<u8>,
        room: usize,
        blocked: bool,
    }

    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.blocked {
                self.blocked = false;
                return Err(ErrorKind::WouldBlock.into());
            }
            self.blocked = true;
            let n = buf.len().min(self.room);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_in_order_across_partial_writes_and_frees_when_empty() {
        let mut b = OutBuf::default();
        b.tail().extend_from_slice(b"hello world");
        let mut w = Slow {
            got: Vec::new(),
            room: 4,
            blocked: false,
        };
        b.write_to(&mut w).unwrap();
        assert_eq!(b.pending(), 7);
        b.tail().extend_from_slice(b"!");
        while b.pending() > 0 {
            b.write_to(&mut w).unwrap();
        }
        assert_eq!(w.got, b"hello world!");
        assert_eq!(b.data.capacity(), 0, "freed once empty");
    }
}
