//! The terminator search: how [`Line`](super::Line) recognises where a
//! line ends, apart from where the bytes are kept.
//!
//! Why a module of its own: the same rules cut lines out of the filter's
//! framing buffer and straight out of a fresh chunk (when nothing is
//! pending), and hand them to either kind of records (`Vec` per line, or
//! slices of one `Bytes`); none of that is the search's business, so the
//! search knows only a slice, where its last search stopped, and a sink.

use memchr::{memchr, memchr2, memchr3, memmem};

use super::super::FilterError;

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// How lines are recognised; kept apart from the buffer so that the same
/// code can cut lines straight out of a fresh chunk.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    pub(super) input: Input,
    pub(super) keep: bool,
    pub(super) max_length: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Input {
    /// POE's default regex `\x0D\x0A?|\x0A\x0D?`.
    Newline,
    /// A one-byte terminator (the usual `\n`): searched with `memchr`,
    /// and no searcher to keep per filter.
    Byte(u8),
    /// A byte-exact terminator of two or more bytes. Boxed, as is the
    /// byte set: each filter of every connection carries an `Input`, and
    /// these are the large ones (issue 12: bytes per idle connection).
    Literal(Box<memmem::Finder<'static>>),
    /// Any single byte from a set (a regex character class).
    AnyOf(Box<ByteSet>),
    /// Autodetect, nothing seen yet: the first newline of any kind wins.
    DetectFirst,
    /// Autodetect: the first line ended with this lone byte at the very
    /// end of the input so far; the next byte may complete a two-byte
    /// newline.
    DetectSecond(u8),
}

/// A set of terminator bytes.
#[derive(Clone)]
pub(super) struct ByteSet {
    bytes: Vec<u8>,
    table: [bool; 256],
}

impl ByteSet {
    pub(super) fn new(bytes: &[u8]) -> Self {
        let mut table = [false; 256];
        let mut uniq = Vec::new();
        for &b in bytes {
            if !table[usize::from(b)] {
                table[usize::from(b)] = true;
                uniq.push(b);
            }
        }
        ByteSet { bytes: uniq, table }
    }

    #[inline]
    fn find(&self, hay: &[u8]) -> Option<usize> {
        match *self.bytes.as_slice() {
            [a] => memchr(a, hay),
            [a, b] => memchr2(a, b, hay),
            [a, b, c] => memchr3(a, b, c, hay),
            _ => hay.iter().position(|&b| self.table[usize::from(b)]),
        }
    }
}

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ByteSet({:?})", self.bytes.escape_ascii().to_string())
    }
}

impl Input {
    /// Where the next terminator starts in `hay`, for the rules whose
    /// terminator is one byte ([`Input::Byte`], [`Input::AnyOf`]); `None`
    /// for the others, which [`Rules::cut`] searches for itself.
    #[inline]
    fn find_byte(&self, hay: &[u8]) -> Option<usize> {
        match self {
            &Input::Byte(b) => memchr(b, hay),
            Input::AnyOf(set) => set.find(hay),
            _ => None,
        }
    }
}

/// The other half of a two-byte newline starting with `b`.
fn partner(b: u8) -> u8 {
    if b == CR {
        LF
    } else {
        CR
    }
}

/// The input rule for a byte-exact terminator.
pub(super) fn literal(terminator: &[u8]) -> Input {
    match *terminator {
        [b] => Input::Byte(b),
        _ => Input::Literal(Box::new(memmem::Finder::new(terminator).into_owned())),
    }
}

/// Where [`Rules::cut`] puts the lines it finds in `data`.
pub(super) trait Records {
    /// Lines added so far.
    fn count(&self) -> usize;
    /// The line `data[start..end]`.
    fn add(&mut self, data: &[u8], start: usize, end: usize);
}

/// [`Line`](super::Line)'s records: each line copied into a `Vec` of its
/// own.
impl Records for Vec<Vec<u8>> {
    fn count(&self) -> usize {
        self.len()
    }
    fn add(&mut self, data: &[u8], start: usize, end: usize) {
        self.push(data[start..end].to_vec());
    }
}

