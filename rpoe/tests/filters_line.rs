//! Example-based tests of `filter::Line`: POE's default newlines, literal
//! terminators, autodetection, and every limit.

use std::time::{Duration, Instant};

use rpoe::filter::{Filter, FilterError, Line};

mod filter_util;
use filter_util::*;

// ----- Line: POE's default newline -----

#[test]
fn line_default_accepts_every_newline() {
    let mut f = Line::new();
    assert_eq!(
        lines(&mut f, &[b"lf\ncrlf\r\ncr\rlfcr\n\rend"]),
        ["lf", "crlf", "cr", "lfcr"]
    );
    assert_eq!(f.pending(), b"end");
}

#[test]
fn line_default_blank_lines() {
    let mut f = Line::new();
    // CRLF CRLF is two newlines; LF LF too; CR CR too.
    assert_eq!(
        lines(&mut f, &[b"a\r\n\r\nb\n\nc\r\r"]),
        ["a", "", "b", "", "c", ""]
    );
    // LF CR LF: LFCR, then a lone LF.
    assert_eq!(lines(&mut Line::new(), &[b"x\n\r\ny"]), ["x", ""]);
}

#[test]
fn line_default_split_crlf_gives_extra_empty_line_like_poe() {
    let mut f = Line::new();
    assert_eq!(lines(&mut f, &[b"a\r", b"\nb\r\n"]), ["a", "", "b"]);
    let mut f = Line::new();
    assert_eq!(lines(&mut f, &[b"a\n", b"\rb\n"]), ["a", "", "b"]);
    // Not split: one newline.
    assert_eq!(lines(&mut Line::new(), &[b"a\r\n", b"b\r\n"]), ["a", "b"]);
}

#[test]
fn line_partial_lines_and_pending() {
    let mut f = Line::new();
    assert_eq!(lines(&mut f, &[b"ab"]), Vec::<String>::new());
    assert_eq!(f.pending(), b"ab");
    assert_eq!(lines(&mut f, &[b"c\nde"]), ["abc"]);
    assert_eq!(f.pending(), b"de");
    assert_eq!(f.take_pending(), b"de");
    assert!(f.pending().is_empty());
    assert_eq!(lines(&mut f, &[b"fg\n"]), ["fg"]);
}

#[test]
fn line_empty_chunks_are_harmless() {
    let mut f = Line::new();
    assert_eq!(lines(&mut f, &[b"", b"a", b"", b"\n", b""]), ["a"]);
}

#[test]
fn line_put_appends_crlf_by_default() {
    let mut f = Line::new();
    assert_eq!(put_all(&mut f, &[v("x"), v("y"), v("")]), b"x\r\ny\r\n\r\n");
}

#[test]
fn line_default_is_new() {
    let mut f = Line::default();
    assert_eq!(lines(&mut f, &[b"a\rb\n"]), ["a", "b"]);
    assert_eq!(put_all(&mut f, &[v("z")]), b"z\r\n");
}

// ----- Line: literal terminators -----

#[test]
fn line_literal_is_byte_exact() {
    let mut f = Line::literal("\n");
    assert_eq!(lines(&mut f, &[b"a\r\nb\rc\n"]), ["a\r", "b\rc"]);
    assert_eq!(put_all(&mut f, &[v("x")]), b"x\n");

    let mut f = Line::literal(b"\r\n");
    assert_eq!(lines(&mut f, &[b"a\nb\rc\r\n"]), ["a\nb\rc"]);
    assert_eq!(put_all(&mut f, &[v("x")]), b"x\r\n");
}

#[test]
fn line_literal_split_terminator_is_one_terminator() {
    let input: &[u8] = b"ab||cd|e||||f";
    for cut in 0..=input.len() {
        let mut f = Line::literal("||");
        let (a, b) = input.split_at(cut);
        assert_eq!(lines(&mut f, &[a, b]), ["ab", "cd|e", ""], "cut at {cut}");
        assert_eq!(f.pending(), b"f");
    }
    let mut f = Line::literal("||");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(lines(&mut f, &bytes), ["ab", "cd|e", ""]);
}

#[test]
fn line_literal_overlapping_terminator() {
    // "aab" inside "aaab": the search must not skip the real match.
    let mut f = Line::literal("aab");
    assert_eq!(lines(&mut f, &[b"xa", b"a", b"ab", b"y"]), ["xa"]);
    assert_eq!(f.pending(), b"y");
}

