//! Timed runs: a closed loop (each connection keeps a number of lines in
//! flight) or an open loop (lines sent on a fixed schedule whatever the
//! server does), with a warm-up, a measured window, and a verified drain.

use std::time::{Duration, Instant};

use super::engine::Engine;
use super::error::LoadError;
use super::report::{Report, ServerUse};
use super::Target;
use crate::lines::LineMaker;
use crate::procfs;

/// How lines are offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Drive {
    /// Each connection keeps this many lines in flight: a new line goes out
    /// as soon as one comes back.
    Closed {
        /// Lines in flight per connection.
        in_flight: usize,
    },
    /// Lines go out at this many per second in total, round-robin over the
    /// connections, each at its scheduled time, whatever the server does.
    Open {
        /// Offered load, lines per second.
        rate: f64,
    },
}

/// One timed run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Connections.
    pub conns: usize,
    /// Bytes per line, newline included.
    pub line_len: usize,
    /// Closed or open loop.
    pub drive: Drive,
    /// Load before the measured window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

/// Run `spec` against `target` and report the measured window.
pub fn run(target: &Target, spec: &LoadSpec) -> Result<Report, LoadError> {
    if spec.conns == 0 {
        return Err(LoadError::Setup("at least one connection is needed".into()));
    }
    let maker = LineMaker::new(spec.line_len).map_err(LoadError::Setup)?;
    let mut engine = Engine::connect(target.addr, spec.conns, maker, target.engine_options())?;

    let start = Instant::now();
    let window_start = start + spec.warmup;
    let window_end = window_start + spec.duration;
    let mut open = OpenLoop::new(spec, start);
    if let Drive::Closed { in_flight } = spec.drive {
        engine.set_refill(true);
        for i in 0..engine.conn_count() {
            engine.send_lines(i, in_flight.max(1) as u64, start)?;
        }
    }

    let mut window: Option<Snapshot> = None;
    let end = loop {
        let now = Instant::now();
        if window.is_none() && now >= window_start {
            window = Some(Snapshot::take(now, &engine, target)?);
            engine.start_recording();
        }
        if now >= window_end {
            break Snapshot::take(now, &engine, target)?;
        }
        let next_due = match open.as_mut() {
            Some(o) => {
                o.send_due(&mut engine, now)?;
                o.next_due()
            }
            None => window_end,
        };
        let boundary = if window.is_none() {
            window_start.min(next_due)
        } else {
            window_end.min(next_due)
        };
        engine.turn(wait_until(boundary, now))?;
    };
    let samples = engine.stop_recording();
    engine.finish()?;

    let begin = window.expect("the window opened before it closed");
    let secs = end.at.duration_since(begin.at).as_secs_f64();
    let lines = end.lines - begin.lines;
    let used = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
    let server_cpu = used(begin.server_cpu, end.server_cpu);
    let client_cpu = used(begin.client_cpu, end.client_cpu);
    let others = match (
        used(begin.machine_busy, end.machine_busy),
        server_cpu,
        client_cpu,
    ) {
        (Some(all), Some(server), Some(client)) => {
            Some(all.as_secs_f64() - server.as_secs_f64() - client.as_secs_f64())
        }
        _ => None,
    };
    Ok(Report {
        conns: spec.conns,
        line_len: spec.line_len,
        drive: spec.drive,
        window: Duration::from_secs_f64(secs),
        lines,
        lines_per_sec: lines as f64 / secs,
        mb_per_sec: (end.bytes - begin.bytes) as f64 / secs / 1e6,
        latency: samples.percentiles(),
        server: server_cpu.map(|cpu| ServerUse::new(cpu, secs, lines)),
        client_cpu_fraction: client_cpu.map(|c| c.as_secs_f64() / secs),
        others_cpus: others.map(|o| (o / secs).max(0.0)),
    })
}

/// Counters at one edge of the measured window.
struct Snapshot {
    at: Instant,
    lines: u64,
    bytes: u64,
    server_cpu: Option<Duration>,
    /// This thread's CPU time: the load generator's.
    client_cpu: Option<Duration>,
    machine_busy: Option<Duration>,
}

impl Snapshot {
    fn take(at: Instant, engine: &Engine, target: &Target) -> Result<Snapshot, LoadError> {
        Ok(Snapshot {
            at,
            lines: engine.lines(),
            bytes: engine.bytes(),
            server_cpu: target
                .server_pid
                .map(procfs::cpu_time)
                .transpose()
                .map_err(LoadError::Proc)?,
            client_cpu: procfs::thread_cpu_time().ok(),
            machine_busy: procfs::machine_busy_time(),
        })
    }
}

/// How long to wait for readiness before `deadline`: nothing when it is
/// less than a millisecond away (the poll's resolution), so the schedule
/// is kept by spinning rather than overslept.
fn wait_until(deadline: Instant, now: Instant) -> Duration {
    let left = deadline.saturating_duration_since(now);
    if left < Duration::from_millis(1) {
        Duration::ZERO
    } else {
        left - Duration::from_millis(1)
    }
}

/// The schedule of an open-loop run.
struct OpenLoop {
    rate: f64,
    start: Instant,
    sent: u64,
    conns: usize,
    /// Most lines allowed in flight before the server counts as unable to
    /// keep up.
    limit: u64,
}

impl OpenLoop {
    fn new(spec: &LoadSpec, start: Instant) -> Option<OpenLoop> {
        match spec.drive {
            Drive::Open { rate } => Some(OpenLoop {
                rate,
                start,
                sent: 0,
                conns: spec.conns,
                // A few seconds' worth, and never fewer than a few per connection.
                limit: ((rate * 5.0) as u64).max(spec.conns as u64 * 4),
            }),
            Drive::Closed { .. } => None,
        }
    }

    /// Send every line due by `now`.
    fn send_due(&mut self, engine: &mut Engine, now: Instant) -> Result<(), LoadError> {
        let due = (now.duration_since(self.start).as_secs_f64() * self.rate) as u64;
        while self.sent < due {
            engine.send_lines((self.sent % self.conns as u64) as usize, 1, now)?;
            self.sent += 1;
        }
        if engine.outstanding() > self.limit {
            return Err(LoadError::NotSustained {
                rate: self.rate,
                outstanding: engine.outstanding(),
            });
        }
        Ok(())
    }

    /// When the next line is due.
    fn next_due(&self) -> Instant {
        self.start + Duration::from_secs_f64((self.sent + 1) as f64 / self.rate)
    }
}
