//! Command-line options and their validation.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;

/// A line-echo server: every complete `\n`-terminated line a client sends
/// is sent back byte for byte, in order.
///
/// Policies (each with a flag below): over-long lines close the connection
/// after the lines before them are echoed; a client that does not read is
/// not read from while its pending output is above the high-water mark;
/// at EOF every complete line is echoed, then the connection is closed (an
/// unterminated trailing fragment is dropped); idle connections, unfinished
/// lines and output the client does not read time out; at --max-connections
/// a new client evicts the connection idle longest (if idle long enough),
/// else it is closed at once; all connections together buffer at most
/// --max-buffered bytes (the biggest holders are closed first); out of file
/// descriptors, accepting pauses briefly instead of spinning. Every close
/// the client did not ask for is a lingering close: pending output is
/// written (dropped after a send timeout, an eviction or over budget), the
/// write side shut (the client reads EOF), and input discarded for up to
/// --linger, so no reset destroys what was echoed. SIGINT/SIGTERM
/// shut down gracefully (stop accepting, read what clients already sent and
/// echo its complete lines, close; exit 0), a second signal stops at once
/// (exit 1); SIGHUP is ignored. Durations take a unit: 250ms, 30s, 5m, 1h;
/// "off" disables a timeout. SIGUSR1 logs the counters and each kernel's
/// state. Under systemd (NOTIFY_SOCKET set) it reports READY=1 once
/// listening, STATUS= with the client count, and STOPPING=1 on shutdown.
/// Logging: RUST_LOG (default "info"); one line per closed connection at
/// debug. See docs/operations.md.
#[derive(Parser, Debug, Clone)]
#[command(name = "rpoe-echo", version, about, long_about)]
pub struct Options {
    /// Address to listen on (repeatable; IPv4 or IPv6). Default: all
    /// interfaces, IPv4 (0.0.0.0) and IPv6 (::).
    #[arg(long = "bind", value_name = "ADDR")]
    pub bind: Vec<IpAddr>,

    /// TCP port to listen on (0 picks a free port).
    #[arg(long, default_value_t = 12345)]
    pub port: u16,

    /// Longest line echoed, in bytes, newline included; a longer line
    /// closes its connection as soon as the limit is crossed.
    #[arg(long, value_name = "BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_line: u64,

    /// Stop reading from a client while more than this many bytes of
    /// output wait for it.
    #[arg(long, value_name = "BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u64).range(1..))]
    pub high_water: u64,

    /// Resume reading from a paused client once its pending output is down
    /// to this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16384)]
    pub low_water: u64,

    /// Most clients served at once. At the cap a new client evicts the
    /// connection idle longest if it has been idle for --evict-idle-after,
    /// else the new connection is closed at once. Default: the smaller of
    /// 10000 and the file-descriptor limit less 32.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,

    /// Most connections accepted per loop turn, so a connect storm cannot
    /// starve established clients.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub accept_batch: u64,

    /// How long to pause accepting when out of file descriptors
    /// (EMFILE/ENFILE), in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub emfile_pause_ms: u64,

    /// On SIGINT/SIGTERM, how long to keep finishing the lines already
    /// received before cutting connections, in milliseconds. A second
    /// signal stops at once.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub shutdown_timeout_ms: u64,

    /// Close a connection that has sent nothing and had nothing pending
    /// for this long ("idle timeout").
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_timeout)]
    pub idle_timeout: Timeout,

    /// Close a connection whose unfinished line (bytes without a newline
    /// yet) is older than this ("line timeout"); the lines before it are
    /// echoed first.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub line_timeout: Timeout,

    /// Close a connection whose pending output has not moved (the client
    /// does not read) for this long ("send timeout").
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub send_timeout: Timeout,

    /// At --max-connections, a new client evicts the connection that has
    /// been idle longest (nothing received or sent) if it has been idle
    /// at least this long; "off" refuses new clients instead.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub evict_idle_after: Timeout,

    /// Most bytes buffered for all connections together (unfinished lines
    /// and pending output; split evenly between workers). Past it the
    /// connections holding the most are closed ("over budget") until the
    /// total is back under it.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_buffered: u64,

    /// A connection closed by the server (not by the client) has its write
    /// side shut once its output is written, then its input is read and
    /// discarded until the client closes, for at most this long, so the
    /// close cannot reset the connection and destroy what was echoed.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub linger: Duration,

    /// Kernels to run, one per thread, sharing the listening port
    /// (SO_REUSEPORT lets the OS spread connections). 1 is the seed's
    /// single-threaded server.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: u64,

    /// Serve the counters in Prometheus text format at
    /// http://ADDR/metrics (e.g. 127.0.0.1:9100). Off by default: the
    /// counters are not authenticated, so bind it where only your
    /// monitoring can reach it.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// Log a line with the counters this often ("off": never).
    #[arg(long, value_name = "DURATION", default_value = "off", value_parser = parse_timeout)]
    pub stats_interval: Timeout,

    /// Log as human-readable text, or as one JSON object per line.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--log-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// tracing's default text format.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// A timeout: `Some(duration)`, or `None` for "off".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

/// A duration with its unit: `250ms`, `30s`, `5m`, `1h`; a bare number is
/// refused rather than guessed at (the older flags count milliseconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} has no unit: write e.g. {s}s or {s}ms"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 250ms, 30s, 5m or 1h"))?;
    let secs = |k: u64| {
        n.checked_mul(k)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{s:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        _ => Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    }
}

/// A [`parse_duration`] above zero, or `off`.
pub fn parse_timeout(s: &str) -> Result<Timeout, String> {
    if s.trim() == "off" {
        return Ok(Timeout(None));
    }
    match parse_duration(s)? {
        d if d.is_zero() => Err("a timeout must be above zero (or \"off\")".to_string()),
        d => Ok(Timeout(Some(d))),
    }
}

impl Options {
    /// Reject combinations clap cannot check alone.
    pub fn validate(&self) -> Result<(), String> {
        if self.low_water >= self.high_water {
            return Err(format!(
                "--low-water ({}) must be below --high-water ({})",
                self.low_water, self.high_water
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["300", "", "s", "5 m", "5x", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("99999999999999999h").is_err());
    }

    #[test]
    fn timeouts_may_be_off_but_not_zero() {
        assert_eq!(parse_timeout("off"), Ok(Timeout(None)));
        assert_eq!(
            parse_timeout("10s"),
            Ok(Timeout(Some(Duration::from_secs(10))))
        );
        assert!(parse_timeout("0ms").is_err());
    }

    #[test]
    fn defaults_parse() {
        let o = Options::try_parse_from(["rpoe-echo"]).unwrap();
        assert_eq!(o.idle_timeout, Timeout(Some(Duration::from_secs(300))));
        assert_eq!(o.line_timeout, Timeout(Some(Duration::from_secs(60))));
        assert_eq!(o.send_timeout, Timeout(Some(Duration::from_secs(60))));
        assert_eq!(o.evict_idle_after, Timeout(Some(Duration::from_secs(10))));
        assert_eq!(o.linger, Duration::from_secs(2));
        assert_eq!(o.max_buffered, 64 << 20);
        assert_eq!(o.metrics, None);
        assert_eq!(o.stats_interval, Timeout(None));
        assert_eq!(o.log_format, LogFormat::Text);
        o.validate().unwrap();
    }
}
