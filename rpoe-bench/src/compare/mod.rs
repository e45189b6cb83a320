//! `rpoe-bench compare`: every server against every workload, interleaved
//! and repeated, each server pinned to one core and the load generator to
//! another; the report (markdown, SVG plot, CSV of every run) goes into
//! `docs/bench/`.
//!
//! For each workload, each run starts every server in turn (a fresh
//! process, its order rotated from run to run), waits for a quiet machine
//! (bounded), loads it, and kills it. A failed run is recorded and the
//! comparison goes on; `compare` exits non-zero if any run failed.

mod affinity;
mod plot;
mod quiet;
mod report;
mod results;
mod servers;
mod targets;
mod workloads;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Args;

use crate::loadgen::{self, Target};
use crate::procfs::Machine;
use affinity::{on_core, Cores};
use quiet::QuietPolicy;
use results::{Results, RunRecord};
use servers::{Programs, Server};
use workloads::{Measured, Plan, Profile, Workload, WorkloadId};

/// Options of `compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// A ~1-minute smoke run: 1 run per cell, short windows, fewer
    /// connections. Writes compare-quick.* instead of compare.*.
    #[arg(long)]
    pub quick: bool,
    /// Runs per cell (default 5; 1 with --quick).
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,
    /// Only these servers (comma-separated:
    /// rpoe,mio,tokio,tokio-framed,poe-seed,poe-tcp).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub servers: Vec<String>,
    /// Only these workloads (comma-separated:
    /// tp50,pingpong,latency10,tp1000,rate,idle,scaling).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub workloads: Vec<String>,
    /// Offered load of the rate workload, lines/s (default: half the
    /// slowest server's round trips/s at latency C=10, at most 50,000).
    #[arg(long, value_name = "LINES_PER_SEC")]
    pub rate: Option<f64>,
    /// Where to write the report.
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/bench"))]
    pub out: PathBuf,
    /// The rpoe-echo binary (default: built with cargo beside this one).
    #[arg(long, value_name = "PATH")]
    pub rpoe_echo: Option<PathBuf>,
    /// Do not run `cargo build --release -p rpoe-echo` first.
    #[arg(long)]
    pub no_build: bool,
    /// The machine counts as quiet below this busy fraction of all CPUs.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.15)]
    pub quiet_threshold: f64,
    /// Longest wait for a quiet machine before each run, seconds (default
    /// 30; 0.4 with --quick).
    #[arg(long, value_name = "SECS", value_parser = crate::cli::parse_secs)]
    pub quiet_wait: Option<Duration>,
    /// Fail a run when nothing arrives for this many seconds.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = crate::cli::parse_secs)]
    pub stall_timeout: Duration,
}

/// The default offered load when the throughput workload was not run.
const DEFAULT_RATE: f64 = 10_000.0;
/// The highest offered load chosen automatically, lines/s.
const MAX_AUTO_RATE: f64 = 50_000.0;
/// Most connections any workload opens.
const MAX_CONNS: usize = 10_000;

