//! `rpoe-bench soak`: a long run of rpoe-echo under a mix of well-behaved
//! and hostile clients, with episodes (an eviction storm, an EMFILE
//! burst) and signals (SIGHUP, SIGUSR1, then SIGTERM), sampling the
//! server every few seconds.
//!
//! It passes when the well-behaved clients lose nothing, resident memory
//! grows less than 0.5 MiB/min after the warm-up, the descriptors return
//! to their baseline once the clients are gone, and the server exits 0
//! within its shutdown timeout. Hostile clients are expected to be cut;
//! the close reasons in the server's counters say how.

mod clients;
mod metrics;
mod plot;
mod report;
mod server;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;

use clients::{Ctx, ServerLimits, Tally};
use metrics::Sample;
use server::Server;

/// Options of `soak`.
#[derive(Args, Debug)]
pub struct SoakArgs {
    /// How long the clients run (e.g. 180s, 3m, 30m); the end (clients
    /// closing, signals, shutdown) adds about 10 s.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = parse_duration)]
    pub duration: Duration,
    /// The rpoe-echo program. Default: `rpoe-echo` beside this program
    /// (`cargo build --release -p rpoe-echo -p rpoe-bench` builds both).
    #[arg(long, value_name = "PATH")]
    pub rpoe_echo: Option<PathBuf>,
    /// Directory for soak.csv, soak.svg, soak.md and the server's log.
    #[arg(long, value_name = "DIR", default_value = "soak-out")]
    pub out: PathBuf,
    /// Time between samples.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Samples before this are warm-up (not used for the memory slope).
    /// Default: 20% of --duration, at least 60 s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub warmup: Option<Duration>,
}

/// `250ms`, `30s`, `5m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let at = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} needs a unit: ms, s, m or h"))?;
    let (n, unit) = s.split_at(at);
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a duration"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m or h)")),
    }
}

/// The server's limits for the soak: small enough that every timeout and
/// the eviction happen many times within a few minutes.
const LIMITS: ServerLimits = ServerLimits {
    max_line: 4096,
    idle: Duration::from_secs(20),
    line: Duration::from_secs(10),
    send: Duration::from_secs(10),
    linger: Duration::from_secs(2),
};
/// `--max-connections`: about twice the steady client count, so the
/// storm reaches it while the rest of the time stays well below.
const MAX_CONNECTIONS: usize = 64;
/// `--evict-idle-after`.
const EVICT_IDLE_AFTER: Duration = Duration::from_secs(5);
/// `--shutdown-timeout-ms`.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Extra time allowed for the process to exit after the shutdown timeout
/// (process teardown on a loaded machine).
const EXIT_MARGIN: Duration = Duration::from_secs(5);
/// Episodes repeat with this period; the first starts in the warm-up.
const PERIOD: Duration = Duration::from_secs(60);
/// The memory criterion, MiB per minute after the warm-up.
pub const MAX_RSS_SLOPE: f64 = 0.5;

/// The server's command-line flags for the soak.
fn server_flags() -> Vec<String> {
    let secs = |d: Duration| format!("{}s", d.as_secs());
    [
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--metrics",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "--max-connections".into(),
        MAX_CONNECTIONS.to_string(),
        "--max-line".into(),
        LIMITS.max_line.to_string(),
        "--idle-timeout".into(),
        secs(LIMITS.idle),
        "--line-timeout".into(),
        secs(LIMITS.line),
        "--send-timeout".into(),
        secs(LIMITS.send),
        "--evict-idle-after".into(),
        secs(EVICT_IDLE_AFTER),
        "--linger".into(),
        secs(LIMITS.linger),
        "--shutdown-timeout-ms".into(),
        SHUTDOWN_TIMEOUT.as_millis().to_string(),
        "--stats-interval".into(),
        "60s".into(),
    ])
    .collect()
}

/// Something the timeline does at a given second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// Fill the server to --max-connections with idle connections, wait
    /// past --evict-idle-after, then connect more: they evict the idle.
    Storm,
    /// Lower the server's descriptor limit and connect past it.
    Emfile,
    /// SIGHUP: must be ignored.
    Hup,
    /// SIGUSR1: must log the counters.
    Usr1,
}

