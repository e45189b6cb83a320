//! Example-based tests of the filters other than Line (see
//! `filters_line.rs`): framing, options, and every limit and error.

use rpoe::filter::{Block, Filter, FilterError, Grep, Line, Map, RecordBlock, Stackable, Stream};

mod filter_util;
use filter_util::*;

// ----- Stream -----

#[test]
fn stream_passes_chunks_through() {
    let mut f = Stream::new();
    let out = feed(&mut f, &[b"ab", b"", b"\r\n", b"\0"]).unwrap();
    assert_eq!(out, [v("ab"), v("\r\n"), v("\0")]);
    assert!(f.pending().is_empty());
    assert!(f.take_pending().is_empty());
    assert_eq!(put_all(&mut f, &[v("x\n"), v(""), v("y")]), b"x\ny");
}

// ----- Block: fixed -----

#[test]
fn block_fixed_cuts_equal_records() {
    let mut f = Block::fixed(3);
    let out = feed(&mut f, &[b"ab", b"cdefg", b"h"]).unwrap();
    assert_eq!(strs(&out), ["abc", "def"]);
    assert_eq!(f.pending(), b"gh");
    assert_eq!(f.take_pending(), b"gh");
    assert!(feed(&mut f, &[b"ijk"]).unwrap() == [v("ijk")]);
}

#[test]
fn block_fixed_put_takes_whole_blocks_only() {
    let mut f = Block::fixed(2);
    assert_eq!(put_all(&mut f, &[v("ab"), v("cdef"), v("")]), b"abcdef");
    let mut wire = b"keep".to_vec();
    let err = f.put(&v("abc"), &mut wire).unwrap_err();
    assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
    assert_eq!(wire, b"keep");
}

#[test]
fn block_fixed_max_buffer() {
    let mut f = Block::fixed(4).max_buffer(6);
    feed(&mut f, &[b"abc"]).unwrap();
    let err = f.get(b"defg", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::BufferFull { len: 7, max: 6 });
    assert!(f.pending().is_empty());
}

#[test]
#[should_panic(expected = "at least 1")]
fn block_fixed_zero_panics() {
    let _ = Block::fixed(0);
}

// ----- Block: decimal length prefix -----

#[test]
fn block_length_prefixed_matches_poe_framing() {
    let mut f = Block::length_prefixed();
    let wire = put_all(&mut f, &[v("hello"), v(""), vec![0, 1, 2]]);
    assert_eq!(wire, b"5\0hello0\x003\0\0\x01\x02");
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    let out = feed(&mut Block::length_prefixed(), &bytes).unwrap();
    assert_eq!(out, [v("hello"), v(""), vec![0, 1, 2]]);
    // POE's default is this framing.
    assert_eq!(feed(&mut Block::default(), &[&wire]).unwrap().len(), 3);
}

#[test]
fn block_length_prefixed_leading_zeros() {
    let out = feed(&mut Block::length_prefixed(), &[b"003\0abc"]).unwrap();
    assert_eq!(out, [v("abc")]);
}

#[test]
fn block_pending_keeps_a_partial_frame_whole() {
    let mut f = Block::length_prefixed();
    feed(&mut f, &[b"5\0hel"]).unwrap();
    assert_eq!(f.pending(), b"5\0hel");
    let rest = f.take_pending();
    // The taken bytes restart cleanly in another filter.
    let mut g = Block::length_prefixed();
    let out = feed(&mut g, &[&rest, b"lo"]).unwrap();
    assert_eq!(out, [v("hello")]);
    // And the first filter is empty and in sync again.
    assert_eq!(feed(&mut f, &[b"1\0x"]).unwrap(), [v("x")]);
}

#[test]
fn block_length_prefixed_malformed_prefixes() {
    for bad in [&b"x"[..], b"12a", b"\0", b"-1\0", b" 1\0", b"1 \0"] {
        let mut f = Block::length_prefixed();
        let err = f.get(bad, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, FilterError::Malformed(_)), "{bad:?}: {err:?}");
        assert!(f.pending().is_empty());
    }
    let mut f = Block::length_prefixed();
    let err = f.get(&[b'0'; 21], &mut Vec::new()).unwrap_err();
    assert!(
        matches!(&err, FilterError::Malformed(m) if m.contains("20 digits")),
        "{err:?}"
    );
    // Twenty digits of zeros are still a (zero) length.
    let mut zeros = vec![b'0'; 20];
    zeros.push(0);
    assert_eq!(
        feed(&mut Block::length_prefixed(), &[&zeros]).unwrap(),
        [v("")]
    );
}

