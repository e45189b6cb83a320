//! [`Stream`]: no framing at all (POE's `POE::Filter::Stream`).
//!
//! Some data has no records: a file being copied, a proxied TCP stream,
//! audio. A wheel still needs a filter, and this one hands bytes through
//! untouched, in whatever pieces they arrived. It holds nothing between
//! calls (except what [`GetOne::get_one_start`] queues, until the next
//! [`GetOne::get_one`]), so it needs no limit.

use super::{Filter, FilterError, GetOne};

/// Passes bytes through: [`get`](Filter::get) yields each non-empty chunk
/// as one record, [`put`](Filter::put) copies the record. Record
/// boundaries are those of the reads and writes, so they carry no meaning:
/// only the concatenation of the records is the data. As in POE,
/// [`get_many`](Filter::get_many) of several chunks yields one record,
/// their concatenation, and [`put_many`](Filter::put_many) one chunk per
/// record, empty ones included.
///
/// ```
/// use rpoe::filter::{Filter, Stream};
///
/// let mut stream = Stream::new();
/// let mut out = Vec::new();
/// stream.get(b"any ", &mut out).unwrap();
/// stream.get(b"", &mut out).unwrap();
/// stream.get(b"bytes\r\n", &mut out).unwrap();
/// assert_eq!(out, [b"any ".to_vec(), b"bytes\r\n".to_vec()]);
/// assert!(stream.pending().is_empty());
///
/// let mut wire = Vec::new();
/// stream.put(&b"as is".to_vec(), &mut wire).unwrap();
/// assert_eq!(wire, b"as is");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// Bytes queued by `get_one_start` and not yet taken by `get_one`.
    queued: Vec<u8>,
}

impl Stream {
    /// A pass-through filter.
    pub fn new() -> Self {
        Stream::default()
    }
}

impl Filter for Stream {
    type Record = Vec<u8>;

    /// Yield `chunk`, after whatever [`GetOne::get_one_start`] queued.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), FilterError> {
        if !self.queued.is_empty() {
            self.queued.extend_from_slice(chunk);
            out.push(std::mem::take(&mut self.queued));
        } else if !chunk.is_empty() {
            out.push(chunk.to_vec());
        }
        Ok(())
    }

    fn put(&mut self, record: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), FilterError> {
        out.extend_from_slice(record);
        Ok(())
    }

    /// Empty, except for bytes [`GetOne::get_one_start`] queued: every
    /// byte [`get`](Filter::get) sees is handed on at once.
    fn pending(&self) -> &[u8] {
        &self.queued
    }

    fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.queued)
    }
}

impl GetOne for Stream {
    /// Queue `chunks`; never fails (a stream has no limit, as in POE).
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        for chunk in chunks {
            self.queued.extend_from_slice(chunk.as_ref());
        }
        Ok(())
    }

    /// Everything queued, as one record; `None` if nothing is.
    ///
    /// ```
    /// use rpoe::filter::{Filter, GetOne, Stream};
    ///
    /// let mut stream = Stream::new();
    /// stream.get_one_start(&["a", "b"]).unwrap();
    /// stream.get_one_start(&["c"]).unwrap();
    /// assert_eq!(stream.get_pending(), Some(b"abc".to_vec()));
    /// assert_eq!(stream.get_one().unwrap(), Some(b"abc".to_vec()));
    /// assert_eq!(stream.get_one().unwrap(), None);
    /// ```
    fn get_one(&mut self) -> Result<Option<Vec<u8>>, FilterError> {
        Ok((!self.queued.is_empty()).then(|| std::mem::take(&mut self.queued)))
    }
}
