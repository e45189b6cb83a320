//! The operator's surface of `rpoe-echo`: the `--metrics` endpoint (scraped
//! over real HTTP and parsed with a Prometheus text parser), systemd
//! notifications on a real unix datagram socket, `--log-format json`,
//! SIGUSR1, `--stats-interval`, and `--help`. Real processes on ephemeral
//! 127.0.0.1 ports, real signals.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpoe_testkit::io::{assert_echo, connect, half_close, read_until_eof, send};
use rpoe_testkit::ServerSpec;
use rustix::process::Signal;

use common::logged::Proc;
use common::metrics::{echo_with_metrics, get, http, metrics_addr, scrape, scrape_until};
use common::EXE;

#[test]
fn metrics_scrape_parses_and_counts_traffic() {
    let (s, m) = echo_with_metrics(&["--max-line", "16"]);
    let before = scrape(m);
    for (name, label) in [
        ("rpoe_echo_connections", None),
        ("rpoe_echo_connections_accepted_total", None),
        ("rpoe_echo_lines_total", None),
        ("rpoe_echo_received_bytes_total", None),
        ("rpoe_echo_sent_bytes_total", None),
        ("rpoe_echo_closes_total", Some(("reason", "eof"))),
    ] {
        assert_eq!(get(&before, name, label), 0.0, "{name} before any traffic");
    }
    // Every label value of the labelled families is present from the start.
    for kind in ["idle", "line", "send"] {
        get(&before, "rpoe_echo_timeouts_total", Some(("kind", kind)));
    }
    get(
        &before,
        "rpoe_echo_accept_errors_total",
        Some(("errno", "EMFILE")),
    );

    let c = connect(s.addr());
    assert_echo(&c, b"hello\n");
    assert_echo(&c, b"two\nlines\n");
    let open = scrape(m);
    assert_eq!(get(&open, "rpoe_echo_connections", None), 1.0);
    assert_eq!(
        get(&open, "rpoe_echo_connections_accepted_total", None),
        1.0
    );
    assert_eq!(get(&open, "rpoe_echo_lines_total", None), 3.0);
    assert_eq!(get(&open, "rpoe_echo_received_bytes_total", None), 16.0);
    assert_eq!(get(&open, "rpoe_echo_sent_bytes_total", None), 16.0);

    // EOF: the close is counted before the socket is closed, so once the
    // client reads EOF the count is there.
    half_close(&c);
    assert!(read_until_eof(&c, Duration::from_secs(5)).is_empty());
    let closed = scrape(m);
    assert_eq!(get(&closed, "rpoe_echo_connections", None), 0.0);
    assert_eq!(
        get(&closed, "rpoe_echo_closes_total", Some(("reason", "eof"))),
        1.0
    );

    // An over-long line: counted once the lingering close ends (the
    // client closing its side ends it).
    let long = connect(s.addr());
    send(&long, b"ok\n0123456789abcdefghij\n");
    let got = read_until_eof(&long, Duration::from_secs(5));
    assert_eq!(got, b"ok\n");
    drop(long);
    let after = scrape_until(m, "closes_total{reason=\"line_too_long\"} 1", |s| {
        get(
            s,
            "rpoe_echo_closes_total",
            Some(("reason", "line_too_long")),
        ) == 1.0
    });
    assert_eq!(get(&after, "rpoe_echo_lines_total", None), 4.0);
    assert_eq!(get(&after, "rpoe_echo_received_bytes_total", None), 40.0);
    assert_eq!(get(&after, "rpoe_echo_sent_bytes_total", None), 19.0);
    assert_eq!(
        get(&after, "rpoe_echo_connections_accepted_total", None),
        2.0
    );
}

#[test]
fn rejections_are_counted() {
    let (s, m) = echo_with_metrics(&["--max-connections", "1", "--evict-idle-after", "off"]);
    let first = connect(s.addr());
    assert_echo(&first, b"x\n");
    // At the cap with eviction off: the next client is closed at once.
    let refused = connect(s.addr());
    let (got, _) = rpoe_testkit::io::read_until_closed(&refused, Duration::from_secs(5));
    assert!(got.is_empty());
    let t = scrape(m);
    assert_eq!(get(&t, "rpoe_echo_connections_rejected_total", None), 1.0);
    assert_eq!(get(&t, "rpoe_echo_connections_accepted_total", None), 1.0);
    assert_eq!(get(&t, "rpoe_echo_connections", None), 1.0);
}

