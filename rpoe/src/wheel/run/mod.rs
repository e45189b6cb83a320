//! [`Run`]: a child process with its standard streams wired to the session
//! (POE's `POE::Wheel::Run`).
//!
//! Why: an event loop must not wait on a child — not for its output, not
//! for it to read its input, not for it to exit. Running a program
//! therefore takes three non-blocking pipes, filters on each, a write
//! buffer for stdin, and reaping at the end; this wheel is all of that,
//! and it is also how blocking work (a DNS lookup, a slow library call)
//! is pushed out of the loop: run it in a helper program.
//!
//! The wheel starts a program (a [`std::process::Command`], run without a
//! shell) with three pipes: records [`put`](Run::put) on the wheel are
//! encoded by the stdin filter and written to the child's stdin; whatever
//! the child writes to stdout and stderr is split into records by their
//! filters and handed to the session, one event per record.
//!
//! Events (all optional, named by the user), as in POE:
//!
//! | builder method | POE parameter | argument |
//! |---|---|---|
//! | [`on_stdout`](RunBuilder::on_stdout) | `StdoutEvent` | `(R, WheelId)` |
//! | [`on_stderr`](RunBuilder::on_stderr) | `StderrEvent` | `(R, WheelId)` |
//! | [`on_stdin`](RunBuilder::on_stdin) | `StdinEvent` | `WheelId`, when everything put so far is written |
//! | [`on_close`](RunBuilder::on_close) | `CloseEvent` | `WheelId`, once stdout *and* stderr reached end of file |
//! | [`on_error`](RunBuilder::on_error) | `ErrorEvent` | [`RunError`]: a [`WheelError`] and the [`RunStream`] |
//! | [`on_exit`](RunBuilder::on_exit) | `sig_child` | [`crate::Signal`] named `CHLD` with a [`crate::ChildExit`] |
//!
//! End of file on stdout or stderr is reported to the error event first
//! (op `"read"`, errno 0, as POE does), then the close event once both are
//! done. Records of one stream arrive in order; stdout and stderr are
//! separate pipes, so their relative order is whatever the OS reports.
//!
//! # Reaping
//!
//! POE leaves reaping to the user (`sig_child`); forgetting it leaves
//! zombies. This wheel registers the [`Ctx::sig_child`](crate::Ctx::sig_child) watcher itself, on
//! behalf of the owning session, when it starts the child: the exit event
//! (a no-op one when [`on_exit`](RunBuilder::on_exit) is not named) keeps
//! the session alive until the child has exited and been reaped. Calling
//! `ctx.sig_child(run.pid(), "other")` later just renames the event.
//!
//! # Dropping the wheel
//!
//! Dropping the [`Run`] (removing it from the heap) closes the three pipes
//! at once — output not yet written to stdin is discarded — and stops all
//! events except the exit event. Then:
//!
//! * if the child still had stdout or stderr open, it is sent `SIGTERM`
//!   (unless [`kill_on_drop(false)`](RunBuilder::kill_on_drop)), and if
//!   it has not exited [`kill_grace`](RunBuilder::kill_grace) later
//!   (default [`DEFAULT_KILL_GRACE`], 5 s) — it ignores or traps `SIGTERM`
//!   — `SIGKILL`, so that the session (which lives until its child is
//!   reaped) and with it `run` always end; a child that already closed
//!   both outputs (the close event fired) is left to finish;
//! * either way it is still reaped: while the session lives, by the
//!   kernel, and the exit event arrives as usual; if the session is gone
//!   (stopped by a signal or `stop`), or the kernel itself was dropped, a
//!   small background thread waits for it. No zombie is left behind, as
//!   long as the child does eventually exit.
//!
//! Signals are sent through a Linux pidfd when one is available, so a
//! [`kill`](Run::kill) after the child was reaped fails with `ESRCH`
//! instead of reaching an unrelated process that reused the pid.

