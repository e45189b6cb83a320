//! Property tests of the filters: the records do not depend on how the
//! input was split into chunks (except where POE's own rule makes them,
//! checked against a model), `get(put(x)) == x` where the framing allows
//! it, and what a filter holds stays within its limits.

use proptest::prelude::*;
use proptest::sample::{select, Index};

use rpoe::filter::{Block, Filter, FilterError, Grep, Line, Map, RecordBlock, Stackable, Stream};

/// Cut positions in `0..=len`, sorted.
fn cuts(len: usize, idx: &[Index]) -> Vec<usize> {
    let mut c: Vec<usize> = idx.iter().map(|i| i.index(len + 1)).collect();
    c.sort_unstable();
    c
}

/// `input` split at `cut`.
fn pieces<'a>(input: &'a [u8], cut: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cut {
        out.push(&input[at..c]);
        at = c;
    }
    out.push(&input[at..]);
    out
}

/// What feeding gives: the records, and the error (by kind) that stopped
/// it, if any.
#[derive(Debug, PartialEq)]
struct Outcome<R> {
    records: Vec<R>,
    error: Option<&'static str>,
    pending: Vec<u8>,
}

fn kind(e: &FilterError) -> &'static str {
    match e {
        FilterError::TooLong { .. } => "TooLong",
        FilterError::BufferFull { .. } => "BufferFull",
        FilterError::Malformed(_) => "Malformed",
        // The enum is non-exhaustive: a new kind shows up as itself.
        _ => "other",
    }
}

fn run<F: Filter>(filter: &mut F, chunks: &[&[u8]]) -> Outcome<F::Record> {
    let mut records = Vec::new();
    for chunk in chunks {
        if let Err(e) = filter.get(chunk, &mut records) {
            return Outcome {
                records,
                error: Some(kind(&e)),
                pending: filter.take_pending(),
            };
        }
    }
    Outcome {
        records,
        error: None,
        pending: filter.take_pending(),
    }
}

/// Same outcome fed whole and fed in pieces.
fn split_invariant<F: Filter>(make: impl Fn() -> F, input: &[u8], idx: &[Index])
where
    F::Record: PartialEq + std::fmt::Debug,
{
    let whole = run(&mut make(), &[input]);
    let split = run(&mut make(), &pieces(input, &cuts(input.len(), idx)));
    assert_eq!(whole, split);
}

fn put_all<F: Filter>(filter: &mut F, records: &[F::Record]) -> Vec<u8> {
    let mut wire = Vec::new();
    for r in records {
        filter.put(r, &mut wire).unwrap();
    }
    wire
}

/// Bytes over a small alphabet, so that terminators are common.
fn text(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(b"ab|\r\n\0;".to_vec()), 0..max)
}

fn splits() -> impl Strategy<Value = Vec<Index>> {
    prop::collection::vec(any::<Index>(), 0..10)
}

fn terminator() -> impl Strategy<Value = &'static [u8]> {
    select(vec![&b"\n"[..], b"\r\n", b"||", b"\0", b"a|a", b"aab"])
}

/// POE's default rule, naively: after each chunk, apply
/// `^(.*?)(\x0D\x0A?|\x0A\x0D?)` to the whole buffer until it fails.
fn poe_newline_model(chunks: &[&[u8]], keep: bool) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(i) = buf.iter().position(|&b| b == b'\r' || b == b'\n') {
            let pair = if buf[i] == b'\r' { b'\n' } else { b'\r' };
            let n = if buf.get(i + 1) == Some(&pair) { 2 } else { 1 };
            out.push(buf[..if keep { i + n } else { i }].to_vec());
            buf.drain(..i + n);
        }
    }
    (out, buf)
}

