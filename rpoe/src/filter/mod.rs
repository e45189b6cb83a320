//! Filters: turn a byte stream into records and records back into bytes
//! (POE's `POE::Filter::*`). Usable on their own, and by the wheels.
//!
//! Why a separate layer: reads and writes deliver bytes in whatever pieces
//! the OS chose, while a program thinks in lines, frames or values. POE
//! splits the two jobs — a driver moves bytes, a filter frames them — so
//! that one protocol implementation serves sockets, pipes, files and
//! child processes alike, and so that framing can be tested without any
//! I/O. rpoe keeps the split: every wheel takes a [`Filter`], and every
//! filter is a plain value that the examples below drive by hand.
//!
//! A filter is streaming: [`Filter::get`] takes bytes as they arrive, in
//! chunks of any size, and yields every record completed so far; the
//! records are the same however the input was split. [`Filter::put`]
//! encodes one record. Every filter bounds what it buffers and fails with a
//! [`FilterError`] past its limit instead of growing without end.
//!
//! | filter | records | POE |
//! |---|---|---|
//! | [`Line`] | lines, any newline in / `CRLF` out, or a literal terminator | `POE::Filter::Line` |
//! | [`Stream`] | whatever arrived, unframed | `POE::Filter::Stream` |
//! | [`Block`] | fixed-size, or length-prefixed (`LEN\0…` or 4-byte big-endian) | `POE::Filter::Block` |
//! | [`Reference`] | serde values (postcard or JSON) in length-prefixed frames | `POE::Filter::Reference` |
//! | [`RecordBlock`] | groups of N records of another filter | `POE::Filter::RecordBlock` |
//! | [`Map`] | another filter's records, converted by closures | `POE::Filter::Map` |
//! | [`Grep`] | another filter's records that pass a predicate | `POE::Filter::Grep` |
//! | [`Stackable`] | one filter's records fed to another as bytes | `POE::Filter::Stackable` |
//!
//! Differences from POE, all on purpose: errors are values, not `die`;
//! a length prefix is checked against the limit while its digits arrive;
//! [`Block::fixed`] refuses to write a record that is not whole blocks;
//! [`RecordBlock::check_put`] refuses a short block rather than holding it
//! back; [`Reference`] payloads are postcard or JSON, not Storable.
//!
//! ```
//! use rpoe::filter::{Filter, Line};
//!
//! let mut filter = Line::new();
//! let mut records = Vec::new();
//! for chunk in [&b"GET / HT"[..], b"TP/1.0\r\nHost: a\r", b"\n\r\n"] {
//!     filter.get(chunk, &mut records).unwrap();
//! }
//! // POE's rule: the CR ending the second read is a whole newline, so the
//! // LF starting the third one ends an empty line.
//! assert_eq!(records, [&b"GET / HTTP/1.0"[..], b"Host: a", b"", b""]);
//! ```

use std::fmt;

mod buffer;

pub mod block;
pub mod grep;
pub mod line;
pub mod map;
pub mod record_block;
#[cfg(feature = "reference")]
#[cfg_attr(docsrs, doc(cfg(feature = "reference")))]
pub mod reference;
pub mod stackable;
pub mod stream;

pub use block::Block;
pub use grep::Grep;
pub use line::Line;
pub use map::Map;
pub use record_block::RecordBlock;
#[cfg(feature = "reference")]
#[cfg_attr(docsrs, doc(cfg(feature = "reference")))]
pub use reference::{Format, Reference};
pub use stackable::Stackable;
pub use stream::Stream;

/// Why a filter refused input or output.
///
/// POE's filters `die` (or warn and drop bytes) when input breaks them;
/// rpoe's return one of these instead, so the caller — normally a wheel,
/// which turns it into a `"get"` error event — decides what to do.
///
/// ```
/// use rpoe::filter::{Block, Filter, FilterError, Line};
///
/// let mut out = Vec::new();
///
/// // A line over the limit: refused as soon as it is too long, even
/// // before its terminator arrives. Lines cut before it are kept.
/// let mut lines = Line::new().max_length(8);
/// let err = lines.get(b"short\r\nmuch too long", &mut out).unwrap_err();
/// assert_eq!(err, FilterError::TooLong { len: 13, max: 8 });
/// assert_eq!(out, [b"short".to_vec()]);
///
/// // More buffered than allowed: the chunk is refused before it is copied.
/// let mut small = Line::new().max_buffer(4);
/// assert_eq!(
///     small.get(b"12345", &mut out),
///     Err(FilterError::BufferFull { len: 5, max: 4 })
/// );
///
/// // Input that cannot be this filter's framing.
/// let mut blocks = Block::length_prefixed();
/// assert!(matches!(blocks.get(b"x\0", &mut out), Err(FilterError::Malformed(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A record (line, block, frame) is longer than the filter's limit.
    #[error("record of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// How long it is (at least).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More bytes are buffered than the filter's limit.
    #[error("{len} bytes buffered, over the limit of {max}")]
    BufferFull {
        /// Bytes that would be buffered.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input is not valid for this filter (bad length prefix, bad
    /// serialized value, ...).
    #[error("malformed input: {0}")]
    Malformed(String),
}

