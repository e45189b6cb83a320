#![no_main]
//! `Map` with a fallible conversion (lines to UTF-8 strings): invalid
//! input is an error, never a panic.

use libfuzzer_sys::fuzz_target;
use rpoe::filter::{Filter, FilterError, Line, Map};
use rpoe_fuzz::{drive, split, MAX_BUFFER, MAX_LENGTH};

fuzz_target!(|data: &[u8]| {
    let (_, chunks) = split(data);
    let inner = Line::new().max_length(MAX_LENGTH).max_buffer(MAX_BUFFER);
    let mut f = Map::try_new(
        inner,
        |line: Vec<u8>| String::from_utf8(line).map_err(|e| FilterError::Malformed(e.to_string())),
        |s: &String| Ok(s.clone().into_bytes()),
    );
    drive(&mut f, &chunks, MAX_BUFFER, |f, s| {
        assert!(s.len() <= MAX_LENGTH);
        let mut wire = Vec::new();
        f.put(s, &mut wire).unwrap();
    });
});
