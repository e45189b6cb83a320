//! The framing buffer the byte-level filters share.
//!
//! Bytes are appended at the back and records are cut from the front by
//! moving a `head` index, so cutting many small records out of one big
//! chunk costs no copying; the consumed prefix is dropped once per
//! [`Filter::get`](super::Filter::get) call by [`Framing::settle`]. A
//! byte is therefore moved a bounded number of times however the input
//! was split, and a long record arriving in many small chunks is never
//! copied around quadratically.

use super::FilterError;

/// Above this capacity a mostly empty buffer gives memory back, so one
/// huge record does not pin its allocation for the rest of the stream.
const SHRINK_ABOVE: usize = 256 * 1024;

/// Received bytes not yet part of a record: `data[head..]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Framing {
    /// Backing storage; `data[..head]` is already consumed.
    pub(crate) data: Vec<u8>,
    /// Start of the unconsumed bytes.
    pub(crate) head: usize,
}

impl Framing {
    /// The unconsumed bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data[self.head..]
    }

    /// How many bytes are held.
    pub(crate) fn held(&self) -> usize {
        self.data.len() - self.head
    }

    /// Refuse `incoming` more bytes if holding them would exceed `max`
    /// (POE's "Framing buffer exceeds the limit"): checked before anything
    /// is copied, so the buffer never grows past the limit. On refusal the
    /// buffer is emptied: the stream cannot be resynchronised anyway.
    pub(crate) fn check_room(&mut self, incoming: usize, max: usize) -> Result<(), FilterError> {
        let len = self.held().saturating_add(incoming);
        if len > max {
            self.clear();
            return Err(FilterError::BufferFull { len, max });
        }
        Ok(())
    }

    /// Queue `chunks` whole, after [`Framing::check_room`] for all of them
    /// (a filter's `get_one_start`: nothing is cut yet).
    pub(crate) fn queue_all<C: AsRef<[u8]>>(
        &mut self,
        chunks: &[C],
        max: usize,
    ) -> Result<(), FilterError> {
        let total = chunks.iter().map(|c| c.as_ref().len()).sum();
        self.check_room(total, max)?;
        for chunk in chunks {
            self.data.extend_from_slice(chunk.as_ref());
        }
        Ok(())
    }

    /// Mark `n` more bytes at the front as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.held());
        self.head += n;
    }

    /// Drop the consumed prefix; returns by how much indexes into `data`
    /// moved down. Gives memory back when a large buffer is mostly empty.
    pub(crate) fn settle(&mut self) -> usize {
        let shift = self.head;
        if self.head == self.data.len() {
            // Nothing left: give the memory back, so that a connection
            // between records holds no buffer at all.
            self.data = Vec::new();
        } else if self.head > 0 {
            self.data.drain(..self.head);
        }
        self.head = 0;
        let cap = self.data.capacity();
        if cap > SHRINK_ABOVE && self.data.len() <= cap / 4 {
            self.data.shrink_to(self.data.len().max(SHRINK_ABOVE / 4));
        }
        shift
    }

    /// Take the unconsumed bytes out, leaving the buffer empty.
    /// Hold exactly `tail` (the unfinished record of a chunk whose
    /// complete records were cut straight out of it): kept in the
    /// existing allocation if there is one, and with no allocation at all
    /// when `tail` is empty.
    pub(crate) fn hold_only(&mut self, tail: &[u8]) {
        self.head = 0;
        if tail.is_empty() {
            self.data = Vec::new();
        } else {
            self.data.clear();
            if self.data.capacity() > SHRINK_ABOVE {
                self.data = Vec::new();
            }
            self.data.extend_from_slice(tail);
        }
    }

    pub(crate) fn take(&mut self) -> Vec<u8> {
        let out = if self.head == 0 {
            std::mem::take(&mut self.data)
        } else {
            self.data[self.head..].to_vec()
        };
        self.clear();
        out
    }

    /// Forget everything held.
    pub(crate) fn clear(&mut self) {
        // Emptied (an error, a take): nothing is worth keeping.
        self.data = Vec::new();
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_settle_take() {
        let mut f = Framing::default();
        f.check_room(6, 6).unwrap();
        f.data.extend_from_slice(b"abcdef");
        f.consume(2);
        assert_eq!(f.bytes(), b"cdef");
        assert_eq!(f.held(), 4);
        assert_eq!(f.settle(), 2);
        assert_eq!(f.data, b"cdef");
        f.consume(1);
        assert_eq!(f.take(), b"def");
        assert_eq!(f.held(), 0);
        assert_eq!(f.settle(), 0);
    }

    #[test]
    fn check_room_refuses_and_empties() {
        let mut f = Framing::default();
        f.data.extend_from_slice(b"abc");
        assert_eq!(
            f.check_room(2, 4),
            Err(FilterError::BufferFull { len: 5, max: 4 })
        );
        assert_eq!(f.held(), 0);
        assert_eq!(
            f.check_room(usize::MAX, 4).unwrap_err(),
            FilterError::BufferFull {
                len: usize::MAX,
                max: 4
            }
        );
    }

    #[test]
    fn a_big_buffer_gives_memory_back() {
        let mut f = Framing::default();
        f.data.resize(4 * SHRINK_ABOVE, b'x');
        f.consume(4 * SHRINK_ABOVE - 10);
        f.settle();
        assert_eq!(f.held(), 10);
        assert!(f.data.capacity() <= SHRINK_ABOVE);
        f.data.resize(4 * SHRINK_ABOVE, b'x');
        f.clear();
        assert_eq!(f.data.capacity(), 0);
    }

    #[test]
    fn an_empty_buffer_holds_no_memory() {
        let mut f = Framing::default();
        f.data.extend_from_slice(b"line\npart");
        f.consume(5);
        f.settle();
        assert_eq!(f.bytes(), b"part", "the unfinished record is kept");
        f.consume(4);
        f.settle();
        assert_eq!(f.data.capacity(), 0, "freed once everything is consumed");
        f.hold_only(b"ab");
        assert_eq!(f.bytes(), b"ab");
        f.hold_only(b"");
        assert_eq!(f.data.capacity(), 0);
    }
}
