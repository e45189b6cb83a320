//! [`RecordBlock`]: groups of a fixed number of records (POE's
//! `POE::Filter::RecordBlock`).
//!
//! Some protocols give meaning to records only in groups: a header line
//! and a body line, a 3-line RFC-822 style stanza, rows of N cells. Rather
//! than every handler collecting and counting, this wrapper hands out
//! whole groups. It sits on top of the filter that cuts the records, so it
//! shares that filter's byte limits, and it holds back fewer than one
//! group's worth of records, so it needs no limit of its own.

use super::{Filter, FilterError, GetOne};

/// Groups the records of `F` into blocks of `block_size` on input, and
/// writes every record of a block on output.
///
/// [`pending`](Filter::pending) and [`take_pending`](Filter::take_pending)
/// are about bytes and so reach the inner filter; records already cut but
/// not yet making a whole block are seen with
/// [`held_records`](RecordBlock::held_records) and taken with
/// [`take_held_records`](RecordBlock::take_held_records).
///
/// ```
/// use rpoe::filter::{Filter, Line, RecordBlock};
///
/// let mut pairs = RecordBlock::new(Line::literal("\n"), 2);
/// let mut out = Vec::new();
/// pairs.get(b"k1\nv1\nk2\nv2\nk3\n", &mut out).unwrap();
/// assert_eq!(
///     out,
///     [
///         vec![b"k1".to_vec(), b"v1".to_vec()],
///         vec![b"k2".to_vec(), b"v2".to_vec()],
///     ]
/// );
/// assert_eq!(pairs.held_records(), [b"k3".to_vec()]);
///
/// let mut wire = Vec::new();
/// pairs.put(&vec![b"a".to_vec(), b"b".to_vec()], &mut wire).unwrap();
/// assert_eq!(wire, b"a\nb\n");
/// ```
#[derive(Debug, Clone)]
pub struct RecordBlock<F: Filter> {
    inner: F,
    block_size: usize,
    check_put: bool,
    /// Records toward the next block; always fewer than `block_size`.
    held: Vec<F::Record>,
    /// The inner filter's output of one `get`, reused.
    scratch: Vec<F::Record>,
}

impl<F: Filter> RecordBlock<F> {
    /// Blocks of `block_size` records of `inner` (POE's `BlockSize`).
    ///
    /// # Panics
    ///
    /// If `block_size` is zero.
    pub fn new(inner: F, block_size: usize) -> Self {
        assert!(
            block_size > 0,
            "RecordBlock: the block size must be at least 1"
        );
        RecordBlock {
            inner,
            block_size,
            check_put: false,
            held: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Refuse to [`put`](Filter::put) a block of any size but
    /// `block_size`, with [`FilterError::Malformed`] (default: any size is
    /// written). POE's `CheckPut` instead holds the records of a short
    /// block back until later puts complete it; rpoe reports the mistake
    /// where it is made.
    ///
    /// ```
    /// use rpoe::filter::{Filter, FilterError, Line, RecordBlock};
    ///
    /// let mut pairs = RecordBlock::new(Line::literal("\n"), 2).check_put(true);
    /// let mut wire = Vec::new();
    /// assert!(matches!(
    ///     pairs.put(&vec![b"lonely".to_vec()], &mut wire),
    ///     Err(FilterError::Malformed(_))
    /// ));
    /// assert!(wire.is_empty());
    /// ```
    pub fn check_put(mut self, check: bool) -> Self {
        self.check_put = check;
        self
    }

    /// Records received toward the next, incomplete block.
    pub fn held_records(&self) -> &[F::Record] {
        &self.held
    }

    /// Take the records of the incomplete block out.
    pub fn take_held_records(&mut self) -> Vec<F::Record> {
        std::mem::take(&mut self.held)
    }

    /// The filter cutting the records.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The filter cutting the records, mutably.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// The filter cutting the records; held records are dropped.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Filter> Filter for RecordBlock<F> {
    type Record = Vec<F::Record>;

    /// Pass `chunk` to the inner filter and group its records. Records
    /// the inner filter produced before an error of its own are still
    /// grouped.
    fn get(&mut self, chunk: &[u8], out: &mut Vec<Self::Record>) -> Result<(), FilterError> {
        let result = self.inner.get(chunk, &mut self.scratch);
        for record in self.scratch.drain(..) {
            self.held.push(record);
            if self.held.len() == self.block_size {
                let block = std::mem::replace(&mut self.held, Vec::with_capacity(self.block_size));
                out.push(block);
            }
        }
        result
    }

    /// Write each record of `block` with the inner filter.
    fn put(&mut self, block: &Self::Record, out: &mut Vec<u8>) -> Result<(), FilterError> {
        if self.check_put && block.len() != self.block_size {
            return Err(FilterError::Malformed(format!(
                "a block of {} records, expected {}",
                block.len(),
                self.block_size
            )));
        }
        for record in block {
            self.inner.put(record, out)?;
        }
        Ok(())
    }

    fn pending(&self) -> &[u8] {
        self.inner.pending()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.inner.take_pending()
    }

    /// One chunk per record of every block, as POE's `put` flattens the
    /// blocks (each block's records go through the inner filter's
    /// [`put_many`](Filter::put_many) together). With
    /// [`check_put`](RecordBlock::check_put), a block of the wrong size
    /// fails the call before anything is encoded.
    ///
    /// ```
    /// use rpoe::filter::{Filter, Line, RecordBlock};
    ///
    /// let mut pairs = RecordBlock::new(Line::literal("\n"), 2);
    /// let blocks = [vec![b"x".to_vec(), b"y".to_vec()], vec![b"z".to_vec()]];
    /// assert_eq!(
    ///     pairs.put_many(&blocks).unwrap(),
    ///     [b"x\n".to_vec(), b"y\n".to_vec(), b"z\n".to_vec()]
    /// );
    /// ```
    fn put_many(&mut self, blocks: &[Self::Record]) -> Result<Vec<Vec<u8>>, FilterError> {
        if self.check_put {
            if let Some(block) = blocks.iter().find(|b| b.len() != self.block_size) {
                return Err(FilterError::Malformed(format!(
                    "a block of {} records, expected {}",
                    block.len(),
                    self.block_size
                )));
            }
        }
        let mut chunks = Vec::new();
        for block in blocks {
            chunks.extend(self.inner.put_many(block)?);
        }
        Ok(chunks)
    }
}

impl<F: GetOne> GetOne for RecordBlock<F> {
    /// Queue `chunks` with the inner filter.
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        self.inner.get_one_start(chunks)
    }

    /// Cut records one by one until they make a block; `None` (keeping
    /// the records of the incomplete block) when the inner filter runs
    /// out.
    ///
    /// ```
    /// use rpoe::filter::{GetOne, Line, RecordBlock};
    ///
    /// let mut pairs = RecordBlock::new(Line::literal("\n"), 2);
    /// pairs.get_one_start(&["1\n2\n3\n"]).unwrap();
    /// assert_eq!(pairs.get_one().unwrap(), Some(vec![b"1".to_vec(), b"2".to_vec()]));
    /// assert_eq!(pairs.get_one().unwrap(), None);
    /// assert_eq!(pairs.held_records(), [b"3".to_vec()]);
    /// ```
    fn get_one(&mut self) -> Result<Option<Self::Record>, FilterError> {
        while let Some(record) = self.inner.get_one()? {
            self.held.push(record);
            if self.held.len() == self.block_size {
                let block = std::mem::replace(&mut self.held, Vec::with_capacity(self.block_size));
                return Ok(Some(block));
            }
        }
        Ok(None)
    }
}
