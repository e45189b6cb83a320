//! Rate-limited warnings: a condition that recurs under attack or
//! overload (descriptors exhausted, the cap reached, connections closed
//! for a reason) must not turn into a log line per occurrence.

use std::time::{Duration, Instant};

/// At most one warning of a kind per this long.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Logs a recurring condition at most once per [`LOG_EVERY`], counting the
/// occurrences it kept quiet about.
#[derive(Default)]
pub(super) struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(suppressed since last time)` when it is time to log again.
    pub(super) fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}
