#![no_main]
//! `Grep` over `Line`: only passing records come out.

use libfuzzer_sys::fuzz_target;
use rpoe::filter::{Filter, Grep, Line};
use rpoe_fuzz::{drive, split, MAX_BUFFER, MAX_LENGTH};

fuzz_target!(|data: &[u8]| {
    let (control, chunks) = split(data);
    let inner = Line::new().max_length(MAX_LENGTH).max_buffer(MAX_BUFFER);
    let mut f = Grep::new(
        inner,
        move |line: &Vec<u8>| line.first() != Some(&control),
        |line: &Vec<u8>| !line.is_empty(),
    );
    drive(&mut f, &chunks, MAX_BUFFER, |f, line| {
        assert!(line.first() != Some(&control));
        let mut wire = Vec::new();
        f.put(line, &mut wire).unwrap();
    });
});
