//! The servers `compare` runs: where their programs are, how each is
//! started (pinned to its core) and how it is known to be listening, and
//! killing them — always, also on Ctrl-C or SIGTERM.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::affinity::{on_core, Core};
use crate::procfs;

/// How long a server may take to start listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A server under comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Server {
    /// `rpoe-echo`, the product.
    Rpoe,
    /// The hand-written mio comparison server.
    Mio,
    /// The tokio comparison server.
    Tokio,
    /// The tokio `Framed` + `LinesCodec` comparison server.
    TokioFramed,
    /// The Perl seed program on POE (`seed/seed_server.pl`).
    PoeSeed,
    /// `POE::Component::Server::TCP` with `Filter::Line`.
    PoeTcp,
    /// `rpoe-echo --workers N` (N kernels on N threads), for scaling.
    RpoeWorkers(u8),
}

impl Server {
    /// Display name.
    pub fn label(self) -> String {
        match self {
            Server::Rpoe => "rpoe-echo".into(),
            Server::Mio => "mio".into(),
            Server::Tokio => "tokio".into(),
            Server::TokioFramed => "tokio Framed+LinesCodec".into(),
            Server::PoeSeed => "POE seed".into(),
            Server::PoeTcp => "POE Server::TCP".into(),
            Server::RpoeWorkers(n) => format!("rpoe-echo --workers {n}"),
        }
    }

    /// Short name, for the CSV and `--servers`.
    pub fn key(self) -> String {
        match self {
            Server::Rpoe => "rpoe".into(),
            Server::Mio => "mio".into(),
            Server::Tokio => "tokio".into(),
            Server::TokioFramed => "tokio-framed".into(),
            Server::PoeSeed => "poe-seed".into(),
            Server::PoeTcp => "poe-tcp".into(),
            Server::RpoeWorkers(n) => format!("rpoe-w{n}"),
        }
    }

    /// Whether it runs on Perl POE.
    pub fn is_perl(self) -> bool {
        matches!(self, Server::PoeSeed | Server::PoeTcp)
    }

    /// Most connects the load generator keeps in progress: the Perl seed
    /// listens with a backlog of 10 and accepts one connection per turn,
    /// so more would overflow its accept queue and wait out SYN
    /// retransmissions.
    pub fn connect_concurrency(self) -> usize {
        match self {
            Server::PoeSeed => 8,
            _ => 64,
        }
    }

    /// The servers of the main comparison, in table order.
    pub const ALL: [Server; 6] = [
        Server::Rpoe,
        Server::Mio,
        Server::Tokio,
        Server::TokioFramed,
        Server::PoeSeed,
        Server::PoeTcp,
    ];

