//! The `--metrics` endpoint seen from outside: starting a server with it,
//! finding its address, and scraping it over real HTTP into samples parsed
//! by a Prometheus text parser. Shared so that every test reads the
//! exposition through the same checks (every family typed and documented,
//! no line the parser skipped).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rpoe_testkit::{Server, ServerSpec};

use super::EXE;

/// The families the soak tool scrapes, with their types.
pub const FAMILIES: [(&str, &str); 11] = [
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

/// One HTTP exchange: the raw request, the status line and the body.
pub fn http(addr: SocketAddr, request: &str) -> (String, String) {
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
pub type Samples = HashMap<(String, Vec<(String, String)>), f64>;

/// GET /metrics, parse it with `prometheus-parse`, and check it is a
/// well-formed exposition: every sample line parsed, every family has a
/// TYPE of the right kind and a HELP.
pub fn scrape(addr: SocketAddr) -> Samples {
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
pub fn get(samples: &Samples, name: &str, label: Option<(&str, &str)>) -> f64 {
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
pub fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&Samples) -> bool) -> Samples {
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
pub fn metrics_addr(stdout: &str) -> SocketAddr {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("metrics on http://"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no `metrics on` line in stdout:\n{stdout}"))
}

/// `rpoe-echo --bind 127.0.0.1 --port 0 --metrics 127.0.0.1:0` plus
/// `flags`, and the metrics endpoint's address from its stdout.
pub fn echo_with_metrics(flags: &[&str]) -> (Server, SocketAddr) {
    let s = ServerSpec::rpoe_echo(EXE)
        .args(["--metrics", "127.0.0.1:0"])
        .args(flags)
        .spawn();
    let m = metrics_addr(&s.stdout());
    (s, m)
}
