//! The child process's end of life: signalling it (through a pidfd, so a
//! reused pid is never hit) and making sure it is reaped whatever happens
//! to the wheel, the session or the kernel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::os::{exits_within, reap_blocking, reap_if_exited, KILL};
pub(super) use crate::os::{send_signal, PidFd, Signal as OsSignal, TERM};

/// Makes sure a dropped wheel's child is reaped. Runs as work deferred by
/// the drop; if that work is discarded unrun (the kernel was dropped), its
/// own drop does the job.
pub(super) struct Reaper {
    pid: u32,
    pidfd: Option<Arc<PidFd>>,
    armed: bool,
}

impl Reaper {
    pub(super) fn new(pid: u32, pidfd: Option<Arc<PidFd>>) -> Reaper {
        Reaper {
            pid,
            pidfd,
            armed: true,
        }
    }

    /// `kernel_reaps`: the session still has its `sig_child` watcher, so
    /// the kernel reaps the child and the session hears of it; otherwise
    /// (the session is gone, or removed the watcher) nobody would.
    pub(super) fn settle(mut self, kernel_reaps: bool) {
        self.armed = false;
        if !kernel_reaps {
            reap_detached(self.pid, self.pidfd.clone());
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.armed {
            reap_detached(self.pid, self.pidfd.clone());
        }
    }
}

/// Reap the child now if it has exited, else from a background thread
/// that waits for it. Does nothing if it was already reaped.
pub(super) fn reap_detached(pid: u32, pidfd: Option<Arc<PidFd>>) {
    match reap_if_exited(pid, pidfd.as_deref()) {
        // Reaped now, or already gone (ECHILD).
        Ok(true) | Err(_) => {}
        Ok(false) => {
            let spawned = std::thread::Builder::new()
                .name(format!("rpoe-reap-{pid}"))
                .spawn(move || {
                    let _ = reap_blocking(pid, pidfd.as_deref());
                });
            if let Err(e) = spawned {
                tracing::warn!(target: "rpoe::wheel", pid, error = %e, "cannot start a reaper thread; the child will stay a zombie");
            }
        }
    }
}

/// Give a child that was just sent `SIGTERM` `grace` to exit, then send
/// it `SIGKILL`.
///
/// Why a thread and not a kernel timer: the escalation must happen
/// whatever becomes of the session (stopped, its exit watcher removed)
/// and of the kernel (stopped, dropped) — the cases where a child that
/// ignores `SIGTERM` would otherwise run forever, holding its session
/// (and so `run`) or a reaper thread. The thread only waits and signals;
/// reaping stays where it was (the kernel's `sig_child`, or
/// [`reap_detached`]), so the exit event still arrives as usual. It lives
/// at most `grace` (plus the `SIGKILL`).
pub(super) fn escalate(pid: u32, pidfd: Option<Arc<PidFd>>, grace: Duration) {
    let spawned = std::thread::Builder::new()
        .name(format!("rpoe-kill-{pid}"))
        .spawn(move || {
            if exits_within(pid, pidfd.as_deref(), Instant::now() + grace) {
                return;
            }
            tracing::warn!(target: "rpoe::wheel", pid, ?grace, "child ignored SIGTERM; sending SIGKILL");
            let _ = send_signal(pid, pidfd.as_deref(), KILL);
        });
    if let Err(e) = spawned {
        // Better now than never.
        tracing::warn!(target: "rpoe::wheel", pid, error = %e, "cannot start a kill thread; sending SIGKILL at once");
        let _ = send_signal(pid, None, KILL);
    }
}

/// A signal by POE-style name (`"TERM"`, `"SIGTERM"`, `"term"`) or number;
/// empty means TERM.
pub(super) fn parse_signal(s: &str) -> Option<OsSignal> {
    use crate::os::*;
    let s = s.trim();
    if s.is_empty() {
        return Some(OsSignal::TERM);
    }
    if let Ok(n) = s.parse::<i32>() {
        return crate::os::signal_from_number(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let n = match name {
        "HUP" => SIGHUP,
        "INT" => SIGINT,
        "QUIT" => SIGQUIT,
        "ILL" => SIGILL,
        "TRAP" => SIGTRAP,
        "ABRT" | "IOT" => SIGABRT,
        "BUS" => SIGBUS,
        "FPE" => SIGFPE,
        "KILL" => SIGKILL,
        "USR1" => SIGUSR1,
        "SEGV" => SIGSEGV,
        "USR2" => SIGUSR2,
        "PIPE" => SIGPIPE,
        "ALRM" => SIGALRM,
        "TERM" => SIGTERM,
        "CHLD" | "CLD" => SIGCHLD,
        "CONT" => SIGCONT,
        "STOP" => SIGSTOP,
        "TSTP" => SIGTSTP,
        "TTIN" => SIGTTIN,
        "TTOU" => SIGTTOU,
        "URG" => SIGURG,
        "XCPU" => SIGXCPU,
        "XFSZ" => SIGXFSZ,
        "VTALRM" => SIGVTALRM,
        "PROF" => SIGPROF,
        "WINCH" => SIGWINCH,
        "IO" | "POLL" => SIGIO,
        "SYS" => SIGSYS,
        _ => return None,
    };
    crate::os::signal_from_number(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal(""), Some(OsSignal::TERM));
        assert_eq!(parse_signal("TERM"), Some(OsSignal::TERM));
        assert_eq!(parse_signal("sigkill"), Some(OsSignal::KILL));
        assert_eq!(parse_signal("9"), Some(OsSignal::KILL));
        assert_eq!(parse_signal("HUP"), Some(OsSignal::HUP));
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal("0"), None);
    }
}
