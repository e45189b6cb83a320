//! Cases for the policies only the rpoe servers implement: EOF flush, line
//! limit, backpressure, peer reset, connection limit, EMFILE. Not valid for
//! the Perl seed (it has none of them).
//!
//! Cases that look at memory, CPU or liveness take the [`Server`]; the
//! others take its address. All panic with a descriptive message on failure.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::io::{
    assert_bytes_eq, assert_echo, connect, expect_nothing_for, half_close, read_exact_within,
    read_until_eof, read_within, send, show, try_connect, ReadEnd, IO_TIMEOUT,
};
use crate::procfs::{cpu_fraction_over, rss_bytes};
use crate::server::Server;

/// One MiB.
pub const MIB: u64 = 1024 * 1024;

/// Length of every line made by [`numbered_lines`].
pub const NUMBERED_LINE_LEN: usize = 64;

/// `count` distinct 64-byte lines numbered from `first`: a 10-digit number, a
/// space, 52 filler letters that depend on the number, and `\n`.
pub fn numbered_lines(first: u64, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * NUMBERED_LINE_LEN);
    for i in first..first + count as u64 {
        out.extend_from_slice(format!("{i:010} ").as_bytes());
        let letter = b'a' + (i % 26) as u8;
        out.resize(out.len() + NUMBERED_LINE_LEN - 12, letter);
        out.push(b'\n');
    }
    out
}

/// EOF flush: after `shutdown(Write)`, every complete line is echoed, the
/// trailing fragment is dropped, and the server closes (the client reads EOF).
/// Also: a client that half-closes without sending anything reads EOF.
pub fn half_close_flush(addr: SocketAddr) {
    let c = connect(addr);
    send(&c, b"one\ntwo\r\n\nthr");
    send(&c, b"ee\nfragment without newline");
    half_close(&c);
    let got = read_until_eof(&c, IO_TIMEOUT);
    assert_bytes_eq(
        "echo before EOF (trailing fragment must be dropped)",
        &got,
        b"one\ntwo\r\n\nthree\n",
    );

    let idle = connect(addr);
    assert_echo(&idle, b"ping\n");
    half_close(&idle);
    let got = read_until_eof(&idle, IO_TIMEOUT);
    assert_bytes_eq("after half-close of an idle client", &got, b"");
}

/// A client sends about `total` bytes of lines (plus a fragment) without
/// reading, half-closes, and only then reads: it gets every complete line,
/// then EOF. `total` must fit the kernel buffers plus the server's high
/// water (200 KB does with the defaults).
pub fn read_after_send_everything(addr: SocketAddr, total: usize) {
    let c = connect(addr);
    let lines = numbered_lines(0, total.div_ceil(NUMBERED_LINE_LEN));
    if let Err(e) = (&c)
        .write_all(&lines)
        .and_then(|_| (&c).write_all(b"no newline"))
    {
        panic!(
            "could not send {} bytes before reading ({e}): did the server stop reading too early?",
            lines.len()
        );
    }
    half_close(&c);
    let got = read_until_eof(&c, Duration::from_secs(30));
    assert_bytes_eq("echo of everything sent before reading", &got, &lines);
}

