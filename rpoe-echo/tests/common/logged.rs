//! `rpoe-echo` run with its stderr read line by line into a channel, for
//! the tests of what it logs (and of signals and systemd notifications):
//! such a test waits for a log line as an event rather than polling a file.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

use super::EXE;

/// `rpoe-echo` with stderr read line by line into a channel, so a test
/// waits for a log line as an event.
pub struct Proc {
    child: Child,
    lines: Receiver<String>,
    /// The address it printed in its `listening on` line.
    pub addr: SocketAddr,
}

impl Proc {
    /// `rpoe-echo --bind 127.0.0.1 --port 0` plus `args`, with `env` added
    /// to its environment, once it printed its `listening on` line.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(EXE)
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rpoe-echo");
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix("listening on ") {
                    let _ = tx.send(a.parse::<SocketAddr>().expect("an address"));
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(20)) else {
            // Not left running behind a failed test.
            let _ = child.kill();
            let _ = child.wait();
            panic!("no `listening on` line within 20 s");
        };
        Proc { child, lines, addr }
    }

    /// The next stderr line matching `pred`, within `within`.
    pub fn wait_for(&self, what: &str, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        let give_up = Instant::now() + within;
        loop {
            match self.next_line(give_up) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {within:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("stderr closed before {what}"),
            }
        }
    }

    /// Every stderr line until `done` holds for those read so far.
    pub fn lines_until(&self, within: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let give_up = Instant::now() + within;
        let mut got = Vec::new();
        while !done(&got) {
            match self.next_line(give_up) {
                Ok(l) => got.push(l),
                Err(e) => panic!("{e:?} before the lines expected; got {got:#?}"),
            }
        }
        got
    }

    /// The next stderr line, if one comes before `give_up`.
    fn next_line(&self, give_up: Instant) -> Result<String, RecvTimeoutError> {
        let left = give_up.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left)
    }

    /// Send `sig` to the server.
    pub fn signal(&self, sig: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32).expect("a pid");
        kill_process(pid, sig).expect("kill");
    }

    /// Stop with SIGTERM; every stderr line still unread, once it closed.
    pub fn stop(mut self) -> Vec<String> {
        self.signal(Signal::TERM);
        let mut rest = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            match self.next_line(give_up) {
                Ok(l) => rest.push(l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("stderr still open 10 s after TERM"),
            }
        }
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "exit status {status}");
        rest
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