#[test]
fn block_length_prefixed_too_long_from_the_digits_alone() {
    let mut f = Block::length_prefixed().max_length(99);
    assert!(feed(&mut f, &[b"99"]).unwrap().is_empty());
    // The third digit already makes it 100+: no need to wait for NUL.
    let err = f.get(b"9", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 999, max: 99 });
    // A huge number does not overflow.
    let mut f = Block::length_prefixed().max_length(usize::MAX - 1);
    let err = f
        .get(b"99999999999999999999\0", &mut Vec::new())
        .unwrap_err();
    assert!(matches!(err, FilterError::TooLong { .. }), "{err:?}");
}

#[test]
fn block_length_prefixed_put_too_long() {
    let mut f = Block::length_prefixed().max_length(3);
    let mut wire = Vec::new();
    f.put(&v("abc"), &mut wire).unwrap();
    assert_eq!(
        f.put(&v("abcd"), &mut wire).unwrap_err(),
        FilterError::TooLong { len: 4, max: 3 }
    );
    assert_eq!(wire, b"3\0abc");
}

#[test]
fn block_length_prefixed_max_buffer() {
    let mut f = Block::length_prefixed().max_buffer(10);
    feed(&mut f, &[b"20\0abcde"]).unwrap();
    let err = f.get(b"fgh", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::BufferFull { len: 11, max: 10 });
    assert!(f.pending().is_empty());
}

#[test]
fn block_records_before_an_error_are_delivered() {
    let mut f = Block::length_prefixed();
    let mut out = Vec::new();
    let err = f.get(b"1\0a2\0bcx", &mut out).unwrap_err();
    assert!(matches!(err, FilterError::Malformed(_)));
    assert_eq!(strs(&out), ["a", "bc"]);
}

// ----- Block: be32 -----

#[test]
fn block_be32_roundtrip_and_limits() {
    let mut f = Block::be32();
    let wire = put_all(&mut f, &[v("abc"), v("")]);
    assert_eq!(wire, b"\0\0\0\x03abc\0\0\0\0");
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(feed(&mut Block::be32(), &bytes).unwrap(), [v("abc"), v("")]);

    let mut f = Block::be32().max_length(1000);
    let err = f.get(b"\0\0\x03\xe9", &mut Vec::new()).unwrap_err();
    assert_eq!(
        err,
        FilterError::TooLong {
            len: 1001,
            max: 1000
        }
    );
    let err = f.put(&vec![0; 1001], &mut Vec::new()).unwrap_err();
    assert_eq!(
        err,
        FilterError::TooLong {
            len: 1001,
            max: 1000
        }
    );

    let mut f = Block::be32();
    feed(&mut f, &[b"\0\0\0\x05ab"]).unwrap();
    assert_eq!(f.pending(), b"\0\0\0\x05ab");
}

// ----- RecordBlock -----

#[test]
fn record_block_groups_records() {
    let mut f = RecordBlock::new(Line::literal("\n"), 3);
    let out = feed(&mut f, &[b"a\nb\n", b"c\nd\ne", b"\nf\ng"]).unwrap();
    assert_eq!(
        out,
        [vec![v("a"), v("b"), v("c")], vec![v("d"), v("e"), v("f")]]
    );
    assert!(f.held_records().is_empty());
    assert_eq!(f.pending(), b"g");
    assert_eq!(f.take_pending(), b"g");
    assert!(f.held_records().is_empty());
    feed(&mut f, &[b"x\ny\n"]).unwrap();
    assert_eq!(f.held_records(), [v("x"), v("y")]);
    assert_eq!(f.take_held_records(), [v("x"), v("y")]);
    assert!(f.held_records().is_empty());
}

