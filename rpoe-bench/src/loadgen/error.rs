//! Why a load run failed. Every failure is loud: the run stops and the
//! caller exits non-zero.

use std::io;
use std::net::SocketAddr;

use crate::lines::Mismatch;

/// A failed load run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Setting up the run failed (poll instance, limits, arguments).
    #[error("setup: {0}")]
    Setup(String),
    /// A connection could not be made.
    #[error("connection {conn}: cannot connect to {addr}: {source}")]
    Connect {
        /// Connection id.
        conn: u32,
        /// The server's address.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
    /// The bytes that came back were not the bytes sent.
    #[error("connection {conn}: echo differs: {what}")]
    Mismatch {
        /// Connection id.
        conn: u32,
        /// What differed.
        what: Mismatch,
    },
    /// The server closed a connection that still had lines to echo.
    #[error("connection {conn}: the server closed it with {outstanding} line(s) not echoed{}", if *.mid_line { " (in the middle of a line)" } else { "" })]
    ClosedEarly {
        /// Connection id.
        conn: u32,
        /// Lines sent but not echoed.
        outstanding: u64,
        /// Part of a line had arrived.
        mid_line: bool,
    },
    /// Reading or writing failed.
    #[error("connection {conn}: {op} failed: {source}")]
    Io {
        /// Connection id.
        conn: u32,
        /// `read`, `write` or `shutdown`.
        op: &'static str,
        /// What the OS said.
        source: io::Error,
    },
    /// Nothing arrived for too long while something was expected.
    #[error("stalled: no progress for {secs:.1} s; {detail}")]
    Stall {
        /// How long nothing happened.
        secs: f64,
        /// What was still expected.
        detail: String,
    },
    /// An open-loop run fell hopelessly behind.
    #[error("the server cannot sustain {rate:.0} lines/s: {outstanding} lines outstanding")]
    NotSustained {
        /// Offered load, lines per second.
        rate: f64,
        /// Lines sent and not yet echoed.
        outstanding: u64,
    },
    /// Reading the server process's figures from /proc failed.
    #[error("server process: {0}")]
    Proc(String),
}

impl LoadError {
    pub(crate) fn io(conn: u32, op: &'static str, source: io::Error) -> LoadError {
        LoadError::Io { conn, op, source }
    }
}