impl Rules {
    /// Emit the line `data[head..term]` whose terminator is
    /// `data[term..term + term_len]`.
    fn emit(
        &self,
        data: &[u8],
        head: usize,
        term: usize,
        term_len: usize,
        out: &mut impl Records,
    ) -> Result<(), FilterError> {
        let len = term - head;
        if len > self.max_length {
            return Err(FilterError::TooLong {
                len,
                max: self.max_length,
            });
        }
        let end = if self.keep { term + term_len } else { term };
        out.add(data, head, end);
        Ok(())
    }

    /// Cut every complete line out of `data[head..]`, searching from
    /// `scan`. Returns the new `(head, scan)`.
    pub(super) fn cut(
        &mut self,
        data: &[u8],
        mut head: usize,
        mut scan: usize,
        out: &mut impl Records,
        limit: usize,
    ) -> Result<(usize, usize), FilterError> {
        let start = out.count();
        loop {
            // Checked before anything else, so that a lone newline ending
            // the input is only resolved by the next call, as POE's
            // `get_one` leaves it.
            if out.count() - start >= limit {
                break;
            }
            match &self.input {
                Input::Newline => {
                    let Some(i) = memchr2(CR, LF, &data[scan..]) else {
                        scan = data.len();
                        break;
                    };
                    let term = scan + i;
                    // Matched as soon as the first byte is there, like
                    // POE's regex: a CR ending the input is a newline.
                    let term_len = if data.get(term + 1) == Some(&partner(data[term])) {
                        2
                    } else {
                        1
                    };
                    self.emit(data, head, term, term_len, out)?;
                    head = term + term_len;
                    scan = head;
                }
                Input::Literal(f) => {
                    let Some(i) = f.find(&data[scan..]) else {
                        // A terminator may still start in the last
                        // `len - 1` bytes; everything before is line.
                        let tail = f.needle().len() - 1;
                        scan = scan.max(data.len().saturating_sub(tail));
                        break;
                    };
                    let term = scan + i;
                    let term_len = f.needle().len();
                    self.emit(data, head, term, term_len, out)?;
                    head = term + term_len;
                    scan = head;
                }
                Input::Byte(_) | Input::AnyOf(_) => {
                    let Some(i) = self.input.find_byte(&data[scan..]) else {
                        scan = data.len();
                        break;
                    };
                    let term = scan + i;
                    self.emit(data, head, term, 1, out)?;
                    head = term + 1;
                    scan = head;
                }
                Input::DetectFirst => {
                    let Some(i) = memchr2(CR, LF, &data[scan..]) else {
                        scan = data.len();
                        break;
                    };
                    let term = scan + i;
                    let first = data[term];
                    match data.get(term + 1) {
                        // More input follows: the newline is decided now.
                        Some(&next) => {
                            let term_len = if next == partner(first) { 2 } else { 1 };
                            self.emit(data, head, term, term_len, out)?;
                            self.input = literal(&data[term..term + term_len]);
                            head = term + term_len;
                        }
                        // A lone CR or LF at the end, and the line is to
                        // keep its terminator: wait for the next byte to
                        // know the whole terminator.
                        None if self.keep => {
                            scan = term;
                            break;
                        }
                        // A lone CR or LF at the end: the line is complete
                        // (POE returns it at once) but the newline may be
                        // the first half of a pair.
                        None => {
                            self.emit(data, head, term, 1, out)?;
                            self.input = Input::DetectSecond(first);
                            head = term + 1;
                        }
                    }
                    scan = head;
                }
                &Input::DetectSecond(first) => {
                    let Some(&next) = data.get(head) else {
                        break;
                    };
                    if next == partner(first) {
                        self.input = literal(&[first, next]);
                        head += 1;
                    } else {
                        self.input = literal(&[first]);
                    }
                    scan = head;
                }
            }
        }
        Ok((head, scan))
    }
}
