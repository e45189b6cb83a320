#![no_main]
//! `Stackable`: length-prefixed frames carrying lines. Both layers keep
//! their limits, so the stack does.

use libfuzzer_sys::fuzz_target;
use rpoe::filter::{Block, Filter, Line, Stackable};
use rpoe_fuzz::{drive, split, MAX_BUFFER, MAX_LENGTH};

fuzz_target!(|data: &[u8]| {
    let (control, chunks) = split(data);
    let frames = if control & 1 == 0 {
        Block::length_prefixed()
    } else {
        Block::be32()
    };
    let frames = frames.max_length(MAX_LENGTH).max_buffer(MAX_BUFFER);
    let lines = Line::new().max_length(MAX_LENGTH).max_buffer(MAX_BUFFER);
    let mut f = Stackable::new(frames, lines);
    drive(&mut f, &chunks, MAX_BUFFER, |f, line| {
        assert!(line.len() <= MAX_LENGTH);
        assert!(f.second().pending().len() <= MAX_BUFFER);
        let mut wire = Vec::new();
        // A line may be too long to frame once its CRLF is added.
        let _ = f.put(line, &mut wire);
    });
});
