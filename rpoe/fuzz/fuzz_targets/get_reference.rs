#![no_main]
//! `Reference` in both formats: any bytes decode to values or fail with an
//! error; no allocation driven by lengths inside a frame past its size, no
//! recursion past the depth limit, no loop past the zero-sized cap. The
//! value type nests, so the fuzzer can reach the depth limit.

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use rpoe::filter::{Filter, Reference};
use rpoe_fuzz::{drive, split, MAX_BUFFER, MAX_LENGTH};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
enum Value {
    Leaf(String, Vec<u64>, Option<bool>, Vec<Vec<u8>>),
    Units(Vec<()>),
    Node(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

fuzz_target!(|data: &[u8]| {
    let (control, chunks) = split(data);
    let refs = if control & 1 == 0 {
        Reference::<Value>::new()
    } else {
        Reference::<Value>::json()
    };
    // Small limits some of the time, so that the fuzzer reaches them.
    let refs = if control & 2 == 0 {
        refs
    } else {
        refs.max_depth(8).max_decoded(1024)
    };
    let mut f = refs.max_frame(MAX_LENGTH).max_buffer(MAX_BUFFER);
    drive(&mut f, &chunks, MAX_BUFFER, |f, value| {
        let mut wire = Vec::new();
        // JSON may re-encode a value larger than it arrived (escapes).
        let _ = f.put(value, &mut wire);
    });
});