#[test]
fn idle_timeouts_are_counted() {
    let (s, m) = echo_with_metrics(&["--idle-timeout", "200ms"]);
    let idle = connect(s.addr());
    assert_echo(&idle, b"x\n");
    // The idle timeout shuts the write side (EOF), counted before that.
    assert!(read_until_eof(&idle, Duration::from_secs(5)).is_empty());
    let t = scrape(m);
    assert_eq!(
        get(&t, "rpoe_echo_timeouts_total", Some(("kind", "idle"))),
        1.0
    );
    assert_eq!(
        get(&t, "rpoe_echo_timeouts_total", Some(("kind", "line"))),
        0.0
    );
    drop(idle);
    scrape_until(m, "closes_total{reason=\"idle_timeout\"} 1", |s| {
        get(
            s,
            "rpoe_echo_closes_total",
            Some(("reason", "idle_timeout")),
        ) == 1.0
    });
}

#[test]
fn a_client_that_does_not_read_is_a_backpressure_pause() {
    let (s, m) = echo_with_metrics(&["--high-water", "4096", "--low-water", "1024"]);
    let c = connect(s.addr());
    // Write without reading until the server stops reading (a write
    // stalls for 500 ms), at most 64 MiB.
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = b"0123456789abcdef0123456789abcdef0123456789abcdef012345678912345\n".repeat(64);
    let mut stalled = false;
    for _ in 0..(64 << 20) / chunk.len() {
        if let Err(e) = (&c).write_all(&chunk) {
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "write: {e}"
            );
            stalled = true;
            break;
        }
    }
    assert!(
        stalled,
        "the server read 64 MiB from a client that reads nothing"
    );
    scrape_until(m, "a backpressure pause", |s| {
        get(s, "rpoe_echo_backpressure_pauses_total", None) >= 1.0
    });
}

