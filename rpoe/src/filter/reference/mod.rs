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
//! [postcard](https://docs.rs/postcard/1) by default — compact, for rpoe
//! talking to rpoe — or JSON with [`Reference::json`], readable and
//! understood by other languages. POE's Storable payloads are
//! Perl-specific and not supported.
//!
//! Why postcard: it is serde-based, so any `Serialize + DeserializeOwned`
//! type works as before; its wire format is documented and stable across
//! its 1.x releases, so two builds of rpoe with different postcard
//! versions still understand each other; and it is maintained (bincode
//! 1.x, used before, is not: RUSTSEC-2025-0141). bitcode's format may
//! change between versions, and wincode is young; both were passed over
//! for that.
//!
//! Data from a peer is untrusted, and a small frame must not cost much to
//! decode:
//! - a frame longer than [`max_frame`](Reference::max_frame) is refused
//!   from its prefix alone;
//! - nesting is limited ([`max_depth`](Reference::max_depth), default
//!   128), so a recursive type cannot overflow the stack;
//! - what the value's sequences, maps and strings take in memory is
//!   limited ([`max_decoded`](Reference::max_decoded)), so a frame of
//!   one-byte empty strings cannot become a vector 24 times its size;
//! - a sequence's length is bounded by the bytes present: an element of a
//!   sized type takes at least one byte of the frame (and its size counts
//!   against `max_decoded` even if a hand-written `Deserialize` reads
//!   none), while elements of a zero-sized type (`()`, which take none)
//!   are limited to [`MAX_ZERO_SIZED`] per value, so a `Vec<()>` claiming
//!   2^63 elements cannot make the decoder loop for ever.
//!
//! A payload that breaks a limit, does not decode as a `T`, or has bytes
//! left over is [`FilterError::Malformed`]. JSON keeps serde_json's own
//! recursion limit (128) as well.

mod guard;

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::block::Block;
use super::{Filter, FilterError, GetOne};
use guard::{Budget, Guarded};

/// The most zero-sized elements (such as `()`) one decoded value may hold
/// in its sequences and maps. They take no bytes on the wire, so the frame
/// size cannot bound their count; without a cap, a few bytes claiming 2^63
/// of them would keep the decoder busy for ever.
pub const MAX_ZERO_SIZED: usize = 1 << 16;

/// The default nesting limit, as serde_json's.
const DEFAULT_MAX_DEPTH: usize = 128;

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
    /// postcard 1.x (variable-length integers): small and fast.
    #[default]
    Postcard,
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
    max_depth: usize,
    max_decoded: Option<usize>,
    frames: Vec<Vec<u8>>,
    _values: PhantomData<fn(T) -> T>,
}

impl<T> Default for Reference<T> {
    fn default() -> Self {
        Reference::new()
    }
}

