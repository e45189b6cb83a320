//! The soak's CSV rows and its summary with a verdict per criterion.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::clients::{Tally, MIX};
use super::metrics::{self, Page, Sample, REASONS};
use super::{Outcome, EXIT_MARGIN, MAX_RSS_SLOPE, SHUTDOWN_TIMEOUT};
use crate::procfs::Machine;

/// The CSV's columns; counters are cumulative, `*_per_s` and `cpu_pct`
/// are over the interval since the previous row. Counter columns are
/// empty when that scrape failed.
pub const CSV_HEADER: &str = "t_s,rss_kib,fds,cpu_s,cpu_pct,connections,accepted,rejected,evicted,\
lines,lines_per_s,received_bytes,sent_bytes,backpressure_pauses,timeouts_idle,timeouts_line,\
timeouts_send,accept_errors_emfile,closes_eof,closes_read_error,closes_write_error,\
closes_line_too_long,closes_idle_timeout,closes_line_timeout,closes_send_timeout,closes_evicted,\
closes_over_budget,closes_shutdown,closes_shutdown_timeout";

/// The counters of a page in CSV column order (after `cpu_pct`).
fn counters(page: &Page) -> Vec<f64> {
    let g = |k: &str| metrics::get(page, k);
    let mut v = vec![
        g("rpoe_echo_connections"),
        g("rpoe_echo_connections_accepted_total"),
        g("rpoe_echo_connections_rejected_total"),
        g("rpoe_echo_connections_evicted_total"),
        g("rpoe_echo_lines_total"),
    ];
    // lines_per_s goes here; filled by csv_row.
    v.extend([
        g("rpoe_echo_received_bytes_total"),
        g("rpoe_echo_sent_bytes_total"),
        g("rpoe_echo_backpressure_pauses_total"),
        metrics::timeouts(page, "idle"),
        metrics::timeouts(page, "line"),
        metrics::timeouts(page, "send"),
        metrics::emfile(page),
    ]);
    v.extend(REASONS.iter().map(|r| metrics::closes(page, r)));
    v
}

/// CPU use over the interval, percent of one CPU.
pub fn cpu_pct(s: &Sample, prev: Option<&Sample>) -> Option<f64> {
    let p = prev?;
    let dt = s.t - p.t;
    (dt > 0.0).then(|| (s.cpu - p.cpu) / dt * 100.0)
}

/// Lines per second over the interval.
pub fn lines_per_s(s: &Sample, prev: Option<&Sample>) -> Option<f64> {
    let p = prev?;
    let dt = s.t - p.t;
    let now = metrics::get(s.page.as_ref()?, "rpoe_echo_lines_total");
    let before = metrics::get(p.page.as_ref()?, "rpoe_echo_lines_total");
    (dt > 0.0).then(|| (now - before) / dt)
}

/// One CSV row.
pub fn csv_row(s: &Sample, prev: Option<&Sample>) -> String {
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    let mut row = format!(
        "{:.1},{},{},{:.2},{}",
        s.t,
        s.rss / 1024,
        s.fds,
        s.cpu,
        opt(cpu_pct(s, prev))
    );
    match &s.page {
        Some(page) => {
            let c = counters(page);
            for (i, v) in c.iter().enumerate() {
                if i == 5 {
                    let _ = write!(row, ",{}", opt(lines_per_s(s, prev)));
                }
                let _ = write!(row, ",{v}");
            }
        }
        None => row.push_str(&",".repeat(CSV_HEADER.split(',').count() - 5)),
    }
    row
}

/// Least-squares slope of `points` (x, y); `None` with fewer than 2.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// One criterion's verdict.
pub struct Verdict {
    /// What was required.
    pub criterion: String,
    /// Whether it held.
    pub pass: bool,
    /// What was measured.
    pub detail: String,
}