#[test]
fn record_block_put_flattens_and_check_put() {
    let mut f = RecordBlock::new(Line::literal("\n"), 2);
    assert_eq!(
        put_all(&mut f, &[vec![v("a"), v("b")], vec![v("c")]]),
        b"a\nb\nc\n"
    );
    let mut f = RecordBlock::new(Line::literal("\n"), 2).check_put(true);
    assert_eq!(put_all(&mut f, &[vec![v("a"), v("b")]]), b"a\nb\n");
    let mut wire = Vec::new();
    let err = f.put(&vec![v("c")], &mut wire).unwrap_err();
    assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
    assert!(wire.is_empty());
}

#[test]
fn record_block_inner_errors_pass_through() {
    let mut f = RecordBlock::new(Line::literal("\n").max_length(2), 2);
    let mut out = Vec::new();
    let err = f.get(b"a\nb\nc\nlong\n", &mut out).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 4, max: 2 });
    assert_eq!(out, [vec![v("a"), v("b")]]);
    assert_eq!(f.held_records(), [v("c")]);
    assert_eq!(f.inner().pending(), b"");
    let _inner: Line = f.into_inner();
}

#[test]
#[should_panic(expected = "at least 1")]
fn record_block_zero_panics() {
    let _ = RecordBlock::new(Stream::new(), 0);
}

// ----- Map and Grep -----

#[test]
fn map_converts_both_ways() {
    let mut f = Map::new(
        Line::literal("\n"),
        |l: Vec<u8>| String::from_utf8_lossy(&l).len(),
        |n: &usize| vec![b'*'; *n],
    );
    assert_eq!(feed(&mut f, &[b"abc\n\nxy", b"\n"]).unwrap(), [3, 0, 2]);
    assert_eq!(put_all(&mut f, &[2, 0]), b"**\n\n");
    assert!(f.pending().is_empty());
}

#[test]
fn map_fallible_conversions() {
    let mut f = Map::try_new(
        Line::literal("\n"),
        |l: Vec<u8>| String::from_utf8(l).map_err(|e| FilterError::Malformed(e.to_string())),
        |s: &String| {
            if s.contains('\n') {
                Err(FilterError::Malformed("newline in a line".into()))
            } else {
                Ok(s.clone().into_bytes())
            }
        },
    );
    let mut out = Vec::new();
    let err = f.get(b"ok\n\xff\nlater\n", &mut out).unwrap_err();
    assert!(matches!(err, FilterError::Malformed(_)));
    assert_eq!(out, ["ok"]);
    let mut wire = Vec::new();
    assert!(f.put(&"a\nb".to_string(), &mut wire).is_err());
    assert!(wire.is_empty());
    f.put(&"fine".to_string(), &mut wire).unwrap();
    assert_eq!(wire, b"fine\n");
    // The inner filter's own errors come through too.
    let mut f = Map::new(
        Line::new().max_length(1),
        |l: Vec<u8>| l,
        |l: &Vec<u8>| l.clone(),
    );
    assert!(matches!(
        f.get(b"abc\n", &mut Vec::new()),
        Err(FilterError::TooLong { .. })
    ));
    assert_eq!(format!("{f:?}").split('{').next(), Some("Map "));
}

#[test]
fn grep_filters_both_ways() {
    let mut f = Grep::new(
        Line::literal("\n"),
        |l: &Vec<u8>| !l.starts_with(b"#"),
        |l: &Vec<u8>| !l.is_empty(),
    );
    assert_eq!(
        strs(&feed(&mut f, &[b"#c\na\n#d\nb\n"]).unwrap()),
        ["a", "b"]
    );
    assert_eq!(put_all(&mut f, &[v("x"), v(""), v("#y")]), b"x\n#y\n");
    let mut f = Grep::input_only(Stream::new(), |c: &Vec<u8>| c.len() > 1);
    assert_eq!(feed(&mut f, &[b"a", b"bc"]).unwrap(), [v("bc")]);
    assert_eq!(put_all(&mut f, &[v("a")]), b"a");
    assert!(f.inner().pending().is_empty());
}

// ----- Stackable -----

