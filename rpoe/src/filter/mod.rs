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
//! POE's list-based interface is there too, with POE's semantics, for code
//! ported from Perl and for callers that think in batches:
//! [`Filter::get_many`] (several chunks, joined, then framed),
//! [`Filter::put_many`] (several records, POE's chunking),
//! [`Filter::get_pending`], and the [`GetOne`] trait's `get_one_start` /
//! `get_one` (queue bytes, cut one record at a time). The wheels use the
//! streaming interface, which reuses the caller's buffers.
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
//! Differences from POE, all on purpose: errors are values, not `die`,
//! and a filter that returned one is emptied; a length prefix is checked
//! against the limit while its digits arrive, and stays in the pending
//! bytes until its frame is complete; [`Block::fixed`] refuses to write
//! what is not whole blocks unless [`Block::check_put`] says otherwise;
//! [`RecordBlock::check_put`] refuses a short block rather than holding it
//! back; pending data is always bytes (POE's `RecordBlock` and `Stackable`
//! return records); [`Reference`] payloads are postcard or JSON, not
//! Storable.
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
/// The record type of [`LineBytes`], re-exported so that a program can
/// name it without depending on the `bytes` crate itself.
pub use bytes::Bytes;
pub use grep::Grep;
pub use line::{Line, LineBytes};
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
#[non_exhaustive]
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
/// instead of allocating lists. POE's list forms are provided on top of
/// them — [`get_many`](Filter::get_many), [`put_many`](Filter::put_many),
/// [`get_pending`](Filter::get_pending) — and overridden where POE's
/// shape differs; `get_one_start` / `get_one` are the [`GetOne`] trait. Records are typed: a wheel built on a
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
    ///
    /// # Errors
    ///
    /// [`FilterError::TooLong`] or [`FilterError::BufferFull`] if input
    /// passes the filter's limits; [`FilterError::Malformed`] if it cannot
    /// be decoded.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Self::Record>) -> Result<(), FilterError>;

    /// Append the encoding of `record` to `out`.
    ///
    /// # Errors
    ///
    /// [`FilterError`] if the record cannot be encoded (too long for the
    /// framing, or not representable; which depends on the filter).
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

    /// POE's `get(\@chunks)`: feed several chunks at once and return every
    /// record they complete.
    ///
    /// As in POE, the chunks are joined before any record is cut, so what
    /// one call frames does not depend on how its bytes were split: a CRLF
    /// split between two chunks of one call is one newline for
    /// [`Line`], and several chunks are one record for [`Stream`]. (Fed to
    /// [`get`](Filter::get) one at a time, each chunk is a read of its own.)
    /// Bytes queued by [`GetOne::get_one_start`] and not yet cut are framed
    /// too. No chunks at all frames only those.
    ///
    /// On an error the records cut before it are dropped with the call,
    /// as POE's `die` drops them; use [`get`](Filter::get) to keep them.
    ///
    /// Generic over the chunk type, so it is not callable through a bare
    /// `&mut dyn Filter`; a `Box<dyn Filter>` has it.
    ///
    /// ```
    /// use rpoe::filter::{Filter, Line, Stream};
    ///
    /// let mut lines = Line::new();
    /// let records = lines.get_many(&["a\r", "\nb\n", "c"]).unwrap();
    /// assert_eq!(records, [b"a".to_vec(), b"b".to_vec()]);
    /// assert_eq!(lines.get_pending(), Some(b"c".to_vec()));
    ///
    /// let mut stream = Stream::new();
    /// assert_eq!(stream.get_many(&["ab", "", "cd"]).unwrap(), [b"abcd".to_vec()]);
    ///
    /// // Any list of byte strings will do.
    /// let chunks: Vec<Vec<u8>> = vec![b"x\n".to_vec()];
    /// assert_eq!(lines.get_many(&chunks).unwrap(), [b"cx".to_vec()]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`FilterError::TooLong`] or [`FilterError::BufferFull`] if input passes
    /// the filter's limits; [`FilterError::Malformed`] if it cannot be decoded.
    fn get_many<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<Vec<Self::Record>, FilterError>
    where
        Self: Sized,
    {
        let mut out = Vec::new();
        match chunks {
            [one] => self.get(one.as_ref(), &mut out)?,
            _ => self.get(&join(chunks), &mut out)?,
        }
        Ok(out)
    }

    /// POE's `put(\@records)`: encode several records and return the
    /// chunks to write, normally one per record.
    ///
    /// Filters whose POE counterpart shapes the list differently override
    /// this: a fixed-size [`Block`] returns one chunk, the concatenation of
    /// every record (even for no records); a [`RecordBlock`] returns one
    /// chunk per record of every block; [`Grep`] leaves refused records
    /// out; [`Stackable`] hands its upper filter's chunks to the lower one
    /// as records. An empty list gives no chunks (but see [`Block`]).
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter, Line};
    ///
    /// let mut lines = Line::new();
    /// let chunks = lines.put_many(&[b"x".to_vec(), b"y".to_vec()]).unwrap();
    /// assert_eq!(chunks, [b"x\r\n".to_vec(), b"y\r\n".to_vec()]);
    /// assert!(lines.put_many(&[]).unwrap().is_empty());
    ///
    /// // Fixed-size blocks: one chunk, as in POE.
    /// let mut blocks = Block::fixed(2);
    /// let chunks = blocks.put_many(&[b"ab".to_vec(), b"cd".to_vec()]).unwrap();
    /// assert_eq!(chunks, [b"abcd".to_vec()]);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`put`](Filter::put), for the first record that fails.
    fn put_many(&mut self, records: &[Self::Record]) -> Result<Vec<Vec<u8>>, FilterError> {
        records
            .iter()
            .map(|record| {
                let mut chunk = Vec::new();
                self.put(record, &mut chunk)?;
                Ok(chunk)
            })
            .collect()
    }

    /// POE's `get_pending`: a copy of the [`pending`](Filter::pending)
    /// bytes, or `None` when there are none (POE's `undef`).
    ///
    /// ```
    /// use rpoe::filter::{Filter, Line};
    ///
    /// let mut lines = Line::new();
    /// assert_eq!(lines.get_pending(), None);
    /// lines.get_many(&["one\ntw"]).unwrap();
    /// assert_eq!(lines.get_pending(), Some(b"tw".to_vec()));
    /// ```
    fn get_pending(&self) -> Option<Vec<u8>> {
        let pending = self.pending();
        (!pending.is_empty()).then(|| pending.to_vec())
    }
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
    fn put_many(&mut self, records: &[Self::Record]) -> Result<Vec<Vec<u8>>, FilterError> {
        (**self).put_many(records)
    }
    fn get_pending(&self) -> Option<Vec<u8>> {
        (**self).get_pending()
    }
}

