//! [`ServerTcpInfo`], what starting a server hands back.
//!
//! Why a file of its own: it is the one handle the program keeps on a
//! running server (the session to post `"shutdown"` to, the bound
//! addresses, the failure count), shared by the three ways to start one
//! in `builder.rs` and counted into by the connection sessions.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::kernel::SessionId;

/// What [`ServerTcp::spawn`](super::ServerTcp::spawn) started: the listening session, to post it
/// `"shutdown"`, and the bound addresses, to learn the port when binding
/// to port 0 (used by the [`ServerTcp`](super::ServerTcp) example).
#[derive(Clone, Debug)]
pub struct ServerTcpInfo {
    /// The listening session (post it `"shutdown"` to stop listening).
    pub session: SessionId,
    /// The addresses it listens on (ports resolved).
    pub addrs: Vec<SocketAddr>,
    /// Shared with the connection sessions, which count into it. Atomic
    /// only so that `ServerTcpInfo` stays `Send` (a test or a monitor
    /// thread may hold it); the kernel itself is single-threaded.
    pub(super) failures: Arc<AtomicU64>,
}

impl ServerTcpInfo {
    /// How many connections were closed because one of their handlers
    /// failed (panicked, or returned an error) — see
    /// [the module documentation](super#a-failing-handler). Each is also
    /// logged. A server bug that clients can trigger shows up here
    /// instead of stopping the server.
    pub fn handler_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}
