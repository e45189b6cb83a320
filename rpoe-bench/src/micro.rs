//! `rpoe-bench micro-report`: the kernel's criterion micro-benchmarks
//! (`cargo bench -p rpoe`, `rpoe/benches/kernel.rs`) as a table of each
//! kernel figure beside its plain baseline, with the targets of
//! docs/performance.md.
//!
//! Criterion keeps each benchmark's estimates in
//! `<target-dir>/criterion/<group>/<name>/new/estimates.json` (time per
//! iteration, ns) and its throughput in `benchmark.json` (elements per
//! iteration); this reads the medians.

mod peers;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

/// Options of `micro-report`.
#[derive(Args, Debug)]
pub struct MicroArgs {
    /// Criterion's output directory (default: `criterion` in the cargo
    /// target directory this program was built in).
    #[arg(long, value_name = "DIR")]
    pub criterion_dir: Option<PathBuf>,
    /// Where to write the table.
    #[arg(long, value_name = "FILE", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/bench/micro.md"))]
    pub out: PathBuf,
    /// How the benchmarks were run, for the table's heading (e.g. "quick:
    /// --warm-up-time 1 --measurement-time 2").
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
}

/// One benchmark's median time per element.
#[derive(Debug, Clone, Copy)]
struct Figure {
    ns_per_element: f64,
}

/// A kernel benchmark, its baseline, and the least fraction of the
/// baseline's speed it must reach (if there is a target).
struct Pair {
    what: &'static str,
    rpoe: &'static str,
    baseline: &'static str,
    target: Option<f64>,
}

const PAIRS: &[Pair] = &[
    Pair {
        what: "dispatch: yield, 1 event in flight",
        rpoe: "dispatch/rpoe_yield/1",
        baseline: "dispatch/vecdeque_loop/1",
        target: Some(0.5),
    },
    Pair {
        what: "dispatch: yield, 64 events in flight",
        rpoe: "dispatch/rpoe_yield/64",
        baseline: "dispatch/vecdeque_loop/64",
        target: Some(0.5),
    },
    Pair {
        what: "dispatch: post between two sessions, 64 in flight",
        rpoe: "dispatch/rpoe_post_pair/64",
        baseline: "dispatch/vecdeque_loop/64",
        target: Some(0.5),
    },
    Pair {
        what: "call: Kernel::call from outside",
        rpoe: "call/rpoe_kernel_call",
        baseline: "call/boxed_closure",
        target: Some(0.5),
    },
    Pair {
        what: "call: Ctx::call inside a handler",
        rpoe: "call/rpoe_ctx_call/10000",
        baseline: "call/boxed_closure",
        target: Some(0.5),
    },
    Pair {
        what: "timers: set 1M",
        rpoe: "timers/rpoe_set",
        baseline: "timers/binaryheap_set",
        target: None,
    },
    Pair {
        what: "timers: fire 1M",
        rpoe: "timers/rpoe_fire",
        baseline: "timers/binaryheap_fire",
        target: None,
    },
    Pair {
        what: "timers: set + fire 1M",
        rpoe: "timers/rpoe_set_fire",
        baseline: "timers/binaryheap_set_fire",
        target: Some(0.8),
    },
    Pair {
        what: "timers: `delay()` with 100k timers in another session vs none",
        rpoe: "timer_foreign/delay_100k_foreign",
        baseline: "timer_foreign/delay_no_foreign",
        target: Some(0.5),
    },
    Pair {
        what: "timers: cancel 1M by id (shuffled)",
        rpoe: "timers/rpoe_cancel",
        baseline: "timers/hashmap_cancel",
        target: None,
    },
    Pair {
        what: "readiness: 1 byte to its handler (level-triggered, re-armed)",
        rpoe: "readiness/rpoe_read_once",
        baseline: "readiness/mio_raw",
        target: None,
    },
    Pair {
        what: "readiness: 1 byte to its handler (read to WouldBlock, `io_drained`)",
        rpoe: "readiness/rpoe_read_drained",
        baseline: "readiness/mio_raw",
        target: None,
    },
];

/// Timer counts of the cancel-scaling group.
const CANCEL_SIZES: [u64; 3] = [1_000, 32_000, 1_000_000];

/// Write the table.
pub fn run(args: &MicroArgs) -> Result<(), String> {
    let dir = match &args.criterion_dir {
        Some(d) => d.clone(),
        None => default_dir()?,
    };
    if !dir.is_dir() {
        return Err(format!(
            "{} not found: run `cargo bench -p rpoe` first (with the same CARGO_TARGET_DIR)",
            dir.display()
        ));
    }
    let md = table(&dir, args.label.as_deref());
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(&args.out, &md).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("{md}");
    eprintln!("rpoe-bench micro-report: wrote {}", args.out.display());
    Ok(())
}

fn default_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(|target| target.join("criterion"))
        .ok_or_else(|| "cannot tell the cargo target directory".into())
}

