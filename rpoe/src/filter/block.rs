//! [`Block`]: fixed-size records, or records framed by a length prefix
//! (POE's `POE::Filter::Block`).
//!
//! Binary protocols cannot end records with a terminator, because any
//! byte may occur inside one. They either agree on a record size up front
//! ([`Block::fixed`]) or send each record's length before it
//! ([`Block::length_prefixed`], POE's own `LENGTH\0payload` framing, and
//! [`Block::be32`], the 4-byte big-endian prefix most non-Perl peers
//! speak).
//!
//! A length prefix is a promise by the peer about how much memory the
//! receiver must set aside, so it is checked against
//! [`max_length`](Block::max_length) as soon as its digits arrive, long
//! before the payload does: a hostile `99999999999\0` is refused
//! after a dozen bytes, not after the buffer has grown to hold them.

use std::io::Write as _;

use super::buffer::Framing;
use super::line::{DEFAULT_MAX_BUFFER, DEFAULT_MAX_LENGTH};
use super::{Filter, FilterError, GetOne};

/// The longest decimal length prefix accepted, in digits (leading zeros
/// count): enough for any `u64`.
const MAX_DIGITS: usize = 20;

/// Fixed-size or length-prefixed binary records of `Vec<u8>`.
///
/// Length-prefixed, POE's framing — the payload's length in ASCII
/// decimal, a NUL, the payload:
///
/// ```
/// use rpoe::filter::{Block, Filter};
///
/// let mut blocks = Block::length_prefixed();
/// let mut wire = Vec::new();
/// blocks.put(&b"hi\0there".to_vec(), &mut wire).unwrap();
/// assert_eq!(wire, b"8\0hi\0there");
///
/// let mut out = Vec::new();
/// blocks.get(&wire[..4], &mut out).unwrap();
/// assert!(out.is_empty());
/// blocks.get(&wire[4..], &mut out).unwrap();
/// assert_eq!(out, [b"hi\0there".to_vec()]);
/// ```
///
/// Fixed-size:
///
/// ```
/// use rpoe::filter::{Block, Filter};
///
/// let mut blocks = Block::fixed(4);
/// let mut out = Vec::new();
/// blocks.get(b"abcdefghij", &mut out).unwrap();
/// assert_eq!(out, [b"abcd".to_vec(), b"efgh".to_vec()]);
/// assert_eq!(blocks.pending(), b"ij");
/// ```
#[derive(Debug, Clone)]
pub struct Block {
    framing: Framing,
    mode: Mode,
    /// Prefixed modes: `(payload length, prefix length)` of the frame at
    /// the front of the buffer, once its prefix is complete. The prefix
    /// stays in the buffer until the whole frame is there, so
    /// [`pending`](Filter::pending) is always a faithful copy of the
    /// unconsumed stream.
    frame: Option<(usize, usize)>,
    max_length: usize,
    max_buffer: usize,
    /// Fixed mode: refuse to write what is not whole blocks.
    check_put: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fixed(usize),
    Decimal,
    Be32,
}

impl Default for Block {
    /// [`Block::length_prefixed`], POE's default.
    fn default() -> Self {
        Block::length_prefixed()
    }
}

impl Block {
    fn with_mode(mode: Mode) -> Self {
        Block {
            framing: Framing::default(),
            mode,
            frame: None,
            max_length: DEFAULT_MAX_LENGTH,
            max_buffer: DEFAULT_MAX_BUFFER,
            check_put: true,
        }
    }

