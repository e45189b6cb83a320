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
//! zombies. This wheel registers the [`Ctx::sig_child`] watcher itself, on
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
//!   (unless [`kill_on_drop(false)`](RunBuilder::kill_on_drop)); a child
//!   that already closed both (the close event fired) is left to finish;
//! * either way it is still reaped: while the session lives, by the
//!   kernel, and the exit event arrives as usual; if the session is gone
//!   (stopped by a signal or `stop`), or the kernel itself was dropped, a
//!   small background thread waits for it. No zombie is left behind, as
//!   long as the child does eventually exit.
//!
//! Signals are sent through a Linux pidfd when one is available, so a
//! [`kill`](Run::kill) after the child was reaped fails with `ESRCH`
//! instead of reaching an unrelated process that reused the pid.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use mio::unix::pipe;
use rustix::process::{Pid, PidfdFlags, Signal as OsSignal, WaitId, WaitIdOptions};

use crate::filter::{Filter, FilterError, Line};
use crate::kernel::{
    Core, Ctx, EventId, HandleId, IoMode, KDelivery, KPayload, LocalOp, Sender, SessionId,
    SessionKey, Target, WheelIo,
};

use super::{WheelError, WheelId};

/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// Reads per readiness event before other handles get a turn.
const READS_PER_EVENT: usize = 16;
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

#[derive(Default, Clone)]
struct Names {
    stdout: Option<String>,
    stderr: Option<String>,
    stdin: Option<String>,
    close: Option<String>,
    error: Option<String>,
    exit: Option<String>,
}

/// Configures a [`Run`] before it is started in a session.
///
/// ```
/// use std::process::Command;
/// use rpoe::wheel::{Run, RunError, WheelId};
/// use rpoe::{ChildExit, Kernel, Session, Signal};
///
/// #[derive(Default)]
/// struct Heap { child: Option<Run<Vec<u8>>>, lines: Vec<String>, code: Option<i32> }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(Heap::default())
///         .on("_start", |ctx| {
///             let mut cmd = Command::new("sh");
///             cmd.args(["-c", "read name; echo hello, $name; exit 3"]);
///             let run = Run::builder(cmd)
///                 .on_stdout("out")
///                 .on_close("closed")
///                 .on_exit("exited")
///                 .start(ctx)
///                 .unwrap();
///             run.put(&b"world".to_vec()).unwrap();
///             ctx.heap().child = Some(run);
///         })
///         .on("out", |ctx| {
///             let (line, _id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
///             ctx.heap().lines.push(String::from_utf8_lossy(&line).into_owned());
///         })
///         .on("closed", |ctx| ctx.heap().child = None) // all output read
///         .on("exited", |ctx| {
///             let exit = *ctx.arg::<Signal>().unwrap().arg::<ChildExit>().unwrap();
///             ctx.heap().code = exit.code();
///         })
///         .on("_stop", |ctx| {
///             assert_eq!(ctx.heap().lines, ["hello, world"]);
///             assert_eq!(ctx.heap().code, Some(3));
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
pub struct RunBuilder<R> {
    command: Command,
    stdin_filter: BoxFilter<R>,
    stdout_filter: BoxFilter<R>,
    stderr_filter: BoxFilter<R>,
    names: Names,
    kill_on_drop: bool,
    stdin: bool,
}