/// Backpressure: a writer thread pushes `total` bytes of distinct numbered
/// lines while nobody reads. The writer's progress must stall (or finish) with
/// the server's RSS no more than `max_rss_growth` above its baseline; then the
/// client reads, and must get every byte back, in order.
pub fn non_reading_client(server: &Server, total: usize, max_rss_growth: u64) {
    let pid = server.pid();
    let c = connect(server.addr());
    assert_echo(&c, b"start\n");
    let baseline = rss_bytes(pid);

    let line_count = total / NUMBERED_LINE_LEN;
    let progress = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let writer = {
        let w = c.try_clone().expect("clone stream");
        w.set_write_timeout(Some(Duration::from_secs(120)))
            .expect("set write timeout");
        let progress = Arc::clone(&progress);
        let finished = Arc::clone(&finished);
        thread::spawn(move || -> Result<(), String> {
            let mut next = 0usize;
            while next < line_count {
                let n = (line_count - next).min(1024);
                let chunk = numbered_lines(next as u64, n);
                let mut pos = 0;
                while pos < chunk.len() {
                    match (&w).write(&chunk[pos..]) {
                        Ok(0) => return Err("write returned 0".into()),
                        Ok(k) => {
                            pos += k;
                            progress.fetch_add(k as u64, Ordering::SeqCst);
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            return Err(format!(
                                "write failed after {} bytes: {e}",
                                progress.load(Ordering::SeqCst)
                            ))
                        }
                    }
                }
                next += n;
            }
            finished.store(true, Ordering::SeqCst);
            Ok(())
        })
    };

    // Watch the writer until its progress stops for STALL (the server stopped
    // reading) or it is done; sample the server's RSS meanwhile.
    const STALL: Duration = Duration::from_secs(1);
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut peak = baseline;
    let mut last = 0;
    let mut last_change = Instant::now();
    let stalled_at = loop {
        thread::sleep(Duration::from_millis(20)); // polling an absence of progress
        peak = peak.max(rss_bytes(pid));
        let now_progress = progress.load(Ordering::SeqCst);
        if finished.load(Ordering::SeqCst) || writer.is_finished() {
            break None;
        }
        if now_progress != last {
            last = now_progress;
            last_change = Instant::now();
        } else if last_change.elapsed() >= STALL {
            break Some(now_progress);
        }
        assert!(
            Instant::now() < give_up,
            "writer neither stalled nor finished within 60 s ({now_progress} of {total} bytes sent)"
        );
    };
    peak = peak.max(rss_bytes(pid));
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "non_reading_client: writer {} ; server RSS baseline {} KiB, peak growth {} KiB",
        match stalled_at {
            Some(b) => format!("stalled after {b} bytes"),
            None => "finished without stalling".to_string(),
        },
        baseline / 1024,
        growth / 1024
    );
    assert!(
        growth < max_rss_growth,
        "server RSS grew by {} KiB (limit {} KiB) while the client did not read \
         ({} bytes sent, stalled: {}): no backpressure?",
        growth / 1024,
        max_rss_growth / 1024,
        progress.load(Ordering::SeqCst),
        stalled_at.is_some()
    );
    server.assert_alive("while a client was not reading");

    // Now read everything back, and check each byte.
    let expected_len = line_count * NUMBERED_LINE_LEN;
    let within = Duration::from_secs(30 + (total as u64 / MIB));
    let (got, end) = read_within(&c, Some(expected_len), within);
    if got.len() != expected_len {
        let written = progress.load(Ordering::SeqCst);
        panic!(
            "after reading resumed, got {} of {expected_len} bytes ({end:?}); writer had sent {written}",
            got.len()
        );
    }
    let expected = numbered_lines(0, line_count);
    assert_bytes_eq("echo of the non-reading client's data", &got, &expected);
    match writer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("writer: {e}"),
        Err(_) => panic!("writer thread panicked"),
    }
    expect_nothing_for(&c, Duration::from_millis(100));
}

/// Line limit (`max_line` = the server's `--max-line`): a line of exactly
/// `max_line` bytes (newline included) is echoed; then lines followed by a
/// fragment of `max_line + 1` bytes, with no newline ever sent: the lines are
/// echoed and the server closes the connection (EOF or reset) by itself.
pub fn over_long_line(addr: SocketAddr, max_line: usize) {
    assert!(max_line >= 2, "max_line too small for this test");
    let c = connect(addr);
    let mut longest_ok = vec![b'y'; max_line - 1];
    longest_ok.push(b'\n');
    send(&c, &longest_ok);
    let got = read_exact_within(&c, longest_ok.len(), IO_TIMEOUT);
    assert_bytes_eq(
        &format!("a line of exactly {max_line} bytes (newline included)"),
        &got,
        &longest_ok,
    );

    let before = b"before 1\nbefore 2\n";
    let mut batch = before.to_vec();
    batch.resize(batch.len() + max_line + 1, b'x');
    // The server may close before taking all of it; a failed write is fine.
    let _ = (&c).write_all(&batch);
    let (got, end) = read_within(&c, None, IO_TIMEOUT);
    assert!(
        end.is_closed(),
        "a {}-byte line without newline (max-line {max_line}) did not close the connection \
         within {IO_TIMEOUT:?}: {end:?} after {}",
        max_line + 1,
        show(&got)
    );
    assert_bytes_eq(
        "lines before the over-long one must be echoed before closing",
        &got,
        before,
    );
}

