//! The child process's end of life: signalling it (through a pidfd, so a
//! reused pid is never hit) and making sure it is reaped whatever happens
//! to the wheel, the session or the kernel.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal as OsSignal, WaitId, WaitIdOptions};

use crate::kernel::{Core, SessionKey};

/// Makes sure a dropped wheel's child is reaped. Runs as kernel work
/// queued by the drop; if that work is discarded unrun (the kernel was
/// dropped), its own drop does the job.
pub(super) struct Reaper {
    pub(super) pid: u32,
    pub(super) pidfd: Option<Arc<OwnedFd>>,
    pub(super) armed: bool,
}

impl Reaper {
    pub(super) fn settle(mut self, core: &mut Core, owner: SessionKey) {
        self.armed = false;
        let Ok(pid) = i32::try_from(self.pid) else {
            return;
        };
        // While the owner's sig_child watcher is set, the kernel reaps the
        // child and the session hears of it; otherwise (the session is
        // gone, or removed the watcher) nobody would.
        if !core.signals.children.contains_key(&(pid, owner)) {
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
pub(super) fn reap_detached(pid: u32, pidfd: Option<Arc<OwnedFd>>) {
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let wait = move |opts: WaitIdOptions| -> io::Result<bool> {
        loop {
            let r = match &pidfd {
                Some(fd) => rustix::process::waitid(WaitId::PidFd(fd.as_fd()), opts),
                None => rustix::process::waitid(WaitId::Pid(p), opts),
            };
            match r {
                Ok(st) => return Ok(st.is_some()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    };
    match wait(WaitIdOptions::EXITED | WaitIdOptions::NOHANG) {
        // Reaped now, or already gone (ECHILD).
        Ok(true) | Err(_) => {}
        Ok(false) => {
            let spawned = std::thread::Builder::new()
                .name(format!("rpoe-reap-{pid}"))
                .spawn(move || {
                    let _ = wait(WaitIdOptions::EXITED);
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
pub(super) fn escalate(pid: u32, pidfd: Option<Arc<OwnedFd>>, grace: Duration) {
    let spawned = std::thread::Builder::new()
        .name(format!("rpoe-kill-{pid}"))
        .spawn(move || {
            if exits_within(pid, pidfd.as_deref(), Instant::now() + grace) {
                return;
            }
            tracing::warn!(target: "rpoe::wheel", pid, ?grace, "child ignored SIGTERM; sending SIGKILL");
            let _ = send_signal(pid, pidfd.as_deref(), OsSignal::KILL);
        });
    if let Err(e) = spawned {
        // Better now than never.
        tracing::warn!(target: "rpoe::wheel", pid, error = %e, "cannot start a kill thread; sending SIGKILL at once");
        let _ = send_signal(pid, None, OsSignal::KILL);
    }
}

/// Wait until the child has exited (reaped or not) or `deadline` passes;
/// true if it exited. An error that leaves the question open counts as
/// exited: never SIGKILL on a guess.
fn exits_within(pid: u32, pidfd: Option<&OwnedFd>, deadline: Instant) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    if let Some(fd) = pidfd {
        // A pidfd polls readable once its process has exited.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = Timespec {
                tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: left.subsec_nanos().into(),
            };
            let mut fds = [PollFd::new(fd, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return true,
            }
        }
    }
    // No pidfd (Linux before 5.3): look without reaping, every 10 ms.
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return true;
    };
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    loop {
        match rustix::process::waitid(WaitId::Pid(p), opts) {
            Ok(Some(_)) => return true,
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => continue,
            // ECHILD: already reaped.
            Err(_) => return true,
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Signal the child, never another process: through its pidfd, or by pid
/// only while it is still unreaped (a zombie's pid is not reused).
pub(super) fn send_signal(pid: u32, pidfd: Option<&OwnedFd>, sig: OsSignal) -> io::Result<()> {
    if let Some(fd) = pidfd {
        return rustix::process::pidfd_send_signal(fd, sig).map_err(Into::into);
    }
    let p = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::from(rustix::io::Errno::SRCH))?;
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    match rustix::process::waitid(WaitId::Pid(p), opts) {
        Err(rustix::io::Errno::CHILD) => Err(rustix::io::Errno::SRCH.into()),
        _ => rustix::process::kill_process(p, sig).map_err(Into::into),
    }
}

/// A signal by POE-style name (`"TERM"`, `"SIGTERM"`, `"term"`) or number;
/// empty means TERM.
pub(super) fn parse_signal(s: &str) -> Option<OsSignal> {
    use signal_hook::consts::signal::*;
    let s = s.trim();
    if s.is_empty() {
        return Some(OsSignal::TERM);
    }
    if let Ok(n) = s.parse::<i32>() {
        return OsSignal::from_named_raw(n);
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
    OsSignal::from_named_raw(n)
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