#[test]
fn stackable_runs_first_then_second() {
    let mut f = Stackable::new(Block::length_prefixed(), Line::literal("\n"));
    let out = feed(&mut f, &[b"4\0a\nb", b"\n4\0c\nd"]).unwrap();
    assert_eq!(strs(&out), ["a", "b"]);
    assert_eq!(f.pending(), b"4\0c\nd");
    assert!(f.second().pending().is_empty());
    assert_eq!(put_all(&mut f, &[v("xy")]), b"3\0xy\n");
}

#[test]
fn stackable_second_holds_decoded_bytes() {
    let mut f = Stackable::new(Block::be32(), Line::literal("\n"));
    feed(&mut f, &[b"\0\0\0\x02ab"]).unwrap();
    assert!(f.pending().is_empty());
    assert_eq!(f.second().pending(), b"ab");
    let (_first, mut second) = f.into_parts();
    assert_eq!(second.take_pending(), b"ab");
}

#[test]
fn stackable_push_three_layers() {
    let mut f = Stackable::new(Line::literal("\n"), Stream::new()).push(Map::new(
        Block::fixed(2),
        |b: Vec<u8>| b.len(),
        |n: &usize| vec![b'.'; *n],
    ));
    assert_eq!(feed(&mut f, &[b"abcd\n", b"ef\n"]).unwrap(), [2, 2, 2]);
    assert_eq!(put_all(&mut f, &[2]), b"..\n");
    assert!(f.first().first().pending().is_empty());
}

#[test]
fn stackable_skips_empty_encodings() {
    let mut f = Stackable::new(
        Line::literal("\n"),
        Grep::new(
            Stream::new(),
            |_: &Vec<u8>| true,
            |r: &Vec<u8>| r != b"drop",
        ),
    );
    assert_eq!(
        put_all(&mut f, &[v("a"), v("drop"), v(""), v("b")]),
        b"a\nb\n"
    );
}

#[test]
fn stackable_errors_from_either_layer() {
    let mut f = Stackable::new(Line::literal("\n").max_length(3), Block::fixed(2));
    let mut out = Vec::new();
    assert!(matches!(
        f.get(b"ab\nabcd\n", &mut out),
        Err(FilterError::TooLong { len: 4, max: 3 })
    ));
    assert_eq!(out, [v("ab")]);
    let mut f = Stackable::new(Stream::new(), Block::length_prefixed());
    assert!(matches!(
        f.get(b"x", &mut Vec::new()),
        Err(FilterError::Malformed(_))
    ));
    // A put error from the second layer writes nothing.
    let mut f = Stackable::new(Line::new(), Block::fixed(2));
    let mut wire = Vec::new();
    assert!(f.put(&v("abc"), &mut wire).is_err());
    assert!(wire.is_empty());
    f.first_mut().take_pending();
    f.second_mut().take_pending();
}

// ----- Reference -----

#[cfg(feature = "reference")]
mod reference {
    use std::collections::HashMap;

    use rpoe::filter::{Filter, FilterError, Format, Reference};

    use super::filter_util::*;

    type Value = (String, Vec<u32>, Option<i64>, HashMap<String, bool>);

    fn value(n: u32) -> Value {
        let mut m = HashMap::new();
        m.insert(format!("k{n}"), n.is_multiple_of(2));
        (format!("v{n}"), (0..n).collect(), Some(-i64::from(n)), m)
    }

    #[test]
    fn reference_postcard_and_json_roundtrip() {
        for mut f in [Reference::<Value>::new(), Reference::json()] {
            let sent: Vec<Value> = (0..5).map(value).collect();
            let wire = put_all(&mut f, &sent);
            let bytes: Vec<&[u8]> = wire.chunks(3).collect();
            assert_eq!(feed(&mut f, &bytes).unwrap(), sent, "{:?}", f.format());
            assert!(f.pending().is_empty());
        }
        assert_eq!(Reference::<u8>::default().format(), Format::Postcard);
        assert_eq!(
            Reference::<u8>::with_format(Format::Json).format(),
            Format::Json
        );
    }

    #[test]
    fn reference_uses_poe_framing() {
        let mut f = Reference::<String>::json();
        assert_eq!(put_all(&mut f, &["hi".to_string()]), b"4\0\"hi\"");
        let mut f = Reference::<u8>::new();
        assert_eq!(put_all(&mut f, &[7]), b"1\0\x07");
    }