use std::cell::Cell;
use std::io::{self, ErrorKind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mio::unix::pipe;

use crate::filter::{Filter, FilterError};
use crate::kernel::{EventId, EventSource, IoMode, PostAction, SourceCtx, SourceHandle};
use crate::wheel::in_buf::{InBuf, ReadOutcome};
use crate::wheel::out_buf::OutBuf;

use super::{WheelError, WheelId};

mod builder;
mod child;
mod machine;

pub use builder::RunBuilder;

use child::{escalate, parse_signal, send_signal, PidFd, Reaper};
use machine::{Common, OutSource};

/// How long a child sent `SIGTERM` by a dropped wheel has to exit before
/// it is sent `SIGKILL` (see [`RunBuilder::kill_grace`]): long enough for
/// a program to flush and clean up, short enough that a stuck one does
/// not hold its session (and `run`) for long.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// The exit event used when the user names none: it has a no-op handler,
/// so the session's `_default` never sees it.
const UNWATCHED_EXIT: &str = "rpoe::wheel::Run exit";

type BoxFilter<R> = Box<dyn Filter<Record = R>>;

/// One of the child's standard streams (POE's `"STDIN"`, `"STDOUT"`,
/// `"STDERR"` handle names).
///
/// ```
/// use rpoe::wheel::RunStream;
///
/// assert_eq!(RunStream::Stderr.name(), "STDERR");
/// assert_eq!(RunStream::Stdout.to_string(), "STDOUT");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunStream {
    /// The child's standard input (the wheel writes it).
    Stdin,
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

impl RunStream {
    /// POE's name of the handle: `"STDIN"`, `"STDOUT"` or `"STDERR"`.
    pub fn name(self) -> &'static str {
        match self {
            RunStream::Stdin => "STDIN",
            RunStream::Stdout => "STDOUT",
            RunStream::Stderr => "STDERR",
        }
    }
}

impl std::fmt::Display for RunStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The argument of a [`Run`]'s error event (POE's `ErrorEvent` arguments:
/// operation, errno, message, wheel id, handle name).
///
/// End of file on stdout or stderr is a `"read"` error with errno 0; a
/// failed write to stdin (the child closed it or exited) is a `"write"`
/// error on [`RunStream::Stdin`]; a record the filter refused is a
/// `"get"` error, and that stream is closed.
///
/// ```
/// use std::collections::HashSet;
/// use rpoe::wheel::{Run, RunError, RunStream, WheelId};
/// use rpoe::{Kernel, Session};
///
/// #[derive(Default)]
/// struct Heap { child: Option<Run<Vec<u8>>>, stderr: Vec<Vec<u8>>, ended: HashSet<RunStream> }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Heap::default())
///         .on("_start", |ctx| {
///             let run = Run::program("sh", ["-c", "echo oops >&2"])
///                 .no_stdin()
///                 .on_stderr("stderr")
///                 .on_error("error")
///                 .on_close("closed")
///                 .start(ctx)
///                 .unwrap();
///             ctx.heap().child = Some(run);
///         })
///         .on("stderr", |ctx| {
///             let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///             ctx.heap().stderr.push(line);
///         })
///         .on("error", |ctx| {
///             let e = ctx.take_arg::<RunError>().unwrap();
///             assert!(e.is_eof(), "{e}"); // end of file is reported here too
///             ctx.heap().ended.insert(e.stream);
///         })
///         .on("closed", |ctx| ctx.heap().child = None)
///         .on("_stop", |ctx| {
///             let heap = ctx.heap();
///             assert_eq!(heap.stderr, [b"oops".to_vec()]);
///             assert_eq!(heap.ended, HashSet::from([RunStream::Stdout, RunStream::Stderr]));
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunError {
    /// What failed, errno, message and wheel.
    pub error: WheelError,
    /// Which of the child's streams.
    pub stream: RunStream,
}

impl RunError {
    /// True for end of file on stdout or stderr.
    pub fn is_eof(&self) -> bool {
        self.error.is_eof()
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.error, self.stream)
    }
}

