//! A real nats-server on a loopback port, kernels as child processes
//! (`ikc-test-node`), and a plain NATS client to drive them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Whether the tests that need nats-server can run; when they cannot,
/// says so loudly, and fails instead under `RPOE_REQUIRE_NATS=1`.
pub fn nats_or_skip(test: &str) -> bool {
    let found = Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    let required = std::env::var("RPOE_REQUIRE_NATS").is_ok_and(|v| v == "1");
    let msg = format!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! {test}: SKIPPED: nats-server is not installed.\n\
         !!! Install it (Debian: apt-get install nats-server) to run the IKC\n\
         !!! tests; scripts/test and .ci/run do. RPOE_REQUIRE_NATS=1 makes\n\
         !!! this a failure.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    if required {
        panic!("{msg}RPOE_REQUIRE_NATS=1: nats-server is required");
    }
    // Straight to the process's stderr: the test harness captures
    // `eprintln!` of passing tests, and this must be seen.
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

/// A free loopback port (bound and released; nats-server takes it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A nats-server child process on 127.0.0.1.
pub struct NatsServer {
    pub port: u16,
    extra: Vec<String>,
    child: Option<Child>,
    dir: std::path::PathBuf,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        Self::start_with(&[], None)
    }

    /// With extra command-line arguments, and a configuration file's
    /// text if any.
    pub fn start_with(extra: &[&str], config: Option<&str>) -> NatsServer {
        let dir = std::env::temp_dir().join(format!(
            "rpoe-ikc-test-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if let Some(text) = config {
            let f = dir.join("nats.conf");
            std::fs::write(&f, text).unwrap();
            extra.push("-c".into());
            extra.push(f.to_string_lossy().into_owned());
        }
        let mut s = NatsServer {
            port: free_port(),
            extra,
            child: None,
            dir,
        };
        s.spawn();
        s
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        // Ready when it accepts a connection and greets it with INFO.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"INFO" {
                    return;
                }
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("nats-server exited at start: {st}");
            }
            assert!(Instant::now() < deadline, "nats-server not ready in 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kill it (SIGKILL: no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A kernel in its own process: `ikc-test-node`.
pub struct Node {
    pub name: String,
    child: Child,
    lines: Receiver<String>,
    /// Every line seen so far.
    pub seen: Vec<String>,
}

impl Node {
    pub fn spawn(url: &str, name: &str, opts: &[&str]) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ikc-test-node"))
            .arg(url)
            .arg(name)
            .args(opts)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ikc-test-node");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut n = Node {
            name: name.into(),
            child,
            lines: rx,
            seen: Vec::new(),
        };
        n.wait_line(|l| l == "READY", Duration::from_secs(20));
        n
    }

    /// Wait for a line matching `f` (lines before it are kept in `seen`).
    pub fn wait_line(&mut self, f: impl Fn(&str) -> bool, within: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| f(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if f(&l) {
                        return l;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no matching line in {within:?}; saw {:?}",
                        self.name, self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: exited; saw {:?}", self.name, self.seen)
                }
            }
        }
    }

    /// Count the lines matching `f` seen so far (reading what is there).
    pub fn count_lines(&mut self, f: impl Fn(&str) -> bool) -> usize {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        self.seen.iter().filter(|l| f(l)).count()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Spawn one node per name, in order, with no options.
    pub fn spawn_all<const N: usize>(url: &str, names: [&str; N]) -> [Node; N] {
        names.map(|name| Node::spawn(url, name, &[]))
    }

    /// Run a node that is expected to end by itself (e.g. because its
    /// first connection fails): its standard output and exit status.
    pub fn run_to_end(url: &str, name: &str, opts: &[&str]) -> (String, std::process::ExitStatus) {
        let out = Command::new(env!("CARGO_BIN_EXE_ikc-test-node"))
            .arg(url)
            .arg(name)
            .args(opts)
            .stderr(Stdio::null())
            .output()
            .expect("run ikc-test-node");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status,
        )
    }

    /// Wait for the process to exit by itself.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain NATS client (no rpoe) that drives the nodes through their
/// `ctl` and `svc` publications.
pub struct Driver {
    pub rt: tokio::runtime::Runtime,
    pub client: async_nats::Client,
}

impl Driver {
    pub fn connect(url: &str) -> Driver {
        Self::connect_with(url, async_nats::ConnectOptions::new())
    }

    pub fn connect_with(url: &str, options: async_nats::ConnectOptions) -> Driver {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt
            .block_on(
                options
                    .reconnect_delay_callback(|_| Duration::from_millis(50))
                    .connect(url),
            )
            .expect("driver connects");
        Driver { rt, client }
    }

