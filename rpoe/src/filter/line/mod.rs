//! [`Line`]: records separated by a terminator, POE's default filter.
//!
//! Text protocols (SMTP, IRC, most chat and log streams) are lines, and
//! peers disagree about what ends one: Unix tools send `LF`, network
//! protocols `CRLF`, old Macs `CR`, and a few broken clients `LFCR`. So the
//! default [`Line`] accepts all four on input and writes `CRLF`, the
//! network newline. Its matching rule is POE's `\x0D\x0A?|\x0A\x0D?`
//! applied to whatever has arrived *so far*: a `CR` that ends a read
//! counts as a complete newline at once, so a `CRLF` split across two
//! reads yields an extra empty line. That is POE's documented behaviour,
//! and rpoe keeps it so that programs ported from POE see the same
//! records; protocols that need byte-exact framing use a literal
//! terminator ([`Line::literal`]), which is unaffected by how the input
//! was split.
//!
//! Memory is bounded twice over: a line longer than
//! [`max_length`](Line::max_length) and a framing buffer larger than
//! [`max_buffer`](Line::max_buffer) are refused with
//! [`FilterError::TooLong`] and [`FilterError::BufferFull`]. Both are
//! checked *before* the bytes are kept, so a peer that never sends a
//! newline costs at most the limit plus one read. The filter also
//! remembers where its search for a terminator stopped, so a long line
//! that trickles in one byte at a time is scanned once, not once per
//! byte.

use bytes::Bytes;
use memchr::{memchr, memchr2, memchr3, memmem};

use super::buffer::Framing;
use super::{Filter, FilterError, GetOne};

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// POE's default `MaxLength`: 64 MiB.
pub const DEFAULT_MAX_LENGTH: usize = 64 * 1024 * 1024;
/// POE's default `MaxBuffer`: 512 MiB.
pub const DEFAULT_MAX_BUFFER: usize = 512 * 1024 * 1024;

/// Splits a byte stream into lines and writes lines with a terminator
/// (POE's `POE::Filter::Line`). Records are `Vec<u8>`: lines need not be
/// UTF-8.
///
/// | constructor / option | input terminator | output terminator |
/// |---|---|---|
/// | [`Line::new`] | any of `CRLF`, `LF`, `CR`, `LFCR` | `CRLF` |
/// | [`Line::literal`]`(t)` | exactly `t` | `t` |
/// | [`.input_literal(t)`](Line::input_literal) | exactly `t` | unchanged |
/// | [`.input_any_of(set)`](Line::input_any_of) | any one byte of `set` | unchanged |
/// | [`.autodetect()`](Line::autodetect) | whichever newline the first line used | unchanged |
/// | [`.output_literal(t)`](Line::output_literal) | unchanged | `t` |
///
/// Records come out without their terminator unless
/// [`keep_terminator(true)`](Line::keep_terminator) is set; [`put`]
/// always appends the output terminator, so set
/// [`output_literal("")`](Line::output_literal) to write records that
/// already carry one verbatim.
///
/// [`put`]: Filter::put
///
/// ```
/// use rpoe::filter::{Filter, Line};
///
/// let mut lines = Line::new();
/// let mut out = Vec::new();
/// lines.get(b"HELO example.org\r\nMAIL FR", &mut out).unwrap();
/// lines.get(b"OM:<a@b>\n", &mut out).unwrap();
/// assert_eq!(out, [b"HELO example.org".to_vec(), b"MAIL FROM:<a@b>".to_vec()]);
///
/// let mut wire = Vec::new();
/// lines.put(&b"250 OK".to_vec(), &mut wire).unwrap();
/// assert_eq!(wire, b"250 OK\r\n");
/// ```
///
/// A byte-exact terminator, kept on the records:
///
/// ```
/// use rpoe::filter::{Filter, Line};
///
/// let mut lines = Line::literal("\n").keep_terminator(true);
/// let mut out = Vec::new();
/// lines.get(b"one\r\ntwo\nthr", &mut out).unwrap();
/// assert_eq!(out, [b"one\r\n".to_vec(), b"two\n".to_vec()]);
/// assert_eq!(lines.pending(), b"thr");
/// ```
#[derive(Debug, Clone)]
pub struct Line {
    framing: Framing,
    /// Index into `framing.data` where the next terminator search starts:
    /// no terminator begins in `framing.data[head..scan]`.
    scan: usize,
    rules: Rules,
    output: Vec<u8>,
    max_buffer: usize,
}