    /// Records of exactly `size` bytes, unframed (POE's `BlockSize`).
    ///
    /// [`put`](Filter::put) takes a record whose length is a whole number
    /// of blocks — normally exactly one — and refuses any other length
    /// with [`FilterError::Malformed`]. POE writes whatever it is given;
    /// rpoe does not by default, because one short or long write would
    /// shift the peer's framing of every later block, an error that
    /// surfaces far from its cause. [`check_put(false)`](Block::check_put)
    /// writes as POE does.
    ///
    /// # Panics
    ///
    /// If `size` is zero.
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter, FilterError};
    ///
    /// let mut blocks = Block::fixed(4);
    /// let mut wire = Vec::new();
    /// blocks.put(&b"abcdefgh".to_vec(), &mut wire).unwrap(); // two whole blocks
    /// assert!(matches!(
    ///     blocks.put(&b"abc".to_vec(), &mut wire),
    ///     Err(FilterError::Malformed(_))
    /// ));
    /// assert_eq!(wire, b"abcdefgh");
    /// ```
    pub fn fixed(size: usize) -> Self {
        assert!(size > 0, "Block: the block size must be at least 1");
        Block::with_mode(Mode::Fixed(size))
    }

    /// Each record preceded by its length in ASCII decimal and a NUL
    /// (`5\0hello`): POE's default framing, so rpoe and a POE program
    /// using `POE::Filter::Block` understand each other. A prefix that is
    /// not digits followed by NUL is [`FilterError::Malformed`] (POE
    /// drops leading non-digits with a warning instead).
    pub fn length_prefixed() -> Self {
        Block::with_mode(Mode::Decimal)
    }

    /// Each record preceded by its length as a 4-byte big-endian unsigned
    /// integer, the usual framing of non-Perl peers.
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter};
    ///
    /// let mut frames = Block::be32();
    /// let mut wire = Vec::new();
    /// frames.put(&b"abc".to_vec(), &mut wire).unwrap();
    /// assert_eq!(wire, [0, 0, 0, 3, b'a', b'b', b'c']);
    ///
    /// let mut out = Vec::new();
    /// frames.get(&wire, &mut out).unwrap();
    /// assert_eq!(out, [b"abc".to_vec()]);
    /// ```
    pub fn be32() -> Self {
        Block::with_mode(Mode::Be32)
    }

    /// Fixed-size blocks: whether output must be whole blocks (default
    /// `true`). `false` is POE's behaviour: [`put`](Filter::put) writes a
    /// record of any length, and [`put_many`](Filter::put_many) the
    /// concatenation of its records whatever its length. With `true`,
    /// `put` refuses a record, and `put_many` a concatenation, that is not
    /// a whole number of blocks, and writes nothing. No effect on the
    /// length-prefixed modes, whose frames carry their length.
    ///
    /// Either way `put_many` returns one chunk, as POE's `put` does: the
    /// records side by side, the blocks of a fixed-size stream having no
    /// boundaries of their own.
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter, FilterError};
    ///
    /// let records = [b"ab".to_vec(), b"cde".to_vec()];
    ///
    /// // POE's behaviour: any length goes.
    /// let mut as_poe = Block::fixed(4).check_put(false);
    /// assert_eq!(as_poe.put_many(&records).unwrap(), [b"abcde".to_vec()]);
    ///
    /// // Checked (the default): 5 bytes are not whole 4-byte blocks.
    /// let mut checked = Block::fixed(4);
    /// assert!(matches!(checked.put_many(&records), Err(FilterError::Malformed(_))));
    /// let three = [b"abc".to_vec(), b"defgh".to_vec()];
    /// assert_eq!(checked.put_many(&three).unwrap(), [b"abcdefgh".to_vec()]);
    /// ```
    pub fn check_put(mut self, check: bool) -> Self {
        self.check_put = check;
        self
    }

    /// The longest payload accepted, in either direction (POE's
    /// `MaxLength`, default 64 MiB); longer is
    /// [`FilterError::TooLong`], on input as soon as the prefix announces
    /// it. Has no effect on [`fixed`](Block::fixed) blocks, whose size is
    /// their length.
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter, FilterError};
    ///
    /// // A peer announcing a huge frame is refused after four digits.
    /// let mut blocks = Block::length_prefixed().max_length(1024);
    /// let mut out = Vec::new();
    /// assert_eq!(
    ///     blocks.get(b"99999", &mut out),
    ///     Err(FilterError::TooLong { len: 9999, max: 1024 })
    /// );
    /// ```
    pub fn max_length(mut self, max: usize) -> Self {
        self.max_length = max;
        self
    }

    /// The most bytes held at once (POE's `MaxBuffer`, default 512 MiB):
    /// what is pending plus the chunk being fed, counted before any record
    /// is cut from it, as POE does; past it [`get`](Filter::get) fails with
    /// [`FilterError::BufferFull`]. Keep it at least the largest frame
    /// plus the largest read.
    pub fn max_buffer(mut self, max: usize) -> Self {
        self.max_buffer = max;
        self
    }

    fn too_long(&self, len: usize) -> FilterError {
        FilterError::TooLong {
            len,
            max: self.max_length,
        }
    }

    /// Parse the length prefix at the front of the buffer: `Ok(None)` if
    /// it is not complete yet, else `(payload length, prefix length)`.
    fn parse_prefix(&self) -> Result<Option<(usize, usize)>, FilterError> {
        let bytes = self.framing.bytes();
        match self.mode {
            Mode::Fixed(_) => unreachable!("fixed blocks have no prefix"),
            Mode::Be32 => {
                let Some(prefix) = bytes.first_chunk::<4>() else {
                    return Ok(None);
                };
                let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
                if len > self.max_length {
                    return Err(self.too_long(len));
                }
                Ok(Some((len, 4)))
            }
            Mode::Decimal => {
                let mut len: usize = 0;
                for (i, &b) in bytes.iter().enumerate() {
                    match b {
                        b'0'..=b'9' if i >= MAX_DIGITS => {
                            return Err(FilterError::Malformed(format!(
                                "length prefix longer than {MAX_DIGITS} digits"
                            )))
                        }
                        b'0'..=b'9' => {
                            len = len
                                .checked_mul(10)
                                .and_then(|l| l.checked_add(usize::from(b - b'0')))
                                .unwrap_or(usize::MAX);
                            // Refused while the digits are still arriving.
                            if len > self.max_length {
                                return Err(self.too_long(len));
                            }
                        }
                        b'\0' if i > 0 => return Ok(Some((len, i + 1))),
                        _ => {
                            return Err(FilterError::Malformed(format!(
                            "length prefix: expected ASCII digits then NUL, got {:?} at byte {i}",
                            char::from(b)
                        )))
                        }
                    }
                }
                Ok(None)
            }
        }
    }

    fn cut(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), FilterError> {
        while let Some(record) = self.cut_one()? {
            out.push(record);
        }
        Ok(())
    }

    /// Cut the record at the front of the buffer, if it is all there.
    fn cut_one(&mut self) -> Result<Option<Vec<u8>>, FilterError> {
        let (len, skip) = match self.mode {
            Mode::Fixed(size) => (size, 0),
            Mode::Decimal | Mode::Be32 => match self.frame {
                Some(frame) => frame,
                None => match self.parse_prefix()? {
                    Some(frame) => {
                        self.frame = Some(frame);
                        frame
                    }
                    None => return Ok(None),
                },
            },
        };
        if self.framing.held() < skip + len {
            return Ok(None);
        }
        let record = self.framing.bytes()[skip..skip + len].to_vec();
        self.framing.consume(skip + len);
        self.frame = None;
        Ok(Some(record))
    }

    /// Forget everything after an error: the stream cannot be
    /// resynchronised.
    fn fail<T>(&mut self, e: FilterError) -> Result<T, FilterError> {
        self.framing.clear();
        self.frame = None;
        Err(e)
    }
}

