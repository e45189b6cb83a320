//! [`RunBuilder`]: what a [`Run`] is configured with — the command, the
//! filters of its three streams, the events it sends and how it is
//! stopped — and `start`, which spawns the child and registers its pipes.

use std::cell::Cell;
use std::ffi::OsStr;
use std::io;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mio::unix::pipe;

use crate::filter::{Filter, Line};
use crate::kernel::Ctx;
use crate::wheel::in_buf::InBuf;
use crate::wheel::out_buf::OutBuf;

use super::child::PidFd;
use super::machine::{Common, EventIds, InSource, OutSource};
use super::{BoxFilter, Run, RunStream, WheelId, DEFAULT_KILL_GRACE, UNWATCHED_EXIT};

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
#[must_use = "a builder does nothing until it is started (or spawned)"]
pub struct RunBuilder<R> {
    command: Command,
    stdin_filter: BoxFilter<R>,
    stdout_filter: BoxFilter<R>,
    stderr_filter: BoxFilter<R>,
    names: Names,
    kill_on_drop: bool,
    kill_grace: Duration,
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
            kill_grace: self.kill_grace,
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
    /// Name the event that receives a [`RunError`](super::RunError) (including end of file
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
    /// How long a child sent `SIGTERM` because the wheel was dropped has
    /// to exit before it is sent `SIGKILL` (default
    /// [`DEFAULT_KILL_GRACE`], 5 s). Without the escalation a child that
    /// ignores `SIGTERM` would keep running, and keep its session — hence
    /// `run` — alive forever. The wait happens off the kernel thread: the
    /// loop is never blocked by it.
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
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
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] if the program cannot be started (not found,
    /// not executable) or its pipes cannot be set up — no child is left
    /// behind then — or if the kernel cannot watch the pipes or catch
    /// `SIGCHLD`.
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
        let pidfd = PidFd::open(&child).map(Arc::new);
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
        let exit_name = match &self.names.exit {
            Some(n) => n.clone(),
            None => {
                ctx.state(UNWATCHED_EXIT, |_ctx| ());
                UNWATCHED_EXIT.to_string()
            }
        };
        let mut name = |e: &Option<String>| e.as_deref().map(|n| ctx.event_id(n));
        let ev = EventIds {
            stdout: name(&self.names.stdout),
            stderr: name(&self.names.stderr),
            stdin: name(&self.names.stdin),
            close: name(&self.names.close),
            error: name(&self.names.error),
        };
        let common = Rc::new(Common {
            id,
            ev: Cell::new(ev),
            open_outputs: Cell::new(2),
        });
        // From here on, dropping `run` on an error cleans up (pipes closed,
        // child signalled and reaped).
        let mut run = Run {
            common: common.clone(),
            pid,
            pidfd,
            kill_on_drop: self.kill_on_drop,
            kill_grace: self.kill_grace,
            stdin: None,
            stdout: None,
            stderr: None,
            paused_out: Cell::new(false),
            paused_err: Cell::new(false),
        };
        if let Some(pipe) = stdin {
            let source = InSource {
                common: common.clone(),
                filter: self.stdin_filter,
                out: OutBuf::default(),
                write_on: false,
                shutdown: false,
                done: false,
            };
            run.stdin = Some(ctx.add_source_for(pipe, source, &[])?);
        }
        let output = |stream, filter| OutSource {
            common: common.clone(),
            stream,
            filter,
            inbuf: InBuf,
        };
        let out = output(RunStream::Stdout, self.stdout_filter);
        let err = output(RunStream::Stderr, self.stderr_filter);
        run.stdout = Some(ctx.add_source(stdout, out)?);
        run.stderr = Some(ctx.add_source(stderr, err)?);
        ctx.sig_child(pid, exit_name.as_str())?;
        Ok(run)
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
            kill_grace: DEFAULT_KILL_GRACE,
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
