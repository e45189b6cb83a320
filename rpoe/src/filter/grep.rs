//! [`Grep`]: drop the records of another filter that fail a test (POE's
//! `POE::Filter::Grep`).
//!
//! Keep-alives, comments, blank lines: many streams carry records nobody
//! wants to handle. Filtering them where they are cut means no handler
//! runs, and no event is queued, for them. A second predicate does the
//! same for output.

use std::fmt;

use super::{Filter, FilterError, GetOne};

type Pred<R> = Box<dyn FnMut(&R) -> bool>;

/// Records of `F` that pass a predicate: `get` keeps those for which the
/// input predicate is true, `put` writes only those for which the output
/// predicate is true (a refused record writes nothing, and is not an
/// error). Holds nothing of its own: pending bytes are the inner filter's.
///
/// ```
/// use rpoe::filter::{Filter, Grep, Line};
///
/// // Skip blank lines and comments on input; never send a blank line.
/// let mut config = Grep::new(
///     Line::literal("\n"),
///     |line: &Vec<u8>| !line.is_empty() && !line.starts_with(b"#"),
///     |line: &Vec<u8>| !line.is_empty(),
/// );
/// let mut out = Vec::new();
/// config.get(b"# settings\n\nport=80\n", &mut out).unwrap();
/// assert_eq!(out, [b"port=80".to_vec()]);
///
/// let mut wire = Vec::new();
/// config.put(&Vec::new(), &mut wire).unwrap();
/// config.put(&b"x=1".to_vec(), &mut wire).unwrap();
/// assert_eq!(wire, b"x=1\n");
/// ```
pub struct Grep<F: Filter> {
    inner: F,
    get: Pred<F::Record>,
    put: Pred<F::Record>,
    scratch: Vec<F::Record>,
}

impl<F: Filter> Grep<F> {
    /// Keep input records passing `get` and output records passing `put`
    /// (POE's `Get` and `Put`).
    pub fn new(
        inner: F,
        get: impl FnMut(&F::Record) -> bool + 'static,
        put: impl FnMut(&F::Record) -> bool + 'static,
    ) -> Self {
        Grep {
            inner,
            get: Box::new(get),
            put: Box::new(put),
            scratch: Vec::new(),
        }
    }

    /// Keep input records passing `get`; write every output record.
    ///
    /// ```
    /// use rpoe::filter::{Filter, Grep, Line};
    ///
    /// let mut no_pings = Grep::input_only(Line::new(), |l: &Vec<u8>| l.as_slice() != b"PING");
    /// let mut out = Vec::new();
    /// no_pings.get(b"PING\r\nhello\r\n", &mut out).unwrap();
    /// assert_eq!(out, [b"hello".to_vec()]);
    /// ```
    pub fn input_only(inner: F, get: impl FnMut(&F::Record) -> bool + 'static) -> Self {
        Grep::new(inner, get, |_| true)
    }

    /// The wrapped filter.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The wrapped filter, mutably.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// The wrapped filter, without the predicates.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Filter> Filter for Grep<F> {
    type Record = F::Record;

    fn get(&mut self, chunk: &[u8], out: &mut Vec<F::Record>) -> Result<(), FilterError> {
        let result = self.inner.get(chunk, &mut self.scratch);
        for record in self.scratch.drain(..) {
            if (self.get)(&record) {
                out.push(record);
            }
        }
        result
    }

    fn put(&mut self, record: &F::Record, out: &mut Vec<u8>) -> Result<(), FilterError> {
        if (self.put)(record) {
            self.inner.put(record, out)
        } else {
            Ok(())
        }
    }

    fn pending(&self) -> &[u8] {
        self.inner.pending()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.inner.take_pending()
    }

    /// The chunks of the records passing the output predicate; refused
    /// records give no chunk. Each run of passing records goes through the
    /// inner filter's [`put_many`](Filter::put_many) together, so its
    /// chunking is kept when nothing is refused (a fixed-size
    /// [`Block`](super::Block) under a `Grep` that refuses a record
    /// gives one chunk per run, where POE gives one).
    ///
    /// ```
    /// use rpoe::filter::{Filter, Grep, Line};
    ///
    /// let mut no_skip = Grep::new(Line::literal("\n"), |_| true, |l: &Vec<u8>| l != b"skip");
    /// let records = [b"x".to_vec(), b"skip".to_vec(), b"y".to_vec()];
    /// assert_eq!(no_skip.put_many(&records).unwrap(), [b"x\n".to_vec(), b"y\n".to_vec()]);
    /// ```
    fn put_many(&mut self, records: &[F::Record]) -> Result<Vec<Vec<u8>>, FilterError> {
        // The predicate runs once per record, in order, as in POE: it may
        // count or log.
        let passes: Vec<bool> = records.iter().map(|r| (self.put)(r)).collect();
        let mut chunks = Vec::new();
        let mut at = 0;
        while at < records.len() {
            // Skip refused records, then send the run that passes.
            at += passes[at..].iter().take_while(|&&p| !p).count();
            let run = passes[at..].iter().take_while(|&&p| p).count();
            if run > 0 {
                chunks.extend(self.inner.put_many(&records[at..at + run])?);
            }
            at += run;
        }
        Ok(chunks)
    }
}

impl<F: GetOne> GetOne for Grep<F> {
    /// Queue `chunks` with the inner filter.
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        self.inner.get_one_start(chunks)
    }

    /// The inner filter's next record that passes the input predicate,
    /// cutting (and dropping) the ones that do not.
    fn get_one(&mut self) -> Result<Option<F::Record>, FilterError> {
        while let Some(record) = self.inner.get_one()? {
            if (self.get)(&record) {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }
}

impl<F: Filter + fmt::Debug> fmt::Debug for Grep<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grep")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