/// Everything the soak reports.
pub struct Summary {
    verdicts: Vec<Verdict>,
    body: String,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Summary {
    /// Judge the run.
    pub fn new(
        samples: &[Sample],
        warmup: Duration,
        tally: &Tally,
        outcome: &Outcome,
        machine: &Machine,
        duration: Duration,
        flags: &[String],
    ) -> Summary {
        let mut verdicts = Vec::new();
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let losses = tally.losses.lock().map(|v| v.clone()).unwrap_or_default();
        let violations = tally
            .violations
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        let lockstep = load(&tally.lockstep_lines);
        let streams = load(&tally.streams_ok);
        verdicts.push(Verdict {
            criterion: "well-behaved clients lose nothing".into(),
            pass: losses.is_empty()
                && violations.is_empty()
                && lockstep > 0
                && streams == MIX.streamers as u64,
            detail: format!(
                "{lockstep} lockstep lines verified byte for byte ({} clients); \
                 {streams}/{} streams matched by hash and length ({:.1} MiB); \
                 FIN churn {} complete, half-close {} complete, over-long-line \
                 clients got their earlier line back {} times; {} losses, {} violations",
                MIX.lockstep,
                MIX.streamers,
                load(&tally.stream_bytes) as f64 / MIB,
                load(&tally.fin_ok),
                load(&tally.half_ok),
                load(&tally.overlong_ok),
                losses.len(),
                violations.len()
            ),
        });

        let warm = warmup.as_secs_f64();
        let points: Vec<(f64, f64)> = samples
            .iter()
            .filter(|s| s.t >= warm && s.rss > 0)
            .map(|s| (s.t / 60.0, s.rss as f64 / MIB))
            .collect();
        let rss_slope = slope(&points);
        let rss_at = |f: fn(&&(f64, f64)) -> bool| points.iter().find(f).map(|p| p.1);
        let rss_first = rss_at(|_| true);
        let rss_last = points.last().map(|p| p.1);
        let rss_max = samples.iter().map(|s| s.rss).max().unwrap_or(0) as f64 / MIB;
        verdicts.push(Verdict {
            criterion: format!("RSS grows < {MAX_RSS_SLOPE} MiB/min after warm-up"),
            pass: rss_slope.is_some_and(|s| s < MAX_RSS_SLOPE),
            detail: format!(
                "slope {} MiB/min (least squares over {} samples from {:.0} s); \
                 RSS {} MiB at the end of warm-up, {} MiB at the end, peak {rss_max:.1} MiB",
                rss_slope.map_or("n/a".into(), |s| format!("{s:+.3}")),
                points.len(),
                warm,
                rss_first.map_or("n/a".into(), |v| format!("{v:.1}")),
                rss_last.map_or("n/a".into(), |v| format!("{v:.1}")),
            ),
        });

        let fd_peak = samples.iter().map(|s| s.fds).max().unwrap_or(0);
        verdicts.push(Verdict {
            criterion: "fds return to baseline once the clients have closed".into(),
            pass: outcome.fd_end == Some(outcome.fd_baseline),
            detail: format!(
                "baseline {}, peak {fd_peak} (sampled), after the clients closed {}",
                outcome.fd_baseline,
                outcome.fd_end.map_or("n/a".into(), |f| f.to_string())
            ),
        });

        let limit = SHUTDOWN_TIMEOUT + EXIT_MARGIN;
        let exit_ok = matches!(outcome.exit, Some((Some(0), _)));
        let drained = match &outcome.drained {
            Some(Ok(())) => {
                "a client connected across SIGTERM got the 9 lines it sent just before it, then EOF"
                    .into()
            }
            Some(Err(e)) => format!("the client connected across SIGTERM: {e}"),
            None => "SIGTERM not sent".to_string(),
        };
        verdicts.push(Verdict {
            criterion: format!(
                "exits 0 within its shutdown timeout ({} s + {} s margin) after SIGTERM",
                SHUTDOWN_TIMEOUT.as_secs(),
                EXIT_MARGIN.as_secs()
            ),
            pass: exit_ok && matches!(outcome.drained, Some(Ok(()))),
            detail: match outcome.exit {
                Some((Some(code), t)) => {
                    format!("exit {code} after {:.2} s; {drained}", t.as_secs_f64())
                }
                Some((None, _)) => format!(
                    "did not exit within {} s (killed) or died of a signal; {drained}",
                    limit.as_secs()
                ),
                None => drained,
            },
        });

        verdicts.push(Verdict {
            criterion: "SIGHUP is survived (ignored), SIGUSR1 logs the counters".into(),
            pass: outcome.survived_hup == Some(true) && outcome.hup_logged && outcome.usr1_logged,
            detail: format!(
                "alive after SIGHUP: {}; 'SIGHUP ignored' logged: {}; counters line logged: {}",
                outcome
                    .survived_hup
                    .map_or("not sent".into(), |b| b.to_string()),
                outcome.hup_logged,
                outcome.usr1_logged
            ),
        });

        // The last successful scrape: after the clients closed.
        let last = samples.iter().rev().find_map(|s| s.page.as_ref());
        let empty = Page::new();
        let page = last.unwrap_or(&empty);
        let expected = [
            "line_too_long",
            "idle_timeout",
            "line_timeout",
            "send_timeout",
            "evicted",
        ];
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|r| metrics::closes(page, r) == 0.0)
            .collect();
        let emfile = metrics::emfile(page);
        let rejected = metrics::get(page, "rpoe_echo_connections_rejected_total");
        verdicts.push(Verdict {
            criterion: "the hostile paths were exercised".into(),
            pass: missing.is_empty() && emfile > 0.0 && rejected > 0.0,
            detail: format!(
                "closes seen for every one of {}{}; accept EMFILE errors {emfile}; rejected at \
                 the cap {rejected}; {} storms, {} EMFILE episodes",
                expected.join(", "),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(" except {}", missing.join(", "))
                },
                outcome.storms,
                outcome.emfile_episodes
            ),
        });

