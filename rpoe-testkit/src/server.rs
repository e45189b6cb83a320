//! Spawning a server process and waiting until it listens.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How [`ServerSpec::spawn`] learns that the server is ready, and where.
#[derive(Clone, Debug)]
pub enum Startup {
    /// The server prints `listening on <socketaddr>` on stdout, once per
    /// listener; wait for this many such lines.
    ListeningLines(usize),
    /// The server prints nothing: pick a free 127.0.0.1 port, pass it in the
    /// named environment variable, and poll-connect until it accepts.
    PollFreePort {
        /// Environment variable that receives the port number.
        port_env: String,
    },
}

/// Everything needed to start one server process.
///
/// Built with [`ServerSpec::new`] or one of the presets, adjusted with the
/// builder methods, started with [`ServerSpec::spawn`].
#[derive(Clone, Debug)]
pub struct ServerSpec {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    startup: Startup,
    startup_timeout: Duration,
    nofile: Option<u64>,
}

impl ServerSpec {
    /// A server started as `program` (no arguments yet) that announces one
    /// `listening on ADDR` line; startup deadline 20 s.
    pub fn new(program: impl AsRef<Path>) -> Self {
        let program = program.as_ref().to_path_buf();
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.display().to_string());
        ServerSpec {
            name,
            program,
            args: Vec::new(),
            env: Vec::new(),
            startup: Startup::ListeningLines(1),
            startup_timeout: Duration::from_secs(20),
            nofile: None,
        }
    }

    /// The `rpoe-echo` binary at `exe` (in a test: `env!("CARGO_BIN_EXE_rpoe-echo")`)
    /// with `--bind 127.0.0.1 --port 0`; add further flags with [`ServerSpec::args`].
    pub fn rpoe_echo(exe: impl AsRef<Path>) -> Self {
        ServerSpec::new(exe).args(["--bind", "127.0.0.1", "--port", "0"])
    }

    /// Where cargo puts the rpoe example `name` when the calling test binary
    /// (`target/<profile>/deps/<test>`) was built.
    pub fn example_path(name: &str) -> PathBuf {
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary is expected in target/<profile>/deps/");
        profile_dir.join("examples").join(name)
    }

    /// An rpoe example echo server (`seed_server`, `wheels_server`,
    /// `component_server`), run as `<name> 0` with `BIND=127.0.0.1`.
    pub fn example(name: &str) -> Self {
        if name == "seed_server" {
            return Self::seed_example();
        }
        let path = Self::example_path(name);
        assert!(
            path.exists(),
            "{name} example not found at {}: build it with \
             `cargo build -p rpoe --example {name}` (plain `cargo test -p rpoe` builds it)",
            path.display()
        );
        ServerSpec::new(path).arg("0").env("BIND", "127.0.0.1")
    }

    /// Where cargo puts the `seed_server` example when the calling test binary
    /// (`target/<profile>/deps/<test>`) was built: `target/<profile>/examples/seed_server`.
    /// The environment variable `RPOE_SEED_SERVER`, if set, overrides it.
    pub fn seed_example_path() -> PathBuf {
        if let Some(path) = std::env::var_os("RPOE_SEED_SERVER") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary is expected in target/<profile>/deps/");
        profile_dir.join("examples").join("seed_server")
    }

    /// The rpoe `seed_server` example at [`ServerSpec::seed_example_path`],
    /// run as `seed_server 0` with `BIND=127.0.0.1`.
    ///
    /// Panics with a hint if the example has not been built (plain
    /// `cargo test -p rpoe` builds it, but not when a single `--test` is selected).
    pub fn seed_example() -> Self {
        let path = Self::seed_example_path();
        assert!(
            path.exists(),
            "seed_server example not found at {}: build it with \
             `cargo build -p rpoe --example seed_server` (plain `cargo test -p rpoe` \
             builds it, but not when a --test/--lib filter or --examples is given), \
             or point RPOE_SEED_SERVER at it",
            path.display()
        );
        ServerSpec::new(path).arg("0").env("BIND", "127.0.0.1")
    }

    /// Path of the Perl POE seed, `seed/seed_server.pl` at the repository root.
    pub fn perl_seed_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("seed")
            .join("seed_server.pl")
    }

    /// The Perl POE seed, run as `perl seed_server.pl` with `BIND=127.0.0.1`
    /// and `PORT=<free port>`; it prints nothing, so readiness is detected by
    /// poll-connecting. Check [`crate::require_or_skip_perl`] first.
    pub fn perl_seed() -> Self {
        let mut spec = ServerSpec::new("perl")
            .arg(Self::perl_seed_path())
            .env("BIND", "127.0.0.1")
            .startup(Startup::PollFreePort {
                port_env: "PORT".to_string(),
            });
        spec.name = "perl seed_server.pl".to_string();
        spec
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets an environment variable for the server (the rest is inherited).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Expect this many `listening on` lines (one per `--bind`).
    pub fn listeners(self, count: usize) -> Self {
        self.startup(Startup::ListeningLines(count))
    }

    /// Chooses how readiness is detected.
    pub fn startup(mut self, startup: Startup) -> Self {
        self.startup = startup;
        self
    }

    /// Deadline for the server to become ready (default 20 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the server with soft and hard `RLIMIT_NOFILE` set to `limit`
    /// (through `sh -c 'ulimit -n LIMIT; exec ...'`, so the PID is still the
    /// server's).
    pub fn nofile_limit(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    /// Name used in messages (the program's file name by default).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn command(&self, extra_env: &[(OsString, OsString)]) -> Command {
        let mut cmd = match self.nofile {
            None => {
                let mut c = Command::new(&self.program);
                c.args(&self.args);
                c
            }
            Some(limit) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(&self.program)
                    .args(&self.args);
                c
            }
        };
        for (k, v) in self.env.iter().chain(extra_env) {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts the server and waits (bounded by the startup deadline) until it
    /// is ready. Panics, with the server's output, if it fails to start.
    pub fn spawn(&self) -> Server {
        match &self.startup {
            Startup::ListeningLines(count) => self.spawn_listening(*count),
            Startup::PollFreePort { port_env } => {
                // The port is free when picked but another process could grab it
                // before the server binds; retry a few times in that case.
                let mut last_err = String::new();
                for _ in 0..3 {
                    match self.spawn_polling(port_env) {
                        Ok(server) => return server,
                        Err(e) => last_err = e,
                    }
                }
                panic!("{}: could not start: {last_err}", self.name);
            }
        }
    }

    fn start_child(&self, extra_env: &[(OsString, OsString)]) -> Pieces {
        let mut child = self
            .command(extra_env)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: cannot spawn {:?}: {e}", self.name, self.program));
        let stderr_buf = Arc::new(Mutex::new(Vec::new()));
        let stdout_buf = Arc::new(Mutex::new(Vec::new()));
        let (line_tx, line_rx) = mpsc::channel();

        let mut err_pipe = child.stderr.take().expect("stderr piped");
        let sink = Arc::clone(&stderr_buf);
        let (err_done_tx, err_done) = mpsc::channel();
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match err_pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => lock(&sink).extend_from_slice(&chunk[..n]),
                }
            }
            let _ = err_done_tx.send(());
        });

        let out_pipe = child.stdout.take().expect("stdout piped");
        let sink = Arc::clone(&stdout_buf);
        thread::spawn(move || {
            let mut reader = BufReader::new(out_pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        lock(&sink).extend_from_slice(&line);
                        // The receiver may be gone once startup is over: keep draining.
                        let _ = line_tx.send(String::from_utf8_lossy(&line).into_owned());
                    }
                }
            }
        });

        Pieces {
            child,
            stderr_buf,
            stdout_buf,
            line_rx,
            err_done,
        }
    }

    fn spawn_listening(&self, count: usize) -> Server {
        let pieces = self.start_child(&[]);
        let deadline = Instant::now() + self.startup_timeout;
        let mut addrs = Vec::new();
        let mut failure = None;
        while addrs.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match pieces.line_rx.recv_timeout(left) {
                Ok(line) => {
                    let trimmed = line.trim_end_matches(['\n', '\r']);
                    if let Some(rest) = trimmed.strip_prefix("listening on ") {
                        match rest.trim().parse::<SocketAddr>() {
                            Ok(a) => addrs.push(a),
                            Err(e) => {
                                failure = Some(format!("unparsable address in {trimmed:?}: {e}"));
                                break;
                            }
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    failure = Some(format!(
                        "no {count} `listening on ADDR` line(s) within {:?} (got {})",
                        self.startup_timeout,
                        addrs.len()
                    ));
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    failure = Some(format!(
                        "stdout closed after {} of {count} `listening on` line(s)",
                        addrs.len()
                    ));
                    break;
                }
            }
        }
        let server = pieces.into_server(self.name.clone(), addrs);
        if let Some(why) = failure {
            server.fail_startup(&why);
        }
        server
    }

    fn spawn_polling(&self, port_env: &str) -> Result<Server, String> {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let pieces = self.start_child(&[(port_env.into(), port.to_string().into())]);
        let server = pieces.into_server(self.name.clone(), vec![addr]);
        let deadline = Instant::now() + self.startup_timeout;
        loop {
            if let Ok(probe) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                drop(probe);
                return Ok(server);
            }
            if let Some(status) = server.exit_status() {
                let why = format!(
                    "exited with {status} before accepting on {addr}; stderr:\n{}",
                    server.stderr()
                );
                return Err(why);
            }
            if Instant::now() >= deadline {
                server.fail_startup(&format!(
                    "not accepting on {addr} within {:?}",
                    self.startup_timeout
                ));
            }
            // Nothing to await: the server does not announce readiness.
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Asks the kernel for a free 127.0.0.1 port (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

struct Pieces {
    child: Child,
    stderr_buf: Arc<Mutex<Vec<u8>>>,
    stdout_buf: Arc<Mutex<Vec<u8>>>,
    line_rx: mpsc::Receiver<String>,
    err_done: mpsc::Receiver<()>,
}

impl Pieces {
    fn into_server(self, name: String, addrs: Vec<SocketAddr>) -> Server {
        Server {
            name,
            pid: self.child.id(),
            child: Mutex::new(self.child),
            addrs,
            stderr_buf: self.stderr_buf,
            stdout_buf: self.stdout_buf,
            err_done: Mutex::new(self.err_done),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running server process. Killed and reaped on drop; if dropped while the
/// thread is panicking, its stderr is printed to help debugging.
pub struct Server {
    name: String,
    pid: u32,
    child: Mutex<Child>,
    addrs: Vec<SocketAddr>,
    stderr_buf: Arc<Mutex<Vec<u8>>>,
    stdout_buf: Arc<Mutex<Vec<u8>>>,
    err_done: Mutex<mpsc::Receiver<()>>,
}

impl Server {
    /// The first (usually only) listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// All listening addresses, in the order announced.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everything the server wrote to stderr so far (lossy UTF-8).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr_buf)).into_owned()
    }

    /// Everything the server wrote to stdout so far (lossy UTF-8).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout_buf)).into_owned()
    }

    /// `Some(status)` once the process has exited (it is reaped then).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    /// Wait up to `within` for the process to exit; its status if it did.
    /// (Polls `try_wait` every few milliseconds: a bounded wait for an
    /// event the OS offers no portable way to await with a timeout.)
    pub fn wait_exit(&self, within: Duration) -> Option<ExitStatus> {
        let give_up = Instant::now() + within;
        loop {
            if let Some(st) = self.exit_status() {
                return Some(st);
            }
            if Instant::now() >= give_up {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Send the process a signal by name (`"TERM"`, `"INT"`, `"HUP"`...).
    pub fn signal(&self, name: &str) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid.to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{name} {} failed", self.pid);
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        self.exit_status().is_none()
    }

    /// Panics (with the server's stderr) unless the process is still running.
    pub fn assert_alive(&self, context: &str) {
        if let Some(status) = self.exit_status() {
            panic!(
                "{} (pid {}) died ({status}) {context}; stderr:\n{}",
                self.name,
                self.pid,
                tail(&self.stderr(), 8192)
            );
        }
    }

    fn kill_and_reap(&self) -> Option<ExitStatus> {
        let mut child = lock(&self.child);
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = child.kill();
        let status = child.wait().ok();
        drop(child);
        // The pipe closes with the process; give the reader a moment to finish.
        let _ = lock(&self.err_done).recv_timeout(Duration::from_secs(1));
        status
    }

    fn fail_startup(&self, why: &str) -> ! {
        let status = self.kill_and_reap();
        panic!(
            "{}: failed to start: {why}\nexit status: {status:?}\nstdout:\n{}\nstderr:\n{}",
            self.name,
            tail(&self.stdout(), 4096),
            tail(&self.stderr(), 8192)
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let status = self.kill_and_reap();
        if thread::panicking() {
            eprintln!(
                "---- {} (pid {}, {:?}) exit status {:?}; its stderr:\n{}\n---- end of {} stderr",
                self.name,
                self.pid,
                self.addrs,
                status,
                tail(&self.stderr(), 8192),
                self.name
            );
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("addrs", &self.addrs)
            .finish()
    }
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
