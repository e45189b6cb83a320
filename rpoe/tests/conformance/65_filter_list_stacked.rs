//! S65: POE's list-based filter interface on the record-level filters,
//! no kernel. POE stacks `RecordBlock`, `Map` and `Grep` on a byte-level
//! filter with `Stackable`; rpoe's wrap it (`RecordBlock::new(Line, 2)` is
//! POE's `Stackable` of `Line` then `RecordBlock`). `get_many`,
//! `put_many` (a `RecordBlock` gives one chunk per record, `Grep` drops
//! refused ones, `Stackable` passes an empty record down and lets a
//! fixed-size `Block` on top join its records), `get_one_start` /
//! `get_one`, and `get_pending` where nothing is left below the top.

use rpoe::filter::{Block, Filter, GetOne, Grep, Line, Map, RecordBlock, Stackable, Stream};

use crate::common;

/// The script's `esc`: CR, LF and NUL made visible, in brackets.
fn esc(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
        .replace('\0', "\\0");
    format!("[{text}]")
}

/// The script's `list` over records or chunks.
fn list(items: &[Vec<u8>]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.iter().map(|i| esc(i)).collect::<Vec<_>>().join(" ")
    }
}

/// The script's `list` over blocks of records, each in braces.
fn blocks(items: &[Vec<Vec<u8>>]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items
            .iter()
            .map(|b| {
                format!(
                    "{{{}}}",
                    b.iter().map(|r| esc(r)).collect::<Vec<_>>().join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn pending(filter: &impl Filter) -> String {
    format!("pending={}", esc(&filter.get_pending().unwrap_or_default()))
}

fn owned(records: &[&str]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.as_bytes().to_vec()).collect()
}

fn lf() -> Line {
    Line::literal("\n")
}

fn pairs() -> RecordBlock<Line> {
    RecordBlock::new(lf(), 2)
}

fn upper() -> Map<Line, Vec<u8>> {
    Map::new(
        lf(),
        |l: Vec<u8>| l.to_ascii_uppercase(),
        |l: &Vec<u8>| l.to_ascii_lowercase(),
    )
}

fn wanted() -> Grep<Line> {
    Grep::new(
        lf(),
        |l: &Vec<u8>| !l.is_empty() && !l.starts_with(b"#"),
        |l: &Vec<u8>| l != b"skip",
    )
}

fn framed() -> Stackable<Block, Line> {
    Stackable::new(Block::length_prefixed(), lf())
}

/// `get_many` of filters whose records are byte strings.
fn get_many<F: Filter<Record = Vec<u8>>>(label: &str, mut filter: F, chunks: &[&str]) {
    say!("{label}: get {}", list(&filter.get_many(chunks).unwrap()));
}

fn put_many<F: Filter<Record = Vec<u8>>>(label: &str, mut filter: F, records: &[&str]) {
    say!(
        "{label}: put {}",
        list(&filter.put_many(&owned(records)).unwrap())
    );
}

fn one_at_a_time<F: GetOne<Record = Vec<u8>>>(
    label: &str,
    mut filter: F,
    chunk: &str,
    calls: usize,
) {
    filter.get_one_start(&[chunk]).unwrap();
    let seen: Vec<String> = (0..calls)
        .map(|_| list(&filter.get_one().unwrap().into_iter().collect::<Vec<_>>()))
        .collect();
    say!("{label}: get_one {}", seen.join(" | "));
}

fn twin() {
    let got = pairs().get_many(&["a\nb", "\nc\n", "d\ne"]).unwrap();
    say!("RecordBlock several chunks: get {}", blocks(&got));
    let put = pairs()
        .put_many(&[owned(&["x", "y"]), owned(&["z"])])
        .unwrap();
    say!("RecordBlock put two blocks: put {}", list(&put));
    say!(
        "RecordBlock put none: put {}",
        list(&pairs().put_many(&[]).unwrap())
    );
    say!(
        "RecordBlock put empty block: put {}",
        list(&pairs().put_many(&[Vec::new()]).unwrap())
    );
    {
        let mut f = pairs();
        f.get_one_start(&["1\n2\n3\n4\n5\n"]).unwrap();
        let seen: Vec<String> = (0..3)
            .map(|_| blocks(&f.get_one().unwrap().into_iter().collect::<Vec<_>>()))
            .collect();
        say!("RecordBlock one at a time: get_one {}", seen.join(" | "));
    }
    {
        let mut f = pairs();
        f.get_many(&["p\nq\n"]).unwrap();
        say!("RecordBlock nothing left: {}", pending(&f));
    }

    get_many("Map several chunks", upper(), &["ab\nc", "d\n"]);
    put_many("Map put two", upper(), &["Xy", "Z"]);
    put_many("Map put none", upper(), &[]);
    one_at_a_time("Map one at a time", upper(), "a\nb\n", 3);

    get_many("Grep several chunks", wanted(), &["a\n\n#c\n", "b\n"]);
    put_many("Grep put three", wanted(), &["x", "skip", "y"]);
    put_many("Grep put all refused", wanted(), &["skip"]);
    one_at_a_time("Grep one at a time", wanted(), "#1\n#2\nok\n#3\n", 2);

    get_many(
        "Stackable several chunks",
        framed(),
        &["8\0one\ntw", "o\n6\0thr"],
    );
    put_many("Stackable put two", framed(), &["a", "b"]);
    put_many("Stackable put none", framed(), &[]);
    one_at_a_time("Stackable one at a time", framed(), "2\0a\n2\0b\n", 3);
    put_many(
        "Stackable Line+Stream put empty",
        Stackable::new(lf(), Stream::new()),
        &["", "x"],
    );
    // POE's fixed-size Block concatenates whatever it is given; rpoe's
    // checked default would accept these two whole blocks too.
    put_many(
        "Stackable Line+Block 2 put two",
        Stackable::new(lf(), Block::fixed(2)),
        &["ab", "cd"],
    );
    {
        let mut f = framed();
        f.get_many(&["2\0a\n"]).unwrap();
        say!("Stackable nothing left: {}", pending(&f));
    }
}

#[test]
fn s65_filter_list_stacked() {
    common::check("65_filter_list_stacked", twin);
}