/// How lines are recognised; kept apart from the buffer so that the same
/// code can cut lines straight out of a fresh chunk.
#[derive(Debug, Clone)]
struct Rules {
    input: Input,
    keep: bool,
    max_length: usize,
}

#[derive(Debug, Clone)]
enum Input {
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
struct ByteSet {
    bytes: Vec<u8>,
    table: [bool; 256],
}

impl ByteSet {
    fn new(bytes: &[u8]) -> Self {
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

/// The other half of a two-byte newline starting with `b`.
fn partner(b: u8) -> u8 {
    if b == CR {
        LF
    } else {
        CR
    }
}

/// The input rule for a byte-exact terminator.
fn literal(terminator: &[u8]) -> Input {
    match *terminator {
        [b] => Input::Byte(b),
        _ => Input::Literal(Box::new(memmem::Finder::new(terminator).into_owned())),
    }
}

/// Where [`Rules::cut`] puts the lines it finds in `data`.
trait Records {
    /// Lines added so far.
    fn count(&self) -> usize;
    /// The line `data[start..end]`.
    fn add(&mut self, data: &[u8], start: usize, end: usize);
}

/// [`Line`]'s records: each line copied into a `Vec` of its own.
impl Records for Vec<Vec<u8>> {
    fn count(&self) -> usize {
        self.len()
    }
    fn add(&mut self, data: &[u8], start: usize, end: usize) {
        self.push(data[start..end].to_vec());
    }
}

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
    fn cut(
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
                &Input::Byte(b) => {
                    let Some(i) = memchr(b, &data[scan..]) else {
                        scan = data.len();
                        break;
                    };
                    let term = scan + i;
                    self.emit(data, head, term, 1, out)?;
                    head = term + 1;
                    scan = head;
                }
                Input::AnyOf(set) => {
                    let Some(i) = set.find(&data[scan..]) else {
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

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl Line {
    /// POE's defaults: input lines end with any of `CRLF`, `LF`, `CR` or
    /// `LFCR`; output lines get `CRLF`; terminators are stripped; lines up
    /// to 64 MiB, buffer up to 512 MiB.
    pub fn new() -> Self {
        Line {
            framing: Framing::default(),
            scan: 0,
            rules: Rules {
                input: Input::Newline,
                keep: false,
                max_length: DEFAULT_MAX_LENGTH,
            },
            output: b"\r\n".to_vec(),
            max_buffer: DEFAULT_MAX_BUFFER,
        }
    }

    /// Lines ended by exactly `terminator`, on input and output (POE's
    /// `Literal`). Byte-exact: `Line::literal("\n")` leaves a `CR` before
    /// the `LF` in the record.
    ///
    /// # Panics
    ///
    /// If `terminator` is empty.
    pub fn literal(terminator: impl AsRef<[u8]>) -> Self {
        let t = terminator.as_ref();
        Line::new().input_literal(t).output_literal(t)
    }

    /// Input lines end with exactly `terminator` (POE's `InputLiteral`).
    ///
    /// # Panics
    ///
    /// If `terminator` is empty (use [`autodetect`](Line::autodetect)
    /// for POE's "InputLiteral is empty or undef").
    pub fn input_literal(self, terminator: impl AsRef<[u8]>) -> Self {
        let t = terminator.as_ref();
        assert!(!t.is_empty(), "Line: an input terminator must not be empty");
        self.with_input(literal(t))
    }

    /// Input lines end with any single byte of `terminators`: the
    /// character-class case of POE's `InputRegexp` (`qr/[;,]/` is
    /// `input_any_of(";,")`).
    ///
    /// # Panics
    ///
    /// If `terminators` is empty.
    ///
    /// ```
    /// use rpoe::filter::{Filter, Line};
    ///
    /// let mut fields = Line::new().input_any_of(";,").output_literal(";");
    /// let mut out = Vec::new();
    /// fields.get(b"a,b;c", &mut out).unwrap();
    /// assert_eq!(out, [b"a".to_vec(), b"b".to_vec()]);
    /// assert_eq!(fields.pending(), b"c");
    /// ```
    pub fn input_any_of(self, terminators: impl AsRef<[u8]>) -> Self {
        let t = terminators.as_ref();
        assert!(!t.is_empty(), "Line: the terminator set must not be empty");
        self.with_input(Input::AnyOf(Box::new(ByteSet::new(t))))
    }

    /// Learn the input terminator from the first line (POE's
    /// `InputLiteral => undef`): whichever of `CRLF`, `LF`, `CR`, `LFCR`
    /// ends it becomes the literal terminator for the rest of the stream.
    /// When the first line's `CR` or `LF` is the last byte received so
    /// far, the line is returned at once and the next byte decides between
    /// the one- and two-byte newline. (With
    /// [`keep_terminator`](Line::keep_terminator), the first line instead
    /// waits for that next byte, so that it carries its whole terminator.)
    ///
    /// ```
    /// use rpoe::filter::{Filter, Line};
    ///
    /// // The first line ends in CRLF, so only CRLF ends lines from now on.
    /// let mut lines = Line::new().autodetect().output_literal("\n");
    /// let mut out = Vec::new();
    /// lines.get(b"first\r\nsecond\rstill second\r\n", &mut out).unwrap();
    /// assert_eq!(out, [b"first".to_vec(), b"second\rstill second".to_vec()]);
    /// ```
    pub fn autodetect(self) -> Self {
        self.with_input(Input::DetectFirst)
    }

    /// Written after every record by [`put`](Filter::put) (POE's
    /// `OutputLiteral`; default `CRLF`). May be empty, to write records
    /// as they are.
    pub fn output_literal(mut self, terminator: impl AsRef<[u8]>) -> Self {
        self.output = terminator.as_ref().to_vec();
        self
    }

    /// Keep each input line's terminator at the end of its record
    /// (default: strip it, as POE always does). Does not change `put`.
    pub fn keep_terminator(mut self, keep: bool) -> Self {
        self.rules.keep = keep;
        self
    }

    /// The longest line accepted, terminator not counted (POE's
    /// `MaxLength`, default 64 MiB). A longer line is refused with
    /// [`FilterError::TooLong`] as soon as that many bytes without a
    /// terminator have arrived, not only once it is complete.
    pub fn max_length(mut self, max: usize) -> Self {
        self.rules.max_length = max;
        self
    }

    /// The most bytes held at once (POE's `MaxBuffer`, default 512 MiB):
    /// what is pending plus the chunk being fed, counted before any line
    /// is cut from it, as POE does. Past it [`get`](Filter::get) fails with
    /// [`FilterError::BufferFull`] without copying the chunk. Keep it at
    /// least [`max_length`](Line::max_length) plus the largest read.
    pub fn max_buffer(mut self, max: usize) -> Self {
        self.max_buffer = max;
        self
    }

    fn with_input(mut self, input: Input) -> Self {
        self.rules.input = input;
        self.scan = self.framing.head;
        self
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
        out.reserve(record.len() + self.output.len());
        out.extend_from_slice(record);
        out.extend_from_slice(&self.output);
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
    fn get_with(&mut self, chunk: &[u8], out: &mut impl Records) -> Result<(), FilterError> {
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
        // Everything before `scan` is known to be line, not terminator.
        let len = self.scan - self.framing.head;
        if len > self.rules.max_length {
            let max = self.rules.max_length;
            return self.fail(FilterError::TooLong { len, max });
        }
        Ok(())
    }

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
        out.reserve(record.len() + self.line.output.len());
        out.extend_from_slice(record);
        out.extend_from_slice(&self.line.output);
        Ok(())
    }

    fn pending(&self) -> &[u8] {
        self.line.pending()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.line.take_pending()
    }
}

impl GetOne for Line {
    /// Queue `chunks` without cutting any line (POE's `get_one_start`):
    /// [`pending`](Filter::pending) now includes them.
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        let total = chunks.iter().map(|c| c.as_ref().len()).sum();
        if let Err(e) = self.framing.check_room(total, self.max_buffer) {
            return self.fail(e);
        }
        for chunk in chunks {
            self.framing.data.extend_from_slice(chunk.as_ref());
        }
        Ok(())
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
            // Everything before `scan` is known to be line: refuse it now
            // if it is already too long, as `get` does.
            let len = self.scan - self.framing.head;
            if len > self.rules.max_length {
                let max = self.rules.max_length;
                return self.fail(FilterError::TooLong { len, max });
            }
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

    /// Every connection's wheel carries two of these (input and output):
    /// keep the type small (it was 448 bytes with the searcher inline).
    #[test]
    fn a_line_filter_is_small() {
        let size = std::mem::size_of::<Line>();
        assert!(size <= 128, "Line is {size} bytes");
    }

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
