//! Every call rpoe makes to the operating system beyond what `std` and
//! `mio` offer portably, behind small safe functions.
//!
//! Why one module: the platform is a fact of the whole crate, not of each
//! wheel. With the calls gathered here, what rpoe needs of the OS is on
//! one page — what a port to another Unix would have to provide — and
//! the rest of the crate names no `rustix` or `signal-hook` item and no
//! `std::os::unix` extension trait (a test checks that). Linux is the one
//! supported platform (see the crate documentation's "Platform support");
//! `lib.rs` stops other targets with a `compile_error!`.
//!
//! The groups: child processes (pidfds, `waitid`/`waitpid`, `kill`),
//! OS signals (signal-hook's self-pipe, signal numbers and names),
//! resource limits, sockets (shutdown, connect-in-progress errnos) and
//! files (non-blocking open, inode identity, file kinds, positioned
//! reads).

#![cfg_attr(not(feature = "process"), allow(dead_code))]

use std::any::Any;
use std::fs::{File, FileType, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::{Pid, WaitId, WaitIdOptions, WaitOptions};

// ---------------------------------------------------------------------
// Child processes

/// An OS signal that can be sent to a process.
pub(crate) use rustix::process::Signal;

/// `SIGTERM`.
pub(crate) const TERM: Signal = Signal::TERM;
/// `SIGKILL`.
pub(crate) const KILL: Signal = Signal::KILL;

/// A signal by number, if it is a real (named) one.
pub(crate) fn signal_from_number(n: i32) -> Option<Signal> {
    Signal::from_named_raw(n)
}

/// A process file descriptor: names one child for good, so signalling
/// through it can never reach an unrelated process that reused the pid.
#[derive(Debug)]
pub(crate) struct PidFd(OwnedFd);

impl PidFd {
    /// Open a pidfd for `child`; `None` where the kernel has none (Linux
    /// before 5.3). Open it before anyone can reap the child.
    pub(crate) fn open(child: &std::process::Child) -> Option<PidFd> {
        rustix::process::pidfd_open(Pid::from_child(child), rustix::process::PidfdFlags::empty())
            .ok()
            .map(PidFd)
    }
}

fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

/// `waitid` on the child (by pidfd when there is one), retried on `EINTR`;
/// true if it reported an exit.
fn waitid(pid: Pid, pidfd: Option<&PidFd>, opts: WaitIdOptions) -> io::Result<bool> {
    loop {
        let r = match pidfd {
            Some(fd) => rustix::process::waitid(WaitId::PidFd(fd.0.as_fd()), opts),
            None => rustix::process::waitid(WaitId::Pid(pid), opts),
        };
        match r {
            Ok(st) => return Ok(st.is_some()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reap the child if it has exited, without waiting: `Ok(true)` if it was
/// reaped now, `Ok(false)` if it is still running, an error (`ECHILD`) if
/// it was reaped already or is not our child.
pub(crate) fn reap_if_exited(pid: u32, pidfd: Option<&PidFd>) -> io::Result<bool> {
    let p = pid_of(pid).ok_or_else(|| io::Error::from(rustix::io::Errno::CHILD))?;
    waitid(p, pidfd, WaitIdOptions::EXITED | WaitIdOptions::NOHANG)
}

/// Block until the child exits, and reap it.
pub(crate) fn reap_blocking(pid: u32, pidfd: Option<&PidFd>) -> io::Result<()> {
    let p = pid_of(pid).ok_or_else(|| io::Error::from(rustix::io::Errno::CHILD))?;
    waitid(p, pidfd, WaitIdOptions::EXITED).map(|_| ())
}

/// Wait until the child has exited (reaped or not) or `deadline` passes;
/// true if it exited. An error that leaves the question open counts as
/// exited: never `SIGKILL` on a guess.
pub(crate) fn exits_within(pid: u32, pidfd: Option<&PidFd>, deadline: Instant) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    if let Some(fd) = pidfd {
        // A pidfd polls readable once its process has exited.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = Timespec {
                tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: left.subsec_nanos().into(),
            };
            let mut fds = [PollFd::new(&fd.0, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return true,
            }
        }
    }
    // No pidfd (Linux before 5.3): look without reaping, every 10 ms.
    let Some(p) = pid_of(pid) else {
        return true;
    };
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    loop {
        match waitid(p, None, opts) {
            Ok(true) => return true,
            Ok(false) => {}
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
/// only while it is still unreaped (a zombie's pid is not reused). Fails
/// with `ESRCH` once it was reaped.
pub(crate) fn send_signal(pid: u32, pidfd: Option<&PidFd>, sig: Signal) -> io::Result<()> {
    if let Some(fd) = pidfd {
        return rustix::process::pidfd_send_signal(&fd.0, sig).map_err(Into::into);
    }
    let p = pid_of(pid).ok_or_else(|| io::Error::from(rustix::io::Errno::SRCH))?;
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    match waitid(p, None, opts) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::CHILD.raw_os_error()) => {
            Err(rustix::io::Errno::SRCH.into())
        }
        _ => rustix::process::kill_process(p, sig).map_err(Into::into),
    }
}

/// `waitpid(pid, WNOHANG)`: the raw wait status if the child exited (and
/// is now reaped), `None` if it is still running.
pub(crate) fn waitpid_nohang(pid: i32) -> io::Result<Option<i32>> {
    let p = Pid::from_raw(pid).ok_or_else(|| io::Error::from(rustix::io::Errno::CHILD))?;
    match rustix::process::waitpid(Some(p), WaitOptions::NOHANG) {
        Ok(Some((_, st))) => Ok(Some(st.as_raw())),
        Ok(None) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------
// OS signals

/// Signal numbers the kernel names (all of them are used by
/// `wheel::Run`'s signal names).
#[cfg_attr(not(feature = "process"), allow(unused_imports))]
pub(crate) use signal_hook::consts::signal::{
    SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGIO, SIGKILL,
    SIGPIPE, SIGPROF, SIGQUIT, SIGSEGV, SIGSTOP, SIGSYS, SIGTERM, SIGTRAP, SIGTSTP, SIGTTIN,
    SIGTTOU, SIGURG, SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH, SIGXCPU, SIGXFSZ,
};

/// The self-pipe OS signals arrive through (signal-hook's): readable in
/// the kernel's poll when a caught signal arrived.
pub(crate) struct SignalPipe(signal_hook_mio::v1_0::Signals);

impl SignalPipe {
    /// Catch signal `num` from now on, through a new pipe.
    pub(crate) fn new(num: i32) -> io::Result<SignalPipe> {
        signal_hook_mio::v1_0::Signals::new([num]).map(SignalPipe)
    }

    /// Catch signal `num` too.
    pub(crate) fn add(&self, num: i32) -> io::Result<()> {
        self.0.add_signal(num)
    }

    /// The signals that arrived since last asked.
    pub(crate) fn pending(&mut self) -> Vec<i32> {
        self.0.pending().collect()
    }

    /// The pipe's mio source, to register with the poll.
    pub(crate) fn source(&mut self) -> &mut impl mio::event::Source {
        &mut self.0
    }
}

/// Act as if signal `num` had not been caught: its default action
/// (terminating the process, for most).
pub(crate) fn emulate_default_signal(num: i32) {
    let _ = signal_hook::low_level::emulate_default_handler(num);
}

// ---------------------------------------------------------------------
// Resource limits

/// The soft limit on open file descriptors, if there is one.
pub(crate) fn open_files_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

// ---------------------------------------------------------------------
// Sockets

/// `ETIMEDOUT`.
pub(crate) const ETIMEDOUT: i32 = rustix::io::Errno::TIMEDOUT.raw_os_error();

/// The error says a non-blocking connect has not finished yet
/// (`EINPROGRESS`, `EALREADY`).
pub(crate) fn connect_in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error())
        || e.raw_os_error() == Some(rustix::io::Errno::ALREADY.raw_os_error())
}

/// Shut down the writing half of `io` if it is a stream socket (TCP or
/// Unix); other objects are left alone. True if it was a socket.
pub(crate) fn shutdown_write(io: &mut dyn Any) -> bool {
    if let Some(s) = io.downcast_mut::<mio::net::TcpStream>() {
        let _ = s.shutdown(std::net::Shutdown::Write);
    } else if let Some(s) = io.downcast_mut::<mio::net::UnixStream>() {
        let _ = s.shutdown(std::net::Shutdown::Write);
    } else {
        return false;
    }
    true
}

// ---------------------------------------------------------------------
// Files

/// Open `path` read-only and non-blocking (so that opening a FIFO put
/// where a file was expected does not block).
pub(crate) fn open_read_nonblocking(path: &Path) -> io::Result<File> {
    let nonblock = rustix::fs::OFlags::NONBLOCK.bits() as i32;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(path)
}

/// A file's identity, device and inode: it changes when the path is
/// replaced (a log rotated), not when the file is written.
pub(crate) fn file_identity(meta: &Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// What a non-regular file is, in words.
pub(crate) fn file_kind(t: FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Read exactly `buf.len()` bytes at `offset`, without moving the file
/// position (`pread`).
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset)
}
