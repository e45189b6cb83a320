//! [`LineBytes`]: [`Line`]'s framing with [`Bytes`] records.
//!
//! Why a module of its own: it is a second kind of records over the same
//! filter, and all it adds is how lines are handed over (slices of one
//! copy per chunk, [`Sliced`]); the framing and the search are
//! [`Line`]'s, untouched.

use bytes::Bytes;

use super::super::{Filter, FilterError};
use super::search::Records;
use super::Line;

/// [`LineBytes`]'s records: at the first line of a chunk, everything
/// from that line on is copied once into one `Bytes`, and each line is a
/// slice of it (no allocation per line). Nothing is copied while no line
/// completes, so a long line arriving in pieces is not copied over and
/// over.
struct Sliced<'o> {
    /// The copy, and the offset in `data` where it starts.
    all: Option<(Bytes, usize)>,
    out: &'o mut Vec<Bytes>,
    added: usize,
}

impl Records for Sliced<'_> {
    fn count(&self) -> usize {
        self.added
    }
    fn add(&mut self, data: &[u8], start: usize, end: usize) {
        let (all, base) = self
            .all
            .get_or_insert_with(|| (Bytes::copy_from_slice(&data[start..]), start));
        self.out.push(all.slice(start - *base..end - *base));
        self.added += 1;
    }
}

impl Line {
    /// The same filter, handing lines over as [`Bytes`] instead of one
    /// `Vec` each: see [`LineBytes`].
    pub fn bytes(self) -> LineBytes {
        LineBytes { line: self }
    }
}

/// [`Line`] with [`Bytes`] records: the same framing, options and limits,
/// but the lines completed by one chunk are copied once, into one shared
/// buffer, and each is a slice of it — an allocation per chunk instead of
/// one per line (what follows the last line of a chunk is copied with it
/// and kept as long as one of its lines is). Made by [`Line::bytes`].
///
/// Why: for short lines (a chat, a line protocol) the allocation and free
/// of each line's `Vec` is a large part of what a server spends per line;
/// `Bytes` is cheap to clone and to pass on, and `put` takes it back.
/// The cost: a line kept alive keeps its chunk's lines alive with it;
/// copy one out (`Bytes::copy_from_slice`, `to_vec`) to keep it long.
///
/// ```
/// use bytes::Bytes;
/// use rpoe::filter::{Filter, Line};
///
/// let mut f = Line::literal(b"\n").bytes();
/// let mut lines = Vec::new();
/// f.get(b"one\ntwo\nthr", &mut lines).unwrap();
/// assert_eq!(lines, [Bytes::from("one"), Bytes::from("two")]);
/// assert_eq!(f.pending(), b"thr");
/// let mut out = Vec::new();
/// f.put(&lines[1], &mut out).unwrap();
/// assert_eq!(out, b"two\n");
/// ```
#[derive(Debug, Clone, Default)]
pub struct LineBytes {
    line: Line,
}

impl Filter for LineBytes {
    type Record = Bytes;

    /// Cut every line completed by `chunk`, as [`Line::get`](Filter::get)
    /// does (the same errors, and the lines before an error are in `out`).
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) -> Result<(), FilterError> {
        let mut sliced = Sliced {
            all: None,
            out,
            added: 0,
        };
        self.line.get_with(chunk, &mut sliced)
    }

    /// Append `record` and the output terminator. Never fails.
    fn put(&mut self, record: &Bytes, out: &mut Vec<u8>) -> Result<(), FilterError> {
        self.line.put_bytes(record, out);
        Ok(())
    }

    fn pending(&self) -> &[u8] {
        self.line.pending()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.line.take_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `LineBytes` cuts exactly what `Line` cuts — the same records, the
    /// same pending bytes, the same errors — however the input is split,
    /// for each kind of terminator.
    #[test]
    fn line_bytes_cuts_what_line_cuts() {
        let makers: Vec<fn() -> Line> = vec![
            || Line::literal(b"\n"),
            || Line::literal(b"\r\n").max_length(8),
            || Line::new(),
            || Line::new().autodetect(),
            || Line::literal(b"\n").keep_terminator(true),
            || Line::new().input_any_of(b";,"),
        ];
        let input: &[u8] = b"one\ntwo\r\nthree;four,\r\nx\n\nlonger than eight\nz\r";
        for make in makers {
            for size in 1..=input.len() {
                let (mut a, mut b) = (make(), make().bytes());
                for chunk in input.chunks(size) {
                    let (mut va, mut vb) = (Vec::new(), Vec::new());
                    let (ra, rb) = (a.get(chunk, &mut va), b.get(chunk, &mut vb));
                    assert_eq!(ra, rb, "size {size}");
                    let vb: Vec<Vec<u8>> = vb.iter().map(|l| l.to_vec()).collect();
                    assert_eq!(va, vb, "size {size}");
                    assert_eq!(a.pending(), b.pending(), "size {size}");
                }
            }
        }
    }
}