/// A running child process; see the [module documentation](self) for its
/// events and what dropping it does.
///
/// Stop a child that would run too long, and learn how it ended:
///
/// ```
/// use rpoe::wheel::Run;
/// use rpoe::{ChildExit, Kernel, Session, Signal};
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(None::<Run<Vec<u8>>>)
///         .on("_start", |ctx| {
///             let run = Run::program("sleep", ["10"])
///                 .on_close("closed")
///                 .on_exit("exited")
///                 .start(ctx)
///                 .unwrap();
///             assert!(run.pid() > 0);
///             run.kill("TERM").unwrap(); // POE's $wheel->kill("TERM")
///             *ctx.heap() = Some(run);
///         })
///         .on("closed", |ctx| *ctx.heap() = None) // its output is closed
///         .on("exited", |ctx| {
///             let exit = *ctx.arg::<Signal>().unwrap().arg::<ChildExit>().unwrap();
///             assert_eq!(exit.signal(), Some(15));
///             assert_eq!(exit.code(), None);
///         }),
///     (),
/// );
/// kernel.run().unwrap(); // returns once the child is reaped
/// ```
#[must_use = "dropping the wheel closes the child's pipes and signals it"]
pub struct Run<R: 'static> {
    common: Rc<Common>,
    pid: u32,
    pidfd: Option<Arc<PidFd>>,
    kill_on_drop: bool,
    kill_grace: Duration,
    /// `None` with [`RunBuilder::no_stdin`] (and while starting).
    stdin: Option<machine::Stdin<R>>,
    stdout: Option<SourceHandle<OutSource<R>>>,
    stderr: Option<SourceHandle<OutSource<R>>>,
    paused_out: Cell<bool>,
    paused_err: Cell<bool>,
}

impl<R: 'static> std::fmt::Debug for Run<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Run({}, pid {})", self.common.id, self.pid)
    }
}