#[test]
fn line_keep_terminator() {
    let mut f = Line::new().keep_terminator(true);
    assert_eq!(
        lines(&mut f, &[b"a\r\nb\nc\rd\n\re"]),
        ["a\r\n", "b\n", "c\r", "d\n\r"]
    );
    let mut f = Line::literal("||").keep_terminator(true);
    assert_eq!(lines(&mut f, &[b"a|", b"|b||"]), ["a||", "b||"]);
    // put still appends the output terminator...
    assert_eq!(put_all(&mut f, &[v("a||")]), b"a||||");
    // ...unless it is empty: records written verbatim.
    let mut f = Line::literal("||").keep_terminator(true).output_literal("");
    assert_eq!(put_all(&mut f, &[v("a||"), v("b||")]), b"a||b||");
}

#[test]
fn line_input_and_output_terminators_are_separate() {
    let mut f = Line::new().input_literal([0u8]).output_literal("\n");
    assert_eq!(lines(&mut f, &[b"a\nb\0c\0"]), ["a\nb", "c"]);
    assert_eq!(put_all(&mut f, &[v("x")]), b"x\n");

    let mut f = Line::literal("\n").output_literal("\r\n");
    assert_eq!(lines(&mut f, &[b"a\r\n"]), ["a\r"]);
    assert_eq!(put_all(&mut f, &[v("x")]), b"x\r\n");
}

#[test]
fn line_input_any_of() {
    let mut f = Line::new().input_any_of(";,");
    assert_eq!(lines(&mut f, &[b"a;b,", b"c;;d"]), ["a", "b", "c", ""]);
    assert_eq!(f.pending(), b"d");
    // More than three bytes takes the table path.
    let mut f = Line::new().input_any_of(" \t;,");
    assert_eq!(lines(&mut f, &[b"a b\tc;d,e"]), ["a", "b", "c", "d"]);
    assert_eq!(put_all(&mut f, &[v("x")]), b"x\r\n");
}

#[test]
#[should_panic(expected = "must not be empty")]
fn line_empty_literal_panics() {
    let _ = Line::literal("");
}

#[test]
#[should_panic(expected = "must not be empty")]
fn line_empty_byte_set_panics() {
    let _ = Line::new().input_any_of("");
}

// ----- Line: autodetect -----

#[test]
fn line_autodetect_each_newline() {
    for (input, want, rest) in [
        (&b"a\nb\r\nc\n"[..], vec!["a", "b\r", "c"], &b""[..]),
        (b"a\r\nb\nc\r\n", vec!["a", "b\nc"], b""),
        (b"a\n\rb\nc\n\r", vec!["a", "b\nc"], b""),
        (b"a\rb\nc\r", vec!["a", "b\nc"], b""),
        (b"a\r\nb", vec!["a"], b"b"),
    ] {
        let mut f = Line::new().autodetect();
        assert_eq!(lines(&mut f, &[input]), want, "{input:?}");
        assert_eq!(f.pending(), rest, "{input:?}");
        // Autodetect is about input only: output stays CRLF.
        assert_eq!(put_all(&mut f, &[v("x")]), b"x\r\n");
    }
}

#[test]
fn line_autodetect_waits_for_second_newline_byte() {
    // The POE script's case: CR ends the first read.
    let mut f = Line::new().autodetect();
    assert_eq!(lines(&mut f, &[b"a\r"]), ["a"]);
    assert!(f.pending().is_empty());
    assert_eq!(lines(&mut f, &[b"\nb\r\nc\n"]), ["b"]);
    assert_eq!(f.pending(), b"c\n");

    // CR ends the read and the next byte is not LF: CR it is.
    let mut f = Line::new().autodetect();
    assert_eq!(
        lines(&mut f, &[b"a\r", b"", b"b\rc\nd\r"]),
        ["a", "b", "c\nd"]
    );

    // LF then CR over two reads: LFCR.
    let mut f = Line::new().autodetect();
    assert_eq!(lines(&mut f, &[b"a\n", b"\rb\n\r"]), ["a", "b"]);
}

