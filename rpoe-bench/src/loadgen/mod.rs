//! The load generator for the echo protocol: single-threaded, on mio.
//!
//! Every line is distinct and every echoed byte is verified (see
//! [`crate::lines`]); a wrong or extra byte, a connection closed early, or
//! no progress for the stall timeout fails the run with a [`LoadError`].
//!
//! - [`load::run`] with [`Drive::Closed`]: throughput (C connections, P
//!   lines in flight each) and ping-pong latency (P = 1);
//! - [`load::run`] with [`Drive::Open`]: a fixed offered load, for the
//!   server's CPU time per echoed line and the latency at that load;
//! - [`idle::run`]: many idle connections, for the server's memory per
//!   connection.

mod conn;
mod engine;
mod error;
pub mod idle;
pub mod load;
mod report;

use std::net::SocketAddr;
use std::time::Duration;

pub use engine::EngineOptions;
pub use error::LoadError;
pub use load::{Drive, LoadSpec};
pub use report::{IdleReport, Report};

/// The server under load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id, for its CPU time and memory from `/proc`.
    pub server_pid: Option<u32>,
    /// Fail when nothing arrives for this long while something is expected.
    pub stall_timeout: Duration,
    /// Most connects in progress at once.
    pub connect_concurrency: usize,
}

impl Target {
    /// A target with the default stall timeout (5 s) and connect
    /// concurrency (64).
    pub fn new(addr: SocketAddr, server_pid: Option<u32>) -> Target {
        Target {
            addr,
            server_pid,
            stall_timeout: Duration::from_secs(5),
            connect_concurrency: 64,
        }
    }

    fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            stall_timeout: self.stall_timeout,
            connect_concurrency: self.connect_concurrency,
        }
    }
}

/// Descriptors kept free beyond the connections themselves.
const FD_MARGIN: u64 = 64;

/// Raise this process's descriptor limit as far as allowed and check that
/// `conns` connections fit. Children started afterwards inherit the limit.
pub fn ensure_fd_limit(conns: usize) -> Result<(), LoadError> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .map_err(|e| LoadError::Setup(format!("cannot raise the descriptor limit: {e}")))?;
    if conns as u64 + FD_MARGIN > limit {
        return Err(LoadError::Setup(format!(
            "{conns} connections need about {} descriptors, but the limit is {limit} \
             (raise the hard limit: ulimit -Hn)",
            conns as u64 + FD_MARGIN
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
