//! The file-descriptor limit, and the connection cap derived from it.

/// Connections allowed when `--max-connections` is not given.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 10_000;
/// Descriptors kept free for listeners, logs and the like.
pub const FD_MARGIN: u64 = 32;

/// Raise the soft descriptor limit to the hard one (servers should not be
/// held to the shell's default 1024) and return the cap on connections it
/// allows: the smaller of 10000 and the limit less a margin.
pub fn default_max_connections() -> u64 {
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the file-descriptor limit; assuming 1024");
            1024
        }
    };
    DEFAULT_MAX_CONNECTIONS.min(soft.saturating_sub(FD_MARGIN).max(1))
}