/// Positions inside the two-byte newlines of `input` parsed whole.
fn pair_middles(input: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut middles = Vec::new();
    while let Some(i) = input[at..].iter().position(|&b| b == b'\r' || b == b'\n') {
        let i = at + i;
        let pair = if input[i] == b'\r' { b'\n' } else { b'\r' };
        if input.get(i + 1) == Some(&pair) {
            middles.push(i + 1);
            at = i + 2;
        } else {
            at = i + 1;
        }
    }
    middles
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    // ----- Line -----

    #[test]
    fn line_default_follows_poes_rule(input in text(200), idx in splits(), keep in any::<bool>()) {
        let chunks = pieces(&input, &cuts(input.len(), &idx));
        let mut f = Line::new().keep_terminator(keep);
        let got = run(&mut f, &chunks);
        let (records, pending) = poe_newline_model(&chunks, keep);
        prop_assert_eq!(got, Outcome { records, error: None, pending });
    }

    #[test]
    fn line_default_split_outside_pairs_is_invariant(input in text(200), idx in splits()) {
        // Move cuts that fall inside a two-byte newline (as the whole
        // input parses): then, and only then, POE's rule does not depend
        // on the split.
        let middles = pair_middles(&input);
        let mut cut = cuts(input.len(), &idx);
        for c in &mut cut {
            if middles.contains(c) {
                *c -= 1;
            }
        }
        cut.sort_unstable();
        let whole = run(&mut Line::new(), &[&input]);
        let split = run(&mut Line::new(), &pieces(&input, &cut));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn line_literal_is_split_invariant(
        input in text(200), idx in splits(), t in terminator(), keep in any::<bool>()
    ) {
        split_invariant(|| Line::literal(t).keep_terminator(keep), &input, &idx);
    }

    #[test]
    fn line_any_of_and_autodetect_are_split_invariant(input in text(200), idx in splits()) {
        split_invariant(|| Line::new().input_any_of(";|"), &input, &idx);
        split_invariant(|| Line::new().autodetect(), &input, &idx);
        split_invariant(|| Line::new().autodetect().keep_terminator(true), &input, &idx);
    }

    #[test]
    fn line_max_length_outcome_is_split_invariant(
        input in text(100), idx in splits(), t in terminator(), max in 0usize..6
    ) {
        split_invariant(|| Line::literal(t).max_length(max), &input, &idx);
        split_invariant(|| Line::new().input_any_of(";|").max_length(max), &input, &idx);
    }

    #[test]
    fn line_holds_no_more_than_its_limits(
        input in text(200), idx in splits(), t in terminator(), max in 0usize..8
    ) {
        let chunks = pieces(&input, &cuts(input.len(), &idx));
        let mut lit = Line::literal(t).max_length(max);
        let mut nl = Line::new().max_length(max);
        let mut out = Vec::new();
        for chunk in chunks {
            if lit.get(chunk, &mut out).is_ok() {
                prop_assert!(lit.pending().len() < max + t.len());
            } else {
                prop_assert!(lit.pending().is_empty());
            }
            if nl.get(chunk, &mut out).is_ok() {
                prop_assert!(nl.pending().len() <= max);
            } else {
                prop_assert!(nl.pending().is_empty());
            }
        }
        prop_assert!(out.iter().all(|r| r.len() <= max));
    }

    #[test]
    fn line_max_buffer_bounds_the_buffer(input in text(300), idx in splits(), max in 1usize..40) {
        let mut f = Line::literal("||").max_buffer(max);
        let mut out = Vec::new();
        for chunk in pieces(&input, &cuts(input.len(), &idx)) {
            let before = f.pending().len();
            match f.get(chunk, &mut out) {
                Ok(()) => prop_assert!(before + chunk.len() <= max),
                Err(e) => {
                    prop_assert_eq!(e, FilterError::BufferFull { len: before + chunk.len(), max });
                    prop_assert!(f.pending().is_empty());
                }
            }
            prop_assert!(f.pending().len() <= max);
        }
    }

    #[test]
    fn line_literal_roundtrip(
        records in prop::collection::vec(prop::collection::vec(select(b"xyz \r".to_vec()), 0..20), 0..20),
        idx in splits(),
        t in select(vec![&b"\n"[..], b"||", b"\0\0", b"abc"]),
    ) {
        let mut f = Line::literal(t);
        let wire = put_all(&mut f, &records);
        let got = run(&mut Line::literal(t), &pieces(&wire, &cuts(wire.len(), &idx)));
        prop_assert_eq!(got, Outcome { records, error: None, pending: vec![] });
    }

    #[test]
    fn line_default_roundtrip(
        records in prop::collection::vec(prop::collection::vec(select(b"xyz \t".to_vec()), 0..20), 0..20),
    ) {
        let wire = put_all(&mut Line::new(), &records);
        let got = run(&mut Line::new(), &[&wire]);
        prop_assert_eq!(got, Outcome { records, error: None, pending: vec![] });
    }

    // ----- Stream -----

    #[test]
    fn stream_is_the_concatenation(input in prop::collection::vec(any::<u8>(), 0..200), idx in splits()) {
        let got = run(&mut Stream::new(), &pieces(&input, &cuts(input.len(), &idx)));
        prop_assert!(got.records.iter().all(|r| !r.is_empty()));
        prop_assert_eq!(got.records.concat(), input.clone());
        let wire = put_all(&mut Stream::new(), &got.records);
        prop_assert_eq!(wire, input);
    }

    // ----- Block -----

    #[test]
    fn block_fixed_roundtrip_and_split_invariant(
        size in 1usize..6, n in 0usize..20, idx in splits(), tail in 0usize..6
    ) {
        let records: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; size]).collect();
        let mut wire = put_all(&mut Block::fixed(size), &records);
        let whole = run(&mut Block::fixed(size), &[&wire]);
        prop_assert_eq!(&whole.records, &records);
        wire.extend(std::iter::repeat_n(0xee, tail % size));
        split_invariant(|| Block::fixed(size), &wire, &idx);
    }

    #[test]
    fn block_prefixed_roundtrip(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..12),
        idx in splits(),
        be32 in any::<bool>(),
    ) {
        let make = || if be32 { Block::be32() } else { Block::length_prefixed() };
        let wire = put_all(&mut make(), &records);
        let got = run(&mut make(), &pieces(&wire, &cuts(wire.len(), &idx)));
        prop_assert_eq!(got, Outcome { records, error: None, pending: vec![] });
    }

    #[test]
    fn block_prefixed_outcome_is_split_invariant_even_for_garbage(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..6),
        garbage in prop::collection::vec(select(b"0123456789\0x".to_vec()), 0..30),
        idx in splits(),
        max in 0usize..30,
        be32 in any::<bool>(),
    ) {
        let make = || {
            let b = if be32 { Block::be32() } else { Block::length_prefixed() };
            b.max_length(max)
        };
        let mut wire = Vec::new();
        let mut f = make();
        for r in &records {
            let _ = f.put(r, &mut wire);
        }
        wire.extend_from_slice(&garbage);
        split_invariant(make, &wire, &idx);
    }

    // ----- RecordBlock -----

    #[test]
    fn record_block_roundtrip(
        size in 1usize..5,
        n in 0usize..8,
        extra in 0usize..4,
        idx in splits(),
    ) {
        let blocks: Vec<Vec<Vec<u8>>> = (0..n)
            .map(|b| (0..size).map(|i| format!("{b}.{i}").into_bytes()).collect())
            .collect();
        let make = || RecordBlock::new(Line::literal("\n"), size);
        let mut wire = put_all(&mut make(), &blocks);
        let leftover: Vec<Vec<u8>> = (0..extra % size).map(|i| format!("x{i}").into_bytes()).collect();
        for r in &leftover {
            wire.extend_from_slice(r);
            wire.push(b'\n');
        }
        let mut f = make();
        let got = run(&mut f, &pieces(&wire, &cuts(wire.len(), &idx)));
        prop_assert_eq!(got, Outcome { records: blocks, error: None, pending: vec![] });
        prop_assert_eq!(f.held_records(), leftover.as_slice());
    }

    // ----- Stackable -----

    #[test]
    fn stackable_roundtrip_and_split_invariant(
        records in prop::collection::vec(prop::collection::vec(select(b"ab\r\0 ".to_vec()), 0..20), 0..10),
        idx in splits(),
        be32 in any::<bool>(),
    ) {
        let make = || {
            let wire_side = if be32 { Block::be32() } else { Block::length_prefixed() };
            Stackable::new(wire_side, Line::literal("\n"))
        };
        let wire = put_all(&mut make(), &records);
        let got = run(&mut make(), &pieces(&wire, &cuts(wire.len(), &idx)));
        prop_assert_eq!(got, Outcome { records, error: None, pending: vec![] });
        // Any bytes: same outcome however split.
        let mut noisy = wire.clone();
        noisy.extend_from_slice(b"7\0ab\ncd");
        split_invariant(make, &noisy, &idx);
    }

    // ----- Map and Grep -----

    #[test]
    fn map_and_grep_roundtrip_and_split_invariant(
        records in prop::collection::vec(prop::collection::vec(select(b"ab#".to_vec()), 0..8), 0..12),
        idx in splits(),
    ) {
        let make_map = || Map::new(Line::literal("\n"), |l: Vec<u8>| l.len(), |n: &usize| vec![b'a'; *n]);
        let lens: Vec<usize> = records.iter().map(Vec::len).collect();
        let wire = put_all(&mut make_map(), &lens);
        let got = run(&mut make_map(), &pieces(&wire, &cuts(wire.len(), &idx)));
        prop_assert_eq!(got.records, lens);

        let make_grep = || Grep::new(
            Line::literal("\n"),
            |l: &Vec<u8>| !l.starts_with(b"#"),
            |l: &Vec<u8>| !l.is_empty(),
        );
        let wire = put_all(&mut make_grep(), &records);
        let got = run(&mut make_grep(), &pieces(&wire, &cuts(wire.len(), &idx)));
        let want: Vec<Vec<u8>> = records
            .iter()
            .filter(|r| !r.is_empty() && !r.starts_with(b"#"))
            .cloned()
            .collect();
        prop_assert_eq!(got.records, want);
        split_invariant(make_grep, &wire, &idx);
    }
}