/// The episodes and signals of a run of `duration`, by start time.
fn timeline(duration: Duration) -> Vec<(Duration, Event)> {
    let mut events = Vec::new();
    let mut start = Duration::ZERO;
    // Each episode takes up to ~15 s; none may run past the end.
    while start + Duration::from_secs(55) <= duration {
        events.push((start + Duration::from_secs(10), Event::Storm));
        events.push((start + Duration::from_secs(35), Event::Emfile));
        start += PERIOD;
    }
    events.push((duration / 2, Event::Hup));
    events.push((duration * 3 / 4, Event::Usr1));
    events.sort_by_key(|&(t, _)| t);
    events
}

/// What the end of the run found, for the report.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Descriptors right after startup.
    pub fd_baseline: usize,
    /// Descriptors once the clients were gone (before SIGTERM).
    pub fd_end: Option<usize>,
    /// Whether the server was alive after SIGHUP.
    pub survived_hup: Option<bool>,
    /// Whether the log has a counters line after SIGUSR1.
    pub usr1_logged: bool,
    /// Whether the log says SIGHUP was ignored.
    pub hup_logged: bool,
    /// Exit status after SIGTERM, and how long it took.
    pub exit: Option<(Option<i32>, Duration)>,
    /// Whether the client connected across SIGTERM got its lines and EOF.
    pub drained: Option<Result<(), String>>,
    /// EMFILE episodes run, and whether any accept failed with EMFILE.
    pub emfile_episodes: usize,
    /// Storms run.
    pub storms: usize,
    /// Scrapes that failed.
    pub scrape_failures: usize,
    /// Problems of the harness itself (e.g. prlimit refused).
    pub notes: Vec<String>,
}

