//! The operator's surface of `rpoe-echo`: the `--metrics` endpoint (scraped
//! over real HTTP and parsed with a Prometheus text parser), systemd
//! notifications on a real unix datagram socket, `--log-format json`,
//! SIGUSR1, `--stats-interval`, and `--help`. Real processes on ephemeral
//! 127.0.0.1 ports, real signals.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rpoe_testkit::io::{assert_echo, connect, half_close, read_until_eof, send};
use rpoe_testkit::ServerSpec;
use rustix::process::{kill_process, Pid, Signal};

const EXE: &str = env!("CARGO_BIN_EXE_rpoe-echo");

/// The families the soak tool scrapes, with their types.
const FAMILIES: [(&str, &str); 11] = [
    ("rpoe_echo_connections", "gauge"),
    ("rpoe_echo_connections_accepted_total", "counter"),
    ("rpoe_echo_connections_rejected_total", "counter"),
    ("rpoe_echo_connections_evicted_total", "counter"),
    ("rpoe_echo_lines_total", "counter"),
    ("rpoe_echo_received_bytes_total", "counter"),
    ("rpoe_echo_sent_bytes_total", "counter"),
    ("rpoe_echo_backpressure_pauses_total", "counter"),
    ("rpoe_echo_timeouts_total", "counter"),
    ("rpoe_echo_accept_errors_total", "counter"),
    ("rpoe_echo_closes_total", "counter"),
];

// ---- a scrape ----

/// One HTTP exchange: the raw request, the status line and the body.
fn http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).expect("send the request");
    let mut got = Vec::new();
    // The server closes after one response: read to EOF (bounded by the
    // read timeout and by the response size check below).
    s.take(1 << 20)
        .read_to_end(&mut got)
        .expect("read the response");
    let text = String::from_utf8(got).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head.lines().next().unwrap_or_default().to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Content-Length header");
    assert_eq!(length, body.len(), "Content-Length vs body:\n{text}");
    (status, body.to_string())
}

/// The metric samples of one scrape: (name, sorted labels) -> value.
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

/// GET /metrics, parse it with `prometheus-parse`, and check it is a
/// well-formed exposition: every sample line parsed, every family has a
/// TYPE of the right kind and a HELP.
fn scrape(addr: SocketAddr) -> Samples {
    let (status, body) = http(addr, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(status, "HTTP/1.0 200 OK", "body:\n{body}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("a Prometheus text exposition");
    let sample_lines = body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        parsed.samples.len(),
        sample_lines,
        "the parser skipped lines of:\n{body}"
    );
    for (family, kind) in FAMILIES {
        assert!(
            body.contains(&format!("# TYPE {family} {kind}\n")),
            "no `# TYPE {family} {kind}` in:\n{body}"
        );
        assert!(parsed.docs.contains_key(family), "no HELP for {family}");
    }
    let mut out = Samples::new();
    for s in parsed.samples {
        let value = match s.value {
            prometheus_parse::Value::Counter(v) => {
                assert!(s.metric.ends_with("_total"), "counter {}", s.metric);
                v
            }
            prometheus_parse::Value::Gauge(v) => v,
            other => panic!("{}: unexpected value {other:?}", s.metric),
        };
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        out.insert((s.metric, labels), value);
    }
    out
}

/// The value of `name{label=value}` (or of `name` without labels).
fn get(samples: &Samples, name: &str, label: Option<(&str, &str)>) -> f64 {
    let key = (
        name.to_string(),
        label
            .map(|(k, v)| vec![(k.to_string(), v.to_string())])
            .unwrap_or_default(),
    );
    *samples
        .get(&key)
        .unwrap_or_else(|| panic!("no sample {key:?} among {:?}", samples.keys()))
}

/// Scrape until `done` holds (the server counts a close when its socket
/// is closed, which the client cannot observe first), at most 5 s.
fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&Samples) -> bool) -> Samples {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let s = scrape(addr);
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < give_up,
            "never saw {what}; last scrape: {s:?}"
        );
        // No event tells the client the server closed its side of a socket
        // the client already closed: poll.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `metrics on http://ADDR/metrics` line the server prints.