impl<R: 'static> RunBuilder<R> {
    /// Use `filter` for all three streams (POE's `Filter`). The default is
    /// [`Line::literal`]`("\n")`: Unix programs read and write LF lines.
    pub fn filter<F>(self, filter: F) -> RunBuilder<F::Record>
    where
        F: Filter + Clone + 'static,
        F::Record: 'static,
    {
        RunBuilder {
            command: self.command,
            stdin_filter: Box::new(filter.clone()),
            stdout_filter: Box::new(filter.clone()),
            stderr_filter: Box::new(filter),
            names: self.names,
            kill_on_drop: self.kill_on_drop,
            stdin: self.stdin,
        }
    }
    /// The filter that encodes records [`put`](Run::put) to stdin.
    pub fn stdin_filter(mut self, filter: impl Filter<Record = R> + 'static) -> Self {
        self.stdin_filter = Box::new(filter);
        self
    }
    /// The filter that splits stdout into records.
    pub fn stdout_filter(mut self, filter: impl Filter<Record = R> + 'static) -> Self {
        self.stdout_filter = Box::new(filter);
        self
    }
    /// The filter that splits stderr into records.
    pub fn stderr_filter(mut self, filter: impl Filter<Record = R> + 'static) -> Self {
        self.stderr_filter = Box::new(filter);
        self
    }
    /// Name the event that receives each stdout record, as `(R, WheelId)`.
    pub fn on_stdout(mut self, event: &str) -> Self {
        self.names.stdout = Some(event.into());
        self
    }
    /// Name the event that receives each stderr record, as `(R, WheelId)`.
    pub fn on_stderr(mut self, event: &str) -> Self {
        self.names.stderr = Some(event.into());
        self
    }
    /// Name the event sent (with the `WheelId`) when everything put so far
    /// has been written to the child's stdin (POE's `StdinEvent`).
    pub fn on_stdin(mut self, event: &str) -> Self {
        self.names.stdin = Some(event.into());
        self
    }
    /// Name the event sent (with the `WheelId`) once both stdout and
    /// stderr reached end of file: the child will write nothing more.
    pub fn on_close(mut self, event: &str) -> Self {
        self.names.close = Some(event.into());
        self
    }
    /// Name the event that receives a [`RunError`] (including end of file
    /// on stdout and stderr).
    pub fn on_error(mut self, event: &str) -> Self {
        self.names.error = Some(event.into());
        self
    }
    /// Name the event that receives the child's exit: a [`crate::Signal`]
    /// named `CHLD` whose argument is a [`crate::ChildExit`], exactly what
    /// [`Ctx::sig_child`] delivers. It arrives once, after the child has
    /// been reaped, possibly before the close event.
    pub fn on_exit(mut self, event: &str) -> Self {
        self.names.exit = Some(event.into());
        self
    }
    /// Whether dropping the wheel while the child still has its output
    /// open sends it `SIGTERM` (default: true). It is reaped either way.
    pub fn kill_on_drop(mut self, kill: bool) -> Self {
        self.kill_on_drop = kill;
        self
    }
    /// Give the child `/dev/null` as stdin instead of a pipe;
    /// [`put`](Run::put) then discards its records.
    pub fn no_stdin(mut self) -> Self {
        self.stdin = false;
        self
    }

    /// Start the child and give its pipes to the kernel on behalf of the
    /// running session. Fails if the program cannot be started (not found,
    /// not executable, ...); no child is left behind then.
    // The child is reaped by the kernel (sig_child) or by the wheel's drop.
    #[allow(clippy::zombie_processes)]
    pub fn start<H: 'static>(mut self, ctx: &mut Ctx<'_, H>) -> Result<Run<R>, crate::Error> {
        let stdin_cfg = if self.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        self.command
            .stdin(stdin_cfg)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn()?;
        let pid = child.id();
        // Opened before anyone can reap the child, so it names this child.
        let pidfd = rustix::process::pidfd_open(Pid::from_child(&child), PidfdFlags::empty())
            .ok()
            .map(Arc::new);
        let pipes = (|| -> io::Result<_> {
            let stdin = match child.stdin.take() {
                Some(s) => {
                    let s = pipe::Sender::from(s);
                    s.set_nonblocking(true)?;
                    Some(s)
                }
                None => None,
            };
            let missing = || io::Error::other("child pipe missing");
            let stdout = pipe::Receiver::from(child.stdout.take().ok_or_else(missing)?);
            stdout.set_nonblocking(true)?;
            let stderr = pipe::Receiver::from(child.stderr.take().ok_or_else(missing)?);
            stderr.set_nonblocking(true)?;
            Ok((stdin, stdout, stderr))
        })();
        let (stdin, stdout, stderr) = match pipes {
            Ok(p) => p,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e.into());
            }
        };
        // Dropping a `std::process::Child` neither kills nor waits.
        drop(child);

        let id = WheelId::next();
        let owner = ctx.frame.key;
        let owner_id = ctx.frame.id;
        let exit_name = match &self.names.exit {
            Some(n) => n.clone(),
            None => {
                ctx.state(UNWATCHED_EXIT, |_ctx| ());
                UNWATCHED_EXIT.to_string()
            }
        };
        let mut name = |e: &Option<String>| e.as_deref().map(|n| ctx.core.names.intern(n));
        let ev = EventIds {
            stdout: name(&self.names.stdout),
            stderr: name(&self.names.stderr),
            stdin: name(&self.names.stdin),
            close: name(&self.names.close),
            error: name(&self.names.error),
        };
        let exit_ev = ctx.core.names.intern(&exit_name);
        let h_in = stdin.map(|s| ctx.core.add_handle(owner, Box::new(s)));
        let h_out = ctx.core.add_handle(owner, Box::new(stdout));
        let h_err = ctx.core.add_handle(owner, Box::new(stderr));
        let inner = Rc::new_cyclic(|me: &Weak<Inner<R>>| Inner {
            me: me.clone(),
            local: ctx.core.local.clone(),
            id,
            pid,
            pidfd,
            owner,
            owner_id,
            state: RefCell::new(State {
                stdin: h_in,
                stdout: h_out.into(),
                stderr: h_err.into(),
                stdin_filter: self.stdin_filter,
                stdout_filter: self.stdout_filter,
                stderr_filter: self.stderr_filter,
                ev,
                out: Vec::new(),
                out_start: 0,
                write_on: false,
                shutdown_stdin: false,
                open_outputs: 2,
                closed: false,
                kill_on_drop: self.kill_on_drop,
                paused_out: false,
                paused_err: false,
                rbuf: Vec::new(),
            }),
        });
        // From here on, dropping `run` on an error cleans up (pipes closed,
        // child signalled and reaped).
        let run = Run { inner };
        let pid_i = i32::try_from(pid).map_err(|_| crate::Error::Invalid(format!("pid {pid}")))?;
        ctx.core.set_sig_child(owner, pid_i, Some(exit_ev))?;
        let target = || Some(Target::Wheel(run.inner.clone()));
        ctx.core.set_target(owner, h_out, IoMode::Read, target())?;
        ctx.core.set_target(owner, h_err, IoMode::Read, target())?;
        Ok(run)
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
pub struct Run<R: 'static> {
    inner: Rc<Inner<R>>,
}