impl Filter for Block {
    type Record = Vec<u8>;

    /// Cut every record completed by `chunk`. On an error, the records
    /// completed before the offending one are already in `out`, and the
    /// filter is emptied.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), FilterError> {
        let result = self
            .framing
            .check_room(chunk.len(), self.max_buffer)
            .and_then(|()| {
                self.framing.data.extend_from_slice(chunk);
                self.cut(out)
            });
        match result {
            Ok(()) => {
                self.framing.settle();
                Ok(())
            }
            Err(e) => {
                self.framing.clear();
                self.frame = None;
                Err(e)
            }
        }
    }

    /// Frame `record`. Fails with [`FilterError::TooLong`] past
    /// [`max_length`](Block::max_length) (or 4 GiB − 1 for
    /// [`be32`](Block::be32)), and in fixed mode with
    /// [`FilterError::Malformed`] unless the record is a whole number of
    /// blocks or [`check_put(false)`](Block::check_put) was set; `out` is
    /// untouched then.
    fn put(&mut self, record: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), FilterError> {
        let len = record.len();
        match self.mode {
            Mode::Fixed(size) => {
                if self.check_put && !len.is_multiple_of(size) {
                    return Err(FilterError::Malformed(format!(
                        "a {len}-byte record is not a whole number of {size}-byte blocks"
                    )));
                }
            }
            Mode::Decimal => {
                if len > self.max_length {
                    return Err(self.too_long(len));
                }
                write!(out, "{len}\0").expect("writing to a Vec cannot fail");
            }
            Mode::Be32 => {
                let max = self.max_length.min(u32::MAX as usize);
                let prefix = u32::try_from(len).ok().filter(|_| len <= max);
                let Some(prefix) = prefix else {
                    return Err(FilterError::TooLong { len, max });
                };
                out.extend_from_slice(&prefix.to_be_bytes());
            }
        }
        out.extend_from_slice(record);
        Ok(())
    }

    /// The unconsumed stream, including the prefix of a frame still being
    /// received (POE drops that prefix from its pending data).
    fn pending(&self) -> &[u8] {
        self.framing.bytes()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.frame = None;
        self.framing.take()
    }

    /// Fixed size: one chunk, every record side by side, even for no
    /// records (POE's `put`); checked as a whole unless
    /// [`check_put(false)`](Block::check_put). Length-prefixed: one frame
    /// per record.
    fn put_many(&mut self, records: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, FilterError> {
        let Mode::Fixed(size) = self.mode else {
            return records
                .iter()
                .map(|record| {
                    let mut chunk = Vec::new();
                    self.put(record, &mut chunk)?;
                    Ok(chunk)
                })
                .collect();
        };
        let joined = records.concat();
        if self.check_put && joined.len() % size != 0 {
            return Err(FilterError::Malformed(format!(
                "{} bytes are not a whole number of {size}-byte blocks",
                joined.len()
            )));
        }
        Ok(vec![joined])
    }
}

