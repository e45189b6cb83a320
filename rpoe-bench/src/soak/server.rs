//! The rpoe-echo process under soak: started with its log in a file,
//! known to be ready by the addresses it prints, signalled with kill(1)
//! (no raw libc call), and killed if the soak itself fails.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the server may take to print its addresses.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running rpoe-echo; killed and reaped when dropped unless it exited.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    metrics: SocketAddr,
    started: Instant,
}

impl Server {
    /// Start `program` with `flags` (which must include `--metrics` and
    /// one `--bind`), stderr to `log` (at RUST_LOG's level, default info); wait for `metrics on ...` and
    /// `listening on ...` on its stdout.
    pub fn start(program: &Path, flags: &[String], log: &Path) -> Result<Server, String> {
        let log_file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(program)
            .args(flags)
            // info unless the caller asks for more (RUST_LOG=debug logs
            // every connection's close with its reason, for digging).
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let started = Instant::now();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        // Read stdout on a thread so the wait is bounded; the thread keeps
        // draining it until the server exits, so it can never block on a
        // full pipe.
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("server-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let deadline = started + STARTUP_TIMEOUT;
        let (mut addr, mut metrics) = (None, None);
        while addr.is_none() || metrics.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{} did not print its addresses within {}s (see {})",
                        program.display(),
                        STARTUP_TIMEOUT.as_secs(),
                        log.display()
                    ));
                }
            };
            if let Some(a) = line.strip_prefix("listening on ") {
                addr = a.trim().parse().ok();
            } else if let Some(m) = line
                .strip_prefix("metrics on http://")
                .and_then(|m| m.strip_suffix("/metrics"))
            {
                metrics = m.trim().parse().ok();
            }
        }
        Ok(Server {
            child,
            addr: addr.ok_or("no address")?,
            metrics: metrics.ok_or("no metrics address")?,
            started,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// When it was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The echo address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics endpoint's address.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Send a signal by name (`HUP`, `USR1`, `TERM`).
    pub fn signal(&self, name: &str) -> Result<(), String> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .map_err(|e| format!("kill -{name}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -{name} {} failed: {status}", self.pid()))
        }
    }

    /// Wait up to `within` for it to exit: its exit code (`None` if it
    /// did not exit in time, and was then killed, or died of a signal).
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.code(),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
