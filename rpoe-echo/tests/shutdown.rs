//! Signals: SIGINT/SIGTERM shut `rpoe-echo` down gracefully (stop
//! accepting, echo the complete lines already received, close, exit 0
//! within a bounded time); a second signal stops it at once; SIGHUP is
//! ignored. Real processes, real signals.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpoe_testkit::io::{assert_bytes_eq, assert_echo, connect, read_until_eof, send, try_connect};
use rpoe_testkit::policy::numbered_lines;

use common::echo;

#[test]
fn term_finishes_received_lines_then_exits_0() {
    for sig in ["TERM", "INT"] {
        let s = echo(&[]);
        let busy = connect(s.addr());
        let idle = connect(s.addr());
        assert_echo(&busy, b"one\n");
        assert_echo(&idle, b"idle\n");
        // Already received by the server's socket when the signal comes.
        send(&busy, b"two\nthree\npartial");
        s.signal(sig);
        let got = read_until_eof(&busy, Duration::from_secs(5));
        assert_bytes_eq("lines sent before the signal", &got, b"two\nthree\n");
        let got = read_until_eof(&idle, Duration::from_secs(5));
        assert!(got.is_empty(), "idle client got {got:?}");
        let status = s.wait_exit(Duration::from_secs(5));
        assert!(
            status.is_some_and(|st| st.success()),
            "SIG{sig}: expected exit 0 within 5 s, got {status:?}; stderr:\n{}",
            s.stderr()
        );
        assert!(
            try_connect(s.addr(), Duration::from_secs(1)).is_err(),
            "still accepting after SIG{sig}"
        );
    }
}

/// A client that sends numbered lines and never reads. Returns once the
/// server has stopped reading from it (its writes stall): from then on the
/// server holds output it cannot write.
fn stuck_client(addr: std::net::SocketAddr) -> (TcpStream, std::thread::JoinHandle<()>) {
    let c = connect(addr);
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = std::thread::spawn({
        let c = c.try_clone().unwrap();
        let sent = sent.clone();
        move || {
            let data = numbered_lines(0, 400_000);
            for chunk in data.chunks(16 * 1024) {
                if (&c).write_all(chunk).is_err() {
                    return;
                }
                sent.fetch_add(chunk.len(), Ordering::Relaxed);
            }
        }
    });
    // Stalled: no progress for 200 ms after at least 1 MiB went out.
    let give_up = Instant::now() + Duration::from_secs(20);
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = sent.load(Ordering::Relaxed);
        if now == last && now > 1 << 20 {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "the server never applied backpressure"
        );
        last = now;
    }
    (c, writer)
}

#[test]
fn shutdown_is_bounded_by_its_timeout() {
    let s = echo(&["--shutdown-timeout-ms", "300"]);
    let (stuck, writer) = stuck_client(s.addr());
    s.signal("TERM");
    assert!(
        s.wait_exit(Duration::from_millis(150)).is_none(),
        "exited at once although a client had output pending"
    );
    let status = s.wait_exit(Duration::from_secs(3));
    assert!(
        status.is_some_and(|st| st.success()),
        "expected exit 0 soon after the 300 ms shutdown timeout, got {status:?}"
    );
    drop(stuck);
    let _ = writer.join();
}

#[test]
fn a_second_signal_stops_at_once() {
    let s = echo(&["--shutdown-timeout-ms", "60000"]);
    let (stuck, writer) = stuck_client(s.addr());
    s.signal("TERM");
    assert!(
        s.wait_exit(Duration::from_millis(300)).is_none(),
        "exited while a client still had output pending (timeout is 60 s)"
    );
    s.signal("TERM");
    let status = s.wait_exit(Duration::from_secs(2));
    assert!(
        status.is_some_and(|st| st.code() == Some(1)),
        "expected exit 1 right after the second signal, got {status:?}"
    );
    drop(stuck);
    let _ = writer.join();
}

#[test]
fn hup_is_ignored() {
    let s = echo(&[]);
    let c = connect(s.addr());
    assert_echo(&c, b"before\n");
    s.signal("HUP");
    assert_echo(&c, b"after\n");
    assert_echo(&connect(s.addr()), b"new client\n");
    s.assert_alive("after SIGHUP");
}

#[test]
fn workers_share_the_port_and_shut_down_together() {
    let s = echo(&["--workers", "3"]);
    let clients: Vec<TcpStream> = (0..30).map(|_| connect(s.addr())).collect();
    for (i, c) in clients.iter().enumerate() {
        assert_echo(c, format!("client {i}\n").as_bytes());
    }
    s.signal("TERM");
    for c in &clients {
        assert!(read_until_eof(c, Duration::from_secs(5)).is_empty());
    }
    let status = s.wait_exit(Duration::from_secs(5));
    assert!(
        status.is_some_and(|st| st.success()),
        "3 workers: expected exit 0 after TERM, got {status:?}; stderr:\n{}",
        s.stderr()
    );
}
