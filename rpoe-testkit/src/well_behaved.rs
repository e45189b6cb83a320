//! Cases every correct line-echo server passes, the Perl POE seed included.
//!
//! Each takes the server's address, uses fresh connections, and panics with
//! a descriptive message on failure. None relies on EOF handling (the Perl
//! seed drops pending output at EOF): every echo is read before closing.

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::io::{
    assert_bytes_eq, assert_echo, connect, expect_nothing_for, read_exact_within, send, show,
    IO_TIMEOUT,
};

/// How long "nothing is echoed yet" is observed before a newline is sent.
pub const QUIET: Duration = Duration::from_millis(150);

/// A case of this group: its name and the function to run against an address.
pub type Case = (&'static str, fn(SocketAddr));

/// All cases of this group, with default parameters (200 concurrent clients).
pub fn cases() -> Vec<Case> {
    vec![
        ("single_line", single_line),
        ("several_lines_per_write", several_lines_per_write),
        ("line_split_byte_by_byte", line_split_byte_by_byte),
        ("crlf_and_binary", crlf_and_binary),
        ("empty_lines", empty_lines),
        ("concurrent_clients_200", concurrent_clients_200),
    ]
}

/// Runs every case of [`cases`] in turn against `addr`.
pub fn run_all(addr: SocketAddr) {
    for (name, case) in cases() {
        eprintln!("well_behaved::{name} against {addr}");
        case(addr);
    }
}

/// One line is echoed, and nothing else follows.
pub fn single_line(addr: SocketAddr) {
    let c = connect(addr);
    assert_echo(&c, b"hello, world\n");
    expect_nothing_for(&c, QUIET);
    // The connection stays usable.
    assert_echo(&c, b"second\n");
}

/// Several lines in one write come back in order, byte for byte.
pub fn several_lines_per_write(addr: SocketAddr) {
    let c = connect(addr);
    assert_echo(&c, b"alpha\nbeta\ngamma\n");
    let many: Vec<u8> = (0..500)
        .flat_map(|i| format!("line number {i:04} of a batch\n").into_bytes())
        .collect();
    assert_echo(&c, &many);
    expect_nothing_for(&c, QUIET);
}

/// A line written one byte per write is not echoed before its newline
/// (not even partially), and then arrives whole; bytes after a newline wait
/// for the next one.
pub fn line_split_byte_by_byte(addr: SocketAddr) {
    let c = connect(addr);
    let line = b"split byte by byte";
    for (i, b) in line.iter().enumerate() {
        send(&c, &[*b]);
        if i == line.len() / 2 {
            expect_nothing_for(&c, Duration::from_millis(50));
        }
    }
    expect_nothing_for(&c, QUIET);
    send(&c, b"\n");
    let got = read_exact_within(&c, line.len() + 1, IO_TIMEOUT);
    assert_bytes_eq("byte-by-byte line", &got, b"split byte by byte\n");

    // A newline followed by the start of the next line, byte by byte.
    for b in b"ab\ncd" {
        send(&c, &[*b]);
    }
    let got = read_exact_within(&c, 3, IO_TIMEOUT);
    assert_bytes_eq("line before the fragment", &got, b"ab\n");
    expect_nothing_for(&c, QUIET);
    send(&c, b"\n");
    let got = read_exact_within(&c, 3, IO_TIMEOUT);
    assert_bytes_eq("completed fragment", &got, b"cd\n");
}

/// CR is preserved (CRLF lines come back as CRLF), and every byte value
/// other than `\n` (NUL, 0x80..0xFF, ...) passes through untouched.
pub fn crlf_and_binary(addr: SocketAddr) {
    let c = connect(addr);
    assert_echo(&c, b"crlf line\r\n");
    assert_echo(&c, b"\r\n");
    assert_echo(&c, b"\r\r\r\n");

    let mut all: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
    assert_eq!(all.len(), 255);
    all.push(b'\n');
    assert_echo(&c, &all);

    // Binary lines, with a write boundary between a CR and its LF.
    let mut batch = Vec::new();
    batch.extend_from_slice(b"\0\0\0\n");
    batch.extend_from_slice(b"\xff\xfe\xfd\x80\x7f\n");
    batch.extend_from_slice(&all);
    batch.extend_from_slice(b"tail\r\n");
    let cut = batch.len() - 1;
    send(&c, &batch[..cut]);
    send(&c, &batch[cut..]);
    let got = read_exact_within(&c, batch.len(), IO_TIMEOUT);
    assert_bytes_eq("binary batch", &got, &batch);
    expect_nothing_for(&c, QUIET);
}

/// Empty lines (a bare `\n`) are echoed, alone and among other lines.
pub fn empty_lines(addr: SocketAddr) {
    let c = connect(addr);
    assert_echo(&c, b"\n");
    assert_echo(&c, b"\n\n\n");
    assert_echo(&c, b"a\n\nb\n\n");
    expect_nothing_for(&c, QUIET);
}

/// The line client `client` sends as its `line`-th line: distinct per client
/// and line, of varying length.
fn client_line(client: usize, line: usize) -> Vec<u8> {
    let filler_len = (client * 7 + line * 13) % 50;
    let filler: String = (0..filler_len)
        .map(|k| (b'a' + ((client + line + k) % 26) as u8) as char)
        .collect();
    format!("client {client:03} line {line:02} {filler}\n").into_bytes()
}

/// One whole line in a single write, and its echo: proves the server has
/// accepted the connection.
fn greet(c: &std::net::TcpStream, i: usize) -> Result<(), String> {
    let hello = format!("client {i:03} connected\n").into_bytes();
    std::io::Write::write_all(&mut &*c, &hello).map_err(|e| format!("client {i}: greet: {e}"))?;
    let (got, end) = crate::io::read_within(c, Some(hello.len()), Duration::from_secs(20));
    if got != hello {
        return Err(format!(
            "client {i}: greeting echo {} ({end:?})",
            show(&got)
        ));
    }
    Ok(())
}

/// [`concurrent_clients`] with 200 clients.
pub fn concurrent_clients_200(addr: SocketAddr) {
    concurrent_clients(addr, 200);
}

/// `clients` concurrent connections: each is opened (in turn) and has one
/// greeting line echoed; then one thread per client, all started together, sends 10 distinct lines, every line in small pieces (1 to 7 bytes per
/// write), and checks that exactly its own lines come back, in order.
pub fn concurrent_clients(addr: SocketAddr, clients: usize) {
    const LINES: usize = 10;
    // Connect one after the other: a burst of simultaneous connects overflows
    // a small listen backlog (the Perl seed's is 10) and the kernel then
    // delays handshakes by seconds, which says nothing about the server.
    let streams: Vec<_> = (0..clients)
        .map(|i| {
            let c = connect(addr);
            greet(&c, i).unwrap_or_else(|e| panic!("{e}"));
            c
        })
        .collect();
    let barrier = Arc::new(Barrier::new(clients));
    let handles: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let barrier = Arc::clone(&barrier);
            thread::Builder::new()
                .name(format!("client-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || -> Result<(), String> {
                    // All clients start sending together.
                    barrier.wait();
                    for j in 0..LINES {
                        let line = client_line(i, j);
                        let mut pos = 0;
                        let mut k = i + j;
                        while pos < line.len() {
                            let piece = 1 + k % 7;
                            k += 1;
                            let end = (pos + piece).min(line.len());
                            std::io::Write::write_all(&mut &c, &line[pos..end])
                                .map_err(|e| format!("client {i}: write: {e}"))?;
                            pos = end;
                        }
                        let (got, end) =
                            crate::io::read_within(&c, Some(line.len()), Duration::from_secs(20));
                        if got != line {
                            return Err(format!(
                                "client {i} line {j}: sent {}, got {} ({end:?})",
                                show(&line),
                                show(&got)
                            ));
                        }
                    }
                    Ok(())
                })
                .expect("spawn client thread")
        })
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .enumerate()
        .filter_map(|(i, h)| match h.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(format!("client {i}: thread panicked")),
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{} of {clients} concurrent clients failed; first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
