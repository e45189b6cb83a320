//! The server's counters, and their Prometheus exposition.
//!
//! # Why per-worker counters written with a plain load and store
//!
//! Every read and write of every connection bumps a counter or two, so
//! counting must cost next to nothing next to the `read(2)` it follows.
//! Each worker (kernel thread) owns one [`Counters`], and only that thread
//! ever writes it: an increment is then a relaxed load and a relaxed store
//! of the same atomic ([`bump`]) — two plain `mov`s, no `lock` prefix, no
//! cache line bounced between cores (each `Counters` is aligned to its own
//! lines). A reader on another thread (the scrape, the stats line, SIGUSR1)
//! sums all workers' counters; it may see a value a few events old, never
//! a torn one, and a counter never goes back because it has one writer.
//!
//! The connection gauge is the count the connection cap already keeps
//! across workers, read when scraped.

use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// How a connection ended, as counted in `rpoe_echo_closes_total{reason}`
/// and logged in its close line. A connection the server decided to close
/// counts under the server's reason however its lingering close then ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The client sent EOF; its complete lines were echoed.
    Eof,
    /// Reading failed (usually a reset by the client).
    ReadError,
    /// Writing failed (usually a reset by the client).
    WriteError,
    /// A line longer than `--max-line`.
    LineTooLong,
    /// Nothing received and nothing pending for `--idle-timeout`.
    IdleTimeout,
    /// An unfinished line older than `--line-timeout`.
    LineTimeout,
    /// Pending output that did not move for `--send-timeout`.
    SendTimeout,
    /// Evicted at `--max-connections` for a new client.
    Evicted,
    /// Closed to bring the buffers back under `--max-buffered`.
    OverBudget,
    /// Closed by a graceful shutdown once it had gone quiet.
    Shutdown,
    /// Cut when `--shutdown-timeout-ms` ran out.
    ShutdownTimeout,
}

impl Closed {
    /// Number of reasons.
    pub const COUNT: usize = 11;
    /// Every reason, in label order.
    pub const ALL: [Closed; Closed::COUNT] = [
        Closed::Eof,
        Closed::ReadError,
        Closed::WriteError,
        Closed::LineTooLong,
        Closed::IdleTimeout,
        Closed::LineTimeout,
        Closed::SendTimeout,
        Closed::Evicted,
        Closed::OverBudget,
        Closed::Shutdown,
        Closed::ShutdownTimeout,
    ];

    /// The label value (and the `reason` of the close log line).
    pub fn name(self) -> &'static str {
        match self {
            Closed::Eof => "eof",
            Closed::ReadError => "read_error",
            Closed::WriteError => "write_error",
            Closed::LineTooLong => "line_too_long",
            Closed::IdleTimeout => "idle_timeout",
            Closed::LineTimeout => "line_timeout",
            Closed::SendTimeout => "send_timeout",
            Closed::Evicted => "evicted",
            Closed::OverBudget => "over_budget",
            Closed::Shutdown => "shutdown",
            Closed::ShutdownTimeout => "shutdown_timeout",
        }
    }
}

/// The timeouts counted in `rpoe_echo_timeouts_total{kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// `--idle-timeout`.
    Idle,
    /// `--line-timeout`.
    Line,
    /// `--send-timeout`.
    Send,
}

impl Timeout {
    const ALL: [Timeout; 3] = [Timeout::Idle, Timeout::Line, Timeout::Send];

    fn name(self) -> &'static str {
        match self {
            Timeout::Idle => "idle",
            Timeout::Line => "line",
            Timeout::Send => "send",
        }
    }
}

/// The `errno` label values of `rpoe_echo_accept_errors_total`: the
/// errors `accept(2)` documents for a listening socket that stays usable,
/// and `other` for the rest, so the label set stays bounded.
const ERRNOS: [(i32, &str); 8] = [
    (libc::EMFILE, "EMFILE"),
    (libc::ENFILE, "ENFILE"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::EPERM, "EPERM"),
    (libc::EPROTO, "EPROTO"),
    (libc::EINTR, "EINTR"),
];
/// Label slots: the known errnos, then `other`.
const ERRNO_SLOTS: usize = ERRNOS.len() + 1;

fn errno_slot(e: &io::Error) -> usize {
    e.raw_os_error()
        .and_then(|n| ERRNOS.iter().position(|&(k, _)| k == n))
        .unwrap_or(ERRNOS.len())
}

fn errno_name(slot: usize) -> &'static str {
    ERRNOS.get(slot).map_or("other", |&(_, n)| n)
}

/// One worker's counters. Written only by that worker's kernel thread
/// (see the module docs); read by anyone.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    evicted: AtomicU64,
    lines: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
    pauses: AtomicU64,
    timeouts: [AtomicU64; 3],
    accept_errors: [AtomicU64; ERRNO_SLOTS],
    closes: [AtomicU64; Closed::COUNT],
}

