//! S64: POE's list-based filter interface on the byte-level filters, no
//! kernel: `get_many` over several chunks (joined before framing, so a
//! CRLF split between two chunks of one call is one newline, and several
//! chunks are one `Stream` record), `put_many` of several records and of
//! none (a fixed-size `Block` joins them into one chunk, even for none),
//! `get_one_start` / `get_one` cutting lazily, and `get_pending`.

use rpoe::filter::{Block, Filter, FilterError, GetOne, Line, Stream};

use crate::common;

/// The script's `esc`: CR, LF and NUL made visible, in brackets.
fn esc(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
        .replace('\0', "\\0");
    format!("[{text}]")
}

/// The script's `list`: each item escaped, or `(none)`.
fn list(items: &[Vec<u8>]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.iter().map(|i| esc(i)).collect::<Vec<_>>().join(" ")
    }
}

/// The script's `pending`: `None` (POE's undef) prints as empty.
fn pending(filter: &impl Filter) -> String {
    format!("pending={}", esc(&filter.get_pending().unwrap_or_default()))
}

fn get_many<F: Filter<Record = Vec<u8>>>(label: &str, mut filter: F, chunks: &[&str]) {
    let records = filter.get_many(chunks).unwrap();
    say!("{label}: get {} {}", list(&records), pending(&filter));
}

fn put_many<F: Filter<Record = Vec<u8>>>(label: &str, mut filter: F, records: &[&str]) {
    let records: Vec<Vec<u8>> = records.iter().map(|r| r.as_bytes().to_vec()).collect();
    say!("{label}: put {}", list(&filter.put_many(&records).unwrap()));
}

fn one_at_a_time<F: GetOne<Record = Vec<u8>>>(
    label: &str,
    mut filter: F,
    starts: &[&[&str]],
    calls: usize,
) {
    for chunks in starts {
        filter.get_one_start(chunks).unwrap();
    }
    let seen: Vec<String> = (0..calls)
        .map(|_| {
            let one: Vec<Vec<u8>> = filter.get_one().unwrap().into_iter().collect();
            format!("{} {}", list(&one), pending(&filter))
        })
        .collect();
    say!("{label}: get_one {}", seen.join(" | "));
}

/// How POE words a `get_one` error.
fn died(e: &FilterError) -> &'static str {
    match e {
        FilterError::TooLong { .. } => "Next line exceeds maximum line length",
        FilterError::BufferFull { .. } => "Framing buffer exceeds the limit",
        FilterError::Malformed(_) => "malformed",
        // Non-exhaustive: a kind added later prints as itself.
        _ => "another filter error",
    }
}

fn twin() {
    get_many(
        "Line CRLF split inside one get",
        Line::new(),
        &["a\r", "\nb\n", "c"],
    );
    get_many("Line empty chunks", Line::new(), &["", "x\n", ""]);
    get_many("Line no chunks", Line::new(), &[]);
    get_many(
        "Line Literal split terminator",
        Line::literal("||"),
        &["a|", "|b||"],
    );
    get_many(
        "Line autodetect over chunks",
        Line::new().autodetect(),
        &["a\r", "\nb\r\n"],
    );
    put_many("Line put two", Line::new(), &["x", "y"]);
    put_many("Line put none", Line::new(), &[]);
    put_many("Line put empty line", Line::new(), &[""]);
    put_many(
        "Line put OutputLiteral",
        Line::new().output_literal("\n"),
        &["x", "y"],
    );
    one_at_a_time("Line one at a time", Line::new(), &[&["1\n2\n", "3"]], 3);
    one_at_a_time(
        "Line two starts, no get_one between",
        Line::new(),
        &[&["a\r"], &["\nb\n"]],
        3,
    );
    {
        let mut f = Line::new().max_length(3);
        f.get_one_start(&["ab\nabcd\nx\n"]).unwrap();
        let first = list(&f.get_one().unwrap().into_iter().collect::<Vec<_>>());
        let second = match f.get_one() {
            Ok(r) => list(&r.into_iter().collect::<Vec<_>>()),
            Err(e) => format!("died [{}]", died(&e)),
        };
        say!("Line MaxLength 3 get_one: {first} then {second}");
    }

    get_many("Stream several chunks", Stream::new(), &["ab", "", "cd"]);
    get_many("Stream no chunks", Stream::new(), &[]);
    get_many("Stream one empty chunk", Stream::new(), &[""]);
    put_many("Stream put three", Stream::new(), &["x", "", "y"]);
    put_many("Stream put none", Stream::new(), &[]);
    one_at_a_time(
        "Stream one at a time",
        Stream::new(),
        &[&["a", "b"], &["c"]],
        2,
    );
    {
        let mut f = Stream::new();
        f.get_one_start(&["held"]).unwrap();
        say!("Stream after get_one_start: {}", pending(&f));
    }

    get_many(
        "Block 4 several chunks",
        Block::fixed(4),
        &["ab", "cdef", "gh", "i"],
    );
    put_many("Block 4 put three", Block::fixed(4), &["ab", "cd", "efgh"]);
    // POE writes a short block as it is: rpoe's unchecked (POE) mode.
    put_many(
        "Block 4 put short",
        Block::fixed(4).check_put(false),
        &["abc"],
    );
    put_many("Block 4 put none", Block::fixed(4), &[]);
    one_at_a_time(
        "Block 4 one at a time",
        Block::fixed(4),
        &[&["abcdefgh", "ij"]],
        3,
    );

    get_many(
        "Block prefixed several chunks",
        Block::length_prefixed(),
        &["3\0a", "bc2\0", "de1"],
    );
    get_many(
        "Block prefixed empty record",
        Block::length_prefixed(),
        &["0\0", "1\0z"],
    );
    put_many(
        "Block prefixed put three",
        Block::length_prefixed(),
        &["abc", "", "hi"],
    );
    put_many("Block prefixed put none", Block::length_prefixed(), &[]);
    one_at_a_time(
        "Block prefixed one at a time",
        Block::length_prefixed(),
        &[&["2\0ab2\0cd"]],
        3,
    );
}

#[test]
fn s64_filter_list_bytes() {
    common::check("64_filter_list_bytes", twin);
}
