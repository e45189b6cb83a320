//! Waiting for a quiet machine before each run, within a bound, and
//! saying so when it never got quiet.

use std::time::{Duration, Instant};

use crate::procfs;

/// How quiet the machine was when a run started.
#[derive(Debug, Clone, Copy)]
pub struct Quiet {
    /// Busy fraction of all CPUs over the last sample (`None`: unknown).
    pub busy: Option<f64>,
    /// Whether it was below the threshold.
    pub quiet: bool,
}

/// When to call the machine quiet.
#[derive(Debug, Clone, Copy)]
pub struct QuietPolicy {
    /// Busy fraction of all CPUs below which it is quiet.
    pub threshold: f64,
    /// Length of one sample.
    pub sample: Duration,
    /// Longest wait before going ahead anyway.
    pub max_wait: Duration,
}

impl QuietPolicy {
    /// Sample until the machine is quiet or the wait is over.
    pub fn wait(&self) -> Quiet {
        let deadline = Instant::now() + self.max_wait;
        loop {
            let busy = procfs::machine_busy_over(self.sample);
            let quiet = busy.is_none_or(|b| b < self.threshold);
            if quiet || Instant::now() >= deadline {
                return Quiet { busy, quiet };
            }
        }
    }
}