/// Add `n` to a counter that only the calling thread writes: a load and
/// a store, no read-modify-write (see the module docs).
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

impl Counters {
    /// A client was accepted.
    pub fn accepted(&self) {
        bump(&self.accepted, 1);
    }
    /// A client was closed at once: the cap was reached and nothing could
    /// be evicted.
    pub fn rejected(&self) {
        bump(&self.rejected, 1);
    }
    /// A connection was evicted for a new client.
    pub fn evicted(&self) {
        bump(&self.evicted, 1);
    }
    /// Bytes read from a client (discarded input included), and the
    /// complete lines among them.
    #[inline]
    pub fn received(&self, bytes: usize, lines: u64) {
        bump(&self.received, bytes as u64);
        if lines > 0 {
            bump(&self.lines, lines);
        }
    }
    /// Bytes written to clients.
    #[inline]
    pub fn sent(&self, bytes: usize) {
        if bytes > 0 {
            bump(&self.sent, bytes as u64);
        }
    }
    /// Reading from a client paused for backpressure.
    pub fn paused(&self) {
        bump(&self.pauses, 1);
    }
    /// A timeout closed a connection.
    pub fn timed_out(&self, kind: Timeout) {
        bump(&self.timeouts[kind as usize], 1);
    }
    /// `accept(2)` failed.
    pub fn accept_error(&self, e: &io::Error) {
        bump(&self.accept_errors[errno_slot(e)], 1);
    }
    /// A connection was closed.
    pub fn closed(&self, why: Closed) {
        bump(&self.closes[why as usize], 1);
    }
}

/// Everything counted, summed over workers at one moment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Clients connected now (lingering closes excluded).
    pub connections: u64,
    /// Clients accepted.
    pub accepted: u64,
    /// Clients closed at once at the cap.
    pub rejected: u64,
    /// Connections evicted for a new client.
    pub evicted: u64,
    /// Complete lines received.
    pub lines: u64,
    /// Bytes received.
    pub received: u64,
    /// Bytes sent.
    pub sent: u64,
    /// Backpressure pauses.
    pub pauses: u64,
    /// Timeouts, by [`Timeout`] (idle, line, send).
    pub timeouts: [u64; 3],
    /// `accept(2)` errors, by errno slot.
    accept_errors: [u64; ERRNO_SLOTS],
    /// Closes, by [`Closed`].
    pub closes: [u64; Closed::COUNT],
}

/// The counters of every worker, and the shared connection count.
#[derive(Debug, Clone)]
pub struct Metrics {
    workers: Arc<[Arc<Counters>]>,
    clients: Arc<AtomicUsize>,
}

impl Metrics {
    /// Counters for `workers` workers; `clients` is the connection count
    /// the workers share for the cap.
    pub fn new(workers: usize, clients: Arc<AtomicUsize>) -> Metrics {
        Metrics {
            workers: (0..workers.max(1))
                .map(|_| Arc::new(Counters::default()))
                .collect(),
            clients,
        }
    }

    /// Worker `i`'s counters, to be written by that worker only.
    pub fn worker(&self, i: usize) -> Arc<Counters> {
        Arc::clone(&self.workers[i])
    }

    /// Sum every worker's counters now.
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            connections: self.clients.load(Relaxed) as u64,
            ..Totals::default()
        };
        let add = |sum: &mut u64, c: &AtomicU64| *sum = sum.wrapping_add(c.load(Relaxed));
        for w in self.workers.iter() {
            add(&mut t.accepted, &w.accepted);
            add(&mut t.rejected, &w.rejected);
            add(&mut t.evicted, &w.evicted);
            add(&mut t.lines, &w.lines);
            add(&mut t.received, &w.received);
            add(&mut t.sent, &w.sent);
            add(&mut t.pauses, &w.pauses);
            for (s, c) in t.timeouts.iter_mut().zip(&w.timeouts) {
                add(s, c);
            }
            for (s, c) in t.accept_errors.iter_mut().zip(&w.accept_errors) {
                add(s, c);
            }
            for (s, c) in t.closes.iter_mut().zip(&w.closes) {
                add(s, c);
            }
        }
        t
    }

    /// A registry exposing these counters; encode it on each scrape.
    pub fn registry(&self) -> Registry {
        let mut r = Registry::default();
        r.register_collector(Box::new(self.clone()));
        r
    }
}

impl Totals {
    /// The counters as `key=value` pairs for a log line (closes and accept
    /// errors only where non-zero, to keep it short).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "connections={} accepted={} rejected={} evicted={} lines={} received_bytes={} sent_bytes={} backpressure_pauses={}",
            self.connections, self.accepted, self.rejected, self.evicted, self.lines,
            self.received, self.sent, self.pauses
        );
        for k in Timeout::ALL {
            let _ = write!(s, " timeouts_{}={}", k.name(), self.timeouts[k as usize]);
        }
        for (i, n) in self.accept_errors.iter().enumerate() {
            if *n > 0 {
                let _ = write!(s, " accept_errors_{}={n}", errno_name(i));
            }
        }
        for c in Closed::ALL {
            let n = self.closes[c as usize];
            if n > 0 {
                let _ = write!(s, " closes_{}={n}", c.name());
            }
        }
        s
    }
}