/// `conns` concurrent clients each stream up to 4 MiB (at least 8 × `max_line`)
/// of one endless line: each must be closed by the server, and the server's
/// peak RSS must stay under `max_rss_growth` above its baseline. The server
/// then still serves a new client.
pub fn over_long_line_many(server: &Server, max_line: usize, conns: usize, max_rss_growth: u64) {
    let addr = server.addr();
    let pid = server.pid();
    let probe = connect(addr);
    assert_echo(&probe, b"probe\n");
    drop(probe);
    let baseline = rss_bytes(pid);
    let per_conn = (4 * MIB as usize).max(8 * max_line);
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            let done = Arc::clone(&done);
            thread::spawn(move || -> Result<(), String> {
                let result = (|| {
                    let c = try_connect(addr, Duration::from_secs(10))
                        .map_err(|e| format!("conn {i}: connect: {e}"))?;
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut sent = 0;
                    while sent < per_conn {
                        match (&c).write(&chunk) {
                            Ok(k) => sent += k,
                            Err(e) if e.kind() == ErrorKind::Interrupted => {}
                            Err(e) if e.kind() == ErrorKind::WouldBlock
                                || e.kind() == ErrorKind::TimedOut =>
                            {
                                return Err(format!(
                                    "conn {i}: server stopped reading after {sent} bytes of one line \
                                     but did not close"
                                ))
                            }
                            Err(_) => break, // closed by the server: expected
                        }
                    }
                    let (got, end) = read_within(&c, None, Duration::from_secs(20));
                    if !end.is_closed() {
                        return Err(format!(
                            "conn {i}: not closed after sending {sent} bytes without newline: {end:?}"
                        ));
                    }
                    if !got.is_empty() {
                        return Err(format!("conn {i}: unexpected echo {}", show(&got)));
                    }
                    Ok(())
                })();
                done.fetch_add(1, Ordering::SeqCst);
                result
            })
        })
        .collect();

    let give_up = Instant::now() + Duration::from_secs(60);
    let mut peak = baseline;
    while done.load(Ordering::SeqCst) < conns {
        peak = peak.max(rss_bytes(pid));
        assert!(
            Instant::now() < give_up,
            "over-long-line clients not finished within 60 s"
        );
        thread::sleep(Duration::from_millis(5)); // RSS sampling period
    }
    peak = peak.max(rss_bytes(pid));
    let errors: Vec<String> = handles
        .into_iter()
        .filter_map(|h| match h.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("client thread panicked".to_string()),
        })
        .collect();
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "over_long_line_many: {conns} conns, server RSS peak growth {} KiB",
        growth / 1024
    );
    assert!(
        errors.is_empty(),
        "{} of {conns} over-long-line clients failed (server RSS peak growth {} KiB):\n{}",
        errors.len(),
        growth / 1024,
        errors.join("\n")
    );
    assert!(
        growth < max_rss_growth,
        "server RSS grew by {} KiB (limit {} KiB) with {conns} over-long lines (max-line {max_line})",
        growth / 1024,
        max_rss_growth / 1024
    );
    server.assert_alive("after over-long lines");
    let after = connect(addr);
    assert_echo(&after, b"still serving\n");
}

/// Peer reset: a client that never reads pushes data until its writes block
/// (up to 8 MiB), so the server has output pending, then resets the
/// connection (`SO_LINGER` 0 + close). Twice. The server must survive, keep
/// serving an existing client, and serve a new one.
pub fn peer_reset_with_output_pending(server: &Server) {
    let addr = server.addr();
    let bystander = connect(addr);
    assert_echo(&bystander, b"bystander before\n");
    for round in 0..2 {
        let victim = connect(addr);
        victim
            .set_write_timeout(Some(Duration::from_millis(300)))
            .expect("set write timeout");
        let chunk = numbered_lines(0, 1024);
        let mut sent = 0usize;
        let give_up = Instant::now() + Duration::from_secs(10);
        while sent < 8 * MIB as usize && Instant::now() < give_up {
            match (&victim).write(&chunk) {
                Ok(k) => sent += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => panic!("victim write failed after {sent} bytes: {e}"),
            }
        }
        eprintln!("peer_reset round {round}: victim sent {sent} bytes without reading");
        reset(victim);

        assert_echo(
            &bystander,
            format!("bystander after reset {round}\n").as_bytes(),
        );
        let fresh = connect(addr);
        assert_echo(&fresh, b"fresh client\n");
        assert_echo(&fresh, b"fresh client again\n");
        server.assert_alive(&format!("after peer reset {round}"));
    }
}

/// Closes `stream` with `SO_LINGER` 0, so the kernel sends a TCP reset.
pub fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(stream);
}