fn metrics_addr(stdout: &str) -> SocketAddr {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("metrics on http://"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no `metrics on` line in stdout:\n{stdout}"))
}

#[test]
fn metrics_scrape_parses_and_counts_traffic() {
    let s = ServerSpec::rpoe_echo(EXE)
        .args(["--metrics", "127.0.0.1:0", "--max-line", "16"])
        .spawn();
    let m = metrics_addr(&s.stdout());
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
    let s = ServerSpec::rpoe_echo(EXE)
        .args([
            "--metrics",
            "127.0.0.1:0",
            "--max-connections",
            "1",
            "--evict-idle-after",
            "off",
        ])
        .spawn();
    let m = metrics_addr(&s.stdout());
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
    let s = ServerSpec::rpoe_echo(EXE)
        .args(["--metrics", "127.0.0.1:0", "--idle-timeout", "200ms"])
        .spawn();
    let m = metrics_addr(&s.stdout());
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
    let s = ServerSpec::rpoe_echo(EXE)
        .args([
            "--metrics",
            "127.0.0.1:0",
            "--high-water",
            "4096",
            "--low-water",
            "1024",
        ])
        .spawn();
    let m = metrics_addr(&s.stdout());
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
    let s = ServerSpec::rpoe_echo(EXE)
        .args(["--metrics", "127.0.0.1:0"])
        .spawn();
    let m = metrics_addr(&s.stdout());
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
    let s = ServerSpec::rpoe_echo(EXE)
        .args(["--metrics", "127.0.0.1:0"])
        .spawn();
    let m = metrics_addr(&s.stdout());
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
    let s = ServerSpec::rpoe_echo(EXE)
        .args(["--metrics", "127.0.0.1:0", "--workers", "3"])
        .spawn();
    let m = metrics_addr(&s.stdout());
    let clients: Vec<TcpStream> = (0..30).map(|_| connect(s.addr())).collect();
    for c in &clients {
        assert_echo(c, b"line\n");
    }
    let t = scrape(m);
    assert_eq!(get(&t, "rpoe_echo_connections", None), 30.0);
    assert_eq!(get(&t, "rpoe_echo_connections_accepted_total", None), 30.0);
    assert_eq!(get(&t, "rpoe_echo_lines_total", None), 30.0);
    assert_eq!(get(&t, "rpoe_echo_sent_bytes_total", None), 150.0);
}

// ---- a server whose stderr is read line by line ----

/// `rpoe-echo` with stderr read line by line into a channel, so a test
/// waits for a log line as an event.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    addr: SocketAddr,
}

impl Proc {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(EXE)
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rpoe-echo");
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix("listening on ") {
                    let _ = tx.send(a.parse::<SocketAddr>().expect("an address"));
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a `listening on` line within 20 s");
        Proc { child, lines, addr }
    }

    /// The next stderr line matching `pred`, within `within`.
    fn wait_for(&self, what: &str, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let give_up = Instant::now() + within;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {within:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("stderr closed before {what}"),
            }
        }
    }

    /// Every stderr line until `done` holds for those read so far.
    fn lines_until(&self, within: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let give_up = Instant::now() + within;
        let mut got = Vec::new();
        while !done(&got) {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => got.push(l),
                Err(e) => panic!("{e:?} before the lines expected; got {got:#?}"),
            }
        }
        got
    }

    fn signal(&self, sig: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32).expect("a pid");
        kill_process(pid, sig).expect("kill");
    }

    /// Stop with SIGTERM; every stderr line still unread, once it closed.
    fn stop(mut self) -> Vec<String> {
        self.signal(Signal::TERM);
        let mut rest = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => rest.push(l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stderr still open 10 s after TERM"),
            }
        }
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "exit status {status}");
        rest
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let out = Command::new(EXE)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
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