/// Run the soak.
pub fn run(args: &SoakArgs) -> Result<(), String> {
    if args.duration < Duration::from_secs(60) {
        return Err("--duration must be at least 60s".into());
    }
    let warmup = args
        .warmup
        .unwrap_or_else(|| (args.duration / 5).max(Duration::from_secs(60)));
    if warmup + args.interval * 3 > args.duration {
        return Err("the warm-up leaves fewer than 3 samples for the memory slope".into());
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let program = match &args.rpoe_echo {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("current_exe: {e}"))?
            .with_file_name("rpoe-echo"),
    };
    if !program.is_file() {
        return Err(format!(
            "{} not found: cargo build --release -p rpoe-echo, or pass --rpoe-echo PATH",
            program.display()
        ));
    }
    crate::loadgen::ensure_fd_limit(MAX_CONNECTIONS * 3).map_err(|e| e.to_string())?;
    let machine = crate::procfs::Machine::describe();
    let log_path = args.out.join("rpoe-echo.log");
    let flags = server_flags();
    eprintln!(
        "rpoe-bench soak: {} for {}s (warm-up {}s), samples every {}s into {}",
        program.display(),
        args.duration.as_secs(),
        warmup.as_secs(),
        args.interval.as_secs_f64(),
        args.out.display()
    );
    let mut server = Server::start(&program, &flags, &log_path)?;
    let pid = server.pid();
    // Interrupted (Ctrl-C, SIGTERM), the soak must not leave its server
    // running: the drop that kills it would not run.
    ctrlc::set_handler(move || {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        eprintln!("\nrpoe-bench soak: interrupted; rpoe-echo (pid {pid}) killed");
        std::process::exit(130);
    })
    .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    let started = server.started();
    let mut outcome = Outcome {
        fd_baseline: metrics::fd_count(pid)?,
        ..Outcome::default()
    };

    // The sampler: every interval, /proc first (so the scrape's own
    // connection is not counted), then the scrape; each row is written to
    // the CSV at once so a run cut short keeps its data.
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let sampling = Arc::new(AtomicBool::new(true));
    let csv_path = args.out.join("soak.csv");
    let sampler = {
        let samples = samples.clone();
        let sampling = sampling.clone();
        let interval = args.interval;
        let metrics_addr = server.metrics_addr();
        let mut csv = BufWriter::new(
            File::create(&csv_path).map_err(|e| format!("{}: {e}", csv_path.display()))?,
        );
        std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                let _ = writeln!(csv, "{}", report::CSV_HEADER);
                let mut next = started;
                let mut prev: Option<Sample> = None;
                while sampling.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::sleep((next - now).min(Duration::from_millis(100)));
                        continue;
                    }
                    next += interval;
                    let sample = Sample {
                        t: started.elapsed().as_secs_f64(),
                        rss: crate::procfs::rss_bytes(pid).unwrap_or(0),
                        fds: metrics::fd_count(pid).unwrap_or(0),
                        cpu: crate::procfs::cpu_time(pid).map_or(0.0, |d| d.as_secs_f64()),
                        page: metrics::scrape(metrics_addr).ok(),
                    };
                    let _ = writeln!(csv, "{}", report::csv_row(&sample, prev.as_ref()));
                    let _ = csv.flush();
                    if let Ok(mut v) = samples.lock() {
                        v.push(sample.clone());
                    }
                    prev = Some(sample);
                }
            })
            .map_err(|e| format!("cannot start the sampler: {e}"))?
    };

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ctx = Ctx {
        addr: server.addr(),
        stop: stop.clone(),
        tally: tally.clone(),
        limits: LIMITS,
    };
    let threads = clients::start(&ctx, clients::MIX)?;

    for (at, event) in timeline(args.duration) {
        sleep_until(started + at);
        if !server.alive() {
            outcome.notes.push(format!(
                "the server died before {event:?} at {}s",
                at.as_secs()
            ));
            break;
        }
        eprintln!("rpoe-bench soak: {:>5}s {event:?}", at.as_secs());
        match event {
            Event::Storm => {
                storm(&server);
                outcome.storms += 1;
            }
            Event::Emfile => match emfile(&server) {
                Ok(()) => outcome.emfile_episodes += 1,
                Err(e) => outcome.notes.push(format!("EMFILE episode: {e}")),
            },
            Event::Hup => {
                server.signal("HUP")?;
                // An unhandled SIGHUP kills at once; give it a moment.
                std::thread::sleep(Duration::from_millis(500));
                outcome.survived_hup = Some(server.alive());
            }
            Event::Usr1 => server.signal("USR1")?,
        }
    }
    sleep_until(started + args.duration);

    eprintln!("rpoe-bench soak: stopping the clients");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        if t.join().is_err() {
            outcome.notes.push("a client thread panicked".into());
        }
    }

    // Every client has closed: the server's descriptors must come back to
    // the baseline once the lingering closes end (--linger).
    let deadline = Instant::now() + LIMITS.linger + Duration::from_secs(10);
    let mut fds = metrics::fd_count(pid).ok();
    while fds != Some(outcome.fd_baseline) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        fds = metrics::fd_count(pid).ok();
    }
    outcome.fd_end = fds;
    // One more sample of the quiet server, then stop sampling.
    std::thread::sleep(args.interval);
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();

    if server.alive() {
        outcome.drained = Some(drain_across_sigterm(&mut server, &mut outcome));
    } else {
        outcome
            .notes
            .push("the server was not running at the end".into());
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    outcome.hup_logged = log.contains("SIGHUP ignored");
    outcome.usr1_logged = log
        .lines()
        .any(|l| l.contains(" counters") && l.contains("lines="));

    let samples = samples.lock().map(|v| v.clone()).unwrap_or_default();
    outcome.scrape_failures = samples.iter().filter(|s| s.page.is_none()).count();
    let svg_path = args.out.join("soak.svg");
    plot::svg(&svg_path, &samples, warmup)?;
    let summary = report::Summary::new(
        &samples,
        warmup,
        &tally,
        &outcome,
        &machine,
        args.duration,
        &flags,
    );
    let text = summary.markdown();
    let md_path = args.out.join("soak.md");
    std::fs::write(&md_path, &text).map_err(|e| format!("{}: {e}", md_path.display()))?;
    println!("{text}");
    eprintln!(
        "rpoe-bench soak: wrote {}, {}, {} and {}",
        csv_path.display(),
        svg_path.display(),
        md_path.display(),
        log_path.display()
    );
    if summary.passed() {
        Ok(())
    } else {
        Err(format!(
            "soak failed: {} (see {})",
            summary.failures().join("; "),
            md_path.display()
        ))
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Connections held open by an episode.
fn hold_many(server: &Server, n: usize) -> Vec<std::net::TcpStream> {
    (0..n)
        .filter_map(|_| clients::hold(server.addr()))
        .collect()
}

/// Fill the server past --max-connections with idle connections: the
/// extra ones are refused or evict idle clients; after
/// --evict-idle-after the storm's own connections are idle long enough
/// to be evicted by a second wave. Then all of them close.
fn storm(server: &Server) {
    let first = hold_many(server, MAX_CONNECTIONS);
    std::thread::sleep(EVICT_IDLE_AFTER + Duration::from_secs(2));
    let second = hold_many(server, 16);
    std::thread::sleep(Duration::from_secs(2));
    drop(first);
    drop(second);
}

/// Lower the server's soft descriptor limit to just above what it has
/// open (prlimit(2) on its pid, from outside: no pre_exec hook in the child), connect more
/// clients than that leaves room for, hold them while accept(2) fails
/// with EMFILE, then restore the limit and close them.
fn emfile(server: &Server) -> Result<(), String> {
    let pid = server.pid();
    let resource = rlimit::Resource::NOFILE;
    let (mut soft, mut hard) = (0u64, 0u64);
    rlimit::prlimit(pid as i32, resource, None, Some((&mut soft, &mut hard)))
        .map_err(|e| format!("prlimit (read): {e}"))?;
    let open = metrics::fd_count(pid)? as u64;
    let low = (open + 8).min(soft);
    rlimit::prlimit(pid as i32, resource, Some((low, hard)), None)
        .map_err(|e| format!("prlimit (lower to {low}): {e}"))?;
    let burst = hold_many(server, 24);
    std::thread::sleep(Duration::from_secs(2));
    let restored = rlimit::prlimit(pid as i32, resource, Some((soft, hard)), None);
    std::thread::sleep(Duration::from_secs(1));
    drop(burst);
    restored.map_err(|e| format!("prlimit (restore {soft}): {e}"))
}

/// The graceful-shutdown check: a client has one line echoed (so it is
/// surely accepted, not waiting in the backlog), sends nine more and,
/// before it reads them, the server gets SIGTERM; the client must still
/// get those nine lines and then EOF, and the server must exit 0 within
/// its shutdown timeout.
fn drain_across_sigterm(server: &mut Server, outcome: &mut Outcome) -> Result<(), String> {
    let first = b"last words 0\n".to_vec();
    let rest: Vec<u8> = (1..10)
        .flat_map(|i| format!("last words {i}\n").into_bytes())
        .collect();
    let client = clients::connect(server.addr(), clients::STALL).and_then(|mut s| {
        s.write_all(&first)?;
        let mut echo = vec![0u8; first.len()];
        std::io::Read::read_exact(&mut s, &mut echo)?;
        if echo != first {
            return Err(std::io::Error::other("the first line came back wrong"));
        }
        s.write_all(&rest)?;
        Ok(s)
    });
    let sent = Instant::now();
    let signalled = server.signal("TERM");
    let read = client
        .map_err(|e| format!("before SIGTERM: {e}"))
        .and_then(|mut s| {
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut s, &mut got).map_err(|e| format!("read: {e}"))?;
            if got == rest {
                Ok(())
            } else {
                Err(format!(
                    "sent {} bytes before SIGTERM, got {} back before EOF",
                    rest.len(),
                    got.len()
                ))
            }
        });
    signalled?;
    let code = server.wait_exit(SHUTDOWN_TIMEOUT + EXIT_MARGIN);
    outcome.exit = Some((code, sent.elapsed()));
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("3").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn the_timeline_fits_the_duration() {
        let t = timeline(Duration::from_secs(180));
        assert_eq!(t.iter().filter(|e| e.1 == Event::Storm).count(), 3);
        assert_eq!(t.iter().filter(|e| e.1 == Event::Emfile).count(), 3);
        assert!(t
            .iter()
            .all(|e| e.0 + Duration::from_secs(20) <= Duration::from_secs(180)));
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