impl<R: 'static> std::fmt::Debug for Run<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Run({}, pid {})", self.inner.id, self.inner.pid)
    }
}

impl Run<Vec<u8>> {
    /// A builder for a wheel running `command` (its stdio settings are
    /// replaced by pipes), with LF-terminated lines on all three streams.
    pub fn builder(command: Command) -> RunBuilder<Vec<u8>> {
        RunBuilder {
            command,
            stdin_filter: Box::new(Line::literal(b"\n")),
            stdout_filter: Box::new(Line::literal(b"\n")),
            stderr_filter: Box::new(Line::literal(b"\n")),
            names: Names::default(),
            kill_on_drop: true,
            stdin: true,
        }
    }

    /// A builder for `program` with `args`, run without a shell (POE's
    /// `Program => [ $program, @args ]`).
    pub fn program<I, S>(program: impl AsRef<OsStr>, args: I) -> RunBuilder<Vec<u8>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(program);
        cmd.args(args);
        Run::builder(cmd)
    }
}

impl<R: 'static> Run<R> {
    /// The wheel's id (the last element of every event it sends).
    pub fn id(&self) -> WheelId {
        self.inner.id
    }

    /// The child's process id (POE's `PID`).
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// Encode `record` for the child's stdin. The buffer is written by the
    /// kernel as the pipe allows, starting in the next round; several puts
    /// in one handler become one write and one stdin event, which arrives
    /// before any output the child makes in answer. Discarded
    /// after [`shutdown_stdin`](Run::shutdown_stdin), with
    /// [`no_stdin`](RunBuilder::no_stdin), or once the wheel failed to
    /// write.
    pub fn put(&self, record: &R) -> Result<(), FilterError> {
        self.inner.put(record)
    }

    /// Bytes waiting to be written to the child's stdin.
    pub fn pending_stdin(&self) -> usize {
        self.inner.state.borrow().pending()
    }

    /// Close the child's stdin once everything put so far is written: the
    /// child reads end of file (POE closes it at once and drops what was
    /// not yet written; rpoe writes it first).
    pub fn shutdown_stdin(&self) {
        self.inner.shutdown_stdin();
    }

    /// Send the child a signal (POE's `kill`): a name such as `"TERM"`,
    /// `"SIGKILL"`, `"HUP"`, or a number such as `"9"`; `""` means
    /// `TERM`, POE's default. Fails with `ESRCH` once the child has been
    /// reaped, and with `InvalidInput` for an unknown signal.
    pub fn kill(&self, signal: &str) -> io::Result<()> {
        let sig = parse_signal(signal).ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidInput,
                format!("unknown signal {signal:?}"),
            )
        })?;
        send_signal(self.inner.pid, self.inner.pidfd.as_deref(), sig)
    }

    /// Stop reading the child's stdout (it blocks once the pipe is full)
    /// until [`resume_stdout`](Run::resume_stdout).
    pub fn pause_stdout(&self) {
        self.inner.pause(RunStream::Stdout, true);
    }

    /// Resume reading stdout.
    pub fn resume_stdout(&self) {
        self.inner.pause(RunStream::Stdout, false);
    }

    /// Stop reading the child's stderr until
    /// [`resume_stderr`](Run::resume_stderr).
    pub fn pause_stderr(&self) {
        self.inner.pause(RunStream::Stderr, true);
    }

    /// Resume reading stderr.
    pub fn resume_stderr(&self) {
        self.inner.pause(RunStream::Stderr, false);
    }
}

