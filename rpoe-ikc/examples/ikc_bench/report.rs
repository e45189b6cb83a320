//! Adding up chunks into rounds, and the figures the report prints.

use std::time::Duration;

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Median, min and max.
pub(crate) fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (mid, v[0], v[v.len() - 1])
}

/// One side's measurement of one phase: wall time, and CPU ns of the
/// sending and the receiving thread.
#[derive(Clone, Copy, Default)]
pub(crate) struct Run {
    pub(crate) wall: f64,
    pub(crate) send_cpu: f64,
    pub(crate) recv_cpu: f64,
}

impl Run {
    pub(crate) fn add(&mut self, o: &Run) {
        self.wall += o.wall;
        self.send_cpu += o.send_cpu;
        self.recv_cpu += o.recv_cpu;
    }
}
