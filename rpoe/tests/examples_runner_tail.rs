//! Black-box tests of the `process_runner` and `tail_server` examples over
//! real sockets. Needs the examples built: plain `cargo test -p rpoe`
//! builds them (or `cargo build -p rpoe --example process_runner
//! --example tail_server`).

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rpoe_testkit::{Server, ServerSpec};

/// Longest wait for any one expected line.
const WAIT: Duration = Duration::from_secs(15);

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// A line begun when a read timed out.
    partial: String,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
            partial: String::new(),
        }
    }

    fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
    }

    /// The next line, without its newline; `None` at end of stream or
    /// when `read_timeout` passes without one.
    fn line(&mut self) -> Option<String> {
        // On a timeout, what was read stays in `partial` for the next call.
        match self.reader.read_line(&mut self.partial) {
            Ok(0) => None,
            Ok(_) => {
                let mut l = std::mem::take(&mut self.partial);
                assert!(l.ends_with('\n'), "unterminated line {l:?}");
                l.pop();
                Some(l)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("read: {e}"),
        }
    }

    fn expect_line(&mut self) -> String {
        self.line()
            .unwrap_or_else(|| panic!("no line within {WAIT:?}"))
    }

    /// Lines up to and including the next `exit N`.
    fn until_exit(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.expect_line();
            let done = l.starts_with("exit ");
            out.push(l);
            if done {
                return out;
            }
        }
    }
}

// ---------------------------------------------------------------- runner

fn runner() -> Server {
    ServerSpec::example("process_runner").spawn()
}

/// A temp file removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str, contents: &str) -> Temp {
        let p = std::env::temp_dir().join(format!(
            "rpoe-examples-{}-{tag}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&p, contents).unwrap();
        Temp(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("old"));
    }
}

#[test]
fn runner_streams_stdout_then_exit_code() {
    let s = runner();
    let mut c = Conn::open(s.addr());
    c.send("echo hello   world\n");
    assert_eq!(c.until_exit(), ["out hello world", "exit 0"]);
    c.send("printf %s\\n a b c\n");
    assert_eq!(c.until_exit(), ["out a", "out b", "out c", "exit 0"]);
    c.send("false\n");
    assert_eq!(c.until_exit(), ["exit 1"]);
}

#[test]
fn runner_reports_stderr_and_a_nonzero_exit() {
    let s = runner();
    let script = Temp::new(
        "script.sh",
        "echo o1; echo e1 >&2; echo o2; echo e2 >&2; exit 3\n",
    );
    let mut c = Conn::open(s.addr());
    c.send(&format!("sh {}\r\n", script.arg()));
    let lines = c.until_exit();
    assert_eq!(lines.last().unwrap(), "exit 3");
    // Each stream in its own order; their interleaving is the OS's.
    let outs: Vec<&String> = lines.iter().filter(|l| l.starts_with("out ")).collect();
    let errs: Vec<&String> = lines.iter().filter(|l| l.starts_with("err ")).collect();
    assert_eq!(outs, ["out o1", "out o2"]);
    assert_eq!(errs, ["err e1", "err e2"]);
    assert_eq!(lines.len(), 5);
}

#[test]
fn runner_runs_a_connections_commands_in_order() {
    let s = runner();
    let mut c = Conn::open(s.addr());
    // Three commands in one write, the first the slowest.
    c.send("sleep 0.2\necho second\n\necho third\n");
    assert_eq!(c.until_exit(), ["exit 0"]);
    assert_eq!(c.until_exit(), ["out second", "exit 0"]);
    assert_eq!(c.until_exit(), ["out third", "exit 0"]);
}

#[test]
fn runner_reports_a_program_that_cannot_start() {
    let s = runner();
    let mut c = Conn::open(s.addr());
    c.send("rpoe-no-such-program --flag\n");
    let lines = c.until_exit();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("err cannot run rpoe-no-such-program:"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "exit 127");
    // The connection still works.
    c.send("echo ok\n");
    assert_eq!(c.until_exit(), ["out ok", "exit 0"]);
}

#[test]
fn runner_serves_connections_concurrently() {
    let s = runner();
    let mut slow = Conn::open(s.addr());
    let mut fast = Conn::open(s.addr());
    slow.send("sleep 30\n");
    fast.send("echo quick\n");
    let began = Instant::now();
    assert_eq!(fast.until_exit(), ["out quick", "exit 0"]);
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "fast waited for slow"
    );
    // The slow client leaves: its command is terminated and reaped (not
    // left behind when the server is killed at the end of the test).
    drop(slow);
    wait_for("no children left", WAIT, || children_of(s.pid()).is_empty());
}

