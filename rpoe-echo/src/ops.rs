//! The operator's session: it runs beside the echo session in the main
//! kernel (worker 0) and serves what an operator asks of a running server
//! — the `--metrics` endpoint, the `--stats-interval` line, and systemd's
//! `STATUS=`/`STOPPING=1` — without a runtime of its own: a scrape is a
//! few events in the same loop as the echo traffic.
//!
//! # The metrics endpoint
//!
//! A deliberately tiny HTTP/1.0 responder, enough for Prometheus and curl:
//! it reads one request head of at most [`MAX_REQUEST`] bytes within
//! [`HTTP_TIMEOUT`], answers `GET /metrics` (or `HEAD`) with the counters,
//! any other path with 404 and any other method with 405, then closes. At
//! most [`MAX_HTTP`] scrapes are served at once; more are closed at once,
//! so a flood of scrapers costs a few descriptors, never memory or the
//! echo clients' time. After the response the write side is shut and
//! input is discarded until the client closes (at most [`MAX_DISCARD`]
//! bytes, within the same timeout), as the echo connections do, so a
//! request with unread bytes after its head cannot turn the close into a
//! reset that destroys the response. It stops with the first
//! SIGINT/SIGTERM.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use prometheus_client::registry::Registry;
use rpoe::{Ctx, HandleId, Session, TimerId};

use crate::metrics::{self, Metrics};

/// Largest request head read; a longer one gets 431.
pub const MAX_REQUEST: usize = 8 * 1024;
/// Longest a scrape may take to send its request and read the answer.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Most scrapes served at once.
pub const MAX_HTTP: usize = 16;
/// Shortest time between two `STATUS=` notifications (sent only when the
/// client count changed).
pub const STATUS_EVERY: Duration = Duration::from_secs(1);

/// What the ops session is to do.
pub struct Config {
    /// Every worker's counters.
    pub metrics: Metrics,
    /// The bound `--metrics` listener, if any.
    pub listener: Option<TcpListener>,
    /// `--stats-interval`.
    pub stats_interval: Option<Duration>,
    /// NOTIFY_SOCKET is set: send systemd `STATUS=` and `STOPPING=1`.
    pub notify: bool,
}

/// Most input discarded after the request before closing anyway.
const MAX_DISCARD: usize = 64 * 1024;

/// Where a scrape is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Reading the request head.
    Reading,
    /// Writing the response; input is discarded.
    Writing,
    /// Response written and write side shut: discarding input until the
    /// client closes (or the timeout), so that closing with unread input
    /// cannot reset the connection and destroy the response.
    Draining,
}

/// One scrape in progress.
struct Http {
    h: HandleId,
    stage: Stage,
    req: Vec<u8>,
    out: Vec<u8>,
    written: usize,
    discarded: usize,
    /// The client closed (or failed) while we were writing.
    peer_done: bool,
    timer: TimerId,
}

/// The session's heap.
pub struct Ops {
    cfg: Config,
    registry: Registry,
    listener: Option<HandleId>,
    http: Vec<Http>,
    last_status: Option<u64>,
    stopping: bool,
}

/// The ops session (spawn it in the main kernel).
pub fn session(cfg: Config) -> Session<Ops> {
    let registry = cfg.metrics.registry();
    Session::new(Ops {
        cfg,
        registry,
        listener: None,
        http: Vec::new(),
        last_status: None,
        stopping: false,
    })
    .on("_start", start)
    .on("stop", stop)
    .on("stats", stats)
    .on("status", status)
    .on("accept", accept)
    .on("http_read", http_read)
    .on("http_write", http_write)
    .on("http_timeout", http_timeout)
}

fn start(ctx: &mut Ctx<'_, Ops>) {
    for sig in ["INT", "TERM"] {
        if let Err(e) = ctx.sig(sig, "stop") {
            tracing::warn!(signal = sig, error = %e, "cannot watch signal");
        }
    }
    if let Some(l) = ctx.heap().cfg.listener.take() {
        let h = ctx.add_handle(l);
        ctx.heap().listener = Some(h);
        if let Err(e) = ctx.select_read(h, "accept") {
            tracing::error!(error = %e, "cannot watch the metrics listener");
        }
    }
    if let Some(every) = ctx.heap().cfg.stats_interval {
        ctx.delay("stats", every, ());
    }
    if ctx.heap().cfg.notify {
        ctx.yield_event("status", ());
    }
}

