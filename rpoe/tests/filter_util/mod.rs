//! Helpers shared by the filter test files (`mod filter_util;`). Each
//! file uses only some of them.
#![allow(dead_code)]

use rpoe::filter::{Filter, FilterError, Line};

/// Feed `chunks` one `get` each; all records, or the first error.
pub fn feed<F: Filter>(filter: &mut F, chunks: &[&[u8]]) -> Result<Vec<F::Record>, FilterError> {
    let mut out = Vec::new();
    for chunk in chunks {
        filter.get(chunk, &mut out)?;
    }
    Ok(out)
}

/// Records as strings, for readable assertions.
pub fn strs(records: &[Vec<u8>]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

pub fn lines(filter: &mut Line, chunks: &[&[u8]]) -> Vec<String> {
    strs(&feed(filter, chunks).unwrap())
}

pub fn put_all<F: Filter>(filter: &mut F, records: &[F::Record]) -> Vec<u8> {
    let mut wire = Vec::new();
    for r in records {
        filter.put(r, &mut wire).unwrap();
    }
    wire
}

pub fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}
