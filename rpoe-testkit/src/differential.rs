//! Differential testing: the same well-behaved client transcripts against
//! two servers, comparing what each echoed.

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use crate::io::{connect, half_close, read_within, send, show};

/// One step of a client transcript.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes (all of them).
    Write(Vec<u8>),
    /// Wait this long before the next step (shapes segmentation; not a sync).
    Pause(Duration),
}

/// A client's behaviour: writes with pauses, then optionally a half-close.
///
/// Run by [`run_transcript`]: after the steps, the client reads until it has
/// as many bytes as [`Transcript::expected_echo`] (bounded), then collects
/// anything extra for a short while; with `half_close` it then shuts down
/// its write side and reads until the server closes.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// Name used in messages.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Whether to `shutdown(Write)` once the echo has been read.
    pub half_close: bool,
}

impl Transcript {
    /// An empty transcript named `name`.
    pub fn new(name: &str) -> Self {
        Transcript {
            name: name.to_string(),
            steps: Vec::new(),
            half_close: false,
        }
    }

    /// Adds a write.
    pub fn write(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.steps.push(Step::Write(bytes.as_ref().to_vec()));
        self
    }

    /// Adds a pause of `ms` milliseconds.
    pub fn pause_ms(mut self, ms: u64) -> Self {
        self.steps.push(Step::Pause(Duration::from_millis(ms)));
        self
    }

    /// Ends with a half-close.
    pub fn then_half_close(mut self) -> Self {
        self.half_close = true;
        self
    }

    /// What a correct echo server sends back: every complete line written,
    /// in order (a trailing fragment is not echoed).
    pub fn expected_echo(&self) -> Vec<u8> {
        let mut all: Vec<u8> = Vec::new();
        for step in &self.steps {
            if let Step::Write(b) = step {
                all.extend_from_slice(b);
            }
        }
        match all.iter().rposition(|&b| b == b'\n') {
            Some(last) => all.truncate(last + 1),
            None => all.clear(),
        }
        all
    }
}

/// A varied set of well-behaved transcripts (single lines, batches, bytes
/// one by one with pauses, CRLF, binary, empty lines, a 100 KB batch, a
/// 10 KB line, fragments dropped at half-close).
pub fn standard_transcripts() -> Vec<Transcript> {
    let all_bytes: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
    let big_batch: Vec<u8> = (0..2000)
        .flat_map(|i| format!("{i:06} batch line with some padding text here .....\n").into_bytes())
        .collect();
    let mut byte_by_byte = Transcript::new("byte by byte with pauses");
    for b in b"slow line\n" {
        byte_by_byte = byte_by_byte.write([*b]).pause_ms(5);
    }
    vec![
        Transcript::new("single line").write("hello\n"),
        Transcript::new("several lines in one write").write("a\nbb\nccc\n"),
        byte_by_byte,
        Transcript::new("line split across writes")
            .write("first ha")
            .pause_ms(30)
            .write("lf\nsecond")
            .pause_ms(30)
            .write(" line\n"),
        Transcript::new("crlf").write("dos\r\nline\r\n\r\n"),
        Transcript::new("binary")
            .write([&all_bytes[..], b"\n"].concat())
            .write(b"\0\n\xff\n"),
        Transcript::new("empty lines")
            .write("\n\n")
            .pause_ms(20)
            .write("\nx\n\n"),
        Transcript::new("100 KB batch").write(&big_batch),
        Transcript::new("10 KB line").write([&vec![b'L'; 10 * 1024][..], b"\n"].concat()),
        Transcript::new("half-close after lines")
            .write("one\ntwo\n")
            .then_half_close(),
        Transcript::new("fragment dropped at half-close")
            .write("kept\nnot kept")
            .then_half_close(),
        Transcript::new("only a fragment")
            .write("no newline at all")
            .then_half_close(),
    ]
}

/// Runs `t` on a new connection to `addr` and returns every byte echoed.
pub fn run_transcript(addr: SocketAddr, t: &Transcript) -> Vec<u8> {
    let c = connect(addr);
    for step in &t.steps {
        match step {
            Step::Write(b) => send(&c, b),
            Step::Pause(d) => thread::sleep(*d),
        }
    }
    let want = t.expected_echo().len();
    let (mut got, end) = read_within(&c, Some(want), Duration::from_secs(10));
    if end.is_closed() {
        return got;
    }
    // Anything beyond the expected echo (there should be nothing).
    let (extra, end) = read_within(&c, None, Duration::from_millis(100));
    got.extend_from_slice(&extra);
    if t.half_close && !end.is_closed() {
        half_close(&c);
        let (rest, _) = read_within(&c, None, Duration::from_secs(10));
        got.extend_from_slice(&rest);
    }
    got
}

/// Runs every transcript against `a` and against `b`; returns, per
/// transcript, `(echo from a, echo from b)`.
pub fn differential(
    a: SocketAddr,
    b: SocketAddr,
    transcripts: &[Transcript],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    transcripts
        .iter()
        .map(|t| (run_transcript(a, t), run_transcript(b, t)))
        .collect()
}

/// Runs [`differential`] and panics unless, for every transcript, both
/// servers echoed the same bytes, equal to [`Transcript::expected_echo`].
pub fn assert_same_echo(a: SocketAddr, b: SocketAddr, transcripts: &[Transcript]) {
    let results = differential(a, b, transcripts);
    let mut failures = Vec::new();
    for (t, (ea, eb)) in transcripts.iter().zip(&results) {
        let expected = t.expected_echo();
        if ea != eb || *ea != expected {
            failures.push(format!(
                "transcript {:?}:\n  server A ({a}): {}\n  server B ({b}): {}\n  expected:      {}",
                t.name,
                show(ea),
                show(eb),
                show(&expected)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "servers differ on {} transcript(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Panics unless `addr` echoes exactly [`Transcript::expected_echo`] for each transcript.
pub fn assert_expected_echo(addr: SocketAddr, transcripts: &[Transcript]) {
    for t in transcripts {
        let got = run_transcript(addr, t);
        crate::io::assert_bytes_eq(
            &format!("transcript {:?}", t.name),
            &got,
            &t.expected_echo(),
        );
    }
}
