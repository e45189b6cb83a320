//! Scraping rpoe-echo's `--metrics` endpoint and reading its process
//! state from `/proc`: one [`Sample`] every few seconds.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one scrape may take: the endpoint answers within its own 5 s
/// limit, so more than this means it is stuck (or the server is out of
/// descriptors and cannot accept the scrape yet).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(6);

/// Most bytes of a response read: the page is a few KiB; a runaway
/// response must not grow this process.
const MAX_RESPONSE: u64 = 1 << 20;

/// The parsed samples of one scrape: `name{labels}` (as written on the
/// page) to value.
pub type Page = BTreeMap<String, f64>;

/// One scrape of `http://addr/metrics`, parsed.
pub fn scrape(addr: SocketAddr) -> Result<Page, String> {
    let mut s = TcpStream::connect_timeout(&addr, SCRAPE_TIMEOUT)
        .map_err(|e| format!("metrics {addr}: connect: {e}"))?;
    s.set_read_timeout(Some(SCRAPE_TIMEOUT))
        .and_then(|()| s.set_write_timeout(Some(SCRAPE_TIMEOUT)))
        .map_err(|e| format!("metrics {addr}: {e}"))?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: soak\r\n\r\n")
        .map_err(|e| format!("metrics {addr}: write: {e}"))?;
    let mut body = String::new();
    s.take(MAX_RESPONSE)
        .read_to_string(&mut body)
        .map_err(|e| format!("metrics {addr}: read: {e}"))?;
    let (head, text) = body
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("metrics {addr}: no header end in {} bytes", body.len()))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or("");
        return Err(format!("metrics {addr}: {status}"));
    }
    Ok(parse(text))
}

/// Parse Prometheus text format: every non-comment line is
/// `name{labels} value`; labels are kept verbatim as part of the key.
pub fn parse(text: &str) -> Page {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.trim().to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// A counter or gauge of a page (0 when absent: every series the soak
/// reads is present from the start, so absent means "not yet").
pub fn get(page: &Page, key: &str) -> f64 {
    page.get(key).copied().unwrap_or(0.0)
}

/// The close reasons of `rpoe_echo_closes_total`, in CSV column order.
pub const REASONS: [&str; 11] = [
    "eof",
    "read_error",
    "write_error",
    "line_too_long",
    "idle_timeout",
    "line_timeout",
    "send_timeout",
    "evicted",
    "over_budget",
    "shutdown",
    "shutdown_timeout",
];

/// `rpoe_echo_closes_total{reason="..."}`.
pub fn closes(page: &Page, reason: &str) -> f64 {
    get(
        page,
        &format!("rpoe_echo_closes_total{{reason=\"{reason}\"}}"),
    )
}

/// `rpoe_echo_timeouts_total{kind="..."}`.
pub fn timeouts(page: &Page, kind: &str) -> f64 {
    get(
        page,
        &format!("rpoe_echo_timeouts_total{{kind=\"{kind}\"}}"),
    )
}

/// `rpoe_echo_accept_errors_total{errno="EMFILE"}`.
pub fn emfile(page: &Page) -> f64 {
    get(page, "rpoe_echo_accept_errors_total{errno=\"EMFILE\"}")
}

/// Open file descriptors of a process (entries of `/proc/PID/fd`).
pub fn fd_count(pid: u32) -> Result<usize, String> {
    let dir = format!("/proc/{pid}/fd");
    std::fs::read_dir(&dir)
        .map(|d| d.count())
        .map_err(|e| format!("{dir}: {e}"))
}

/// One row of the soak's time series.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the server started.
    pub t: f64,
    /// Resident memory, bytes.
    pub rss: u64,
    /// Open descriptors.
    pub fds: usize,
    /// CPU time used so far (user + system), seconds.
    pub cpu: f64,
    /// The scrape; `None` if it failed (the previous one is not reused,
    /// so a gap is visible as a gap).
    pub page: Option<Page>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labelled_and_plain_series() {
        let page = parse(
            "# HELP x y\n# TYPE rpoe_echo_connections gauge\nrpoe_echo_connections 3\n\
             rpoe_echo_closes_total{reason=\"eof\"} 12\nrpoe_echo_lines_total 1e3\n\n",
        );
        assert_eq!(get(&page, "rpoe_echo_connections"), 3.0);
        assert_eq!(closes(&page, "eof"), 12.0);
        assert_eq!(closes(&page, "evicted"), 0.0);
        assert_eq!(get(&page, "rpoe_echo_lines_total"), 1000.0);
    }

    #[test]
    fn counts_own_descriptors() {
        assert!(fd_count(std::process::id()).unwrap() >= 3);
        assert!(fd_count(u32::MAX).is_err());
    }
}