#[test]
fn runner_output_survives_a_client_that_reads_late() {
    let s = runner();
    let mut c = Conn::open(s.addr());
    // About 2 MB of output: far over what the server buffers before it
    // pauses the command.
    let n = 300_000;
    c.send(&format!("seq 1 {n}\n"));
    // Not reading for a while: the command is paused, nothing is lost.
    std::thread::sleep(Duration::from_millis(500));
    for i in 1..=n {
        let l = c.expect_line();
        assert_eq!(l, format!("out {i}"));
    }
    assert_eq!(c.expect_line(), "exit 0");
}

/// Processes whose parent is `pid` (zombies included: they keep their
/// /proc entry until reaped).
fn children_of(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces; split after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push((child, stat.trim().to_string()));
        }
    }
    out
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        // Process exit and reaping have no event to wait on from here.
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn runner_terminates_and_reaps_the_command_of_a_client_that_leaves() {
    let s = runner();
    let mut c = Conn::open(s.addr());
    c.send("echo started\n");
    assert_eq!(c.until_exit(), ["out started", "exit 0"]);
    c.send("sleep 30\nsleep 30\n");
    wait_for("the command to start", WAIT, || {
        children_of(s.pid())
            .iter()
            .any(|(_, st)| st.contains("(sleep)"))
    });
    drop(c);
    // The running one is terminated and reaped, the queued one never runs.
    wait_for("no children left", WAIT, || children_of(s.pid()).is_empty());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        children_of(s.pid()).is_empty(),
        "{:?}",
        children_of(s.pid())
    );
    s.assert_alive("after the client left");
}

// ------------------------------------------------------------------ tail

fn tail_server(file: &Temp) -> Server {
    ServerSpec::example("tail_server")
        .arg(file.arg())
        .env("POLL_MS", "20")
        .spawn()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Append `sync N` lines until every client has received one, so each is
/// known to be subscribed; returns the last N used.
fn sync(path: &Path, clients: &mut [&mut Conn]) -> u32 {
    for c in clients.iter_mut() {
        c.writer
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
    }
    let mut synced = vec![false; clients.len()];
    let give_up = Instant::now() + WAIT;
    let mut n = 0;
    while synced.iter().any(|s| !s) {
        assert!(Instant::now() < give_up, "clients never got a line");
        n += 1;
        append(path, &format!("sync {n}\n"));
        for (i, c) in clients.iter_mut().enumerate() {
            while let Some(l) = c.line() {
                assert!(l.starts_with("sync "), "unexpected {l:?}");
                synced[i] = true;
            }
        }
    }
    for c in clients.iter_mut() {
        c.writer.set_read_timeout(Some(WAIT)).unwrap();
    }
    n
}

/// The next line that is not a `sync` line.
fn data_line(c: &mut Conn) -> String {
    loop {
        let l = c.expect_line();
        if !l.starts_with("sync ") {
            return l;
        }
    }
}

#[test]
fn tail_sends_every_appended_line_to_every_client() {
    let file = Temp::new("tail.log", "old line, never sent\n");
    let s = tail_server(&file);
    let mut a = Conn::open(s.addr());
    let mut b = Conn::open(s.addr());
    sync(file.path(), &mut [&mut a, &mut b]);

    append(file.path(), "one\ntwo\nthree\n");
    append(file.path(), "four is writ");
    append(file.path(), "ten in two parts\n");
    for c in [&mut a, &mut b] {
        assert_eq!(data_line(c), "one");
        assert_eq!(c.expect_line(), "two");
        assert_eq!(c.expect_line(), "three");
        assert_eq!(c.expect_line(), "four is written in two parts");
    }

    // A client that joins later gets only what comes after.
    let mut late = Conn::open(s.addr());
    sync(file.path(), &mut [&mut late]);
    append(file.path(), "five\n");
    for c in [&mut a, &mut b, &mut late] {
        assert_eq!(data_line(c), "five");
    }

    // One client leaves; the others go on.
    drop(b);
    append(file.path(), "six\n");
    assert_eq!(data_line(&mut a), "six");
    assert_eq!(data_line(&mut late), "six");
    s.assert_alive("after a client left");
}

#[test]
fn tail_follows_the_file_through_truncation_and_rotation() {
    let file = Temp::new("rotating.log", "");
    let s = tail_server(&file);
    let mut c = Conn::open(s.addr());
    sync(file.path(), &mut [&mut c]);
    let before = format!("before {}", "-".repeat(100));
    append(file.path(), &format!("{before}\n"));
    assert_eq!(data_line(&mut c), before);

    // Truncated and rewritten (shorter than what was read, else it would
    // look like appends): read again from the start.
    std::fs::write(file.path(), "after truncation\n").unwrap();
    assert_eq!(data_line(&mut c), "after truncation");

    // Rotated: renamed away, a new file in its place.
    std::fs::rename(file.path(), file.0.with_extension("old")).unwrap();
    std::fs::write(file.path(), "in the new file\n").unwrap();
    assert_eq!(data_line(&mut c), "in the new file");
    append(file.path(), "and more\n");
    assert_eq!(c.expect_line(), "and more");
}
