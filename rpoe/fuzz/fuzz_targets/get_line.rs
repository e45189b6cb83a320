#![no_main]
//! `Line` in every input mode, with and without kept terminators: no
//! panic, no line over `MAX_LENGTH`, no buffer over `MAX_BUFFER`, and every
//! record can be written back.

use libfuzzer_sys::fuzz_target;
use rpoe::filter::{Filter, Line};
use rpoe_fuzz::{drive, split, MAX_BUFFER, MAX_LENGTH};

fuzz_target!(|data: &[u8]| {
    let (control, chunks) = split(data);
    let line = match control % 6 {
        0 => Line::new(),
        1 => Line::literal("\n"),
        2 => Line::literal("\r\n"),
        3 => Line::literal("a|a"),
        4 => Line::new().input_any_of(";,\0"),
        _ => Line::new().autodetect(),
    };
    let keep = control & 0x80 != 0;
    let mut f = line
        .keep_terminator(keep)
        .max_length(MAX_LENGTH)
        .max_buffer(MAX_BUFFER);
    drive(&mut f, &chunks, MAX_BUFFER, |f, record| {
        // The limit does not count the terminator; a kept one adds at
        // most three bytes here ("a|a").
        assert!(record.len() <= MAX_LENGTH + if keep { 3 } else { 0 });
        let mut wire = Vec::new();
        f.put(record, &mut wire).unwrap();
    });
});