/// A streaming framer between bytes and records of type `Record`.
///
/// POE's filter interface is `get(\@chunks)`, `put(\@records)` and
/// `get_pending`; here `get` and `put` take one chunk or one record at a
/// time and append to a caller's buffer, so a wheel reuses its buffers
/// instead of allocating lists. Records are typed: a wheel built on a
/// `Filter<Record = T>` hands its session `T`s.
///
/// Writing a filter of your own takes the four methods. This one makes
/// every byte a record:
///
/// ```
/// use rpoe::filter::{Filter, FilterError, Map};
///
/// #[derive(Clone, Default)]
/// struct Octets;
///
/// impl Filter for Octets {
///     type Record = u8;
///     fn get(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), FilterError> {
///         out.extend_from_slice(chunk);
///         Ok(())
///     }
///     fn put(&mut self, record: &u8, out: &mut Vec<u8>) -> Result<(), FilterError> {
///         out.push(*record);
///         Ok(())
///     }
///     fn pending(&self) -> &[u8] {
///         &[] // nothing is ever held back
///     }
///     fn take_pending(&mut self) -> Vec<u8> {
///         Vec::new()
///     }
/// }
///
/// // It composes with the generic filters like any other.
/// let mut upper = Map::new(Octets, |b: u8| b.to_ascii_uppercase(), |b: &u8| *b);
/// let mut out = Vec::new();
/// upper.get(b"abc", &mut out).unwrap();
/// assert_eq!(out, b"ABC");
/// ```
pub trait Filter {
    /// What one record is.
    type Record;

    /// Feed `chunk` (any size, including empty) and append every record it
    /// completes to `out`. After an error the filter's state is unspecified
    /// except that it holds no more than its limits; callers normally close
    /// the stream.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Self::Record>) -> Result<(), FilterError>;

    /// Append the encoding of `record` to `out`.
    fn put(&mut self, record: &Self::Record, out: &mut Vec<u8>) -> Result<(), FilterError>;

    /// Bytes received but not yet part of a record (POE's `get_pending`).
    fn pending(&self) -> &[u8];

    /// Take the pending bytes out, leaving the filter empty: to hand them
    /// to another filter when switching mid-stream.
    ///
    /// A header line followed by a binary body, read with two filters
    /// (what [`ReadWrite::set_input_filter`](crate::wheel::ReadWrite::set_input_filter)
    /// does for a wheel):
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter, Line};
    ///
    /// let mut header = Line::literal("\n");
    /// let mut lines = Vec::new();
    /// header.get(b"SIZE 4\n\x00\x01\x02\x03", &mut lines).unwrap();
    /// assert_eq!(lines, [b"SIZE 4".to_vec()]);
    ///
    /// // The body's first bytes arrived with the header: pass them on.
    /// let mut body = Block::fixed(4);
    /// let mut blocks = Vec::new();
    /// body.get(&header.take_pending(), &mut blocks).unwrap();
    /// assert_eq!(blocks, [vec![0, 1, 2, 3]]);
    /// assert!(header.pending().is_empty());
    /// ```
    fn take_pending(&mut self) -> Vec<u8>;
}

impl<F: Filter + ?Sized> Filter for Box<F> {
    type Record = F::Record;
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Self::Record>) -> Result<(), FilterError> {
        (**self).get(chunk, out)
    }
    fn put(&mut self, record: &Self::Record, out: &mut Vec<u8>) -> Result<(), FilterError> {
        (**self).put(record, out)
    }
    fn pending(&self) -> &[u8] {
        (**self).pending()
    }
    fn take_pending(&mut self) -> Vec<u8> {
        (**self).take_pending()
    }
}

impl fmt::Debug for dyn Filter<Record = Vec<u8>> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Filter({} bytes pending)", self.pending().len())
    }
}
