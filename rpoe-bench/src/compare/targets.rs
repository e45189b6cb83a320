//! The performance targets for `rpoe-echo` (docs/performance.md), checked
//! against a comparison's medians.

use super::results::Results;
use super::servers::Server;
use super::workloads::WorkloadId;

/// Runs per cell the targets ask for.
pub const REQUIRED_RUNS: usize = 5;

/// Whether a target was met.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Met.
    Met,
    /// Not met.
    NotMet,
    /// Could not be judged, and why.
    Unmeasured(String),
}

/// One target and what was measured for it.
#[derive(Debug, Clone)]
pub struct TargetRow {
    /// The target, in words.
    pub target: String,
    /// The measured figure (a ratio or a value, with the medians it is from).
    pub measured: String,
    /// Met or not.
    pub status: Status,
}

/// A comparison `a / b` of one metric's medians that must satisfy `ok`.
struct RatioTarget {
    target: &'static str,
    workload: WorkloadId,
    metric: &'static str,
    other: Server,
    ok: fn(f64) -> bool,
}

const RATIO_TARGETS: [RatioTarget; 9] = [
    RatioTarget {
        target: "throughput C=50 P=16: ≥ 1.0× tokio",
        workload: WorkloadId::Tp50,
        metric: "lines_per_sec",
        other: Server::Tokio,
        ok: |r| r >= 1.0,
    },
    RatioTarget {
        target: "throughput C=50 P=16: ≥ 0.95× mio",
        workload: WorkloadId::Tp50,
        metric: "lines_per_sec",
        other: Server::Mio,
        ok: |r| r >= 0.95,
    },
    RatioTarget {
        target: "throughput C=1000 P=4: ≥ 1.0× tokio",
        workload: WorkloadId::Tp1000,
        metric: "lines_per_sec",
        other: Server::Tokio,
        ok: |r| r >= 1.0,
    },
    RatioTarget {
        target: "throughput C=1000 P=4: ≥ 0.95× mio",
        workload: WorkloadId::Tp1000,
        metric: "lines_per_sec",
        other: Server::Mio,
        ok: |r| r >= 0.95,
    },
    RatioTarget {
        target: "server CPU per echoed line at a fixed load: ≤ 1.1× mio",
        workload: WorkloadId::Rate,
        metric: "cpu_us_per_line",
        other: Server::Mio,
        ok: |r| r <= 1.1,
    },
    RatioTarget {
        target: "server CPU per echoed line at a fixed load: ≤ 0.8× tokio",
        workload: WorkloadId::Rate,
        metric: "cpu_us_per_line",
        other: Server::Tokio,
        ok: |r| r <= 0.8,
    },
    RatioTarget {
        target: "throughput C=50 P=16: ≥ 3× the Perl POE seed",
        workload: WorkloadId::Tp50,
        metric: "lines_per_sec",
        other: Server::PoeSeed,
        ok: |r| r >= 3.0,
    },
    RatioTarget {
        target: "throughput C=50 P=16: ≥ 30× POE::Component::Server::TCP",
        workload: WorkloadId::Tp50,
        metric: "lines_per_sec",
        other: Server::PoeTcp,
        ok: |r| r >= 30.0,
    },
    RatioTarget {
        target: "ping-pong round trips/s within 10% of mio (≥ 0.9×)",
        workload: WorkloadId::PingPong,
        metric: "round_trips_per_sec",
        other: Server::Mio,
        ok: |r| r >= 0.9,
    },
];

