//! The comparison written as markdown: machine and method, the summary
//! with ratios, the targets, the details of every workload, and every
//! failure.

use std::fmt::Write;

use super::affinity::Cores;
use super::results::Results;
use super::servers::Server;
use super::targets::{self, Status};
use super::workloads::{Measured, Workload, WorkloadId};
use crate::procfs::Machine;
use crate::stats::Spread;

/// Everything the report is made from.
pub struct ReportInput<'a> {
    /// All runs.
    pub results: &'a Results,
    /// The workloads run, in order (with their parameters).
    pub workloads: &'a [Workload],
    /// The servers of the main comparison, in column order.
    pub servers: &'a [Server],
    /// The machine.
    pub machine: &'a Machine,
    /// The pinning.
    pub cores: &'a Cores,
    /// Runs per cell.
    pub runs: usize,
    /// A `--quick` smoke run.
    pub quick: bool,
    /// How the machine's quietness was judged.
    pub quiet_rule: String,
    /// Things the reader must know (skipped servers, the rate chosen...).
    pub notes: &'a [String],
    /// The plot's file name, beside the report.
    pub plot_file: &'a str,
    /// The command that produced it.
    pub command: &'a str,
}

/// The servers `rpoe-echo` is compared with in the ratio columns.
const RATIO_AGAINST: [Server; 4] = [Server::Mio, Server::Tokio, Server::PoeSeed, Server::PoeTcp];

/// The report as markdown.
pub fn markdown(i: &ReportInput<'_>) -> String {
    let mut o = String::new();
    let kind = if i.quick {
        "quick smoke run"
    } else {
        "full run"
    };
    let _ = writeln!(o, "# rpoe-echo compared: {kind}\n");
    if i.quick {
        let _ = writeln!(
            o,
            "> **Quick, noisy run** (`--quick`): {} run(s) per cell, 1 s windows, fewer \
             connections (C=1000 workloads at C=200, idle at 1,000), on a shared machine. \
             It validates the tooling; the figures are indicative only.\n",
            i.runs
        );
    }
    machine_section(&mut o, i);
    summary_section(&mut o, i);
    targets_section(&mut o, i);
    let _ = writeln!(o, "## Plot\n\n![medians with min–max]({})\n", i.plot_file);
    details_section(&mut o, i);
    notes_section(&mut o, i);
    o
}

fn machine_section(o: &mut String, i: &ReportInput<'_>) {
    let m = i.machine;
    let _ = writeln!(o, "## Machine and method\n");
    let _ = writeln!(o, "- **date**: {}", m.date);
    let _ = writeln!(
        o,
        "- **machine**: {}, {} CPU(s), {}, {}",
        m.cpu, m.cores, m.memory, m.kernel
    );
    let _ = writeln!(o, "- **build**: {}, commit {}", m.rustc, m.commit);
    let _ = writeln!(o, "- **command**: `{}`", i.command);
    let _ = writeln!(o, "- **pinning**: {}", i.cores.note);
    let _ = writeln!(
        o,
        "- **method**: {} run(s) per cell; the servers take turns within each run \
         (their order rotates from run to run); every run starts a fresh server process \
         and kills it after; figures are medians (min–max over the runs); every echoed \
         byte was verified",
        i.runs
    );
    let others: Vec<f64> = i
        .results
        .records
        .iter()
        .filter_map(|r| match &r.outcome {
            Ok(Measured::Load(l)) => l.others_cpus,
            _ => None,
        })
        .collect();
    if let Some(sp) = Spread::of(&others) {
        let _ = writeln!(
            o,
            "- **other load during the measured windows** (CPU the machine spent beyond the \
             server and the load generator): median {:.2}, max {:.2} CPUs{}",
            sp.median,
            sp.max,
            if sp.max > 0.2 {
                " — runs with more than 0.2 were disturbed; the details show each cell's median"
            } else {
                ""
            }
        );
    }
    let started: Vec<_> = i.results.records.iter().collect();
    let quiet = started.iter().filter(|r| r.quiet.quiet).count();
    let worst = started
        .iter()
        .filter_map(|r| r.quiet.busy)
        .fold(0.0f64, f64::max);
    let _ = writeln!(
        o,
        "- **quiet machine**: {quiet} of {} run(s) started on a quiet machine ({}); \
         the busiest start saw {:.0}% of all CPUs busy{}\n",
        started.len(),
        i.quiet_rule,
        worst * 100.0,
        if quiet < started.len() {
            " — other work was running, so these figures are noisier than they should be"
        } else {
            ""
        }
    );
}

fn summary_section(o: &mut String, i: &ReportInput<'_>) {
    let _ = writeln!(o, "## Summary\n");
    let others: Vec<Server> = RATIO_AGAINST
        .into_iter()
        .filter(|s| i.servers.contains(s))
        .collect();
    let mut head = String::from("| workload | headline |");
    let mut rule = String::from("|---|---|");
    for s in i.servers {
        let _ = write!(head, " {} |", s.label());
        rule.push_str("---:|");
    }
    for s in &others {
        let _ = write!(head, " rpoe/{} |", short(*s));
        rule.push_str("---:|");
    }
    let _ = writeln!(o, "{head}\n{rule}");
    for w in i.workloads.iter().filter(|w| w.id != WorkloadId::Scaling) {
        let metric = &w.metrics()[0];
        let arrow = if metric.higher_is_better {
            "↑"
        } else {
            "↓"
        };
        let mut row = format!("| {} | {} {arrow} |", w.title(), metric.label);
        for s in i.servers {
            let cell = i
                .results
                .spread(w.id, *s, metric)
                .map_or("—".into(), |sp| spread(sp, metric.decimals));
            let _ = write!(row, " {cell} |");
        }
        let rpoe = i.results.headline(w.id, Server::Rpoe);
        for s in &others {
            let cell = match (rpoe, i.results.headline(w.id, *s)) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
                _ => "—".into(),
            };
            let _ = write!(row, " {cell} |");
        }
        let _ = writeln!(o, "{row}");
    }
    let _ = writeln!(
        o,
        "\n↑: more is better, ↓: less is better; a ratio is rpoe-echo's median over the \
         other server's, so below 1 is better for ↓ figures.\n"
    );
}