    #[test]
    fn reference_malformed_values() {
        // Not a string.
        let mut f = Reference::<String>::json();
        let err = f.get(b"1\x007", &mut Vec::new()).unwrap_err();
        assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
        // Trailing bytes after a postcard u8.
        let mut f = Reference::<u8>::new();
        let err = f.get(b"2\0\x07\x07", &mut Vec::new()).unwrap_err();
        assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
        // Bad framing.
        let mut f = Reference::<u8>::new();
        let err = f.get(b"?", &mut Vec::new()).unwrap_err();
        assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
        // Values decoded before a bad frame are delivered.
        let mut f = Reference::<u8>::new();
        let mut out = Vec::new();
        assert!(f.get(b"1\0\x051\0\x06\x002\0\x07", &mut out).is_err());
        assert_eq!(out, [5, 6]);
    }

    #[test]
    fn reference_huge_inner_length_does_not_allocate() {
        // A 10-byte frame claiming a vector of 2^62 u64s: the length is a
        // postcard varint, seven bits a byte, low bits first.
        let mut frame = vec![0x80; 8];
        frame.extend_from_slice(&[0x40, 0]);
        let mut wire = format!("{}\0", frame.len()).into_bytes();
        wire.extend_from_slice(&frame);
        let mut f = Reference::<Vec<u64>>::new();
        let err = f.get(&wire, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn reference_limits() {
        let mut f = Reference::<Vec<u8>>::new().max_frame(10);
        let mut wire = Vec::new();
        f.put(&vec![1; 9], &mut wire).unwrap(); // 1 length byte + 9
        assert_eq!(
            f.put(&vec![1; 10], &mut wire).unwrap_err(),
            FilterError::TooLong { len: 11, max: 10 }
        );
        let err = f.get(b"11\0", &mut Vec::new()).unwrap_err();
        assert_eq!(err, FilterError::TooLong { len: 11, max: 10 });

        let mut f = Reference::<String>::json().max_frame(4);
        assert_eq!(
            f.put(&"abc".to_string(), &mut Vec::new()).unwrap_err(),
            FilterError::TooLong { len: 5, max: 4 }
        );

        let mut f = Reference::<u8>::new().max_buffer(4);
        let err = f.get(b"12345", &mut Vec::new()).unwrap_err();
        assert_eq!(err, FilterError::BufferFull { len: 5, max: 4 });
    }

    #[test]
    fn reference_put_refused_by_serde() {
        let mut m = HashMap::new();
        m.insert((1u8, 2u8), 3u8);
        let mut f = Reference::<HashMap<(u8, u8), u8>>::json();
        let mut wire = Vec::new();
        let err = f.put(&m, &mut wire).unwrap_err();
        assert!(matches!(err, FilterError::Malformed(_)), "{err:?}");
        assert!(wire.is_empty());
        // postcard has no such restriction.
        let mut f = Reference::<HashMap<(u8, u8), u8>>::new();
        let wire = put_all(&mut f, std::slice::from_ref(&m));
        assert_eq!(feed(&mut f, &[&wire]).unwrap(), [m]);
    }

    #[test]
    fn reference_clone_and_debug() {
        let mut f = Reference::<u8>::new();
        feed(&mut f, &[b"1"]).unwrap();
        let g = f.clone();
        assert_eq!(g.pending(), b"1");
        assert!(format!("{g:?}").starts_with("Reference"));
    }
}

// ----- the trait object -----

#[test]
fn boxed_filters_are_interchangeable() {
    let mut filters: Vec<Box<dyn Filter<Record = Vec<u8>>>> = vec![
        Box::new(Line::new()),
        Box::new(Line::literal("\n")),
        Box::new(Stream::new()),
        Box::new(Block::fixed(1)),
    ];
    for f in &mut filters {
        let mut out = Vec::new();
        f.get(b"a\n", &mut out).unwrap();
        assert!(!out.is_empty());
        let mut wire = Vec::new();
        f.put(&v("a"), &mut wire).unwrap();
        assert!(wire.starts_with(b"a"));
        let _ = f.take_pending();
        assert!(format!("{:?}", &**f).starts_with("Filter("));
    }
}
