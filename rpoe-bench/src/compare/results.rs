//! Every run's outcome, and the medians and ranges drawn from them.

use std::fmt::Write;

use super::quiet::Quiet;
use super::servers::Server;
use super::workloads::{Measured, Metric, WorkloadId};
use crate::stats::Spread;

/// One run of one server on one workload.
#[derive(Debug)]
pub struct RunRecord {
    /// The workload.
    pub workload: WorkloadId,
    /// The server.
    pub server: Server,
    /// Run number, from 1.
    pub run: usize,
    /// How quiet the machine was at the start.
    pub quiet: Quiet,
    /// The CPUs the server was allowed (from /proc).
    pub server_cpus: String,
    /// What it measured, or why it failed.
    pub outcome: Result<Measured, String>,
}

/// All runs of a comparison.
#[derive(Debug, Default)]
pub struct Results {
    /// In the order they ran.
    pub records: Vec<RunRecord>,
}

impl Results {
    /// Median and range of `metric` over the successful runs of `server`
    /// on `workload`.
    pub fn spread(&self, workload: WorkloadId, server: Server, metric: &Metric) -> Option<Spread> {
        let values: Vec<f64> = self
            .records
            .iter()
            .filter(|r| r.workload == workload && r.server == server)
            .filter_map(|r| r.outcome.as_ref().ok())
            .filter_map(|m| (metric.get)(m))
            .collect();
        Spread::of(&values)
    }

    /// The headline figure's median, if measured.
    pub fn headline(&self, workload: WorkloadId, server: Server) -> Option<f64> {
        self.spread(workload, server, &workload.metrics()[0])
            .map(|s| s.median)
    }

    /// Median of the metric named `key`.
    pub fn median(&self, workload: WorkloadId, server: Server, key: &str) -> Option<f64> {
        let metric = workload.metrics().iter().find(|m| m.key == key)?;
        self.spread(workload, server, metric).map(|s| s.median)
    }

    /// The runs that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&RunRecord, &str)> {
        self.records
            .iter()
            .filter_map(|r| r.outcome.as_ref().err().map(|e| (r, e.as_str())))
    }

    /// Idle connections a server was measured with (the Perl servers get
    /// fewer).
    pub fn idle_conns(&self, server: Server) -> Option<usize> {
        self.records
            .iter()
            .filter(|r| r.workload == WorkloadId::Idle && r.server == server)
            .find_map(|r| match &r.outcome {
                Ok(Measured::Idle(i)) => Some(i.conns),
                _ => None,
            })
    }

    /// Every figure of every run, one per line:
    /// `workload,server,run,metric,value` (failed runs: `failed` and the
    /// reason).
    pub fn csv(&self) -> String {
        let mut out = String::from("workload,server,run,metric,value\n");
        for r in &self.records {
            let (w, s) = (r.workload.key(), r.server.key());
            match &r.outcome {
                Ok(m) => {
                    for metric in r.workload.metrics() {
                        if let Some(v) = (metric.get)(m) {
                            let _ = writeln!(out, "{w},{s},{},{},{v}", r.run, metric.key);
                        }
                    }
                }
                Err(e) => {
                    let reason = e.replace(['"', '\n'], " ");
                    let _ = writeln!(out, "{w},{s},{},failed,\"{reason}\"", r.run);
                }
            }
            if let Some(b) = r.quiet.busy {
                let _ = writeln!(out, "{w},{s},{},machine_busy_pct,{:.1}", r.run, b * 100.0);
            }
        }
        out
    }
}