    /// Request `kernel/alias/event` with JSON `args`, decode the answer.
    pub fn call<A: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        kernel: &str,
        alias: &str,
        event: &str,
        args: &A,
        within: Duration,
    ) -> Result<R, String> {
        // The last token names the sender.
        let subject = format!("rpoe.{kernel}.{alias}.{event}.driver");
        let payload = serde_json::to_vec(args).unwrap();
        let msg = self.rt.block_on(async {
            tokio::time::timeout(within, self.client.request(subject, payload.into())).await
        });
        match msg {
            Err(_) => Err("timeout".into()),
            Ok(Err(e)) => Err(format!("{e}")),
            Ok(Ok(m)) => {
                if m.headers
                    .as_ref()
                    .and_then(|h| h.get(rpoe_ikc::ERROR_HEADER))
                    .is_some()
                {
                    return Err(format!("remote: {}", String::from_utf8_lossy(&m.payload)));
                }
                serde_json::from_slice(&m.payload).map_err(|e| format!("decode: {e}"))
            }
        }
    }

    /// `kernel`'s `svc/count`.
    pub fn count(&self, kernel: &str) -> Count {
        self.call(kernel, "svc", "count", &(), T)
            .unwrap_or_else(|e| panic!("{kernel}/svc/count: {e}"))
    }

    /// `kernel`'s `svc/count`, asked again until `done` holds for it.
    pub fn count_until(&self, kernel: &str, done: impl Fn(&Count) -> bool) -> Count {
        until(T, || Some(self.count(kernel)).filter(|c| done(c)))
    }

    /// `kernel`'s `ctl/stats`.
    pub fn stats(&self, kernel: &str) -> Stat {
        self.call(kernel, "ctl", "stats", &(), T)
            .unwrap_or_else(|e| panic!("{kernel}/ctl/stats: {e}"))
    }

    /// Have `kernel` post `n` numbers from `first` on to `to` (an IKC
    /// address, `kernel/alias/event`); returns how many it queued.
    pub fn post(&self, kernel: &str, to: &str, n: u64, first: u64) -> u64 {
        self.call(kernel, "ctl", "post", &(to, n, first), T)
            .unwrap_or_else(|e| panic!("{kernel}/ctl/post: {e}"))
    }

    /// Have `kernel` post `n` numbers from `first` on to `to`, one every
    /// `every_ms` milliseconds, from its own timer (returns at once).
    pub fn stream(&self, kernel: &str, to: &str, n: u64, first: u64, every_ms: u64) {
        let _: String = self
            .call(kernel, "ctl", "stream", &(to, n, first, every_ms), T)
            .unwrap_or_else(|e| panic!("{kernel}/ctl/stream: {e}"));
    }

    /// Have `kernel` make `n` IKC calls to `to` with `text`, each with a
    /// timeout of `timeout_ms`; returns their answers (or errors).
    pub fn calls(
        &self,
        kernel: &str,
        to: &str,
        text: &str,
        n: u64,
        timeout_ms: u64,
    ) -> CallResults {
        self.call(kernel, "ctl", "call", &(to, text, n, timeout_ms), T)
            .unwrap_or_else(|e| panic!("{kernel}/ctl/call: {e}"))
    }

    /// Publish raw bytes (as a non-rpoe client would).
    pub fn publish_raw(&self, subject: &str, payload: &[u8]) {
        self.publish_raw_all(subject, &[payload]);
    }

    /// Publish each of `payloads` to `subject`, flushing once after the
    /// last: they reach the server, and so a subscriber, as one burst.
    pub fn publish_raw_all(&self, subject: &str, payloads: &[&[u8]]) {
        self.rt.block_on(async {
            for payload in payloads {
                self.client
                    .publish(subject.to_string(), payload.to_vec().into())
                    .await
                    .unwrap();
            }
            self.client.flush().await.unwrap();
        });
    }
}

/// `ctl/call`'s answer: per call, the responder's name and its answer,
/// or the error.
pub type CallResults = Vec<Result<(Option<String>, String), String>>;
/// `svc/count`'s answer.
pub type Count = (u64, Vec<String>, u64, u64, u64, u64);
/// `ctl/stats`'s answer: sent, delivered, dropped_full, slow_consumer,
/// reconnects, pending, errors_full, errors_other, stream_left.
pub type Stat = (u64, u64, u64, u64, u64, usize, u64, u64, u64);

pub const T: Duration = Duration::from_secs(20);

/// Call `f` until it returns `Some`, up to `within` (each try is an
/// exchange with a node, so this waits for events, not for time).
pub fn until<R>(within: Duration, mut f: impl FnMut() -> Option<R>) -> R {
    let deadline = Instant::now() + within;
    loop {
        if let Some(r) = f() {
            return r;
        }
        assert!(Instant::now() < deadline, "condition not met in {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
