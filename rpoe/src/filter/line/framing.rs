//! The buffer management of [`Line`]: what it holds between reads, and
//! how each read is fed to the terminator search.
//!
//! Why a module of its own: this is the read path. Every chunk either
//! has its lines cut straight out of it (nothing pending: only the
//! unterminated tail is kept) or is appended to the framing buffer,
//! which is compacted as lines leave it; the limits (`max_buffer`,
//! `max_length`) are enforced here, before bytes are kept. POE's lazy
//! `get_one` shares the same buffer and rules.

use super::super::{Filter, FilterError, GetOne};
use super::search::Records;
use super::Line;

impl Line {
    /// `put` for either kind of record: `record`, then the output
    /// terminator.
    #[inline]
    pub(super) fn put_bytes(&self, record: &[u8], out: &mut Vec<u8>) {
        out.reserve(record.len() + self.output.len());
        out.extend_from_slice(record);
        out.extend_from_slice(&self.output);
    }

    fn reset(&mut self) {
        self.framing.clear();
        self.scan = 0;
    }

    fn fail<T>(&mut self, e: FilterError) -> Result<T, FilterError> {
        self.reset();
        Err(e)
    }
}

impl Filter for Line {
    type Record = Vec<u8>;

    /// Cut every line completed by `chunk`. On an error, the lines
    /// completed before the offending one are already in `out`, and the
    /// filter is emptied.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), FilterError> {
        self.get_with(chunk, out)
    }

    /// Append `record` and the output terminator. Never fails.
    fn put(&mut self, record: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), FilterError> {
        self.put_bytes(record, out);
        Ok(())
    }

    fn pending(&self) -> &[u8] {
        self.framing.bytes()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.scan = 0;
        self.framing.take()
    }
}

impl Line {
    /// [`Filter::get`] for any kind of records.
    pub(super) fn get_with(
        &mut self,
        chunk: &[u8],
        out: &mut impl Records,
    ) -> Result<(), FilterError> {
        if let Err(e) = self.framing.check_room(chunk.len(), self.max_buffer) {
            return self.fail(e);
        }
        if self.framing.held() == 0 {
            // Nothing pending: cut lines straight out of the chunk and
            // keep only its unterminated tail.
            match self.rules.cut(chunk, 0, 0, out, usize::MAX) {
                Ok((head, scan)) => {
                    self.framing.hold_only(&chunk[head..]);
                    self.scan = scan - head;
                }
                Err(e) => return self.fail(e),
            }
        } else {
            self.framing.data.extend_from_slice(chunk);
            let (head, scan) = (self.framing.head, self.scan);
            match self
                .rules
                .cut(&self.framing.data, head, scan, out, usize::MAX)
            {
                Ok((head, scan)) => {
                    self.framing.consume(head - self.framing.head);
                    self.scan = scan - self.framing.settle();
                }
                Err(e) => return self.fail(e),
            }
        }
        self.check_unfinished()
    }

    /// Refuse the unfinished line now if it is already too long: every
    /// byte before `scan` is known to be line, not terminator.
    fn check_unfinished(&mut self) -> Result<(), FilterError> {
        let len = self.scan - self.framing.head;
        if len > self.rules.max_length {
            let max = self.rules.max_length;
            return self.fail(FilterError::TooLong { len, max });
        }
        Ok(())
    }
}

impl GetOne for Line {
    /// Queue `chunks` without cutting any line (POE's `get_one_start`):
    /// [`pending`](Filter::pending) now includes them.
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        match self.framing.queue_all(chunks, self.max_buffer) {
            Err(e) => self.fail(e),
            ok => ok,
        }
    }

    /// Cut the next line, by the same rules as [`get`](Filter::get) (a
    /// lone CR or LF ending what is queued is a whole newline).
    ///
    /// ```
    /// use rpoe::filter::{Filter, GetOne, Line};
    ///
    /// let mut lines = Line::new();
    /// lines.get_one_start(&["1\n2\n", "3"]).unwrap();
    /// assert_eq!(lines.get_one().unwrap(), Some(b"1".to_vec()));
    /// // Lazily: the second line is not cut until asked for.
    /// assert_eq!(lines.pending(), b"2\n3");
    /// assert_eq!(lines.get_one().unwrap(), Some(b"2".to_vec()));
    /// assert_eq!(lines.get_one().unwrap(), None);
    /// assert_eq!(lines.get_pending(), Some(b"3".to_vec()));
    /// ```
    fn get_one(&mut self) -> Result<Option<Vec<u8>>, FilterError> {
        let mut out = Vec::with_capacity(1);
        let (head, scan) = (self.framing.head, self.scan);
        match self.rules.cut(&self.framing.data, head, scan, &mut out, 1) {
            Ok((head, scan)) => {
                self.framing.consume(head - self.framing.head);
                self.scan = scan;
                // Drop the consumed prefix only once it is at least half
                // the buffer, so draining many lines one by one stays
                // linear.
                if self.framing.head * 2 >= self.framing.data.len() {
                    self.scan -= self.framing.settle();
                }
            }
            Err(e) => return self.fail(e),
        }
        let line = out.pop();
        if line.is_none() {
            // As `get` does.
            self.check_unfinished()?;
        }
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: a connection between records holds only its unfinished
    /// line, and no memory at all once every line is complete.
    #[test]
    fn holds_only_the_unfinished_line_and_frees_it_once_complete() {
        let mut line = Line::literal(b"\n");
        let mut out = Vec::new();
        line.get(b"one\ntw", &mut out).unwrap();
        assert_eq!(out, [b"one".to_vec()]);
        assert_eq!(line.pending(), b"tw");
        line.get(b"o\nthr", &mut out).unwrap();
        assert_eq!(out[1], b"two");
        assert_eq!(line.pending(), b"thr");
        line.get(b"ee\n", &mut out).unwrap();
        assert_eq!(out[2], b"three");
        assert_eq!(line.framing.data.capacity(), 0, "slow path frees");
        // A long line arriving in pieces, then completed in the fast path.
        let piece = vec![b'x'; 16 * 1024];
        for _ in 0..4 {
            line.get(&piece, &mut out).unwrap();
        }
        assert_eq!(line.pending().len(), 64 * 1024);
        line.get(b"\nfour\n", &mut out).unwrap();
        assert_eq!(out[3].len(), 64 * 1024);
        assert_eq!(out[4], b"four");
        assert_eq!(line.framing.data.capacity(), 0, "freed after a long line");
        line.get(b"five\n", &mut out).unwrap();
        assert_eq!(line.framing.data.capacity(), 0, "fast path holds nothing");
    }
}
