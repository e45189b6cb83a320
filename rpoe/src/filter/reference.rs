//! [`Reference`]: typed values over a byte stream (POE's
//! `POE::Filter::Reference`).
//!
//! When both ends are programs, the simplest protocol is "send the value":
//! a request struct one way, a response the other. `Reference` serializes
//! each value with serde and frames it with a length prefix, so the
//! receiver gets back typed values, not bytes to parse.
//!
//! The frames are POE's `LENGTH\0payload` (the same as
//! [`Block::length_prefixed`]). The payload is
//! [bincode](https://docs.rs/bincode/1) by default — compact and fast,
//! for rpoe talking to rpoe — or JSON with [`Reference::json`], readable
//! and understood by other languages. POE's Storable payloads are
//! Perl-specific and not supported.
//!
//! Data from a peer is untrusted: a frame longer than
//! [`max_frame`](Reference::max_frame) is refused from its prefix alone,
//! bincode is told the frame's size so that no length inside the value
//! can make it allocate more, and a payload that does not decode as a `T`
//! (or has bytes left over) is [`FilterError::Malformed`].

use std::fmt;
use std::marker::PhantomData;

use bincode::Options as _;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::block::Block;
use super::{Filter, FilterError};

/// How values are serialized inside the frames (the counterpart of POE's
/// `Serializer`).
///
/// ```
/// use rpoe::filter::{Filter, Format, Reference};
///
/// let mut refs = Reference::<u32>::with_format(Format::Json);
/// assert_eq!(refs.format(), Format::Json);
/// let mut wire = Vec::new();
/// refs.put(&7, &mut wire).unwrap();
/// assert_eq!(wire, b"1\x007");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// bincode 1.x with variable-length integers: small and fast.
    #[default]
    Bincode,
    /// JSON (serde_json): larger, but readable and portable.
    Json,
}

/// Length-prefixed frames each holding one serialized `T`.
///
/// ```
/// use rpoe::filter::{Filter, Reference};
///
/// let mut refs = Reference::<(String, Vec<u32>)>::new();
/// let mut wire = Vec::new();
/// refs.put(&("primes".to_string(), vec![2, 3, 5]), &mut wire).unwrap();
///
/// let mut out = Vec::new();
/// let (a, b) = wire.split_at(5);
/// refs.get(a, &mut out).unwrap();
/// refs.get(b, &mut out).unwrap();
/// assert_eq!(out, [("primes".to_string(), vec![2, 3, 5])]);
/// ```
///
/// As JSON:
///
/// ```
/// use rpoe::filter::{Filter, Reference};
///
/// let mut refs = Reference::<Vec<Option<i32>>>::json();
/// let mut wire = Vec::new();
/// refs.put(&vec![Some(1), None], &mut wire).unwrap();
/// assert_eq!(wire, b"8\0[1,null]");
/// ```
pub struct Reference<T> {
    framing: Block,
    format: Format,
    max_frame: usize,
    frames: Vec<Vec<u8>>,
    _values: PhantomData<fn(T) -> T>,
}

impl<T> Default for Reference<T> {
    fn default() -> Self {
        Reference::new()
    }
}

impl<T> Reference<T> {
    /// bincode payloads, frames up to 64 MiB, buffer up to 512 MiB (POE's
    /// `MaxBuffer` default).
    pub fn new() -> Self {
        Reference::with_format(Format::Bincode)
    }

    /// JSON payloads, otherwise as [`new`](Reference::new).
    pub fn json() -> Self {
        Reference::with_format(Format::Json)
    }

    /// Payloads in `format`.
    pub fn with_format(format: Format) -> Self {
        let max_frame = super::line::DEFAULT_MAX_LENGTH;
        Reference {
            framing: Block::length_prefixed().max_length(max_frame),
            format,
            max_frame,
            frames: Vec::new(),
            _values: PhantomData,
        }
    }

