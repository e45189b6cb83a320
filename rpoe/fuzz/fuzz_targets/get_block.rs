#![no_main]
//! `Block` fixed, decimal-prefixed and be32-prefixed: no panic, records
//! within the limits, malformed prefixes reported as errors, and every
//! record can be framed again.

use libfuzzer_sys::fuzz_target;
use rpoe::filter::{Block, Filter};
use rpoe_fuzz::{drive, split, MAX_BUFFER, MAX_LENGTH};

fuzz_target!(|data: &[u8]| {
    let (control, chunks) = split(data);
    let (block, max_record) = match control % 3 {
        0 => {
            let size = usize::from(control / 3).max(1);
            (Block::fixed(size), size)
        }
        1 => (Block::length_prefixed(), MAX_LENGTH),
        _ => (Block::be32(), MAX_LENGTH),
    };
    let mut f = block.max_length(MAX_LENGTH).max_buffer(MAX_BUFFER);
    drive(&mut f, &chunks, MAX_BUFFER, |f, record| {
        assert!(record.len() <= max_record);
        let mut wire = Vec::new();
        f.put(record, &mut wire).unwrap();
    });
});
