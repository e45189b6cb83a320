//! [`Stream`]: no framing at all (POE's `POE::Filter::Stream`).
//!
//! Some data has no records: a file being copied, a proxied TCP stream,
//! audio. A wheel still needs a filter, and this one hands bytes through
//! untouched, in whatever pieces they arrived. It holds nothing between
//! calls, so it needs no limit.

use super::{Filter, FilterError};

/// Passes bytes through: [`get`](Filter::get) yields each non-empty chunk
/// as one record, [`put`](Filter::put) copies the record. Record
/// boundaries are those of the reads and writes, so they carry no meaning:
/// only the concatenation of the records is the data.
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
    _private: (),
}

impl Stream {
    /// A pass-through filter.
    pub fn new() -> Self {
        Stream::default()
    }
}

impl Filter for Stream {
    type Record = Vec<u8>;

    fn get(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), FilterError> {
        if !chunk.is_empty() {
            out.push(chunk.to_vec());
        }
        Ok(())
    }

    fn put(&mut self, record: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), FilterError> {
        out.extend_from_slice(record);
        Ok(())
    }

    /// Always empty: every byte is handed on at once.
    fn pending(&self) -> &[u8] {
        &[]
    }

    fn take_pending(&mut self) -> Vec<u8> {
        Vec::new()
    }
}