impl GetOne for Block {
    /// Queue `chunks` without cutting any record (POE's
    /// `get_one_start`); fails past [`max_buffer`](Block::max_buffer).
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        match self.framing.queue_all(chunks, self.max_buffer) {
            Err(e) => self.fail(e),
            ok => ok,
        }
    }

    /// Cut the next block or frame, if it is all there. Unlike POE, the
    /// prefix of a frame still arriving stays in
    /// [`pending`](Filter::pending).
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter, GetOne};
    ///
    /// let mut frames = Block::length_prefixed();
    /// frames.get_one_start(&[&b"2\0ab2\0cd"[..]]).unwrap();
    /// assert_eq!(frames.get_one().unwrap(), Some(b"ab".to_vec()));
    /// assert_eq!(frames.pending(), b"2\0cd");
    /// assert_eq!(frames.get_one().unwrap(), Some(b"cd".to_vec()));
    /// assert_eq!(frames.get_one().unwrap(), None);
    /// ```
    fn get_one(&mut self) -> Result<Option<Vec<u8>>, FilterError> {
        match self.cut_one() {
            Ok(record) => {
                // Drop the consumed prefix once it is half the buffer, so
                // draining records one by one stays linear.
                if self.framing.head * 2 >= self.framing.data.len() {
                    self.framing.settle();
                }
                Ok(record)
            }
            Err(e) => self.fail(e),
        }
    }
}