/// Run the comparison.
pub fn run(args: &CompareArgs) -> Result<(), String> {
    if cfg!(debug_assertions) {
        return Err(
            "compare measures servers built by this binary: run a release build \
                    (cargo run --release -p rpoe-bench -- compare)"
                .into(),
        );
    }
    servers::kill_servers_on_signal()?;
    loadgen::ensure_fd_limit(MAX_CONNS).map_err(|e| e.to_string())?;
    let profile = if args.quick {
        Profile::quick()
    } else {
        Profile::full()
    };
    let runs = args.runs.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
    let programs = programs(args)?;
    let mut notes = Vec::new();
    let servers = choose_servers(args, &mut notes)?;
    let ids = choose_workloads(args, &programs, &mut notes)?;
    let cores = Cores::plan();
    let quiet = QuietPolicy {
        threshold: args.quiet_threshold,
        sample: if args.quick {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(1)
        },
        max_wait: args.quiet_wait.unwrap_or(if args.quick {
            Duration::from_millis(400)
        } else {
            Duration::from_secs(30)
        }),
    };
    let machine = Machine::describe();
    eprintln!(
        "rpoe-bench compare: {} run(s) per cell, servers: {}; {}",
        runs,
        servers
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", "),
        cores.note
    );

    let mut results = Results::default();
    let mut workloads = Vec::new();
    let mut progress = Progress {
        done: 0,
        total: ids
            .iter()
            .map(|w| runs * servers_for(*w, &servers).len())
            .sum(),
    };
    for id in ids {
        let rate = match id {
            WorkloadId::Rate => choose_rate(args, &results, &servers, &mut notes),
            _ => DEFAULT_RATE,
        };
        let w = Workload::new(id, profile, rate);
        let cell = Cell {
            programs: &programs,
            cores: &cores,
            quiet: &quiet,
            stall: args.stall_timeout,
        };
        for run in 1..=runs {
            let mut order = servers_for(id, &servers);
            let turn = (run - 1) % order.len();
            order.rotate_left(turn);
            for server in order {
                progress.start(&w, server, run, runs);
                let record = cell.run(&w, server, run);
                progress.finish(&record);
                results.records.push(record);
            }
        }
        workloads.push(w);
    }
    write_report(
        args, &results, &workloads, &servers, &machine, &cores, runs, &quiet, &notes,
    )?;
    let failed = results.failures().count();
    if failed > 0 {
        return Err(format!(
            "{failed} run(s) failed; see the report's notes and the servers' logs in {}",
            programs.log_dir.display()
        ));
    }
    // The servers' stderr logs are only wanted when something failed.
    let _ = std::fs::remove_dir_all(&programs.log_dir);
    Ok(())
}

/// The servers of a workload: the main ones, or for scaling rpoe-echo
/// with one and two workers.
fn servers_for(id: WorkloadId, main: &[Server]) -> Vec<Server> {
    match id {
        WorkloadId::Scaling => vec![Server::RpoeWorkers(1), Server::RpoeWorkers(2)],
        _ => main.to_vec(),
    }
}

/// What every run needs.
struct Cell<'a> {
    programs: &'a Programs,
    cores: &'a Cores,
    quiet: &'a QuietPolicy,
    stall: Duration,
}

impl Cell<'_> {
    /// One run of `server` on `w`: wait for quiet, start, load, kill.
    fn run(&self, w: &Workload, server: Server, run: usize) -> RunRecord {
        let quiet = self.quiet.wait();
        // Workers spread over every CPU; everything else stays on its core.
        let server_core = match server {
            Server::RpoeWorkers(_) => None,
            _ => self.cores.server,
        };
        let mut record = RunRecord {
            workload: w.id,
            server,
            run,
            quiet,
            server_cpus: String::new(),
            outcome: Err(String::new()),
        };
        let mut running = match servers::start(server, self.programs, server_core) {
            Ok(r) => r,
            Err(e) => {
                record.outcome = Err(e);
                return record;
            }
        };
        record.server_cpus = running.cpus.clone();
        let target = Target {
            stall_timeout: self.stall,
            connect_concurrency: server.connect_concurrency(),
            ..Target::new(running.addr, Some(running.pid))
        };
        let outcome = on_core(self.cores.client, || match w.plan(server) {
            Plan::Load(spec) => loadgen::load::run(&target, &spec).map(Measured::Load),
            Plan::Idle { conns, hold } => {
                loadgen::idle::run(&target, conns, workloads::LINE_LEN, hold).map(Measured::Idle)
            }
        });
        record.outcome = outcome.map_err(|e| {
            let state = if running.alive() {
                String::new()
            } else {
                " (the server had exited)".to_string()
            };
            format!("{e}{state}{}", running.log_tail())
        });
        drop(running);
        record
    }
}

/// The progress line on stderr.
struct Progress {
    done: usize,
    total: usize,
}