// ----- Reference -----

#[cfg(feature = "reference")]
mod reference {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use rpoe::filter::Reference;

    use super::*;

    /// A recursive value for `Reference`: nesting, enums, maps, zero-sized
    /// elements, all of which the decoder's limits count.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf(i64),
        Text(String),
        Units(Vec<()>),
        Node(Vec<Tree>),
        Map(BTreeMap<String, Tree>),
        Pair(Box<Tree>, Option<u8>),
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Tree::Leaf),
            any::<String>().prop_map(Tree::Text),
            (0usize..300).prop_map(|n| Tree::Units(vec![(); n])),
        ];
        leaf.prop_recursive(6, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Tree::Node),
                prop::collection::btree_map(any::<String>(), inner.clone(), 0..3)
                    .prop_map(Tree::Map),
                (inner, any::<Option<u8>>()).prop_map(|(t, n)| Tree::Pair(Box::new(t), n)),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]


    #[test]
    fn reference_roundtrip(
        values in prop::collection::vec(
            (any::<String>(), prop::collection::vec(any::<i64>(), 0..5), any::<Option<bool>>()),
            0..8,
        ),
        idx in splits(),
        json in any::<bool>(),
    ) {
        let make = || if json { Reference::json() } else { Reference::new() };
        let wire = put_all(&mut make(), &values);
        let got = run(&mut make(), &pieces(&wire, &cuts(wire.len(), &idx)));
        prop_assert_eq!(got, Outcome { records: values, error: None, pending: vec![] });
    }

    #[test]
    fn reference_roundtrip_nested(
        values in prop::collection::vec(tree(), 0..4),
        idx in splits(),
        json in any::<bool>(),
    ) {
        let make = || if json { Reference::json() } else { Reference::new() };
        let wire = put_all(&mut make(), &values);
        let got = run(&mut make(), &pieces(&wire, &cuts(wire.len(), &idx)));
        prop_assert_eq!(got, Outcome { records: values, error: None, pending: vec![] });
    }

    #[test]
    fn reference_garbage_in_a_frame_is_an_error_not_a_panic(
        payload in prop::collection::vec(any::<u8>(), 0..200),
        idx in splits(),
    ) {
        // Well-framed garbage reaches the decoder (and its limits) rather
        // than failing at the length prefix.
        let mut wire = format!("{}\0", payload.len()).into_bytes();
        wire.extend_from_slice(&payload);
        split_invariant(Reference::<Tree>::new, &wire, &idx);
        split_invariant(|| Reference::<Tree>::new().max_depth(4).max_decoded(64), &wire, &idx);
        split_invariant(Reference::<Tree>::json, &wire, &idx);
    }

    #[test]
    fn reference_garbage_is_an_error_not_a_panic(
        input in prop::collection::vec(any::<u8>(), 0..100),
        idx in splits(),
    ) {
        split_invariant(Reference::<(String, Vec<u32>)>::new, &input, &idx);
        split_invariant(Reference::<(String, Vec<u32>)>::json, &input, &idx);
    }

    }
}
