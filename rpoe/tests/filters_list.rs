//! POE's list-based filter interface (`get_many`, `put_many`,
//! `get_pending`, `GetOne`): the cases POE's scenarios 64 and 65 do not
//! show, and properties tying it to the streaming interface.
//!
//! The properties say why the interface is safe to mix with the streaming
//! one: draining `get_one` yields exactly what `get_many` of the same
//! chunks yields, and leaves the same bytes pending; a filter switched
//! mid-stream after any `get_one` sees every byte not yet cut.

use proptest::prelude::*;

use rpoe::filter::{
    Block, Filter, FilterError, GetOne, Grep, Line, Map, RecordBlock, Stackable, Stream,
};

/// Drain `get_one` after one `get_one_start` of `chunks`.
fn drain<F: GetOne>(filter: &mut F, chunks: &[&[u8]]) -> Result<Vec<F::Record>, FilterError> {
    filter.get_one_start(chunks)?;
    let mut out = Vec::new();
    while let Some(record) = filter.get_one()? {
        out.push(record);
    }
    Ok(out)
}

fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[test]
fn get_many_joins_where_get_does_not() {
    // Fed one chunk per call, a CR ending a chunk is a newline of its own.
    let mut streaming = Line::new();
    let mut out = Vec::new();
    for chunk in [&b"a\r"[..], b"\nb\n"] {
        streaming.get(chunk, &mut out).unwrap();
    }
    assert_eq!(out, [v("a"), v(""), v("b")]);
    // Fed together, the chunks are one input.
    let mut list = Line::new();
    assert_eq!(list.get_many(&["a\r", "\nb\n"]).unwrap(), [v("a"), v("b")]);
}