fn short(s: Server) -> String {
    match s {
        Server::PoeSeed => "POE-seed".into(),
        Server::PoeTcp => "POE-Server::TCP".into(),
        other => other.label(),
    }
}

fn targets_section(o: &mut String, i: &ReportInput<'_>) {
    let _ = writeln!(o, "## Targets\n");
    if i.quick {
        let _ = writeln!(
            o,
            "Judged on this quick run's medians — indicative only; the C=1000 target was \
             measured at C=200 and the idle target at 1,000 connections.\n"
        );
    }
    let _ = writeln!(o, "| target | measured | status |\n|---|---|---|");
    for row in targets::evaluate(i.results, i.runs) {
        let status = match &row.status {
            Status::Met => "met".to_string(),
            Status::NotMet => "**not met**".to_string(),
            Status::Unmeasured(why) => format!("not judged: {why}"),
        };
        let _ = writeln!(o, "| {} | {} | {status} |", row.target, row.measured);
    }
    let _ = writeln!(o);
}

fn details_section(o: &mut String, i: &ReportInput<'_>) {
    let _ = writeln!(o, "## Details\n");
    for w in i.workloads {
        let _ = writeln!(o, "### {}\n", w.title());
        let servers: Vec<Server> = if w.id == WorkloadId::Scaling {
            vec![Server::RpoeWorkers(1), Server::RpoeWorkers(2)]
        } else {
            i.servers.to_vec()
        };
        let metrics = w.metrics();
        let mut head = String::from("| server | runs ok |");
        let mut rule = String::from("|---|---:|");
        for m in metrics {
            let _ = write!(head, " {} |", m.label);
            rule.push_str("---:|");
        }
        let _ = writeln!(o, "{head}\n{rule}");
        for s in servers {
            let runs: Vec<_> = i
                .results
                .records
                .iter()
                .filter(|r| r.workload == w.id && r.server == s)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let ok = runs.iter().filter(|r| r.outcome.is_ok()).count();
            let mut row = format!("| {} | {ok}/{} |", s.label(), runs.len());
            for m in metrics {
                let cell = i
                    .results
                    .spread(w.id, s, m)
                    .map_or("—".into(), |sp| spread(sp, m.decimals));
                let _ = write!(row, " {cell} |");
            }
            let _ = writeln!(o, "{row}");
        }
        let capped = match (
            i.results.idle_conns(Server::PoeTcp),
            i.results.idle_conns(Server::Rpoe),
        ) {
            (Some(tcp), Some(rpoe)) => tcp < rpoe,
            _ => false,
        };
        if w.id == WorkloadId::Scaling {
            let _ = writeln!(
                o,
                "\nrpoe-echo with N kernels on N threads sharing the port (SO_REUSEPORT), \
                 not pinned: its threads may use every CPU, the load generator's too, while \
                 the load generator stays on its own. With {} CPU(s) this shows contention \
                 more than scaling.",
                i.machine.cores
            );
        }
        if w.id == WorkloadId::Idle && capped {
            let _ = writeln!(
                o,
                "\nPOE Server::TCP holds at most {} idle connections: at 10,000 it stops \
                 closing connections for over 5 s after the clients' half-close (a session \
                 per connection under POE's `select()` loop), which fails the run.",
                super::workloads::SERVER_TCP_IDLE_CONNS
            );
        }
        let _ = writeln!(o);
    }
}

fn notes_section(o: &mut String, i: &ReportInput<'_>) {
    let failures: Vec<_> = i.results.failures().collect();
    if i.notes.is_empty() && failures.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Notes\n");
    for n in i.notes {
        let _ = writeln!(o, "- {n}");
    }
    for (r, why) in failures {
        let _ = writeln!(
            o,
            "- **FAILED**: {} on `{}`, run {}: {}",
            r.server.label(),
            r.workload.key(),
            r.run,
            why.replace('\n', " ")
        );
    }
    let _ = writeln!(o);
}

/// `median (min–max)`, or just the median for a single run.
fn spread(s: Spread, decimals: usize) -> String {
    if s.runs == 1 || s.min == s.max {
        number(s.median, decimals)
    } else {
        format!(
            "{} ({}–{})",
            number(s.median, decimals),
            number(s.min, decimals),
            number(s.max, decimals)
        )
    }
}

/// A figure for a table: large ones with k/M suffixes, others with
/// `decimals` digits.
pub fn number(v: f64, decimals: usize) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(number(3_432_641.0, 0), "3.43M");
        assert_eq!(number(143_104.0, 0), "143.1k");
        assert_eq!(number(9_999.4, 0), "9999");
        assert_eq!(number(0.257, 3), "0.257");
    }

    #[test]
    fn spreads_show_a_range_only_when_there_is_one() {
        let one = Spread::of(&[2.0]).unwrap();
        assert_eq!(spread(one, 1), "2.0");
        let three = Spread::of(&[1.0, 2.0, 4.0]).unwrap();
        assert_eq!(spread(three, 0), "2 (1–4)");
    }
}
