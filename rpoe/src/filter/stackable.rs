//! [`Stackable`]: one filter feeding another (POE's
//! `POE::Filter::Stackable`).
//!
//! Real protocols layer: length-prefixed frames whose payloads are lines,
//! lines whose contents are serialized values. Rather than writing a
//! filter per combination, stack the layers: the filter nearest the wire
//! cuts its records, and each record is fed, as a chunk of bytes, to the
//! next filter up. Output runs the other way. Because each layer keeps its
//! own limits, the stack is bounded as long as its layers are.

use super::{Filter, FilterError, GetOne};

/// `A` (nearest the wire) then `B`: on input, every record `A` cuts is
/// fed to `B` as a chunk; on output, `B` encodes the record and `A` writes
/// the encoding as one of its records. Longer stacks nest —
/// [`push`](Stackable::push) adds a layer on top.
///
/// On output, an empty encoding from `B` (a record [`Grep`](super::Grep)
/// refused, an empty [`Stream`](super::Stream) record) is not passed on to
/// `A`: as input it would be an empty chunk to `B`, which carries nothing.
///
/// [`pending`](Filter::pending) and [`take_pending`](Filter::take_pending)
/// cover the raw bytes `A` holds; what `B` holds is already decoded by
/// `A` and is reached through [`second`](Stackable::second).
///
/// ```
/// use rpoe::filter::{Block, Filter, Line, Stackable};
///
/// // Length-prefixed frames, each holding some LF-terminated lines.
/// let mut stack = Stackable::new(Block::be32(), Line::literal("\n"));
/// let mut wire = Vec::new();
/// stack.put(&b"hello".to_vec(), &mut wire).unwrap();
/// assert_eq!(wire, b"\0\0\0\x06hello\n");
///
/// let mut out = Vec::new();
/// stack.get(b"\0\0\0\x08one\ntwo\n", &mut out).unwrap();
/// assert_eq!(out, [b"one".to_vec(), b"two".to_vec()]);
/// ```
#[derive(Debug, Clone)]
pub struct Stackable<A, B> {
    first: A,
    second: B,
    /// `A`'s records of one `get`, reused.
    records: Vec<Vec<u8>>,
    /// `B`'s encoding of one `put`, reused.
    encoded: Vec<u8>,
}

impl<A: Filter<Record = Vec<u8>>, B: Filter> Stackable<A, B> {
    /// `first` nearest the wire, `second` on top of it.
    pub fn new(first: A, second: B) -> Self {
        Stackable {
            first,
            second,
            records: Vec::new(),
            encoded: Vec::new(),
        }
    }

    /// Stack `next` on top (POE's `push`): its input is this stack's
    /// records.
    ///
    /// ```
    /// use rpoe::filter::{Block, Filter, Line, Stackable, Stream};
    ///
    /// let mut stack = Stackable::new(Line::literal("\n"), Stream::new()).push(Block::fixed(2));
    /// let mut out = Vec::new();
    /// stack.get(b"abcd\nef\n", &mut out).unwrap();
    /// assert_eq!(out, [b"ab".to_vec(), b"cd".to_vec(), b"ef".to_vec()]);
    /// ```
    pub fn push<C: Filter>(self, next: C) -> Stackable<Self, C>
    where
        B: Filter<Record = Vec<u8>>,
    {
        Stackable::new(self, next)
    }

    /// The filter nearest the wire.
    pub fn first(&self) -> &A {
        &self.first
    }

    /// The filter nearest the wire, mutably.
    pub fn first_mut(&mut self) -> &mut A {
        &mut self.first
    }

    /// The filter on top.
    pub fn second(&self) -> &B {
        &self.second
    }

    /// The filter on top, mutably.
    pub fn second_mut(&mut self) -> &mut B {
        &mut self.second
    }

    /// Take the stack apart.
    pub fn into_parts(self) -> (A, B) {
        (self.first, self.second)
    }
}

impl<A: Filter<Record = Vec<u8>>, B: Filter> Filter for Stackable<A, B> {
    type Record = B::Record;

    /// Feed `chunk` to `A` and each of its records to `B`. An error from
    /// either fails the call; records `B` completed before it are in
    /// `out`.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<B::Record>) -> Result<(), FilterError> {
        let result = self.first.get(chunk, &mut self.records);
        // On an error from `B` the rest of `records` is dropped with the
        // drain.
        for record in self.records.drain(..) {
            self.second.get(&record, out)?;
        }
        result
    }

    fn put(&mut self, record: &B::Record, out: &mut Vec<u8>) -> Result<(), FilterError> {
        self.encoded.clear();
        let result = self.second.put(record, &mut self.encoded).and_then(|()| {
            if self.encoded.is_empty() {
                Ok(())
            } else {
                self.first.put(&self.encoded, out)
            }
        });
        // Do not keep a large encoding's allocation around.
        if self.encoded.capacity() > 64 * 1024 {
            self.encoded = Vec::new();
        }
        result
    }

    fn pending(&self) -> &[u8] {
        self.first.pending()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.first.take_pending()
    }

    /// POE's `put`: `B` encodes the records into chunks, and `A` encodes
    /// those chunks as its records. Unlike [`put`](Filter::put), an empty
    /// chunk from `B` is passed on (POE does), so a line filter under a
    /// [`Stream`](super::Stream) writes an empty line for an empty record.
    ///
    /// ```
    /// use rpoe::filter::{Filter, Line, Stackable, Stream};
    ///
    /// let mut stack = Stackable::new(Line::literal("\n"), Stream::new());
    /// let chunks = stack.put_many(&[Vec::new(), b"x".to_vec()]).unwrap();
    /// assert_eq!(chunks, [b"\n".to_vec(), b"x\n".to_vec()]);
    /// ```
    fn put_many(&mut self, records: &[B::Record]) -> Result<Vec<Vec<u8>>, FilterError> {
        let encoded = self.second.put_many(records)?;
        if encoded.is_empty() {
            return Ok(encoded);
        }
        self.first.put_many(&encoded)
    }
}

impl<A: GetOne<Record = Vec<u8>>, B: GetOne> GetOne for Stackable<A, B> {
    /// Queue `chunks` with `A`, nearest the wire.
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        self.first.get_one_start(chunks)
    }

    /// `B`'s next record, feeding it `A`'s records one at a time until it
    /// has one. Bytes `B` has queued but not cut are `B`'s pending,
    /// reached through [`second`](Stackable::second).
    ///
    /// ```
    /// use rpoe::filter::{Block, GetOne, Line, Stackable};
    ///
    /// let mut stack = Stackable::new(Block::length_prefixed(), Line::literal("\n"));
    /// stack.get_one_start(&[&b"4\0a\nb\n"[..]]).unwrap();
    /// assert_eq!(stack.get_one().unwrap(), Some(b"a".to_vec()));
    /// assert_eq!(stack.get_one().unwrap(), Some(b"b".to_vec()));
    /// assert_eq!(stack.get_one().unwrap(), None);
    /// ```
    fn get_one(&mut self) -> Result<Option<B::Record>, FilterError> {
        loop {
            if let Some(record) = self.second.get_one()? {
                return Ok(Some(record));
            }
            match self.first.get_one()? {
                Some(chunk) => self.second.get_one_start(&[chunk])?,
                None => return Ok(None),
            }
        }
    }
}