impl Progress {
    fn start(&mut self, w: &Workload, server: Server, run: usize, runs: usize) {
        self.done += 1;
        eprint!(
            "[{:>3}/{}] {} | {} | run {run}/{runs} ... ",
            self.done,
            self.total,
            w.title(),
            server.label()
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&self, r: &RunRecord) {
        let busy = r
            .quiet
            .busy
            .map(|b| format!(" [machine {:.0}% busy at start]", b * 100.0))
            .unwrap_or_default();
        match &r.outcome {
            Ok(m) => {
                let metric = &r.workload.metrics()[0];
                let v = (metric.get)(m)
                    .map(|v| report::number(v, metric.decimals))
                    .unwrap_or_else(|| "?".into());
                let others = match m {
                    Measured::Load(r) => r
                        .others_cpus
                        .filter(|&o| o > 0.1)
                        .map(|o| format!(" [other load {o:.2} CPUs during the window]"))
                        .unwrap_or_default(),
                    Measured::Idle(_) => String::new(),
                };
                eprintln!("{v} {}{busy}{others}", metric.label);
            }
            Err(e) => eprintln!("FAILED: {e}{busy}"),
        }
    }
}

/// Locate (and unless told otherwise, build) the servers' programs.
fn programs(args: &CompareArgs) -> Result<Programs, String> {
    let this_exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let bin_dir = this_exe
        .parent()
        .ok_or("this program has no directory")?
        .to_path_buf();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace directory")?
        .to_path_buf();
    let rpoe_echo = match &args.rpoe_echo {
        Some(p) => p.clone(),
        None => {
            if !args.no_build {
                build_rpoe_echo(&workspace, &bin_dir)?;
            }
            bin_dir.join("rpoe-echo")
        }
    };
    if !rpoe_echo.is_file() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p rpoe-echo) or pass --rpoe-echo PATH",
            rpoe_echo.display()
        ));
    }
    let log_dir = std::env::temp_dir().join(format!("rpoe-bench-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    Ok(Programs {
        rpoe_echo,
        this_exe,
        seed: workspace.join("seed/seed_server.pl"),
        server_tcp: workspace.join("rpoe-bench/perl/server_tcp_echo.pl"),
        log_dir,
    })
}

/// `cargo build --release -p rpoe-echo` into the target directory this
/// program was built in, so the comparison always runs the current code.
fn build_rpoe_echo(workspace: &Path, bin_dir: &Path) -> Result<(), String> {
    let target_dir = bin_dir
        .parent()
        .ok_or("cannot tell the cargo target directory")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("rpoe-bench compare: cargo build --release -p rpoe-echo");
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "rpoe-echo"])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p rpoe-echo failed: {status}"));
    }
    Ok(())
}

fn choose_servers(args: &CompareArgs, notes: &mut Vec<String>) -> Result<Vec<Server>, String> {
    let mut servers: Vec<Server> = if args.servers.is_empty() {
        Server::ALL.to_vec()
    } else {
        args.servers
            .iter()
            .map(|k| Server::from_key(k).ok_or_else(|| format!("unknown server {k:?}")))
            .collect::<Result<_, _>>()?
    };
    if servers.iter().any(|s| s.is_perl()) && !servers::perl_poe_available() {
        servers.retain(|s| !s.is_perl());
        notes.push(
            "Perl POE is not installed (`perl -MPOE -e1` fails; Debian: libpoe-perl): \
             the POE servers were skipped"
                .into(),
        );
    }
    if servers.is_empty() {
        return Err("no servers to compare".into());
    }
    Ok(servers)
}

fn choose_workloads(
    args: &CompareArgs,
    programs: &Programs,
    notes: &mut Vec<String>,
) -> Result<Vec<WorkloadId>, String> {
    let mut ids: Vec<WorkloadId> = if args.workloads.is_empty() {
        WorkloadId::MAIN
            .into_iter()
            .chain([WorkloadId::Scaling])
            .collect()
    } else {
        args.workloads
            .iter()
            .map(|k| WorkloadId::from_key(k).ok_or_else(|| format!("unknown workload {k:?}")))
            .collect::<Result<_, _>>()?
    };
    if ids.contains(&WorkloadId::Scaling) && !servers::rpoe_has_workers(&programs.rpoe_echo) {
        ids.retain(|w| *w != WorkloadId::Scaling);
        notes.push(
            "scaling: unavailable — this rpoe-echo has no --workers flag (`rpoe-echo --help` \
             does not mention it), so multi-core scaling was not measured"
                .into(),
        );
    }
    Ok(ids)
}