    /// The largest serialized value, in bytes (default 64 MiB), in either
    /// direction: [`FilterError::TooLong`] past it.
    ///
    /// ```
    /// use rpoe::filter::{Filter, FilterError, Reference};
    ///
    /// let mut refs = Reference::<String>::new().max_frame(16);
    /// let mut wire = Vec::new();
    /// let long = "x".repeat(100);
    /// assert!(matches!(refs.put(&long, &mut wire), Err(FilterError::TooLong { .. })));
    /// assert!(wire.is_empty());
    /// ```
    pub fn max_frame(mut self, max: usize) -> Self {
        self.max_frame = max;
        self.framing = self.framing.max_length(max);
        self
    }

    /// The most bytes held at once, as [`Block::max_buffer`] (default
    /// 512 MiB).
    pub fn max_buffer(mut self, max: usize) -> Self {
        self.framing = self.framing.max_buffer(max);
        self
    }

    /// The payload format.
    pub fn format(&self) -> Format {
        self.format
    }

    fn bincode(&self) -> impl bincode::Options {
        bincode::DefaultOptions::new().with_limit(self.max_frame as u64)
    }
}

impl<T: Serialize + DeserializeOwned> Reference<T> {
    fn decode(&self, payload: &[u8]) -> Result<T, FilterError> {
        match self.format {
            Format::Bincode => self
                .bincode()
                .deserialize(payload)
                .map_err(|e| FilterError::Malformed(format!("bincode value: {e}"))),
            Format::Json => serde_json::from_slice(payload)
                .map_err(|e| FilterError::Malformed(format!("JSON value: {e}"))),
        }
    }

    fn encode(&self, value: &T) -> Result<Vec<u8>, FilterError> {
        let too_long = |len| FilterError::TooLong {
            len,
            max: self.max_frame,
        };
        match self.format {
            Format::Bincode => {
                match self.bincode().serialized_size(value) {
                    Ok(_) => {}
                    Err(e) if matches!(*e, bincode::ErrorKind::SizeLimit) => {
                        // Exact size without the limit, for the error.
                        let len = bincode::DefaultOptions::new()
                            .serialized_size(value)
                            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
                        return Err(too_long(len));
                    }
                    Err(e) => return Err(FilterError::Malformed(format!("bincode value: {e}"))),
                }
                self.bincode()
                    .serialize(value)
                    .map_err(|e| FilterError::Malformed(format!("bincode value: {e}")))
            }
            Format::Json => {
                let bytes = serde_json::to_vec(value)
                    .map_err(|e| FilterError::Malformed(format!("JSON value: {e}")))?;
                if bytes.len() > self.max_frame {
                    return Err(too_long(bytes.len()));
                }
                Ok(bytes)
            }
        }
    }
}

impl<T: Serialize + DeserializeOwned> Filter for Reference<T> {
    type Record = T;

    /// Decode every value completed by `chunk`. On an error, the values
    /// decoded before the offending frame are already in `out`.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<T>) -> Result<(), FilterError> {
        let result = self.framing.get(chunk, &mut self.frames);
        let mut frames = std::mem::take(&mut self.frames);
        let decoded = frames
            .drain(..)
            .try_for_each(|frame| self.decode(&frame).map(|v| out.push(v)));
        frames.clear();
        self.frames = frames;
        decoded.and(result)
    }

    /// Serialize and frame `value`: [`FilterError::TooLong`] past
    /// [`max_frame`](Reference::max_frame), [`FilterError::Malformed`] if
    /// serde refuses the value (a JSON map with non-string keys, say).
    /// `out` is untouched on error.
    fn put(&mut self, value: &T, out: &mut Vec<u8>) -> Result<(), FilterError> {
        let payload = self.encode(value)?;
        self.framing.put(&payload, out)
    }

    fn pending(&self) -> &[u8] {
        self.framing.pending()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.framing.take_pending()
    }
}

impl<T> fmt::Debug for Reference<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("format", &self.format)
            .field("max_frame", &self.max_frame)
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for Reference<T> {
    fn clone(&self) -> Self {
        Reference {
            framing: self.framing.clone(),
            format: self.format,
            max_frame: self.max_frame,
            frames: Vec::new(),
            _values: PhantomData,
        }
    }
}