/// Check every echo-server target against `results` (`runs` per cell).
pub fn evaluate(results: &Results, runs: usize) -> Vec<TargetRow> {
    let mut rows: Vec<TargetRow> = RATIO_TARGETS
        .iter()
        .map(|t| ratio_row(results, t))
        .collect();
    rows.push(ratio_row(
        results,
        &RatioTarget {
            target: "ping-pong p99 within 10% of mio (≤ 1.1×)",
            workload: WorkloadId::PingPong,
            metric: "p99_us",
            other: Server::Mio,
            ok: |r| r <= 1.1,
        },
    ));
    rows.push(idle_row(results));
    if runs < REQUIRED_RUNS {
        for row in &mut rows {
            if !matches!(row.status, Status::Unmeasured(_)) {
                row.measured.push_str(&format!(
                    " — {runs} run(s) per cell; the targets ask for ≥ {REQUIRED_RUNS}"
                ));
            }
        }
    }
    rows
}

fn ratio_row(results: &Results, t: &RatioTarget) -> TargetRow {
    let (metric, basis) = basis(results, t);
    let rpoe = results.median(t.workload, Server::Rpoe, metric);
    let other = results.median(t.workload, t.other, metric);
    let (measured, status) = match (rpoe, other) {
        (Some(a), Some(b)) if b > 0.0 => {
            let r = a / b;
            (
                format!(
                    "{r:.2}× ({} vs {}){basis}",
                    super::report::number(a, 2),
                    super::report::number(b, 2)
                ),
                if (t.ok)(r) {
                    Status::Met
                } else {
                    Status::NotMet
                },
            )
        }
        _ => (
            "—".to_string(),
            Status::Unmeasured(format!(
                "no {} and {} figures for {}",
                Server::Rpoe.label(),
                t.other.label(),
                t.workload.key()
            )),
        ),
    };
    TargetRow {
        target: t.target.to_string(),
        measured,
        status,
    }
}

/// A server below this CPU share was not the bottleneck of a closed loop.
const SATURATED_PCT: f64 = 90.0;

/// The metric a target is judged on, and a note when it is not the
/// target's own: a throughput ratio compares the servers only when both
/// were the bottleneck. When one was not (below [`SATURATED_PCT`] of a
/// CPU: the load generator was the limit, or other work took the CPU),
/// lines per server CPU-second compare what each would do with a whole
/// core instead.
fn basis(results: &Results, t: &RatioTarget) -> (&'static str, String) {
    if t.metric != "lines_per_sec" {
        return (t.metric, String::new());
    }
    let m = |s, key| results.median(t.workload, s, key);
    let (Some(a), Some(b)) = (
        m(Server::Rpoe, "server_cpu_pct"),
        m(t.other, "server_cpu_pct"),
    ) else {
        return (t.metric, String::new());
    };
    if a >= SATURATED_PCT && b >= SATURATED_PCT {
        return (t.metric, String::new());
    }
    let pct = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.0}%"));
    let cpus = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.2}"));
    (
        "lines_per_cpu_sec",
        format!(
            " in lines per server CPU-second, since a server did not saturate its CPU \
             (server CPU {} vs {}; load generator {} vs {}; other load {} vs {} CPUs)",
            pct(Some(a)),
            pct(Some(b)),
            pct(m(Server::Rpoe, "client_cpu_pct")),
            pct(m(t.other, "client_cpu_pct")),
            cpus(m(Server::Rpoe, "others_cpus")),
            cpus(m(t.other, "others_cpus")),
        ),
    )
}

fn idle_row(results: &Results) -> TargetRow {
    let target = "idle memory ≤ 1 KiB per connection at 10,000 connections".to_string();
    let per = results.median(WorkloadId::Idle, Server::Rpoe, "bytes_per_conn");
    let conns = results.idle_conns(Server::Rpoe);
    match (per, conns) {
        (Some(b), Some(c)) => {
            let status = if b > 1024.0 {
                Status::NotMet
            } else if c < 10_000 {
                Status::Unmeasured(format!("measured at {c} connections, not 10,000"))
            } else {
                Status::Met
            };
            TargetRow {
                target,
                measured: format!("{b:.0} bytes per connection at {c}"),
                status,
            }
        }
        _ => TargetRow {
            target,
            measured: "—".into(),
            status: Status::Unmeasured("idle not measured".into()),
        },
    }
}
