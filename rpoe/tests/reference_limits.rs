//! Regression tests for issue 13, finding 10: small hostile frames must
//! not make `filter::Reference` overflow the stack (a recursive type) or
//! loop for ever (a sequence of zero-sized elements claiming 2^63 of them).
//!
//! A separate test binary because, before the fix, the first aborted the
//! whole process and the second never returned; each decode runs on its
//! own thread under a deadline so that a regression fails the test rather
//! than hanging the run.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use rpoe::filter::reference::MAX_ZERO_SIZED;
use rpoe::filter::{Filter, FilterError, Reference};

/// Long enough for a debug build on a loaded machine; the fixed decodes
/// take microseconds.
const DEADLINE: Duration = Duration::from_secs(20);

/// `get` `wire` through a fresh filter on its own thread; fail the test if
/// it has not returned by the deadline (the thread is then left behind,
/// still spinning, and ends with the process).
fn get_bounded<T>(make: fn() -> Reference<T>, wire: Vec<u8>) -> Result<Vec<T>, FilterError>
where
    T: Serialize + for<'de> Deserialize<'de> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut out = Vec::new();
        let result = make().get(&wire, &mut out).map(|()| out);
        let _ = tx.send(result);
    });
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("decoding did not finish within {DEADLINE:?}: {e}"))
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = format!("{}\0", payload.len()).into_bytes();
    wire.extend_from_slice(payload);
    wire
}

fn assert_malformed<T: std::fmt::Debug>(result: Result<Vec<T>, FilterError>, needle: &str) {
    match result {
        Err(FilterError::Malformed(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected Malformed({needle}), got {other:?}"),
    }
}

/// A recursive type: one byte of frame per level in postcard (and in
/// bincode before it), each level a one-element sequence (length 1)
/// around the next, the newtype transparent; `[[[…]]]` in JSON.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Nest(Vec<Nest>);

impl Nest {
    fn deep(levels: usize) -> Nest {
        let mut value = Nest(Vec::new());
        for _ in 0..levels {
            value = Nest(vec![value]);
        }
        value
    }
}

impl Drop for Nest {
    /// Iterative, so that dropping a deep `Nest` cannot overflow the stack
    /// either (the tests build only shallow ones, but keep the type honest).
    fn drop(&mut self) {
        let mut next = std::mem::take(&mut self.0);
        while let Some(mut n) = next.pop() {
            next.append(&mut n.0);
        }
    }
}

#[test]
fn deep_recursive_value_is_refused_not_a_stack_overflow() {
    // 100 KB of one-element sequences, then an empty one.
    let mut payload = vec![1u8; 100_000];
    payload.push(0);
    assert_malformed(
        get_bounded(Reference::<Nest>::new, frame(&payload)),
        "nested",
    );

    // The same as JSON: refused too (serde_json's own limit and ours are
    // both 128).
    let json = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let result = get_bounded(Reference::<Nest>::json, frame(json.as_bytes()));
    assert!(
        matches!(result, Err(FilterError::Malformed(_))),
        "{result:?}"
    );
}

#[test]
fn nesting_up_to_the_limit_still_decodes() {
    // Each level is a newtype and a sequence: two levels of the limit of
    // 128, and one more for the innermost.
    let value = Nest::deep(63);
    for make in [Reference::<Nest>::new, Reference::<Nest>::json] {
        let mut wire = Vec::new();
        make().put(&value, &mut wire).unwrap();
        assert_eq!(get_bounded(make, wire).unwrap(), [Nest::deep(63)]);
    }
    let mut wire = Vec::new();
    Reference::new().put(&Nest::deep(64), &mut wire).unwrap();
    assert_malformed(get_bounded(Reference::<Nest>::new, wire), "nested");
    // And a lower limit applies.
    let mut wire = Vec::new();
    Reference::new().put(&value, &mut wire).unwrap();
    let result = Reference::<Nest>::new()
        .max_depth(20)
        .get(&wire, &mut Vec::new());
    assert!(
        matches!(result, Err(FilterError::Malformed(_))),
        "{result:?}"
    );
}

/// Serializes as a sequence that claims `0` elements and holds none: a
/// header for hand-made frames, in whichever format the filter speaks.
struct Claim(u64);

impl Serialize for Claim {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let len = usize::try_from(self.0).expect("64-bit");
        s.serialize_seq(Some(len))?.end()
    }
}

impl<'de> Deserialize<'de> for Claim {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Claim)
    }
}

/// The payload of a frame `put` by `Reference::<Claim>::new()`.
fn claim_payload(n: u64) -> Vec<u8> {
    let mut wire = Vec::new();
    Reference::<Claim>::new().put(&Claim(n), &mut wire).unwrap();
    let nul = wire.iter().position(|&b| b == 0).unwrap();
    wire.split_off(nul + 1)
}

#[test]
fn zero_sized_elements_claiming_2_pow_63_are_refused_not_a_spin() {
    let payload = claim_payload(1 << 63);
    assert!(payload.len() <= 10, "{payload:?}");
    assert_malformed(
        get_bounded(Reference::<Vec<()>>::new, frame(&payload)),
        "zero-sized",
    );
    // Inside a map, as keys.
    assert_malformed(
        get_bounded(
            Reference::<std::collections::BTreeMap<(), ()>>::new,
            frame(&payload),
        ),
        "zero-sized",
    );
}

#[test]
fn zero_sized_elements_up_to_the_cap_still_decode() {
    for n in [0, 1, MAX_ZERO_SIZED] {
        let value = vec![(); n];
        for make in [Reference::<Vec<()>>::new, Reference::<Vec<()>>::json] {
            let mut wire = Vec::new();
            make().put(&value, &mut wire).unwrap();
            assert_eq!(
                get_bounded(make, wire).unwrap(),
                std::slice::from_ref(&value)
            );
        }
    }
    let payload = claim_payload(MAX_ZERO_SIZED as u64 + 1);
    assert_malformed(
        get_bounded(Reference::<Vec<()>>::new, frame(&payload)),
        "zero-sized",
    );
}

#[test]
fn sized_elements_are_bounded_by_the_bytes_present() {
    // 2^63 one-byte elements claimed in a 10-byte frame: input runs out.
    let payload = claim_payload(1 << 63);
    let result = get_bounded(Reference::<Vec<u8>>::new, frame(&payload));
    assert!(
        matches!(result, Err(FilterError::Malformed(_))),
        "{result:?}"
    );
}

#[test]
fn decoded_memory_limit() {
    let value = vec![String::new(); 100];
    let mut wire = Vec::new();
    Reference::new().put(&value, &mut wire).unwrap();
    let size = 100 * std::mem::size_of::<String>();
    let mut out = Vec::new();
    Reference::<Vec<String>>::new()
        .max_decoded(size)
        .get(&wire, &mut out)
        .unwrap();
    assert_eq!(out, [value]);
    let result = Reference::<Vec<String>>::new()
        .max_decoded(size - 1)
        .get(&wire, &mut out);
    assert_malformed(result.map(|()| Vec::<()>::new()), "decoded");

    // String contents count too.
    let value = "x".repeat(50);
    let mut wire = Vec::new();
    Reference::json().put(&value, &mut wire).unwrap();
    let result = Reference::<String>::json()
        .max_decoded(49)
        .get(&wire, &mut Vec::new());
    assert_malformed(result.map(|()| Vec::<()>::new()), "decoded");
}
