//! Command-line options and their validation.

use std::net::IpAddr;

use clap::Parser;

/// A line-echo server: every complete `\n`-terminated line a client sends
/// is sent back byte for byte, in order.
///
/// Policies (each with a flag below): over-long lines close the connection
/// after the lines before them are echoed; a client that does not read is
/// not read from while its pending output is above the high-water mark;
/// at EOF every complete line is echoed, then the connection is closed (an
/// unterminated trailing fragment is dropped); beyond --max-connections new
/// connections are closed at once; out of file descriptors, accepting
/// pauses briefly instead of spinning. SIGINT/SIGTERM shut down gracefully
/// (stop accepting, echo the complete lines already received, close; exit
/// 0), a second signal stops at once (exit 1); SIGHUP is ignored.
/// Logging: RUST_LOG (default "info").
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

    /// Most clients served at once; beyond it new connections are closed
    /// at once. Default: the smaller of 10000 and the file-descriptor limit
    /// less 32.
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

    /// Kernels to run, one per thread, sharing the listening port
    /// (SO_REUSEPORT lets the OS spread connections). 1 is the seed's
    /// single-threaded server.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: u64,
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
