//! Socket helpers with deadlines: every wait is bounded, and the only timed
//! wait that is expected to run out is [`expect_nothing_for`] (asserting absence).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Default bound for a single blocking socket operation in the helpers.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Default bound for connecting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects with a timeout, sets `TCP_NODELAY` (so small writes leave as
/// separate segments) and read/write timeouts of [`IO_TIMEOUT`].
///
/// # Errors
///
/// The I/O error of the connect (refused, timed out) or of setting the
/// socket options.
pub fn try_connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// [`try_connect`] with [`CONNECT_TIMEOUT`]; panics on failure.
pub fn connect(addr: SocketAddr) -> TcpStream {
    try_connect(addr, CONNECT_TIMEOUT).unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Writes all of `bytes` (bounded by the stream's write timeout); panics on error.
pub fn send(mut stream: &TcpStream, bytes: &[u8]) {
    stream
        .write_all(bytes)
        .unwrap_or_else(|e| panic!("write of {} bytes failed: {e}", bytes.len()));
}

/// Half-closes: `shutdown(Write)`, the client's EOF; panics on error.
pub fn half_close(stream: &TcpStream) {
    stream
        .shutdown(Shutdown::Write)
        .unwrap_or_else(|e| panic!("shutdown(Write) failed: {e}"));
}

/// Why [`read_within`] stopped.
#[derive(Debug)]
pub enum ReadEnd {
    /// The requested number of bytes arrived.
    Complete,
    /// The peer closed cleanly (read returned 0).
    Eof,
    /// The peer reset the connection (`ECONNRESET`).
    Reset,
    /// The deadline passed first.
    Timeout,
    /// Any other I/O error.
    Error(std::io::Error),
}

impl ReadEnd {
    /// True for [`ReadEnd::Eof`] and [`ReadEnd::Reset`]: the connection is gone.
    pub fn is_closed(&self) -> bool {
        matches!(self, ReadEnd::Eof | ReadEnd::Reset)
    }
}

/// Reads until `want` bytes arrived (if `Some`), the connection ends, or
/// `within` has elapsed, whichever comes first; never reads past `want`.
/// Returns the bytes read and why it stopped.
pub fn read_within(
    mut stream: &TcpStream,
    want: Option<usize>,
    within: Duration,
) -> (Vec<u8>, ReadEnd) {
    let deadline = Instant::now() + within;
    let mut data = Vec::with_capacity(want.unwrap_or(4096).min(1 << 20));
    let mut chunk = vec![0u8; 64 * 1024];
    let end = loop {
        let room = match want {
            Some(n) if data.len() >= n => break ReadEnd::Complete,
            Some(n) => (n - data.len()).min(chunk.len()),
            None => chunk.len(),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break ReadEnd::Timeout;
        }
        if let Err(e) = stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))) {
            break ReadEnd::Error(e);
        }
        match stream.read(&mut chunk[..room]) {
            Ok(0) => break ReadEnd::Eof,
            Ok(k) => data.extend_from_slice(&chunk[..k]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Loop: the deadline check decides (guards against early wake-ups).
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break ReadEnd::Reset,
            Err(e) => break ReadEnd::Error(e),
        }
    };
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    (data, end)
}

/// Reads exactly `n` bytes within `within`; panics (showing what arrived and
/// why it stopped) otherwise.
pub fn read_exact_within(stream: &TcpStream, n: usize, within: Duration) -> Vec<u8> {
    let (data, end) = read_within(stream, Some(n), within);
    if !matches!(end, ReadEnd::Complete) {
        panic!(
            "expected {n} bytes within {within:?}, got {} then {end:?}; received: {}",
            data.len(),
            show(&data)
        );
    }
    data
}

/// Reads until the peer closes (EOF or reset) within `within`; panics on
/// timeout or another error. Returns the data and whether it was a reset.
pub fn read_until_closed(stream: &TcpStream, within: Duration) -> (Vec<u8>, ReadEnd) {
    let (data, end) = read_within(stream, None, within);
    if !end.is_closed() {
        panic!(
            "expected the server to close the connection within {within:?}, got {end:?} after {} bytes: {}",
            data.len(),
            show(&data)
        );
    }
    (data, end)
}