/// The open-loop rate: `--rate`, or half the slowest server's round
/// trips per second at latency C=10 P=1 — the closed loop whose batching
/// is closest to an open loop's lone lines, so every server sustains it
/// with room to spare — rounded down to two significant digits, within
/// 1,000 and [`MAX_AUTO_RATE`].
fn choose_rate(
    args: &CompareArgs,
    results: &Results,
    servers: &[Server],
    notes: &mut Vec<String>,
) -> f64 {
    if let Some(r) = args.rate {
        notes.push(format!("open-loop rate: {r:.0} lines/s (--rate)"));
        return r;
    }
    let slowest = servers
        .iter()
        .filter_map(|s| {
            results
                .median(WorkloadId::Latency10, *s, "round_trips_per_sec")
                .map(|v| (*s, v))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match slowest {
        Some((s, v)) => {
            let rate = round_down_2(v / 2.0).clamp(1000.0, MAX_AUTO_RATE);
            notes.push(format!(
                "open-loop rate: {rate:.0} lines/s — half the slowest server's round trips/s \
                 at latency C=10 ({}: {v:.0}), rounded down, at most {MAX_AUTO_RATE:.0}",
                s.label()
            ));
            rate
        }
        None => {
            notes.push(format!(
                "open-loop rate: {DEFAULT_RATE:.0} lines/s (the default: latency C=10 was not run)"
            ));
            DEFAULT_RATE
        }
    }
}

/// `v` rounded down to two significant digits.
fn round_down_2(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(v.log10().floor() as i32 - 1);
    (v / scale).floor() * scale
}

#[allow(clippy::too_many_arguments)]
fn write_report(
    args: &CompareArgs,
    results: &Results,
    workloads: &[Workload],
    servers: &[Server],
    machine: &Machine,
    cores: &Cores,
    runs: usize,
    quiet: &QuietPolicy,
    notes: &[String],
) -> Result<(), String> {
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let stem = if args.quick {
        "compare-quick"
    } else {
        "compare"
    };
    let plot_file = format!("{stem}.svg");
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let md = report::markdown(&report::ReportInput {
        results,
        workloads,
        servers,
        machine,
        cores,
        runs,
        quick: args.quick,
        quiet_rule: format!(
            "below {:.0}% of all CPUs busy over {:.2} s, waiting at most {:.1} s",
            quiet.threshold * 100.0,
            quiet.sample.as_secs_f64(),
            quiet.max_wait.as_secs_f64()
        ),
        notes,
        plot_file: &plot_file,
        command: &command,
    });
    let write = |name: &str, text: &str| {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&format!("{stem}.md"), &md)?;
    write(&format!("{stem}.csv"), &results.csv())?;
    let title = format!(
        "rpoe-echo vs mio, tokio, Perl POE — {}{}",
        machine.date,
        if args.quick { " (quick, noisy)" } else { "" }
    );
    plot::svg(
        &args.out.join(&plot_file),
        &title,
        results,
        workloads,
        servers,
    )?;
    println!("{md}");
    eprintln!(
        "rpoe-bench compare: wrote {}/{stem}.{{md,svg,csv}}",
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_down_to_two_digits() {
        assert_eq!(round_down_2(71_552.0), 71_000.0);
        assert_eq!(round_down_2(9_876.0), 9_800.0);
        assert_eq!(round_down_2(0.0), 0.0);
    }

    #[test]
    fn scaling_compares_worker_counts() {
        assert_eq!(
            servers_for(WorkloadId::Scaling, &Server::ALL),
            vec![Server::RpoeWorkers(1), Server::RpoeWorkers(2)]
        );
        assert_eq!(servers_for(WorkloadId::Tp50, &Server::ALL), Server::ALL);
    }
}