impl<R: 'static> Drop for Run<R> {
    fn drop(&mut self) {
        self.inner.close();
    }
}

#[derive(Clone, Copy)]
struct EventIds {
    stdout: Option<EventId>,
    stderr: Option<EventId>,
    stdin: Option<EventId>,
    close: Option<EventId>,
    error: Option<EventId>,
}

struct State<R> {
    /// `None` once closed.
    stdin: Option<HandleId>,
    stdout: Option<HandleId>,
    stderr: Option<HandleId>,
    stdin_filter: BoxFilter<R>,
    stdout_filter: BoxFilter<R>,
    stderr_filter: BoxFilter<R>,
    ev: EventIds,
    out: Vec<u8>,
    out_start: usize,
    /// The write watcher is set (or being set).
    write_on: bool,
    shutdown_stdin: bool,
    /// Output streams not yet at end of file.
    open_outputs: u8,
    /// The wheel was dropped: no more events.
    closed: bool,
    kill_on_drop: bool,
    paused_out: bool,
    paused_err: bool,
    rbuf: Vec<u8>,
}

impl<R> State<R> {
    fn pending(&self) -> usize {
        self.out.len() - self.out_start
    }
}

struct Inner<R> {
    me: Weak<Inner<R>>,
    local: Rc<crate::kernel::LocalQueue>,
    id: WheelId,
    pid: u32,
    pidfd: Option<Arc<OwnedFd>>,
    owner: SessionKey,
    owner_id: SessionId,
    state: RefCell<State<R>>,
}

/// An event the wheel owes its session, sent once the state is released.
enum Emit<R> {
    Stdout(R),
    Stderr(R),
    Stdin,
    Close,
    Error(RunError),
}