        // Bookkeeping: with every client gone, each accepted connection
        // must have been closed, and counted under exactly one reason.
        let accepted = metrics::get(page, "rpoe_echo_connections_accepted_total");
        let closed: f64 = REASONS.iter().map(|r| metrics::closes(page, r)).sum();
        let connected = metrics::get(page, "rpoe_echo_connections");
        verdicts.push(Verdict {
            criterion: "every accepted connection is closed and counted once".into(),
            pass: last.is_some() && accepted > 0.0 && closed == accepted && connected == 0.0,
            detail: format!(
                "accepted {accepted}, closes (all reasons) {closed}, connected at the end {connected}"
            ),
        });

        let mut body = String::new();
        let _ = writeln!(
            body,
            "## Counters at the end (last scrape before SIGTERM)\n"
        );
        let _ = writeln!(body, "| counter | value |\n|---|---:|");
        for key in [
            "rpoe_echo_connections",
            "rpoe_echo_connections_accepted_total",
            "rpoe_echo_connections_rejected_total",
            "rpoe_echo_connections_evicted_total",
            "rpoe_echo_lines_total",
            "rpoe_echo_received_bytes_total",
            "rpoe_echo_sent_bytes_total",
            "rpoe_echo_backpressure_pauses_total",
        ] {
            let _ = writeln!(body, "| `{key}` | {} |", metrics::get(page, key));
        }
        for kind in ["idle", "line", "send"] {
            let _ = writeln!(
                body,
                "| `rpoe_echo_timeouts_total{{kind=\"{kind}\"}}` | {} |",
                metrics::timeouts(page, kind)
            );
        }
        let _ = writeln!(
            body,
            "| `rpoe_echo_accept_errors_total{{errno=\"EMFILE\"}}` | {emfile} |"
        );
        for r in REASONS {
            let _ = writeln!(
                body,
                "| `rpoe_echo_closes_total{{reason=\"{r}\"}}` | {} |",
                metrics::closes(page, r)
            );
        }
        let _ = writeln!(body, "\n## Clients\n");
        let _ = writeln!(
            body,
            "- lockstep: {} clients, one line in flight each, {lockstep} lines verified",
            MIX.lockstep
        );
        let _ = writeln!(
            body,
            "- streamers: {} clients, ~200 KB/s each, {streams} streams matched, {:.1} MiB",
            MIX.streamers,
            load(&tally.stream_bytes) as f64 / MIB
        );
        let _ = writeln!(
            body,
            "- churn ({} threads): FIN {} complete, half-close {} complete, RST {}, \
             refused at the cap or during a storm {}",
            MIX.churn,
            load(&tally.fin_ok),
            load(&tally.half_ok),
            load(&tally.rst),
            load(&tally.churn_refused)
        );
        let _ = writeln!(
            body,
            "- slowloris ({}): {} cut by the line timeout; idle ({}): {} cut by the idle \
             timeout; both closed early (refused at the cap or evicted): {}; non-readers ({}): \
             {} cycles; over-long lines: {} cut after their earlier line was echoed",
            MIX.slowloris,
            load(&tally.slowloris_cut),
            MIX.idle,
            load(&tally.idle_cut),
            load(&tally.hostile_refused),
            MIX.nonreaders,
            load(&tally.nonreader_cycles),
            load(&tally.overlong_ok)
        );
        for l in losses.iter().chain(violations.iter()).take(20) {
            let _ = writeln!(body, "- PROBLEM: {l}");
        }
        for n in &outcome.notes {
            let _ = writeln!(body, "- note: {n}");
        }
        if outcome.scrape_failures > 0 {
            let _ = writeln!(
                body,
                "- {} scrapes failed (e.g. during an EMFILE episode)",
                outcome.scrape_failures
            );
        }
        let cpu: Vec<f64> = samples
            .windows(2)
            .filter_map(|w| cpu_pct(&w[1], Some(&w[0])))
            .collect();
        if !cpu.is_empty() {
            let mean = cpu.iter().sum::<f64>() / cpu.len() as f64;
            let max = cpu.iter().copied().fold(0.0, f64::max);
            let _ = writeln!(
                body,
                "- server CPU: mean {mean:.1}%, max {max:.1}% of one CPU per {} s sample",
                samples
                    .get(1)
                    .zip(samples.first())
                    .map_or(0.0, |(b, a)| (b.t - a.t).round())
            );
        }
        let _ = writeln!(body, "\n## Run\n");
        let _ = writeln!(
            body,
            "- {}s of clients, warm-up {}s, {} samples",
            duration.as_secs(),
            warmup.as_secs(),
            samples.len()
        );
        let _ = writeln!(body, "- rpoe-echo {}", flags.join(" "));
        let _ = writeln!(
            body,
            "- {}; {} CPUs, {} RAM; {}; {}; commit {}",
            machine.cpu,
            machine.cores,
            machine.memory,
            machine.kernel,
            machine.rustc,
            machine.commit
        );
        let _ = writeln!(body, "- {}", machine.date);
        Summary { verdicts, body }
    }

    /// Whether every criterion held.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.pass)
    }

    /// The criteria that failed.
    pub fn failures(&self) -> Vec<String> {
        self.verdicts
            .iter()
            .filter(|v| !v.pass)
            .map(|v| v.criterion.clone())
            .collect()
    }

    /// The summary as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# rpoe-echo soak: {}\n\n| criterion | verdict | measured |\n|---|---|---|\n",
            if self.passed() { "PASS" } else { "FAIL" }
        );
        for v in &self.verdicts {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                v.criterion,
                if v.pass { "PASS" } else { "FAIL" },
                v.detail
            );
        }
        s.push('\n');
        s.push_str(&self.body);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        assert!((slope(&pts).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(slope(&[(1.0, 1.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }

    fn machine() -> Machine {
        Machine {
            cpu: "test".into(),
            cores: 1,
            memory: "1 GiB".into(),
            kernel: "Linux".into(),
            date: "today".into(),
            rustc: "rustc".into(),
            commit: "abc".into(),
        }
    }

    /// Samples every 5 s for 10 min with RSS growing `mib_per_min`.
    fn samples(mib_per_min: f64) -> Vec<Sample> {
        (0..120)
            .map(|i| {
                let t = i as f64 * 5.0;
                Sample {
                    t,
                    rss: (4.0 * MIB + mib_per_min * MIB * t / 60.0) as u64,
                    fds: 11,
                    cpu: t / 100.0,
                    page: None,
                }
            })
            .collect()
    }

    fn memory_verdict(mib_per_min: f64) -> (bool, bool) {
        let s = Summary::new(
            &samples(mib_per_min),
            Duration::from_secs(120),
            &Tally::default(),
            &Outcome::default(),
            &machine(),
            Duration::from_secs(600),
            &[],
        );
        let v = s
            .verdicts
            .iter()
            .find(|v| v.criterion.starts_with("RSS"))
            .unwrap();
        (v.pass, s.passed())
    }

    #[test]
    fn a_leak_fails_the_memory_criterion_and_the_run() {
        assert_eq!(memory_verdict(1.0), (false, false));
        assert!(!memory_verdict(0.6).0);
        assert!(memory_verdict(0.1).0);
        assert!(memory_verdict(0.0).0);
    }

    #[test]
    fn an_empty_run_fails() {
        // No clients, no scrape, no exit: nothing may pass by default.
        let s = Summary::new(
            &samples(0.0),
            Duration::from_secs(120),
            &Tally::default(),
            &Outcome::default(),
            &machine(),
            Duration::from_secs(600),
            &[],
        );
        assert!(!s.passed());
        let failed = s.failures();
        for c in [
            "well-behaved",
            "exits 0",
            "SIGHUP",
            "hostile",
            "every accepted",
        ] {
            assert!(
                failed.iter().any(|f| f.contains(c)),
                "{c} passed: {failed:?}"
            );
        }
        assert!(s.markdown().starts_with("# rpoe-echo soak: FAIL"));
    }

    #[test]
    fn rows_have_every_column() {
        let columns = CSV_HEADER.split(',').count();
        let a = Sample {
            t: 0.0,
            rss: 4096,
            fds: 7,
            cpu: 0.0,
            page: None,
        };
        assert_eq!(csv_row(&a, None).split(',').count(), columns);
        let b = Sample {
            t: 5.0,
            cpu: 0.5,
            page: Some(metrics::parse("rpoe_echo_lines_total 50\n")),
            ..a.clone()
        };
        let row = csv_row(&b, Some(&a));
        assert_eq!(row.split(',').count(), columns);
        assert!(row.starts_with("5.0,4,7,0.50,10.0,"), "{row}");
    }
}