/// SIGINT/SIGTERM: tell systemd we are stopping, stop serving metrics and
/// timers, and so let this session end (the echo session drains).
fn stop(ctx: &mut Ctx<'_, Ops>) {
    ctx.sig_handled();
    if std::mem::replace(&mut ctx.heap().stopping, true) {
        return;
    }
    if ctx.heap().cfg.notify {
        let clients = ctx.heap().cfg.metrics.totals().connections;
        notify(&[
            sd_notify::NotifyState::Stopping,
            sd_notify::NotifyState::Status(&format!("draining {clients} clients")),
        ]);
    }
    ctx.alarm_remove_all();
    if let Some(l) = ctx.heap().listener.take() {
        let _ = ctx.close_handle(l);
    }
    for c in std::mem::take(&mut ctx.heap().http) {
        let _ = ctx.close_handle(c.h);
    }
}

fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

fn stats(ctx: &mut Ctx<'_, Ops>) {
    let totals = ctx.heap().cfg.metrics.totals();
    tracing::info!(counters = %totals.summary(), "stats");
    if let Some(every) = ctx.heap().cfg.stats_interval {
        ctx.delay("stats", every, ());
    }
}

/// `STATUS=` with the client count, when it changed, at most once per
/// [`STATUS_EVERY`].
fn status(ctx: &mut Ctx<'_, Ops>) {
    let clients = ctx.heap().cfg.metrics.totals().connections;
    if ctx.heap().last_status != Some(clients) {
        ctx.heap().last_status = Some(clients);
        notify(&[sd_notify::NotifyState::Status(&format!(
            "serving {clients} clients"
        ))]);
    }
    ctx.delay("status", STATUS_EVERY, ());
}

fn accept(ctx: &mut Ctx<'_, Ops>) {
    let Some((listener, _)) = ctx.io() else {
        return;
    };
    for _ in 0..MAX_HTTP {
        let accepted = match ctx.handle::<TcpListener>(listener) {
            Ok(l) => l.accept(),
            Err(_) => return,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => {
                tracing::debug!(error = %e, "metrics accept failed");
                return;
            }
        };
        if ctx.heap().http.len() >= MAX_HTTP {
            drop(stream);
            continue;
        }
        let h = ctx.add_handle(stream);
        if ctx.select_read(h, "http_read").is_err() {
            let _ = ctx.close_handle(h);
            continue;
        }
        let timer = ctx.delay("http_timeout", HTTP_TIMEOUT, h);
        ctx.heap().http.push(Http {
            h,
            stage: Stage::Reading,
            req: Vec::new(),
            out: Vec::new(),
            written: 0,
            discarded: 0,
            peer_done: false,
            timer,
        });
    }
}

fn http_read(ctx: &mut Ctx<'_, Ops>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let Ok((ops, stream)) = ctx.heap_and_handle::<TcpStream>(h) else {
        return;
    };
    let Some(c) = ops.http.iter_mut().find(|c| c.h == h) else {
        return;
    };
    let mut buf = [0u8; 2048];
    if c.stage != Stage::Reading {
        // Whatever follows the request head: read and discard it.
        let end = loop {
            match stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    c.discarded += n;
                    if c.discarded > MAX_DISCARD {
                        break true;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        if !end {
            ctx.io_drained();
        } else if c.stage == Stage::Draining {
            close(ctx, h);
        } else {
            // Still writing: finish, then close (see `http_write`).
            c.peer_done = true;
            let _ = ctx.select_read_off(h);
        }
        return;
    }
    let answer = loop {
        match stream.read(&mut buf) {
            Ok(0) => break Some(None),
            Ok(n) => {
                let room = MAX_REQUEST - c.req.len();
                c.req.extend_from_slice(&buf[..n.min(room)]);
                match parse(&c.req) {
                    Parsed::Incomplete if n > room || c.req.len() == MAX_REQUEST => {
                        break Some(Some(reply(431, "request too large\n", false)))
                    }
                    Parsed::Incomplete => {}
                    Parsed::Bad => break Some(Some(reply(400, "bad request\n", false))),
                    Parsed::Request { method, path } => {
                        break Some(Some(route(method, path, &ops.registry)))
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break None,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break Some(None),
        }
    };
    match answer {
        // Read until WouldBlock: the OS reports the next bytes by itself.
        None => ctx.io_drained(),
        // The client left (or failed) before asking anything.
        Some(None) => close(ctx, h),
        Some(Some(out)) => {
            if let Some(c) = ctx.heap().http.iter_mut().find(|c| c.h == h) {
                c.out = out;
                c.req = Vec::new();
                c.stage = Stage::Writing;
            }
            if ctx.select_write(h, "http_write").is_err() {
                close(ctx, h);
            }
        }
    }
}

fn http_write(ctx: &mut Ctx<'_, Ops>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let Ok((ops, stream)) = ctx.heap_and_handle::<TcpStream>(h) else {
        return;
    };
    let Some(c) = ops.http.iter_mut().find(|c| c.h == h) else {
        return;
    };
    /// What the write loop found.
    enum Then {
        Wait,
        Close,
        Drain,
    }
    let then = loop {
        if c.written == c.out.len() {
            // HTTP/1.0 without keep-alive: the end of the stream ends the
            // body. Shut the write side, then wait for the client's close.
            if stream.shutdown(Shutdown::Write).is_err() || c.peer_done {
                break Then::Close;
            }
            c.stage = Stage::Draining;
            c.out = Vec::new();
            break Then::Drain;
        }
        match stream.write(&c.out[c.written..]) {
            Ok(0) => break Then::Close,
            Ok(n) => c.written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break Then::Wait,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break Then::Close,
        }
    };
    match then {
        Then::Wait => ctx.io_drained(),
        Then::Close => close(ctx, h),
        Then::Drain => {
            let _ = ctx.select_write_off(h);
        }
    }
}

fn http_timeout(ctx: &mut Ctx<'_, Ops>) {
    if let Ok(&h) = ctx.arg::<HandleId>() {
        if ctx.heap().http.iter().any(|c| c.h == h) {
            tracing::debug!(handle = %h, "metrics request timed out");
            close(ctx, h);
        }
    }
}

fn close(ctx: &mut Ctx<'_, Ops>, h: HandleId) {
    let ops = ctx.heap();
    if let Some(i) = ops.http.iter().position(|c| c.h == h) {
        let c = ops.http.swap_remove(i);
        let _ = ctx.alarm_remove(c.timer);
    }
    let _ = ctx.close_handle(h);
}

/// A request head, parsed as far as this responder cares.
#[derive(Debug, PartialEq, Eq)]
enum Parsed<'a> {
    /// No blank line yet.
    Incomplete,
    /// Not `METHOD TARGET HTTP/x.y`.
    Bad,
    /// The method and the path (query string removed).
    Request { method: &'a str, path: &'a str },
}

/// Parse a request head once it is complete (ends with an empty line;
/// bare `\n` line ends are accepted, as most servers do).
fn parse(buf: &[u8]) -> Parsed<'_> {
    let end = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| memchr::memmem::find(buf, sep))
        .min();
    if end.is_none() {
        return Parsed::Incomplete;
    }
    let line_end = memchr::memchr(b'\n', buf).unwrap_or(buf.len());
    let Ok(line) = std::str::from_utf8(&buf[..line_end]) else {
        return Parsed::Bad;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if !method.is_empty() && target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            let path = target.split_once('?').map_or(target, |(p, _)| p);
            Parsed::Request { method, path }
        }
        _ => Parsed::Bad,
    }
}

