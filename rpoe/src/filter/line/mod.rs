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

mod bytes;
mod framing;
mod search;

use super::buffer::Framing;
// Only named by the docs here; the code using them is in the submodules.
#[cfg(doc)]
use super::{Filter, FilterError};
use search::{literal, ByteSet, Input, Rules};

pub use bytes::LineBytes;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every connection's wheel carries two of these (input and output):
    /// keep the type small (it was 448 bytes with the searcher inline).
    #[test]
    fn a_line_filter_is_small() {
        let size = std::mem::size_of::<Line>();
        assert!(size <= 128, "Line is {size} bytes");
    }
}