#[test]
fn other_paths_and_methods_are_refused() {
    let (s, m) = echo_with_metrics(&[]);
    let (status, _) = http(m, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status, "HTTP/1.0 404 Not Found");
    let (status, _) = http(m, "POST /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(status, "HTTP/1.0 405 Method Not Allowed");
    let (status, body) = http(m, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(status, "HTTP/1.0 200 OK");
    assert!(body.contains("rpoe_echo_lines_total"), "{body}");
    let big = format!("GET /metrics HTTP/1.0\r\nX: {}\r\n\r\n", "a".repeat(10_000));
    let mut c = TcpStream::connect(m).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may close before taking it all: ignore a write error.
    let _ = c.write_all(big.as_bytes());
    let mut got = String::new();
    let _ = c.read_to_string(&mut got);
    assert!(
        got.starts_with("HTTP/1.0 431 "),
        "a 10 kB request head: {got:?}"
    );
    s.assert_alive("after the refused requests");
}

#[test]
fn a_silent_scraper_is_cut_off_after_5s_and_echo_goes_on() {
    let (s, m) = echo_with_metrics(&[]);
    let started = Instant::now();
    let silent = TcpStream::connect(m).unwrap();
    let c = connect(s.addr());
    assert_echo(&c, b"while a scraper says nothing\n");
    let (got, _) = rpoe_testkit::io::read_until_closed(&silent, Duration::from_secs(15));
    assert!(got.is_empty(), "{got:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "cut off after {:?}, before the 5 s timeout",
        started.elapsed()
    );
    assert_echo(&c, b"still echoing\n");
}

#[test]
fn workers_aggregate_into_one_scrape() {
    let (s, m) = echo_with_metrics(&["--workers", "3"]);
    let clients: Vec<TcpStream> = (0..30).map(|_| connect(s.addr())).collect();
    for c in &clients {
        assert_echo(c, b"line\n");
    }
    // A worker counts a line and its bytes just after writing the echo, so
    // the client can read it first: wait (bounded) for the last counts.
    let t = scrape_until(m, "30 lines and 150 bytes sent", |s| {
        get(s, "rpoe_echo_lines_total", None) >= 30.0
            && get(s, "rpoe_echo_sent_bytes_total", None) >= 150.0
    });
    assert_eq!(get(&t, "rpoe_echo_connections", None), 30.0);
    assert_eq!(get(&t, "rpoe_echo_connections_accepted_total", None), 30.0);
    assert_eq!(get(&t, "rpoe_echo_lines_total", None), 30.0);
    assert_eq!(get(&t, "rpoe_echo_sent_bytes_total", None), 150.0);
}

#[test]
fn json_logs_are_one_object_per_line_with_a_close_line() {
    let p = Proc::start(&["--log-format", "json"], &[("RUST_LOG", "debug")]);
    let c = connect(p.addr);
    assert_echo(&c, b"hello\n");
    half_close(&c);
    assert!(read_until_eof(&c, Duration::from_secs(5)).is_empty());
    let local = c.local_addr().unwrap();
    drop(c);
    let mut lines: Vec<String> = Vec::new();
    lines.push(
        p.wait_for("the close log line", Duration::from_secs(5), |l| {
            l.contains("connection closed")
        }),
    );
    lines.extend(p.stop());
    let mut close_line = None;
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"));
        assert!(v.is_object(), "{line}");
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["fields"]["message"] == "connection closed" {
            close_line = Some(v);
        }
    }
    let v = close_line.expect("a connection closed line");
    let f = &v["fields"];
    assert_eq!(v["level"], "DEBUG");
    assert_eq!(f["peer"], local.to_string());
    assert_eq!(f["reason"], "eof");
    assert_eq!(f["bytes_in"], 6);
    assert_eq!(f["bytes_out"], 6);
    assert_eq!(f["lines"], 1);
    assert!(f["duration_ms"].is_u64(), "{v}");
    assert!(
        lines.iter().any(|l| l.contains("shutting down")),
        "stderr after TERM: {lines:?}"
    );
}

#[test]
fn usr1_logs_the_counters_and_the_kernel() {
    let p = Proc::start(&["--workers", "2"], &[]);
    let c = connect(p.addr);
    assert_echo(&c, b"counted\n");
    let is_counters = |l: &str| l.contains("counters") && l.contains("accepted=");
    let is_kernel = |l: &str| l.contains(" kernel ") && l.contains("pending_events=");
    let wanted = [
        "connections=1",
        "accepted=1",
        "lines=1",
        "received_bytes=8",
        "sent_bytes=8",
    ];
    // The other worker may have echoed and not yet stored its counters
    // (it can be preempted in between): ask again, a bounded number of
    // times.
    let mut lines = Vec::new();
    for _ in 0..5 {
        p.signal(Signal::USR1);
        lines = p.lines_until(Duration::from_secs(5), |ls| {
            ls.iter().any(|l| is_counters(l)) && ls.iter().filter(|l| is_kernel(l)).count() == 2
        });
        let c = lines.iter().find(|l| is_counters(l)).unwrap();
        if wanted.iter().all(|w| c.contains(w)) {
            break;
        }
    }
    let counters = lines.iter().find(|l| is_counters(l)).unwrap();
    for want in wanted {
        assert!(counters.contains(want), "{want} missing: {counters}");
    }
    // One kernel line per worker.
    let mut workers: Vec<bool> = lines
        .iter()
        .filter(|l| is_kernel(l))
        .map(|l| {
            assert!(l.contains("sessions=") && l.contains("handles="), "{l}");
            l.contains("worker=0")
        })
        .collect();
    workers.sort();
    assert_eq!(workers, [false, true], "one kernel line from each worker");
    // Still serving.
    assert_echo(&c, b"after\n");
    drop(c);
    p.stop();
}

#[test]
fn stats_interval_logs_periodic_lines() {
    let p = Proc::start(&["--stats-interval", "100ms"], &[]);
    let mut stamps = Vec::new();
    for _ in 0..3 {
        let l = p.wait_for("a stats line", Duration::from_secs(5), |l| {
            l.contains(" stats ")
        });
        assert!(l.contains("accepted=0 "), "{l}");
        stamps.push(log_seconds(&l));
    }
    // Stamped by the server as it logs them: at least one interval apart
    // (the next is set after each line, so never sooner).
    for pair in stamps.windows(2) {
        // (A line after midnight has a smaller time of day.)
        let gap = (pair[1] - pair[0]).rem_euclid(86_400.0);
        assert!(gap >= 0.099, "stats lines {gap:.3} s apart: {stamps:?}");
    }
    p.stop();
}

/// The time of day, in seconds, of a text log line's RFC 3339 stamp
/// (`2026-12-06T09:59:40.585479Z ...`).
fn log_seconds(line: &str) -> f64 {
    let t = line
        .split_whitespace()
        .next()
        .and_then(|stamp| stamp.split_once('T'))
        .map(|(_, t)| t.trim_end_matches('Z'))
        .unwrap_or_else(|| panic!("no timestamp: {line}"));
    let parts: Vec<f64> = t.split(':').map(|p| p.parse().expect("a number")).collect();
    assert_eq!(parts.len(), 3, "{line}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

#[test]
fn notify_socket_gets_ready_status_and_stopping() {
    let dir = std::env::temp_dir().join(format!(
        "rpoe-echo-notify-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let recv = || {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let p = Proc::start(&[], &[("NOTIFY_SOCKET", path.to_str().unwrap())]);
    // READY=1 is sent once every listener is bound: by now.
    let first = recv();
    assert!(first.lines().any(|l| l == "READY=1"), "first: {first:?}");
    let c = connect(p.addr);
    assert_echo(&c, b"x\n");
    let mut seen = Vec::new();
    for _ in 0..10 {
        let m = recv();
        if m.contains("STATUS=serving 1 clients") {
            break;
        }
        seen.push(m);
        assert!(seen.len() < 10, "no STATUS with 1 client: {seen:?}");
    }
    drop(c);
    p.signal(Signal::TERM);
    let mut stopping = false;
    for _ in 0..10 {
        let m = recv();
        if m.lines().any(|l| l == "STOPPING=1") {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1 after TERM");
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_lists_the_operator_flags() {
    let help = common::help();
    for flag in [
        "--metrics <ADDR>",
        "--stats-interval <DURATION>",
        "--log-format <FORMAT>",
        "SIGUSR1",
        "NOTIFY_SOCKET",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn the_example_unit_is_type_notify_and_its_command_line_serves() {
    let unit = include_str!("../contrib/rpoe-echo.service");
    let setting = |key: &str| -> Vec<&str> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .collect()
    };
    assert_eq!(setting("Type"), ["notify"]);
    assert_eq!(setting("KillSignal"), ["SIGTERM"]);
    let exec = setting("ExecStart");
    assert_eq!(exec.len(), 1, "{exec:?}");
    // The unit's flags, on ephemeral loopback ports instead of its fixed
    // ones, with a notify socket as systemd would give it.
    let args: Vec<String> = exec[0]
        .split_whitespace()
        .skip(1)
        .map(|a| match a {
            "12345" => "0".to_string(),
            "127.0.0.1:9100" => "127.0.0.1:0".to_string(),
            other => other.to_string(),
        })
        .collect();
    assert!(args.iter().any(|a| a == "--metrics"), "{args:?}");
    let s = ServerSpec::new(EXE)
        .args(["--bind", "127.0.0.1"])
        .args(&args)
        .spawn();
    assert_echo(&connect(s.addr()), b"as under systemd\n");
    let m = metrics_addr(&s.stdout());
    let t = scrape(m);
    assert_eq!(get(&t, "rpoe_echo_lines_total", None), 1.0);
}

#[test]
fn an_unusable_metrics_address_fails_startup_with_json_lines_only() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut child = Command::new(EXE)
        .args(["--bind", "127.0.0.1", "--port", "0", "--log-format", "json"])
        .args(["--metrics", &addr])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // It exits by itself; stderr closes when it does.
    let mut pipe = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut err = String::new();
        let _ = pipe.read_to_string(&mut err);
        let _ = tx.send(err);
    });
    let err = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(err) => err,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running 20 s after failing to bind --metrics");
        }
    };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(!out.contains("listening on"), "listened anyway: {out}");
    assert!(err.contains("cannot listen for --metrics"), "{err}");
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        assert!(v.is_object(), "{line}");
    }
}