impl<T> Reference<T> {
    /// postcard payloads, frames up to 64 MiB, buffer up to 512 MiB (POE's
    /// `MaxBuffer` default).
    pub fn new() -> Self {
        Reference::with_format(Format::Postcard)
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
            max_depth: DEFAULT_MAX_DEPTH,
            max_decoded: None,
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

    /// The deepest nesting a received value may have (default 128): every
    /// struct, enum, tuple, sequence, map, `Some` and newtype is a level,
    /// and so is the scalar at the bottom. Deeper values are
    /// [`FilterError::Malformed`] before they can exhaust the stack: each
    /// level is a few recursive calls of `T`'s `Deserialize`, and a
    /// recursive type costs one byte of frame per level.
    ///
    /// ```
    /// use rpoe::filter::{Filter, FilterError, Reference};
    ///
    /// let mut refs = Reference::<Vec<Vec<Vec<u8>>>>::new().max_depth(3);
    /// let mut wire = Vec::new();
    /// refs.put(&vec![vec![vec![1]]], &mut wire).unwrap();
    /// let err = refs.get(&wire, &mut Vec::new()).unwrap_err();
    /// assert!(matches!(err, FilterError::Malformed(_)), "{err}");
    /// ```
    pub fn max_depth(mut self, max: usize) -> Self {
        self.max_depth = max;
        self
    }

    /// The most memory a received value's sequences, maps and strings may
    /// take, in bytes: each element counts its own size
    /// (`size_of::<String>()` for a `Vec<String>`'s), each string or byte
    /// string its length. Past it the value is [`FilterError::Malformed`],
    /// decoding stops and what was decoded is freed.
    ///
    /// Why: elements can be far larger decoded than on the wire (an empty
    /// `String` is one byte of postcard, 24 bytes in memory), so the frame
    /// limit alone would let a 32 MiB frame become a 768 MiB vector. The
    /// default is the larger of 64 MiB and [`max_frame`](Reference::max_frame).
    /// It is an estimate: vectors grow by doubling, so the memory actually
    /// allocated can be up to about twice the limit.
    ///
    /// ```
    /// use rpoe::filter::{Filter, FilterError, Reference};
    ///
    /// let mut refs = Reference::<Vec<String>>::new().max_decoded(100);
    /// let mut wire = Vec::new();
    /// refs.put(&vec![String::new(); 5], &mut wire).unwrap(); // 6 bytes
    /// let err = refs.get(&wire, &mut Vec::new()).unwrap_err(); // 5 * 24
    /// assert!(matches!(err, FilterError::Malformed(_)), "{err}");
    /// ```
    pub fn max_decoded(mut self, max: usize) -> Self {
        self.max_decoded = Some(max);
        self
    }

    /// The payload format.
    pub fn format(&self) -> Format {
        self.format
    }

    fn budget(&self) -> Budget {
        let memory = self
            .max_decoded
            .unwrap_or(super::line::DEFAULT_MAX_LENGTH.max(self.max_frame));
        Budget::new(self.max_depth, memory, MAX_ZERO_SIZED)
    }
}

impl<T: Serialize + DeserializeOwned> Reference<T> {
    fn decode(&self, payload: &[u8]) -> Result<T, FilterError> {
        let budget = self.budget();
        let malformed = |what: &str, e: &dyn fmt::Display| match budget.exceeded() {
            Some(limit) => FilterError::Malformed(format!("{what} value: {limit}")),
            None => FilterError::Malformed(format!("{what} value: {e}")),
        };
        match self.format {
            Format::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(payload);
                let value = T::deserialize(Guarded::new(&mut de, &budget))
                    .map_err(|e| malformed("postcard", &e))?;
                match de.finalize() {
                    Ok([]) => Ok(value),
                    Ok(rest) => Err(FilterError::Malformed(format!(
                        "postcard value: {} bytes after the value",
                        rest.len()
                    ))),
                    Err(e) => Err(malformed("postcard", &e)),
                }
            }
            Format::Json => {
                let mut de = serde_json::Deserializer::from_slice(payload);
                let value = T::deserialize(Guarded::new(&mut de, &budget))
                    .map_err(|e| malformed("JSON", &e))?;
                de.end().map_err(|e| malformed("JSON", &e))?;
                Ok(value)
            }
        }
    }

    fn encode(&self, value: &T) -> Result<Vec<u8>, FilterError> {
        let too_long = |len| FilterError::TooLong {
            len,
            max: self.max_frame,
        };
        match self.format {
            Format::Postcard => {
                // Measure first (no allocation), so that a value over the
                // limit is refused without being serialized.
                let len =
                    postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())
                        .map_err(|e| FilterError::Malformed(format!("postcard value: {e}")))?;
                if len > self.max_frame {
                    return Err(too_long(len));
                }
                postcard::to_extend(value, Vec::with_capacity(len))
                    .map_err(|e| FilterError::Malformed(format!("postcard value: {e}")))
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

/// POE's `get_one_start` / `get_one`: frames are cut one at a time and each
/// is decoded as it is cut, so a bad frame fails only the `get_one` that
/// meets it, with the frames after it still queued.
impl<T: Serialize + DeserializeOwned> GetOne for Reference<T> {
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        self.framing.get_one_start(chunks)
    }

    fn get_one(&mut self) -> Result<Option<T>, FilterError> {
        self.framing
            .get_one()?
            .map(|frame| self.decode(&frame))
            .transpose()
    }
}

impl<T> fmt::Debug for Reference<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("format", &self.format)
            .field("max_frame", &self.max_frame)
            .field("max_depth", &self.max_depth)
            .field("max_decoded", &self.max_decoded)
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
            max_depth: self.max_depth,
            max_decoded: self.max_decoded,
            frames: Vec::new(),
            _values: PhantomData,
        }
    }
}
