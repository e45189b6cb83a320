#![no_main]
//! `RecordBlock` over `Line`: blocks are always full and the held records
//! stay under one block.

use libfuzzer_sys::fuzz_target;
use rpoe::filter::{Filter, Line, RecordBlock};
use rpoe_fuzz::{drive, split, MAX_BUFFER, MAX_LENGTH};

fuzz_target!(|data: &[u8]| {
    let (control, chunks) = split(data);
    let size = usize::from(control % 8) + 1;
    let inner = Line::literal("\n")
        .max_length(MAX_LENGTH)
        .max_buffer(MAX_BUFFER);
    let mut f = RecordBlock::new(inner, size).check_put(true);
    drive(&mut f, &chunks, MAX_BUFFER, |f, block| {
        assert_eq!(block.len(), size);
        assert!(f.held_records().len() < size);
        let mut wire = Vec::new();
        f.put(block, &mut wire).unwrap();
    });
    assert!(f.held_records().len() < size);
});