/// The markdown table from the results under `dir`.
fn table(dir: &Path, label: Option<&str>) -> String {
    let mut o = String::from("# Kernel micro-benchmarks\n\n");
    if let Some(l) = label {
        let _ = writeln!(o, "> {l}\n");
    }
    let _ = writeln!(
        o,
        "Medians from criterion (`cargo bench -p rpoe`, `rpoe/benches/kernel.rs`), per \
         element (event, call, timer, readiness event). *Speed* is the baseline's time \
         over rpoe's: 1.0 is as fast as the plain baseline.\n"
    );
    let _ = writeln!(
        o,
        "| benchmark | rpoe | baseline | speed vs baseline | target | status |\n|---|---:|---:|---:|---:|---|"
    );
    for p in PAIRS {
        let (a, b) = (figure(dir, p.rpoe), figure(dir, p.baseline));
        let speed = match (a, b) {
            (Some(a), Some(b)) if a.ns_per_element > 0.0 => {
                Some(b.ns_per_element / a.ns_per_element)
            }
            _ => None,
        };
        let status = match (speed, p.target) {
            (None, _) => "not run".to_string(),
            (Some(_), None) => "—".to_string(),
            (Some(s), Some(t)) if s >= t => "met".to_string(),
            (Some(_), Some(_)) => "**not met**".to_string(),
        };
        let _ = writeln!(
            o,
            "| {} (`{}` vs `{}`) | {} | {} | {} | {} | {status} |",
            p.what,
            p.rpoe,
            p.baseline,
            a.map_or("—".into(), |f| ns(f.ns_per_element)),
            b.map_or("—".into(), |f| ns(f.ns_per_element)),
            speed.map_or("—".into(), |s| format!("{s:.2}×")),
            p.target.map_or("—".into(), |t| format!("≥ {t}×")),
        );
    }
    peers::section(&mut o, dir);
    cancel_scaling(&mut o, dir);
    o
}

/// Cancel cost per timer at each size beside an O(1) `HashMap`'s, and
/// whether rpoe's grows no faster than log n beyond the HashMap's growth
/// (which is cache misses alone).
fn cancel_scaling(o: &mut String, dir: &Path) {
    let at = |name: &str, n: u64| {
        figure(dir, &format!("timer_cancel_scaling/{name}/{n}")).map(|f| f.ns_per_element)
    };
    let rows: Vec<(u64, Option<f64>, Option<f64>)> = CANCEL_SIZES
        .iter()
        .map(|&n| (n, at("rpoe_cancel", n), at("hashmap_cancel", n)))
        .collect();
    let _ = writeln!(
        o,
        "\n## Timer cancel by id: cost per cancel as timers grow\n\n\
         | timers | rpoe ns per cancel | HashMap::remove ns (O(1)) | rpoe ÷ HashMap |\n|---:|---:|---:|---:|"
    );
    for (n, r, h) in &rows {
        let ratio = match (r, h) {
            (Some(r), Some(h)) if *h > 0.0 => format!("{:.2}", r / h),
            _ => "—".into(),
        };
        let _ = writeln!(
            o,
            "| {n} | {} | {} | {ratio} |",
            r.map_or("—".into(), ns),
            h.map_or("—".into(), ns)
        );
    }
    let (Some((n0, Some(r0), Some(h0))), Some((n1, Some(r1), Some(h1)))) =
        (rows.first(), rows.last())
    else {
        return;
    };
    let growth = (r1 / r0) / (h1 / h0);
    let allowed = (*n1 as f64).log2() / (*n0 as f64).log2();
    let verdict = if growth <= allowed {
        "met: O(log n) or better"
    } else {
        "**not met**"
    };
    let _ = writeln!(
        o,
        "\nFrom {n0} to {n1} timers rpoe's cost per cancel grew {:.2}× and the HashMap's \
         {:.2}×: {growth:.2}× beyond an O(1) structure's growth, where O(log n) allows \
         {allowed:.2}× — target {verdict}.",
        r1 / r0,
        h1 / h0
    );
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.1} ns")
    }
}

/// Median time per element of benchmark `id`, if criterion has it.
fn figure(dir: &Path, id: &str) -> Option<Figure> {
    let base = dir.join(id);
    let estimates = read_json(&base.join("new/estimates.json"))?;
    let per_iter = estimates.get("median")?.get("point_estimate")?.as_f64()?;
    let elements = read_json(&base.join("new/benchmark.json"))
        .and_then(|b| b.get("throughput")?.get("Elements")?.as_f64())
        .unwrap_or(1.0);
    Some(Figure {
        ns_per_element: per_iter / elements.max(1.0),
    })
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_estimates_per_element() {
        let dir = std::env::temp_dir().join(format!("rpoe-bench-micro-{}", std::process::id()));
        let b = dir.join("dispatch/rpoe_yield/1/new");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(
            b.join("estimates.json"),
            r#"{"median":{"point_estimate":2000000.0}}"#,
        )
        .unwrap();
        std::fs::write(
            b.join("benchmark.json"),
            r#"{"throughput":{"Elements":100000}}"#,
        )
        .unwrap();
        let f = figure(&dir, "dispatch/rpoe_yield/1").unwrap();
        assert_eq!(f.ns_per_element, 20.0);
        assert!(figure(&dir, "dispatch/missing").is_none());
        let md = table(&dir, Some("test"));
        assert!(md.contains("| 20.0 ns | — |"), "{md}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
