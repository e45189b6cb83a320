#![no_main]
//! `Stream`: records are exactly the non-empty chunks, nothing is held.

use libfuzzer_sys::fuzz_target;
use rpoe::filter::Stream;
use rpoe_fuzz::{drive, split};

fuzz_target!(|data: &[u8]| {
    let (_, chunks) = split(data);
    let mut seen = Vec::new();
    drive(&mut Stream::new(), &chunks, 0, |_, record| {
        assert!(!record.is_empty());
        seen.extend_from_slice(record);
    });
    assert_eq!(seen, chunks.concat());
});
