//! A hasher for the kernel's own small integer keys (session keys, event
//! ids, and pairs of them packed in a `u64`).
//!
//! Why not the standard `SipHash`: these keys are never chosen by a remote
//! peer (they are slab indices and interned ids the kernel hands out), so
//! flooding resistance buys nothing, and SipHash's ~20 ns per lookup would
//! sit on the path of every timer set and fired. One multiply spreads the
//! bits well enough for hashbrown, which takes its control bits from the
//! top of the hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Multiplicative hashing of integer keys.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

/// An odd constant with well-mixed bits (2^64 divided by the golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by the integer keys this hasher is for; still correct
        // for any key, just slower.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(MIX);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A `HashMap` keyed by kernel-issued integers.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
