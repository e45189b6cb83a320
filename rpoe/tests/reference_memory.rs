//! Regression test for issue 13, finding 10: a 32 MiB frame of empty
//! strings must not make `filter::Reference` allocate a gigabyte.
//!
//! Alone in its test binary because it reads the process's peak resident
//! memory (`VmHWM` in /proc/self/status), which other tests running in
//! parallel would raise.

use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Deserializer, Serialize};

use rpoe::filter::{Filter, FilterError, Reference};

/// `n` empty strings as one sequence, without holding `n` `String`s.
struct Empties(usize);

impl Serialize for Empties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0))?;
        for _ in 0..self.0 {
            seq.serialize_element("")?;
        }
        seq.end()
    }
}

/// Only for the `Reference<Empties>` that writes the frame: never called.
impl<'de> Deserialize<'de> for Empties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        usize::deserialize(d).map(Empties)
    }
}

/// Peak resident set size so far, in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn frame_of_empty_strings_does_not_allocate_a_gigabyte() {
    const MIB: usize = 1024 * 1024;
    // One byte each on the wire, 24 in a Vec<String>: 32 Mi of them would
    // be 768 MiB, more while the vector doubles.
    let n = 32 * MIB;
    // Written by the filter itself, so the frame is in its format.
    let mut wire = Vec::new();
    Reference::<Empties>::new()
        .put(&Empties(n), &mut wire)
        .unwrap();
    assert!(wire.len() > 32 * MIB);

    let mut out = Vec::new();
    let result = Reference::<Vec<String>>::new().get(&wire, &mut out);
    let peak = peak_rss();
    eprintln!("peak resident memory {} MiB", peak / MIB);
    assert!(peak < 512 * MIB, "peak resident memory {} MiB", peak / MIB);
    assert!(
        matches!(&result, Err(FilterError::Malformed(why)) if why.contains("decoded")),
        "{:?}",
        result.map(|()| out.len())
    );
}