/// The response to `method path`.
fn route(method: &str, path: &str, registry: &Registry) -> Vec<u8> {
    let head = method == "HEAD";
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = metrics::encode(registry);
            response(200, "text/plain; version=0.0.4; charset=utf-8", &body, head)
        }
        ("GET" | "HEAD", _) => reply(404, "not found: try /metrics\n", head),
        _ => reply(405, "only GET and HEAD\n", false),
    }
}

fn reply(code: u16, body: &str, head: bool) -> Vec<u8> {
    response(code, "text/plain; charset=utf-8", body, head)
}

fn response(code: u16, content_type: &str, body: &str, head: bool) -> Vec<u8> {
    let status = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Request Header Fields Too Large",
    };
    let allow = if code == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.0 {code} {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_needs_a_whole_head_and_a_request_line() {
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"),
            Parsed::Incomplete
        );
        assert_eq!(
            parse(b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Parsed::Request {
                method: "GET",
                path: "/metrics"
            }
        );
        assert_eq!(
            parse(b"HEAD / HTTP/1.0\n\n"),
            Parsed::Request {
                method: "HEAD",
                path: "/"
            }
        );
        for bad in [
            &b"GET /metrics\r\n\r\n"[..],
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/2\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"\xff /metrics HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Parsed::Bad, "{bad:?}");
        }
    }

    #[test]
    fn route_answers_metrics_404_and_405() {
        let m = Metrics::new(1, Default::default());
        let r = m.registry();
        let ok = String::from_utf8(route("GET", "/metrics", &r)).unwrap();
        assert!(ok.starts_with("HTTP/1.0 200 OK\r\n"), "{ok}");
        assert!(ok.contains("rpoe_echo_lines_total 0\n"), "{ok}");
        let head = String::from_utf8(route("HEAD", "/metrics", &r)).unwrap();
        assert!(head.ends_with("\r\n\r\n"), "HEAD has a body: {head}");
        let nf = String::from_utf8(route("GET", "/", &r)).unwrap();
        assert!(nf.starts_with("HTTP/1.0 404 Not Found\r\n"), "{nf}");
        let na = String::from_utf8(route("POST", "/metrics", &r)).unwrap();
        assert!(
            na.starts_with("HTTP/1.0 405 Method Not Allowed\r\n"),
            "{na}"
        );
        assert!(na.contains("Allow: GET, HEAD\r\n"), "{na}");
    }
}