impl<R: 'static> Run<R> {
    /// The wheel's id (the last element of every event it sends).
    pub fn id(&self) -> WheelId {
        self.common.id
    }

    /// The child's process id (POE's `PID`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Encode `record` for the child's stdin. The buffer is written by the
    /// kernel as the pipe allows, starting in the next round; several puts
    /// in one handler become one write and one stdin event, which arrives
    /// before any output the child makes in answer. Discarded
    /// after [`shutdown_stdin`](Run::shutdown_stdin), with
    /// [`no_stdin`](RunBuilder::no_stdin), or once the wheel failed to
    /// write.
    ///
    /// # Errors
    ///
    /// [`FilterError`] if the stdin filter cannot encode `record`.
    pub fn put(&self, record: &R) -> Result<(), FilterError> {
        match &self.stdin {
            Some(stdin) => machine::put(stdin, record),
            None => Ok(()),
        }
    }

    /// Bytes waiting to be written to the child's stdin.
    pub fn pending_stdin(&self) -> usize {
        self.stdin
            .as_ref()
            .and_then(|s| s.with(|st| st.out.pending()))
            .unwrap_or(0)
    }

    /// Close the child's stdin once everything put so far is written: the
    /// child reads end of file (POE closes it at once and drops what was
    /// not yet written; rpoe writes it first).
    pub fn shutdown_stdin(&self) {
        if let Some(stdin) = &self.stdin {
            machine::shutdown(stdin);
        }
    }

    /// Send the child a signal (POE's `kill`): a name such as `"TERM"`,
    /// `"SIGKILL"`, `"HUP"`, or a number such as `"9"`; `""` means
    /// `TERM`, POE's default. Fails with `ESRCH` once the child has been
    /// reaped, and with `InvalidInput` for an unknown signal.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unknown signal name; `ESRCH` once the child
    /// has been reaped; `EPERM` if the OS refuses.
    pub fn kill(&self, signal: &str) -> io::Result<()> {
        let sig = parse_signal(signal).ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidInput,
                format!("unknown signal {signal:?}"),
            )
        })?;
        send_signal(self.pid, self.pidfd.as_deref(), sig)
    }

    /// Stop reading the child's stdout (it blocks once the pipe is full)
    /// until [`resume_stdout`](Run::resume_stdout).
    pub fn pause_stdout(&self) {
        self.pause(RunStream::Stdout, true);
    }

    /// Resume reading stdout.
    pub fn resume_stdout(&self) {
        self.pause(RunStream::Stdout, false);
    }

    /// Stop reading the child's stderr until
    /// [`resume_stderr`](Run::resume_stderr).
    pub fn pause_stderr(&self) {
        self.pause(RunStream::Stderr, true);
    }

    /// Resume reading stderr.
    pub fn resume_stderr(&self) {
        self.pause(RunStream::Stderr, false);
    }

    /// Rename one of the wheel's events, or stop sending it (`None`), from
    /// the next event on (POE's `$wheel->event(StdoutEvent => 'other')`).
    /// The exit event is the session's signal handler and is not renamed
    /// here. Takes an interned name, so the wheel can stay borrowed in the
    /// heap:
    /// `let ev = ctx.event_id("other"); ctx.heap().child.set_event(RunEvent::Stdout, Some(ev));`
    pub fn set_event(&self, which: RunEvent, event: Option<EventId>) {
        let mut ev = self.common.ev.get();
        let slot = match which {
            RunEvent::Stdout => &mut ev.stdout,
            RunEvent::Stderr => &mut ev.stderr,
            RunEvent::Error => &mut ev.error,
            RunEvent::Close => &mut ev.close,
            RunEvent::Stdin => &mut ev.stdin,
        };
        *slot = event;
        self.common.ev.set(ev);
    }

    /// Pause or resume reading one output stream (a no-op if unchanged).
    fn pause(&self, stream: RunStream, paused: bool) {
        let (flag, source) = match stream {
            RunStream::Stdout => (&self.paused_out, &self.stdout),
            RunStream::Stderr => (&self.paused_err, &self.stderr),
            RunStream::Stdin => return,
        };
        if flag.replace(paused) == paused {
            return;
        }
        if let Some(source) = source.as_ref().filter(|s| s.is_open()) {
            source.defer(move |_, cx| {
                let _ = cx.pause(IoMode::Read, paused);
                PostAction::Continue
            });
        }
    }
}

/// One of the events a [`Run`] sends, to rename at run time with
/// [`Run::set_event`] (POE's `$wheel->event(StdoutEvent => ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunEvent {
    /// Each record the child wrote to stdout (POE's `StdoutEvent`).
    Stdout,
    /// Each record the child wrote to stderr (POE's `StderrEvent`).
    Stderr,
    /// Errors and end of file on a pipe (POE's `ErrorEvent`).
    Error,
    /// Both output pipes reached end of file (POE's `CloseEvent`).
    Close,
    /// Everything put so far was written to stdin (POE's `StdinEvent`).
    Stdin,
}

impl<R: 'static> Drop for Run<R> {
    /// Stop all events (dropping the sources closes the pipes), signal a
    /// child that still has output open, and make sure it is reaped.
    fn drop(&mut self) {
        let kill = self.kill_on_drop && self.common.open_outputs.get() > 0;
        if kill {
            // At once: the kernel work below may run late (or, if the
            // kernel is dropped, never).
            if send_signal(self.pid, self.pidfd.as_deref(), child::TERM).is_ok() {
                escalate(self.pid, self.pidfd.clone(), self.kill_grace);
            }
        }
        let reaper = Reaper::new(self.pid, self.pidfd.clone());
        let pid = self.pid;
        match &self.stdout {
            // After the running handler: while the session still watches
            // the child, the kernel reaps it and the exit event arrives;
            // otherwise (the session is gone, or removed the watcher)
            // nobody would, so the reaper does. If the kernel is dropped
            // first, the reaper's own drop does it.
            Some(stdout) => stdout.defer(move |_, cx| {
                reaper.settle(cx.watches_child(pid));
                PostAction::Continue
            }),
            None => reaper.settle(false),
        }
    }
}