#[test]
fn stream_get_after_get_one_start_includes_the_queued_bytes() {
    let mut stream = Stream::new();
    stream.get_one_start(&["ab"]).unwrap();
    let mut out = Vec::new();
    stream.get(b"cd", &mut out).unwrap();
    assert_eq!(out, [v("abcd")]);
    assert_eq!(stream.get_pending(), None);
    // Nothing queued: a chunk is its own record, as before.
    stream.get(b"ef", &mut out).unwrap();
    assert_eq!(out, [v("abcd"), v("ef")]);
    // No chunks and nothing queued: nothing.
    assert!(stream.get_many::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn block_fixed_put_many_checked_and_unchecked() {
    let mut checked = Block::fixed(3);
    // The concatenation is checked, not each record.
    assert_eq!(
        checked.put_many(&[v("a"), v("bcdef")]).unwrap(),
        [v("abcdef")]
    );
    assert!(matches!(
        checked.put_many(&[v("abcd")]),
        Err(FilterError::Malformed(_))
    ));
    // POE's put of no records is one empty chunk, in both modes.
    assert_eq!(checked.put_many(&[]).unwrap(), [Vec::<u8>::new()]);
    let mut as_poe = Block::fixed(3).check_put(false);
    assert_eq!(as_poe.put_many(&[v("abcd")]).unwrap(), [v("abcd")]);
    let mut wire = Vec::new();
    as_poe.put(&v("ab"), &mut wire).unwrap();
    assert_eq!(wire, b"ab");
    // check_put has no effect on prefixed frames: one chunk per record.
    let mut prefixed = Block::be32().check_put(false);
    assert_eq!(
        prefixed.put_many(&[v("a"), v("")]).unwrap(),
        [b"\0\0\0\x01a".to_vec(), b"\0\0\0\0".to_vec()]
    );
}

#[test]
fn prefixed_put_many_stops_at_a_record_over_the_limit() {
    let mut blocks = Block::length_prefixed().max_length(2);
    assert_eq!(
        blocks.put_many(&[v("ok"), v("long")]),
        Err(FilterError::TooLong { len: 4, max: 2 })
    );
}

#[test]
fn record_block_put_many_refuses_a_short_block_when_checked() {
    let mut pairs = RecordBlock::new(Line::literal("\n"), 2).check_put(true);
    assert!(matches!(
        pairs.put_many(&[vec![v("a"), v("b")], vec![v("c")]]),
        Err(FilterError::Malformed(_))
    ));
    assert_eq!(
        pairs.put_many(&[vec![v("a"), v("b")]]).unwrap(),
        [v("a\n"), v("b\n")]
    );
}

#[test]
fn record_block_over_fixed_block_gives_one_chunk_per_block() {
    // Each block's records go to the inner put_many together.
    let mut blocks = RecordBlock::new(Block::fixed(1), 2);
    assert_eq!(
        blocks
            .put_many(&[vec![v("a"), v("b")], vec![v("c"), v("d")]])
            .unwrap(),
        [v("ab"), v("cd")]
    );
}

#[test]
fn map_put_many_keeps_the_inner_chunking_and_fails_whole() {
    let mut bytes = Map::try_new(
        Block::fixed(1),
        |r: Vec<u8>| Ok(r[0]),
        |b: &u8| {
            if *b == 0 {
                Err(FilterError::Malformed("zero".into()))
            } else {
                Ok(vec![*b])
            }
        },
    );
    assert_eq!(bytes.put_many(&[1, 2, 3]).unwrap(), [vec![1, 2, 3]]);
    assert!(bytes.put_many(&[1, 0]).is_err());
}

#[test]
fn grep_put_many_splits_runs_around_refused_records() {
    let mut odd = Grep::new(Block::fixed(1), |_| true, |r: &Vec<u8>| r[0] % 2 == 1);
    assert_eq!(
        odd.put_many(&[vec![1], vec![3], vec![4], vec![5]]).unwrap(),
        [vec![1, 3], vec![5]]
    );
    assert!(odd.put_many(&[vec![2]]).unwrap().is_empty());

    // The predicate sees each record once, in order.
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    let mut logged = Grep::new(
        Line::literal("\n"),
        |_| true,
        move |r: &Vec<u8>| {
            log.borrow_mut().push(r.clone());
            r != b"b"
        },
    );
    logged.put_many(&[v("a"), v("b"), v("c")]).unwrap();
    assert_eq!(*seen.borrow(), [v("a"), v("b"), v("c")]);
}

#[test]
fn stackable_put_many_stops_when_the_top_gives_nothing() {
    // The Grep on top refuses everything: the Block below writes nothing,
    // not even its empty fixed-size chunk.
    let mut stack = Stackable::new(
        Block::fixed(2),
        Grep::new(Line::literal("\n"), |_| true, |_| false),
    );
    assert!(stack.put_many(&[v("x")]).unwrap().is_empty());
}

#[test]
fn get_one_errors_empty_the_filter() {
    let mut blocks = Block::length_prefixed();
    blocks.get_one_start(&["2\0abx\0"]).unwrap();
    assert_eq!(blocks.get_one().unwrap(), Some(v("ab")));
    assert!(matches!(blocks.get_one(), Err(FilterError::Malformed(_))));
    assert_eq!(blocks.get_pending(), None);

    let mut small = Line::new().max_buffer(4);
    assert_eq!(
        small.get_one_start(&["abc", "de"]),
        Err(FilterError::BufferFull { len: 5, max: 4 })
    );
    assert_eq!(small.get_pending(), None);

    // An unterminated line already over the limit is refused by get_one,
    // as by get.
    let mut short = Line::new().max_length(3);
    short.get_one_start(&["abcdef"]).unwrap();
    assert_eq!(
        short.get_one(),
        Err(FilterError::TooLong { len: 6, max: 3 })
    );
}

#[test]
fn autodetect_resolves_a_lone_newline_on_the_next_get_one() {
    let mut lines = Line::new().autodetect();
    lines.get_one_start(&["a\r"]).unwrap();
    assert_eq!(lines.get_one().unwrap(), Some(v("a")));
    lines.get_one_start(&["\nb\r\nc\n"]).unwrap();
    // The LF completes the CRLF of the first line; CRLF is the newline.
    assert_eq!(lines.get_one().unwrap(), Some(v("b")));
    assert_eq!(lines.get_one().unwrap(), None);
    assert_eq!(lines.get_pending(), Some(v("c\n")));
}

#[test]
fn switching_filters_between_get_one_calls() {
    // A header, then fixed-size records, in one read: the header filter
    // must not cut the body.
    let mut header = Line::literal("\n");
    header.get_one_start(&["COUNT 2\nabcdef"]).unwrap();
    assert_eq!(header.get_one().unwrap(), Some(v("COUNT 2")));
    let mut body = Block::fixed(3);
    assert_eq!(
        drain(&mut body, &[&header.take_pending()]).unwrap(),
        [v("abc"), v("def")]
    );
}

#[test]
fn boxed_filters_forward_the_overrides() {
    let mut boxed: Box<Block> = Box::new(Block::fixed(2));
    assert_eq!(boxed.put_many(&[v("ab"), v("cd")]).unwrap(), [v("abcd")]);
    let mut dynamic: Box<dyn Filter<Record = Vec<u8>>> = Box::new(Block::fixed(2));
    assert_eq!(dynamic.put_many(&[v("ab"), v("cd")]).unwrap(), [v("abcd")]);
    assert_eq!(dynamic.get_many(&["a", "bc"]).unwrap(), [v("ab")]);
    assert_eq!(dynamic.get_pending(), Some(v("c")));
    assert_eq!(drain(&mut boxed, &[b"xy"]).unwrap(), [v("xy")]);
}

/// Line filters built from one of a few configurations.
fn line(config: u8) -> Line {
    match config % 4 {
        0 => Line::new(),
        1 => Line::literal("\n"),
        2 => Line::literal("<>"),
        _ => Line::new().autodetect(),
    }
}

fn chunks_of(input: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    for &s in sizes {
        let end = (at + s).min(input.len());
        out.push(input[at..end].to_vec());
        at = end;
    }
    out.push(input[at..].to_vec());
    out
}

proptest! {
    /// Draining `get_one` is `get_many`, record for record, with the same
    /// bytes left pending.
    #[test]
    fn get_one_drains_to_get_many(
        input in proptest::collection::vec(prop::sample::select(b"ab\r\n<>".to_vec()), 0..40),
        sizes in proptest::collection::vec(0usize..8, 0..6),
        config in 0u8..4,
    ) {
        let chunks = chunks_of(&input, &sizes);
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let mut many = line(config);
        let mut one = line(config);
        prop_assert_eq!(many.get_many(&refs).unwrap(), drain(&mut one, &refs).unwrap());
        prop_assert_eq!(many.pending(), one.pending());

        let mut many = Block::fixed(3);
        let mut one = Block::fixed(3);
        prop_assert_eq!(many.get_many(&refs).unwrap(), drain(&mut one, &refs).unwrap());
        prop_assert_eq!(many.pending(), one.pending());
    }

    /// After any number of `get_one` calls, what was cut plus what is
    /// pending (for a literal terminator, re-terminated) is the input:
    /// nothing is lost or framed ahead of time.
    #[test]
    fn get_one_cuts_nothing_ahead(
        input in proptest::collection::vec(prop::sample::select(b"ab\n".to_vec()), 0..40),
        calls in 0usize..10,
    ) {
        let mut lines = Line::literal("\n");
        lines.get_one_start(&[&input]).unwrap();
        let mut seen = Vec::new();
        for _ in 0..calls {
            match lines.get_one().unwrap() {
                Some(mut l) => { l.push(b'\n'); seen.extend(l); }
                None => break,
            }
        }
        seen.extend_from_slice(lines.pending());
        prop_assert_eq!(seen, input);
    }

    /// Length-prefixed frames round-trip through `put_many` and one
    /// `get_many` of the chunks, however many records there are.
    #[test]
    fn prefixed_round_trip(records in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..20), 0..8)
    ) {
        let mut blocks = Block::length_prefixed();
        let chunks = blocks.put_many(&records).unwrap();
        prop_assert_eq!(chunks.len(), records.len());
        prop_assert_eq!(blocks.get_many(&chunks).unwrap(), records);
    }

    /// The wrappers' `get_one` (pulling from the inner filter one record
    /// at a time) yields what their `get_many` yields.
    #[test]
    fn wrappers_get_one_drains_to_get_many(
        lines in proptest::collection::vec(prop::sample::select(vec!["", "a", "#x", "bb"]), 0..12),
        split in 0usize..64,
    ) {
        // Lines, framed in length-prefixed frames of two lines each.
        let mut wire = Vec::new();
        let mut frames = Block::length_prefixed();
        for pair in lines.chunks(2) {
            let payload: Vec<u8> = pair.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
            frames.put(&payload, &mut wire).unwrap();
        }
        let cut = split.min(wire.len());
        let refs = [&wire[..cut], &wire[cut..]];

        let stack = || Stackable::new(Block::length_prefixed(), Line::literal("\n"));
        let (mut many, mut one) = (stack(), stack());
        prop_assert_eq!(many.get_many(&refs).unwrap(), drain(&mut one, &refs).unwrap());

        let grep = || Grep::input_only(stack(), |l: &Vec<u8>| !l.starts_with(b"#"));
        let (mut many, mut one) = (grep(), grep());
        prop_assert_eq!(many.get_many(&refs).unwrap(), drain(&mut one, &refs).unwrap());

        let map = || Map::new(stack(), |l: Vec<u8>| l.len(), |n: &usize| vec![b'x'; *n]);
        let (mut many, mut one) = (map(), map());
        prop_assert_eq!(many.get_many(&refs).unwrap(), drain(&mut one, &refs).unwrap());

        let triples = || RecordBlock::new(stack(), 3);
        let (mut many, mut one) = (triples(), triples());
        prop_assert_eq!(many.get_many(&refs).unwrap(), drain(&mut one, &refs).unwrap());
        prop_assert_eq!(many.held_records(), one.held_records());
    }
}

#[cfg(feature = "reference")]
#[test]
fn reference_get_one_decodes_one_value_at_a_time_and_keeps_the_rest() {
    use rpoe::filter::Reference;
    let mut writer: Reference<(u32, String)> = Reference::new();
    let frames = writer
        .put_many(&[(1, "one".to_string()), (2, "two".to_string())])
        .unwrap();
    let joined: Vec<u8> = frames.concat();
    // Split mid-frame: the second value is not whole until the last byte.
    let (head, tail) = joined.split_at(joined.len() - 1);
    let mut reader: Reference<(u32, String)> = Reference::new();
    reader.get_one_start(&[head]).unwrap();
    assert_eq!(reader.get_one().unwrap(), Some((1, "one".to_string())));
    assert_eq!(reader.get_one().unwrap(), None);
    assert!(reader.get_pending().is_some());
    reader.get_one_start(&[tail]).unwrap();
    assert_eq!(reader.get_one().unwrap(), Some((2, "two".to_string())));
    assert_eq!(reader.get_one().unwrap(), None);
    // Agrees with get_many over the same bytes.
    let mut list: Reference<(u32, String)> = Reference::new();
    assert_eq!(list.get_many(&[head, tail]).unwrap().len(), 2);
}
