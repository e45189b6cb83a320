//! S23: `POE::Filter::Line` framing edge cases, no kernel: the default
//! input newline is any of CRLF, LFCR, CR, LF, matched as soon as its
//! first byte arrives (so a CRLF split over two reads gives an extra empty
//! line); literal, custom and autodetected terminators; the output
//! terminator; the MaxLength and MaxBuffer errors.

use rpoe::filter::{Filter, FilterError, Line};

use crate::common;

/// The script's `esc`: CR and LF made visible.
fn esc(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// The script's `feed`: one `get` per chunk, every record in brackets,
/// then what is pending.
fn feed(label: &str, mut filter: Line, chunks: &[&[u8]]) {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut records = Vec::new();
        filter.get(chunk, &mut records).unwrap();
        out.extend(records.iter().map(|r| format!("[{}]", esc(r))));
    }
    let shown = if out.is_empty() {
        "(none)".to_string()
    } else {
        out.join(" ")
    };
    say!("{label}: {shown} pending=[{}]", esc(filter.pending()));
}

/// How POE words each error (`die` messages of `POE::Filter::Line`).
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
    feed("LF lines", Line::new(), &[b"a\nb\n"]);
    feed("CRLF lines", Line::new(), &[b"a\r\nb\r\n"]);
    feed("LFCR is one newline", Line::new(), &[b"a\n\rb\n\r"]);
    feed("lone CR", Line::new(), &[b"a\rb\r"]);
    feed("CRLF split over reads", Line::new(), &[b"a\r", b"\nb\r\n"]);
    feed("blank line", Line::new(), &[b"a\n\nb\n"]);
    feed("partial then rest", Line::new(), &[b"ab", b"c\nde"]);
    let bytes: Vec<&[u8]> = b"hi\nyo\n".chunks(1).collect();
    feed("byte at a time", Line::new(), &bytes);
    feed("many in one chunk", Line::new(), &[b"1\n2\n3\n4"]);
    feed("Literal LF keeps CR", Line::literal("\n"), &[b"a\r\nb\n"]);
    feed("Literal custom", Line::literal("||"), &[b"a||b|", b"|c"]);
    feed(
        "autodetect CRLF",
        Line::new().autodetect(),
        &[b"a\r", b"\nb\r\nc\n"],
    );
    // `InputRegexp => qr/[;,]/`: a character class, rpoe's input_any_of.
    feed("InputRegexp", Line::new().input_any_of(";,"), &[b"a;b,c"]);

    let mut f = Line::new();
    let puts: Vec<String> = ["x", "y", ""]
        .iter()
        .map(|r| {
            let mut wire = Vec::new();
            f.put(&r.as_bytes().to_vec(), &mut wire).unwrap();
            esc(&wire)
        })
        .collect();
    say!("put default: {}", puts.join("|"));

    let mut g = Line::new().output_literal("\n");
    let mut wire = Vec::new();
    g.put(&b"x".to_vec(), &mut wire).unwrap();
    say!("put OutputLiteral LF: {}", esc(&wire));

    let mut h = Line::new().max_length(4);
    let r = h.get(b"abcd\nabcde\n", &mut Vec::new());
    say!(
        "MaxLength 4: {}",
        r.map_or_else(|e| format!("died [{}]", died(&e)), |()| "ok".into())
    );

    let mut m = Line::new().max_buffer(8).max_length(8);
    let r = m.get(b"123456789", &mut Vec::new());
    say!(
        "MaxBuffer 8: {}",
        r.map_or_else(|e| format!("died [{}]", died(&e)), |()| "ok".into())
    );
}

#[test]
fn s23_filter_line_edges() {
    common::check("23_filter_line_edges", twin);
}