impl<R: 'static> Inner<R> {
    fn queue(&self, task: impl FnOnce(&mut Core) + 'static) {
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(task)));
    }

    fn error(&self, op: &'static str, e: &io::Error, stream: RunStream) -> RunError {
        RunError {
            error: WheelError::io(op, e, self.id),
            stream,
        }
    }

    /// Encode into the stdin buffer and, if it was empty, set the write
    /// watcher. The writing itself happens in the kernel's write phase (as
    /// in POE), so the stdin event is delivered there, directly — before
    /// any output the child makes in answer, which can only be read in a
    /// later round.
    fn put(&self, record: &R) -> Result<(), FilterError> {
        let arm = {
            let mut guard = self.state.borrow_mut();
            let st = &mut *guard;
            if st.stdin.is_none() || st.shutdown_stdin || st.closed {
                return Ok(());
            }
            st.stdin_filter.put(record, &mut st.out)?;
            let arm = !st.write_on && st.pending() > 0;
            st.write_on |= arm;
            arm
        };
        if arm {
            let me = self.me.clone();
            self.queue(move |core| {
                let Some(me) = me.upgrade() else {
                    return;
                };
                let h = me.state.borrow().stdin;
                if let Some(h) = h {
                    let _ = core.set_target(me.owner, h, IoMode::Write, me.target());
                }
            });
        }
        Ok(())
    }

    fn shutdown_stdin(&self) {
        let mut st = self.state.borrow_mut();
        if st.shutdown_stdin {
            return;
        }
        st.shutdown_stdin = true;
        let (empty, h) = (st.pending() == 0 && !st.write_on, st.stdin);
        drop(st);
        if let (true, Some(h)) = (empty, h) {
            let me = self.me.clone();
            self.queue(move |core| {
                if let Some(me) = me.upgrade() {
                    me.close_stdin(core, h);
                }
            });
        }
    }

    /// Remove the stdin handle (closing the pipe) if it is still `h`.
    fn close_stdin(&self, core: &mut Core, h: HandleId) {
        let mut st = self.state.borrow_mut();
        if st.stdin != Some(h) {
            return;
        }
        st.stdin = None;
        st.write_on = false;
        st.out = Vec::new();
        st.out_start = 0;
        drop(st);
        let _ = core.remove_handle(self.owner, h);
    }

    fn pause(&self, stream: RunStream, paused: bool) {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        let (flag, h) = match stream {
            RunStream::Stdout => (&mut st.paused_out, st.stdout),
            RunStream::Stderr => (&mut st.paused_err, st.stderr),
            RunStream::Stdin => return,
        };
        if *flag == paused {
            return;
        }
        *flag = paused;
        let owner = self.owner;
        drop(guard);
        if let Some(h) = h {
            self.queue(move |core| {
                let _ = core.pause_watcher(owner, h, IoMode::Read, paused);
            });
        }
    }

    /// Write what the stdin buffer holds; returns events owed. Never calls
    /// user code.
    fn write_out(&self, core: &mut Core) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut st = self.state.borrow_mut();
        let Some(h) = st.stdin else {
            return emit;
        };
        let Some(pipe) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<pipe::Sender>())
        else {
            return emit;
        };
        let mut failed = None;
        while st.pending() > 0 {
            let start = st.out_start;
            match pipe.write(&st.out[start..]) {
                Ok(0) => {
                    failed = Some(io::Error::from(ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => st.out_start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            // When you can't write, nothing else matters: stdin is closed.
            emit.push(Emit::Error(self.error("write", &e, RunStream::Stdin)));
            drop(st);
            self.close_stdin(core, h);
            return emit;
        }
        let left = st.pending();
        if left == 0 {
            st.out = Vec::new();
            st.out_start = 0;
            emit.push(Emit::Stdin);
            if st.shutdown_stdin {
                drop(st);
                self.close_stdin(core, h);
                return emit;
            }
        } else if st.out_start > st.out.len() / 2 {
            let start = st.out_start;
            st.out.drain(..start);
            st.out_start = 0;
        }
        let want_write = left > 0;
        let was = std::mem::replace(&mut st.write_on, want_write);
        drop(st);
        if want_write != was {
            let target = if want_write { self.target() } else { None };
            let _ = core.set_target(self.owner, h, IoMode::Write, target);
        }
        emit
    }

    fn target(&self) -> Option<Target> {
        let me: Rc<dyn WheelIo> = self.me.upgrade()?;
        Some(Target::Wheel(me))
    }

    /// Read one of the output pipes until it would block (bounded); at end
    /// of file close it, and after the last one owe the close event.
    fn read_out(&self, core: &mut Core, h: HandleId, stream: RunStream) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        if st.rbuf.len() < READ_CHUNK {
            st.rbuf.resize(READ_CHUNK, 0);
        }
        let Some(pipe) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<pipe::Receiver>())
        else {
            return emit;
        };
        let filter = match stream {
            RunStream::Stderr => &mut st.stderr_filter,
            _ => &mut st.stdout_filter,
        };
        let mut records = Vec::new();
        let mut drained = false;
        let mut end: Option<RunError> = None;
        for _ in 0..READS_PER_EVENT {
            match pipe.read(&mut st.rbuf) {
                Ok(0) => {
                    end = Some(RunError {
                        error: WheelError {
                            op: "read",
                            errno: 0,
                            message: String::new(),
                            wheel: self.id,
                        },
                        stream,
                    });
                    break;
                }
                Ok(n) => {
                    if let Err(e) = filter.get(&st.rbuf[..n], &mut records) {
                        end = Some(RunError {
                            error: WheelError {
                                op: "get",
                                errno: 22,
                                message: e.to_string(),
                                wheel: self.id,
                            },
                            stream,
                        });
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    end = Some(self.error("read", &e, stream));
                    break;
                }
            }
        }
        if st.rbuf.len() > READ_CHUNK {
            st.rbuf.truncate(READ_CHUNK);
        }
        emit.extend(records.into_iter().map(|r| match stream {
            RunStream::Stderr => Emit::Stderr(r),
            _ => Emit::Stdout(r),
        }));
        if let Some(err) = end {
            // This stream is over: close our end of the pipe.
            match stream {
                RunStream::Stderr => st.stderr = None,
                _ => st.stdout = None,
            }
            st.open_outputs = st.open_outputs.saturating_sub(1);
            let last = st.open_outputs == 0;
            drop(guard);
            let _ = core.remove_handle(self.owner, h);
            emit.push(Emit::Error(err));
            if last {
                emit.push(Emit::Close);
            }
        } else if drained {
            core.handles.drained(h, IoMode::Read);
        }
        emit
    }

    /// Send owed events to the session, directly: this runs at kernel
    /// level, where POE calls them. Stops as soon as the wheel is dropped.
    fn send(&self, core: &mut Core, emits: Vec<Emit<R>>) {
        for e in emits {
            let (event, payload) = {
                let st = self.state.borrow();
                if st.closed {
                    return;
                }
                match e {
                    Emit::Stdout(r) => (st.ev.stdout, KPayload::new((r, self.id))),
                    Emit::Stderr(r) => (st.ev.stderr, KPayload::new((r, self.id))),
                    Emit::Stdin => (st.ev.stdin, KPayload::new(self.id)),
                    Emit::Close => (st.ev.close, KPayload::new(self.id)),
                    Emit::Error(err) => (st.ev.error, KPayload::new(err)),
                }
            };
            let Some(event) = event else {
                continue;
            };
            let _ = core.deliver(
                None,
                self.owner,
                KDelivery {
                    event,
                    sender: Sender::Session(self.owner_id),
                    payload,
                    active: None,
                },
            );
        }
    }

    fn close(&self) {
        let mut st = self.state.borrow_mut();
        if st.closed {
            return;
        }
        st.closed = true;
        let handles = [st.stdin.take(), st.stdout.take(), st.stderr.take()];
        let kill = st.kill_on_drop && st.open_outputs > 0;
        drop(st);
        if kill {
            // At once: the kernel work below may run late (or, if the
            // kernel is dropped, never).
            let _ = send_signal(self.pid, self.pidfd.as_deref(), OsSignal::TERM);
        }
        let reaper = Reaper {
            pid: self.pid,
            pidfd: self.pidfd.clone(),
            armed: true,
        };
        let owner = self.owner;
        self.queue(move |core| {
            for h in handles.into_iter().flatten() {
                let _ = core.remove_handle(owner, h);
            }
            reaper.settle(core, owner);
        });
    }
}

impl<R: 'static> WheelIo for Inner<R> {
    fn ready(&self, core: &mut Core, handle: HandleId, mode: IoMode) {
        let _keep = self.me.upgrade();
        let stream = {
            let st = self.state.borrow();
            if st.closed {
                return;
            }
            if st.stdout == Some(handle) {
                RunStream::Stdout
            } else if st.stderr == Some(handle) {
                RunStream::Stderr
            } else if st.stdin == Some(handle) {
                RunStream::Stdin
            } else {
                return;
            }
        };
        let emits = match (mode, stream) {
            (IoMode::Read, RunStream::Stdout | RunStream::Stderr) => {
                self.read_out(core, handle, stream)
            }
            (IoMode::Write, RunStream::Stdin) => {
                let e = self.write_out(core);
                core.handles.drained(handle, IoMode::Write);
                e
            }
            _ => return,
        };
        self.send(core, emits);
    }
}

/// Makes sure a dropped wheel's child is reaped. Runs as kernel work
/// queued by the drop; if that work is discarded unrun (the kernel was
/// dropped), its own drop does the job.
struct Reaper {
    pid: u32,
    pidfd: Option<Arc<OwnedFd>>,
    armed: bool,
}

impl Reaper {
    fn settle(mut self, core: &mut Core, owner: SessionKey) {
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
fn reap_detached(pid: u32, pidfd: Option<Arc<OwnedFd>>) {
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

/// Signal the child, never another process: through its pidfd, or by pid
/// only while it is still unreaped (a zombie's pid is not reused).
fn send_signal(pid: u32, pidfd: Option<&OwnedFd>, sig: OsSignal) -> io::Result<()> {
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
fn parse_signal(s: &str) -> Option<OsSignal> {
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