    /// Parse a short name.
    pub fn from_key(key: &str) -> Option<Server> {
        Server::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// Where the servers' programs are.
#[derive(Debug, Clone)]
pub struct Programs {
    /// The `rpoe-echo` binary.
    pub rpoe_echo: PathBuf,
    /// This program (for `serve-mio`, `serve-tokio` and
    /// `serve-tokio-framed`).
    pub this_exe: PathBuf,
    /// `seed/seed_server.pl`.
    pub seed: PathBuf,
    /// `rpoe-bench/perl/server_tcp_echo.pl`.
    pub server_tcp: PathBuf,
    /// Where servers' stderr goes, one file per server.
    pub log_dir: PathBuf,
}

/// The process ids of running servers, for the signal handler.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Kill every running server when `compare` is interrupted or terminated,
/// then exit.
pub fn kill_servers_on_signal() -> Result<(), String> {
    ctrlc::set_handler(|| {
        let pids = LIVE.lock().map(|v| v.clone()).unwrap_or_default();
        for pid in pids {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        eprintln!("\nrpoe-bench compare: interrupted; servers killed");
        std::process::exit(130);
    })
    .map_err(|e| format!("cannot install the signal handler: {e}"))
}

/// A started server; killed and reaped when dropped.
pub struct Running {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// The CPUs it may run on, as the OS reports them.
    pub cpus: String,
    log: PathBuf,
}

impl Running {
    /// The end of its stderr log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|&p| p != self.pid);
        }
    }
}

/// Start `server` with its process pinned to `core` (or not pinned) and
/// wait until it listens on 127.0.0.1.
pub fn start(server: Server, programs: &Programs, core: Option<Core>) -> Result<Running, String> {
    let log = programs.log_dir.join(format!("{}.log", server.key()));
    let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let (mut cmd, startup) = command(server, programs)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    // A child inherits the CPU mask of the thread that starts it.
    let child = on_core(core, move || cmd.spawn())
        .map_err(|e| format!("cannot start {}: {e}", server.label()))?;
    let pid = child.id();
    if let Ok(mut live) = LIVE.lock() {
        live.push(pid);
    }
    let mut running = Running {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        pid,
        cpus: String::new(),
        log,
    };
    running.addr = wait_listening(&mut running, startup).map_err(|e| {
        format!(
            "{} did not start: {e}{}",
            server.label(),
            running.log_tail()
        )
    })?;
    running.cpus = procfs::cpus_allowed(pid).unwrap_or_else(|| "?".into());
    Ok(running)
}

/// How a server tells that it listens.
enum Startup {
    /// It prints `listening on ADDR`.
    Announces,
    /// It prints nothing: poll-connect to the port it was given.
    PollConnect(SocketAddr),
}

fn command(server: Server, p: &Programs) -> Result<(Command, Startup), String> {
    let local = ["--bind", "127.0.0.1", "--port", "0"];
    Ok(match server {
        Server::Rpoe => {
            let mut c = Command::new(&p.rpoe_echo);
            c.args(local);
            (c, Startup::Announces)
        }
        Server::RpoeWorkers(n) => {
            let mut c = Command::new(&p.rpoe_echo);
            c.args(local).args(["--workers", &n.to_string()]);
            (c, Startup::Announces)
        }
        Server::Mio | Server::Tokio | Server::TokioFramed => {
            let mut c = Command::new(&p.this_exe);
            c.arg(match server {
                Server::Mio => "serve-mio",
                Server::Tokio => "serve-tokio",
                _ => "serve-tokio-framed",
            })
            .args(local);
            (c, Startup::Announces)
        }
        Server::PoeSeed => {
            let addr = free_local_port()?;
            let mut c = Command::new("perl");
            c.arg(&p.seed)
                .env("PORT", addr.port().to_string())
                .env("BIND", "127.0.0.1");
            (c, Startup::PollConnect(addr))
        }
        Server::PoeTcp => {
            let mut c = Command::new("perl");
            c.arg(&p.server_tcp)
                .env("PORT", "0")
                .env("BIND", "127.0.0.1");
            (c, Startup::Announces)
        }
    })
}

/// A port free on 127.0.0.1 right now.
fn free_local_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))
}

fn wait_listening(r: &mut Running, startup: Startup) -> Result<SocketAddr, String> {
    let stdout = r.child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    // Reads the announcement, then keeps draining stdout until the server
    // exits, so that it never blocks on a full pipe.
    std::thread::spawn(move || drain_stdout(stdout, tx));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if !r.alive() {
            return Err("it exited".into());
        }
        match &startup {
            Startup::Announces => match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => return Ok(addr),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("it closed stdout without `listening on ADDR`".into())
                }
            },
            Startup::PollConnect(addr) => {
                if TcpStream::connect_timeout(addr, Duration::from_millis(100)).is_ok() {
                    return Ok(*addr);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if Instant::now() > deadline {
            return Err(format!("not listening after {STARTUP_TIMEOUT:?}"));
        }
    }
}

fn drain_stdout(stdout: impl Read, tx: mpsc::Sender<SocketAddr>) {
    let mut told = false;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        if told {
            continue;
        }
        if let Some(addr) = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse::<SocketAddr>().ok())
        {
            told = true;
            let _ = tx.send(addr);
        }
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = lines[lines.len().saturating_sub(5)..].join("\n  ");
    format!("\n  server stderr ({}):\n  {tail}", path.display())
}

/// Whether this `rpoe-echo` has `--workers` (its `--help` mentions it).
pub fn rpoe_has_workers(rpoe_echo: &Path) -> bool {
    Command::new(rpoe_echo)
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("--workers"))
        .unwrap_or(false)
}

/// Whether Perl with POE is installed (`perl -MPOE -e1`).
pub fn perl_poe_available() -> bool {
    Command::new("perl")
        .args(["-MPOE", "-MPOE::Component::Server::TCP", "-e1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