/// Encoded on each scrape from a fresh [`Metrics::totals`]: the counters
/// are ours, the exposition format is the crate's.
impl Collector for Metrics {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let t = self.totals();
        let gauge = ConstGauge::new(t.connections as i64);
        gauge.encode(enc.encode_descriptor(
            "rpoe_echo_connections",
            "Clients connected now (lingering closes excluded)",
            None,
            gauge.metric_type(),
        )?)?;
        let plain: [(&str, &str, u64); 7] = [
            ("rpoe_echo_connections_accepted", "Clients accepted", t.accepted),
            (
                "rpoe_echo_connections_rejected",
                "Clients closed at once: connection cap reached and none idle long enough to evict",
                t.rejected,
            ),
            (
                "rpoe_echo_connections_evicted",
                "Connections evicted at the connection cap to make room for a new client",
                t.evicted,
            ),
            ("rpoe_echo_lines", "Complete lines received", t.lines),
            ("rpoe_echo_received_bytes", "Bytes read from clients", t.received),
            ("rpoe_echo_sent_bytes", "Bytes written to clients", t.sent),
            (
                "rpoe_echo_backpressure_pauses",
                "Times reading from a client paused because its pending output passed the high-water mark",
                t.pauses,
            ),
        ];
        for (name, help, v) in plain {
            let c = ConstCounter::new(v);
            c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        encode_labelled(
            &mut enc,
            "rpoe_echo_timeouts",
            "Connections closed by a timeout, by kind",
            "kind",
            Timeout::ALL.map(|k| (k.name(), t.timeouts[k as usize])),
        )?;
        encode_labelled(
            &mut enc,
            "rpoe_echo_accept_errors",
            "accept(2) failures, by errno",
            "errno",
            t.accept_errors
                .iter()
                .enumerate()
                .map(|(i, n)| (errno_name(i), *n)),
        )?;
        encode_labelled(
            &mut enc,
            "rpoe_echo_closes",
            "Connections closed, by reason (the server's reason if it began the close)",
            "reason",
            Closed::ALL.map(|r| (r.name(), t.closes[r as usize])),
        )?;
        Ok(())
    }
}

/// One counter family with a label (`label="value"` per sample): the
/// timeouts, accept errors and closes are each encoded this way.
fn encode_labelled<'a>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &str,
    samples: impl IntoIterator<Item = (&'a str, u64)>,
) -> Result<(), std::fmt::Error> {
    let kind = ConstCounter::new(0u64).metric_type();
    let mut fam = enc.encode_descriptor(name, help, None, kind)?;
    for (value, n) in samples {
        ConstCounter::new(n).encode(fam.encode_family(&[(label, value)])?)?;
    }
    Ok(())
}

/// The Prometheus text exposition (format 0.0.4) of `registry`.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_sum_and_every_family_is_exposed() {
        let m = Metrics::new(2, Arc::new(AtomicUsize::new(3)));
        let (a, b) = (m.worker(0), m.worker(1));
        a.received(10, 2);
        b.received(5, 1);
        a.sent(7);
        b.closed(Closed::IdleTimeout);
        b.timed_out(Timeout::Idle);
        a.accept_error(&io::Error::from_raw_os_error(libc::EMFILE));
        a.accept_error(&io::Error::from_raw_os_error(libc::EBADF));
        let t = m.totals();
        assert_eq!((t.received, t.lines, t.sent), (15, 3, 7));
        let text = encode(&m.registry());
        for want in [
            "rpoe_echo_connections 3\n",
            "rpoe_echo_lines_total 3\n",
            "rpoe_echo_received_bytes_total 15\n",
            "rpoe_echo_sent_bytes_total 7\n",
            "rpoe_echo_timeouts_total{kind=\"idle\"} 1\n",
            "rpoe_echo_timeouts_total{kind=\"send\"} 0\n",
            "rpoe_echo_accept_errors_total{errno=\"EMFILE\"} 1\n",
            "rpoe_echo_accept_errors_total{errno=\"other\"} 1\n",
            "rpoe_echo_closes_total{reason=\"idle_timeout\"} 1\n",
            "rpoe_echo_closes_total{reason=\"eof\"} 0\n",
            "# TYPE rpoe_echo_connections_accepted_total counter\n",
            "# TYPE rpoe_echo_connections gauge\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(
            t.summary().contains("closes_idle_timeout=1"),
            "{}",
            t.summary()
        );
    }
}