#[test]
fn line_autodetect_keep_terminator() {
    let mut f = Line::new().autodetect().keep_terminator(true);
    assert_eq!(lines(&mut f, &[b"a\r\nb\r\n"]), ["a\r\n", "b\r\n"]);
    // Split: the first line waits for the byte after its CR.
    let mut f = Line::new().autodetect().keep_terminator(true);
    assert_eq!(lines(&mut f, &[b"a\r"]), Vec::<String>::new());
    assert_eq!(f.pending(), b"a\r");
    assert_eq!(lines(&mut f, &[b"\nb\r\n"]), ["a\r\n", "b\r\n"]);
    let mut f = Line::new().autodetect().keep_terminator(true);
    assert_eq!(lines(&mut f, &[b"a\r", b"b\n\r"]), ["a\r", "b\n\r"]);
    assert!(f.pending().is_empty());
}

// ----- Line: limits -----

#[test]
fn line_max_length_on_a_complete_line() {
    let mut f = Line::new().max_length(4);
    let mut out = Vec::new();
    let err = f.get(b"abcd\nabcde\nz\n", &mut out).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 5, max: 4 });
    // Lines before the offending one were delivered; the filter is empty.
    assert_eq!(strs(&out), ["abcd"]);
    assert!(f.pending().is_empty());
    assert_eq!(err.to_string(), "record of 5 bytes exceeds the limit of 4");
}

#[test]
fn line_max_length_detected_before_the_terminator() {
    let mut f = Line::new().max_length(4);
    assert_eq!(lines(&mut f, &[b"abcd"]), Vec::<String>::new());
    let err = f.get(b"e", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 5, max: 4 });
    assert!(f.pending().is_empty());

    // The same when the chunk is fed to an empty filter.
    let mut f = Line::new().max_length(4);
    let err = f.get(b"ok\nabcdefgh", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 8, max: 4 });
}

#[test]
fn line_max_length_literal_does_not_count_a_partial_terminator() {
    let mut f = Line::literal("||").max_length(4);
    assert_eq!(lines(&mut f, &[b"abcd|"]), Vec::<String>::new());
    assert_eq!(lines(&mut f, &[b"|"]), ["abcd"]);
    let err = f.get(b"abcd|x", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 5, max: 4 });
}

#[test]
fn line_max_length_excludes_the_terminator_even_when_kept() {
    let mut f = Line::new().max_length(2).keep_terminator(true);
    assert_eq!(lines(&mut f, &[b"ab\r\n"]), ["ab\r\n"]);
}

#[test]
fn line_max_length_autodetect() {
    let mut f = Line::new().autodetect().max_length(2);
    let err = f.get(b"abc\n", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 3, max: 2 });
    let mut f = Line::new().autodetect().max_length(2);
    let err = f.get(b"ab\nabc", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::TooLong { len: 3, max: 2 });
}

#[test]
fn line_max_buffer_counts_pending_plus_chunk() {
    let mut f = Line::new().max_buffer(8).max_length(8);
    let err = f.get(b"123456789", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::BufferFull { len: 9, max: 8 });
    assert_eq!(err.to_string(), "9 bytes buffered, over the limit of 8");

    let mut f = Line::new().max_buffer(8);
    assert_eq!(lines(&mut f, &[b"12345"]), Vec::<String>::new());
    assert_eq!(lines(&mut f, &[b"678"]), Vec::<String>::new());
    let err = f.get(b"\n", &mut Vec::new()).unwrap_err();
    assert_eq!(err, FilterError::BufferFull { len: 9, max: 8 });
    // Refused before copying: nothing is held afterwards.
    assert!(f.pending().is_empty());
    // Exactly at the limit is fine.
    let mut f = Line::new().max_buffer(8);
    assert_eq!(lines(&mut f, &[b"1234567\n"]), ["1234567"]);
}

#[test]
fn line_long_line_in_tiny_chunks_is_linear() {
    // 400 KB one byte at a time: a rescan per byte would be ~10^11 steps.
    const N: usize = 400_000;
    let body = vec![b'x'; N];
    for (mut f, end) in [
        (Line::new(), &b"\n"[..]),
        (Line::literal("\r\n"), b"\r\n"),
        (Line::literal("abcdef"), b"abcdef"),
    ] {
        let start = Instant::now();
        let mut out = Vec::new();
        for b in body.chunks(1) {
            f.get(b, &mut out).unwrap();
        }
        assert!(out.is_empty());
        assert_eq!(f.pending().len(), N);
        f.get(end, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), N);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn line_many_lines_in_one_chunk() {
    let mut input = Vec::new();
    for i in 0..10_000 {
        input.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    let mut f = Line::new();
    let out = feed(&mut f, &[&input]).unwrap();
    assert_eq!(out.len(), 10_000);
    assert_eq!(out[9_999], b"line 9999");
}