/// Reads until a clean EOF within `within`; panics on timeout, reset or error.
pub fn read_until_eof(stream: &TcpStream, within: Duration) -> Vec<u8> {
    let (data, end) = read_within(stream, None, within);
    if !matches!(end, ReadEnd::Eof) {
        panic!(
            "expected EOF within {within:?}, got {end:?} after {} bytes: {}",
            data.len(),
            show(&data)
        );
    }
    data
}

/// Asserts that nothing at all (no byte, no EOF, no reset) arrives for `dur`.
/// This is the one legitimate timed wait: it asserts an absence.
pub fn expect_nothing_for(stream: &TcpStream, dur: Duration) {
    let (data, end) = read_within(stream, Some(1), dur);
    if !matches!(end, ReadEnd::Timeout) || !data.is_empty() {
        panic!(
            "expected nothing for {dur:?}, got {end:?} with {} byte(s): {}",
            data.len(),
            show(&data)
        );
    }
}

/// Writes `line` and asserts the same bytes come back within [`IO_TIMEOUT`].
pub fn assert_echo(stream: &TcpStream, line: &[u8]) {
    send(stream, line);
    let got = read_exact_within(stream, line.len(), IO_TIMEOUT);
    assert_bytes_eq("echo", &got, line);
}

/// Panics with the first differing offset and some context if `got != expected`.
pub fn assert_bytes_eq(what: &str, got: &[u8], expected: &[u8]) {
    if got == expected {
        return;
    }
    let at = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    let from = at.saturating_sub(32);
    panic!(
        "{what}: got {} bytes, expected {}; first difference at offset {at}\n  got:      {}\n  expected: {}",
        got.len(),
        expected.len(),
        show(&got[from..got.len().min(at + 64)]),
        show(&expected[from..expected.len().min(at + 64)])
    );
}

/// Escaped, length-limited rendering of bytes for messages.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 160;
    let shown = &bytes[..bytes.len().min(MAX)];
    let mut s = format!("\"{}\"", shown.escape_ascii());
    if bytes.len() > MAX {
        s.push_str(&format!("... ({} bytes total)", bytes.len()));
    }
    s
}

/// Checks that `stream` is closed by the server within `within` without any
/// data arriving; returns how it ended.
pub fn expect_closed(stream: &TcpStream, within: Duration) -> ReadEnd {
    let (got, end) = read_until_closed(stream, within);
    assert!(
        got.is_empty(),
        "unexpected data before close: {}",
        show(&got)
    );
    end
}

/// A line-protocol client (a chat user, say): connected with [`connect`],
/// named by its own address — which is how line servers name their
/// clients — and reading whole lines, each within the socket's timeout.
pub struct LineClient {
    /// The client's address as the server sees it (`IP:PORT`).
    pub name: String,
    /// The socket, for writes and shutdowns.
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LineClient {
    /// Connect to `addr`; panics on failure.
    pub fn join(addr: SocketAddr) -> LineClient {
        let stream = connect(addr);
        let name = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|e| panic!("local address: {e}"));
        let reader = BufReader::new(
            stream
                .try_clone()
                .unwrap_or_else(|e| panic!("clone the socket: {e}")),
        );
        LineClient {
            name,
            stream,
            reader,
        }
    }

    /// Write `bytes`; panics on error.
    pub fn send(&mut self, bytes: &[u8]) {
        send(&self.stream, bytes);
    }

    /// The next line without its `\n`; panics on end of stream or
    /// timeout, naming the client and what part of a line came.
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        match self.reader.read_line(&mut s) {
            Ok(0) => panic!("{}: EOF", self.name),
            Ok(_) => s.trim_end_matches('\n').to_string(),
            Err(e) => panic!("{}: no line ({e}); got {s:?}", self.name),
        }
    }
}
