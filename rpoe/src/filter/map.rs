//! [`Map`]: transform each record of another filter (POE's
//! `POE::Filter::Map`).
//!
//! Framing and meaning are separate concerns: [`Line`](super::Line) knows
//! where a line ends, not that it is a command, a number or UTF-8 text.
//! `Map` adds the meaning without a new filter type: a closure turns each
//! record the inner filter cut into the type the handlers want, and
//! another turns that type back into a record for output. Its
//! [`try_new`](Map::try_new) form lets the conversion fail, so bad input
//! (invalid UTF-8, a number that does not parse) becomes a
//! [`FilterError`] instead of a panic in a handler.

use std::fmt;

use super::{Filter, FilterError, GetOne};

type GetFn<R, T> = Box<dyn FnMut(R) -> Result<T, FilterError>>;
type PutFn<R, T> = Box<dyn FnMut(&T) -> Result<R, FilterError>>;

/// Records of `F` converted to `T` on input, and `T` converted back to
/// records of `F` on output. Holds nothing of its own: pending bytes are
/// the inner filter's.
///
/// ```
/// use rpoe::filter::{Filter, Line, Map};
///
/// // Lines of decimal numbers, as u64.
/// let mut numbers = Map::try_new(
///     Line::literal("\n"),
///     |line: Vec<u8>| {
///         std::str::from_utf8(&line)
///             .ok()
///             .and_then(|s| s.parse::<u64>().ok())
///             .ok_or_else(|| rpoe::filter::FilterError::Malformed("not a number".into()))
///     },
///     |n: &u64| Ok(n.to_string().into_bytes()),
/// );
/// let mut out = Vec::new();
/// numbers.get(b"17\n25\n", &mut out).unwrap();
/// assert_eq!(out, [17, 25]);
/// assert!(numbers.get(b"x\n", &mut out).is_err());
///
/// let mut wire = Vec::new();
/// numbers.put(&42, &mut wire).unwrap();
/// assert_eq!(wire, b"42\n");
/// ```
pub struct Map<F: Filter, T> {
    inner: F,
    get: GetFn<F::Record, T>,
    put: PutFn<F::Record, T>,
    scratch: Vec<F::Record>,
}

impl<F: Filter, T> Map<F, T> {
    /// Convert with `get` on input and `put` on output (POE's `Get` and
    /// `Put`).
    ///
    /// ```
    /// use rpoe::filter::{Filter, Line, Map};
    ///
    /// let mut shout = Map::new(
    ///     Line::literal("\n"),
    ///     |line: Vec<u8>| line.to_ascii_uppercase(),
    ///     |line: &Vec<u8>| line.to_ascii_lowercase(),
    /// );
    /// let mut out = Vec::new();
    /// shout.get(b"hey\n", &mut out).unwrap();
    /// assert_eq!(out, [b"HEY".to_vec()]);
    /// ```
    pub fn new(
        inner: F,
        mut get: impl FnMut(F::Record) -> T + 'static,
        mut put: impl FnMut(&T) -> F::Record + 'static,
    ) -> Self {
        Map::try_new(inner, move |r| Ok(get(r)), move |t| Ok(put(t)))
    }

    /// Convert with fallible closures: an `Err` from `get` fails the
    /// [`get`](Filter::get) call (records converted before it are already
    /// in its output), one from `put` fails the [`put`](Filter::put) call
    /// and writes nothing.
    pub fn try_new(
        inner: F,
        get: impl FnMut(F::Record) -> Result<T, FilterError> + 'static,
        put: impl FnMut(&T) -> Result<F::Record, FilterError> + 'static,
    ) -> Self {
        Map {
            inner,
            get: Box::new(get),
            put: Box::new(put),
            scratch: Vec::new(),
        }
    }

    /// The wrapped filter.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// The wrapped filter, mutably.
    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// The wrapped filter, without the closures.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Filter, T> Filter for Map<F, T> {
    type Record = T;

    fn get(&mut self, chunk: &[u8], out: &mut Vec<T>) -> Result<(), FilterError> {
        let result = self.inner.get(chunk, &mut self.scratch);
        // On a conversion error the rest of `scratch` is dropped with
        // the drain.
        for record in self.scratch.drain(..) {
            out.push((self.get)(record)?);
        }
        result
    }

    fn put(&mut self, record: &T, out: &mut Vec<u8>) -> Result<(), FilterError> {
        let inner_record = (self.put)(record)?;
        self.inner.put(&inner_record, out)
    }

    fn pending(&self) -> &[u8] {
        self.inner.pending()
    }

    fn take_pending(&mut self) -> Vec<u8> {
        self.inner.take_pending()
    }

    /// Convert every record, then encode them with the inner filter's
    /// [`put_many`](Filter::put_many), so its chunking (one chunk for a
    /// fixed-size [`Block`](super::Block)) is kept.
    fn put_many(&mut self, records: &[T]) -> Result<Vec<Vec<u8>>, FilterError> {
        let converted = records
            .iter()
            .map(|record| (self.put)(record))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.put_many(&converted)
    }
}

impl<F: GetOne, T> GetOne for Map<F, T> {
    /// Queue `chunks` with the inner filter.
    fn get_one_start<C: AsRef<[u8]>>(&mut self, chunks: &[C]) -> Result<(), FilterError> {
        self.inner.get_one_start(chunks)
    }

    /// The inner filter's next record, converted.
    ///
    /// ```
    /// use rpoe::filter::{GetOne, Line, Map};
    ///
    /// let mut upper = Map::new(
    ///     Line::literal("\n"),
    ///     |l: Vec<u8>| l.to_ascii_uppercase(),
    ///     |l: &Vec<u8>| l.clone(),
    /// );
    /// upper.get_one_start(&["a\nb\n"]).unwrap();
    /// assert_eq!(upper.get_one().unwrap(), Some(b"A".to_vec()));
    /// ```
    fn get_one(&mut self) -> Result<Option<T>, FilterError> {
        self.inner.get_one()?.map(|r| (self.get)(r)).transpose()
    }
}

impl<F: Filter + fmt::Debug, T> fmt::Debug for Map<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
