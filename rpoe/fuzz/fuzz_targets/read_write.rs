#![no_main]
//! A `ReadWrite` wheel with a `Line` filter and a small `max_input`, in a
//! running kernel, against a peer on a Unix socket pair that follows a
//! script of writes, runs, reads, half-closes and closes (see
//! `rpoe_fuzz::read_write`): no panic, bounded buffers, and the records,
//! error and echo that a reference splitter computes.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rpoe_fuzz::read_write::run(data);
});