/// POE's `get_one_start` / `get_one`: queue bytes, then cut records one
/// at a time, on demand.
///
/// Why one at a time: a program that changes its framing mid-stream (a
/// header line, then a binary body) must stop cutting records with the old
/// filter the moment it sees the record that announces the change, and
/// hand what is left to the new filter. [`get_one_start`] queues bytes
/// without framing them, [`get_one`] cuts the next record and nothing
/// more, and [`pending`](Filter::pending) is everything not yet cut.
///
/// It is a trait of its own, not provided methods of [`Filter`], because
/// it needs the filter to hold bytes it has not framed yet, which a
/// default method cannot give a filter of your own. Every bundled filter
/// implements it; a filter built on another one implements it by
/// forwarding (queue with the inner filter, then convert what its
/// `get_one` returns).
///
/// ```
/// use rpoe::filter::{Block, Filter, GetOne, Line};
///
/// let mut header = Line::literal("\n");
/// header.get_one_start(&[&b"SIZE 4\n\x00\x01"[..], b"\x02\x03"]).unwrap();
/// assert_eq!(header.get_one().unwrap(), Some(b"SIZE 4".to_vec()));
/// // Nothing else has been cut: the body is still the header's pending.
/// let mut body = Block::fixed(4);
/// body.get_one_start(&[&header.take_pending()]).unwrap();
/// assert_eq!(body.get_one().unwrap(), Some(vec![0, 1, 2, 3]));
/// assert_eq!(body.get_one().unwrap(), None);
/// ```
///
/// [`get_one_start`]: GetOne::get_one_start
/// [`get_one`]: GetOne::get_one
pub trait GetOne: Filter {
    /// Queue `chunks` (joined, as POE does) without cutting any record.
    /// Fails only if they would take the filter past its buffer limit;
    /// the filter is emptied then.
    ///
    /// # Errors
    ///
    /// [`FilterError::BufferFull`] if the chunks would take the filter past
    /// its buffer limit.
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError>;

    /// Cut the next record from what is queued, or `None` if no whole
    /// record is there yet. A framing error (a record over the limit, a
    /// bad prefix) empties the filter that raised it, as
    /// [`get`](Filter::get) does; a [`Map::try_new`] conversion error
    /// fails only the record it was converting.
    ///
    /// # Errors
    ///
    /// [`FilterError::TooLong`] or [`FilterError::BufferFull`] if input
    /// passes the filter's limits; [`FilterError::Malformed`] if it cannot
    /// be decoded.
    fn get_one(&mut self) -> Result<Option<Self::Record>, FilterError>;
}

impl<F: GetOne> GetOne for Box<F> {
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        (**self).get_one_start(chunks)
    }
    fn get_one(&mut self) -> Result<Option<Self::Record>, FilterError> {
        (**self).get_one()
    }
}

/// The chunks of one call as one byte string (POE's `join '', @$chunks`).
fn join<C: AsRef<[u8]>>(chunks: &[C]) -> Vec<u8> {
    let mut all = Vec::with_capacity(chunks.iter().map(|c| c.as_ref().len()).sum());
    for chunk in chunks {
        all.extend_from_slice(chunk.as_ref());
    }
    all
}

impl fmt::Debug for dyn Filter<Record = Vec<u8>> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Filter({} bytes pending)", self.pending().len())
    }
}