/// Connection limit (`n` = the server's `--max-connections`): `n` clients
/// are served; one more is closed at once (EOF or reset within 3 s, nothing
/// echoed); the first `n` keep working; after one of them leaves, a new
/// client is served (within 5 s).
pub fn max_connections(addr: SocketAddr, n: usize) {
    let mut clients: Vec<TcpStream> = (0..n)
        .map(|i| {
            let c = connect(addr);
            assert_echo(&c, format!("client {i}\n").as_bytes());
            c
        })
        .collect();

    let extra = connect(addr);
    let _ = (&extra).write_all(b"over the limit\n");
    let (got, end) = read_within(&extra, None, Duration::from_secs(3));
    assert!(
        end.is_closed(),
        "connection {} (max-connections {n}) was not closed within 3 s: {end:?}, got {}",
        n + 1,
        show(&got)
    );
    assert!(
        got.is_empty(),
        "connection over the limit was served: {}",
        show(&got)
    );

    for (i, c) in clients.iter().enumerate() {
        assert_echo(c, format!("client {i} still served\n").as_bytes());
    }

    drop(clients.remove(0));
    let give_up = Instant::now() + Duration::from_secs(5);
    let line = b"replacement client\n";
    loop {
        let c = connect(addr);
        let _ = (&c).write_all(line);
        let (got, end) = read_within(&c, Some(line.len()), Duration::from_secs(2));
        match end {
            ReadEnd::Complete => {
                assert_bytes_eq("replacement client", &got, line);
                break;
            }
            // Closed: the server may not have seen the departure yet; retry.
            ReadEnd::Eof | ReadEnd::Reset if Instant::now() < give_up => {
                thread::sleep(Duration::from_millis(20)); // retry back-off
            }
            other => panic!(
                "after a client left, a new client was not served within 5 s ({other:?}, got {})",
                show(&got)
            ),
        }
    }
}

/// EMFILE: `server` must have been started with a low descriptor limit
/// ([`crate::ServerSpec::nofile_limit`], e.g. 64). Opens clients until one is
/// not served within 1 s (descriptors exhausted; at most 1000 clients); the
/// server must then use under 5 % CPU (over 1 s), and once 8 clients leave,
/// both the waiting client and a brand-new one are served within 1 s each.
pub fn emfile(server: &Server) {
    let addr = server.addr();
    let pid = server.pid();
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut served: Vec<TcpStream> = Vec::new();
    let (waiting, waiting_line) = loop {
        assert!(
            served.len() < 1000 && Instant::now() < give_up,
            "{} clients served without the server running out of descriptors: \
             was it started with a low nofile limit?",
            served.len()
        );
        let c = try_connect(addr, Duration::from_secs(5)).unwrap_or_else(|e| {
            panic!(
                "connect failed after {} clients were served (listener lost?): {e}",
                served.len()
            )
        });
        let line = format!("emfile probe {}\n", served.len()).into_bytes();
        send(&c, &line);
        let (got, end) = read_within(&c, Some(line.len()), Duration::from_secs(1));
        match end {
            ReadEnd::Complete => {
                assert_bytes_eq("probe echo", &got, &line);
                served.push(c);
            }
            ReadEnd::Timeout if got.is_empty() => break (c, line),
            other => panic!(
                "client {} (descriptors exhausted?) got {other:?} with {}: \
                 expected it to wait in the backlog",
                served.len(),
                show(&got)
            ),
        }
    };
    assert!(!served.is_empty(), "no client was served at all");
    eprintln!("emfile: {} clients served before exhaustion", served.len());

    let cpu = cpu_fraction_over(pid, Duration::from_secs(1));
    eprintln!("emfile: server CPU during the outage: {:.1}%", cpu * 100.0);
    assert!(
        cpu < 0.05,
        "server used {:.1}% CPU while out of descriptors (limit 5%): busy accept loop?",
        cpu * 100.0
    );
    server.assert_alive("while out of descriptors");

    let leaving = served.len().min(8);
    served.drain(..leaving);
    let got = read_exact_within(&waiting, waiting_line.len(), Duration::from_secs(1));
    assert_bytes_eq("client that waited during the outage", &got, &waiting_line);
    let fresh = try_connect(addr, Duration::from_secs(1)).expect("connect after outage");
    send(&fresh, b"after the outage\n");
    let got = read_exact_within(&fresh, 17, Duration::from_secs(1));
    assert_bytes_eq("new client after the outage", &got, b"after the outage\n");
    if let Some(c) = served.first() {
        assert_echo(c, b"old client still served\n");
    }
}
