//! A command runner over TCP: each line a client sends is a command,
//! split on whitespace and run without a shell (a `Run` wheel); its output
//! streams back as it comes, then its exit code:
//!
//! ```text
//! > echo hello world
//! < out hello world
//! < exit 0
//! > ls /nope
//! < err ls: cannot access '/nope': No such file or directory
//! < exit 2
//! ```
//!
//! `out LINE` is a line of the command's stdout, `err LINE` of its stderr
//! (their relative order is whatever the pipes gave), `exit CODE` ends
//! each command — 128+N if signal N killed it, 127 if it could not be
//! started. Commands of one connection run one after another, in order;
//! connections run theirs concurrently. The command's stdin is
//! `/dev/null`; a last output line without a newline is not sent.
//!
//! A client that closes the connection gives up its queued commands; the
//! running one is sent SIGTERM (the wheel is dropped) and still reaped.
//! While a client reads slowly, the command's output is paused.
//!
//! Run: `cargo run --example process_runner -- [PORT]` (else `$PORT`,
//! else 12345); `$BIND` picks the address (default 0.0.0.0 — this runs
//! any command a peer asks for, so bind it to 127.0.0.1 unless that is
//! what you want).

use std::collections::VecDeque;
use std::process::Command;

use rpoe::component::{Client, ServerTcp};
use rpoe::filter::Line;
use rpoe::wheel::{Run, RunError, WheelId};
use rpoe::{ChildExit, Ctx, Kernel, Signal};

/// Longest command line accepted.
const MAX_LINE: usize = 64 * 1024;
/// Pause the command's output while the client has this much unread.
const HIGH_WATER: usize = 256 * 1024;

/// A connection's state.
#[derive(Default)]
struct Runner {
    queue: VecDeque<Vec<u8>>,
    job: Option<Job>,
}

/// The command being run.
struct Job {
    run: Run<Vec<u8>>,
    closed: bool,
    exit: Option<ChildExit>,
    paused: bool,
}

type Conn<'a> = Ctx<'a, Client<Vec<u8>, Runner>>;

fn reply(ctx: &mut Conn<'_>, tag: &str, line: &[u8]) {
    let mut out = Vec::with_capacity(tag.len() + 1 + line.len());
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(line);
    let _ = ctx.heap().put(&out);
}

/// Start the next queued command unless one is running.
fn start_next(ctx: &mut Conn<'_>) {
    loop {
        if ctx.heap().state.job.is_some() {
            return;
        }
        let Some(line) = ctx.heap().state.queue.pop_front() else {
            return;
        };
        let text = String::from_utf8_lossy(&line).into_owned();
        let argv: Vec<&str> = text.split_whitespace().collect();
        let Some((program, args)) = argv.split_first() else {
            continue; // a blank line
        };
        let mut cmd = Command::new(program);
        cmd.args(args);
        let started = Run::builder(cmd)
            .no_stdin()
            .on_stdout("child_stdout")
            .on_stderr("child_stderr")
            .on_error("child_error")
            .on_close("child_closed")
            .on_exit("child_exit")
            .start(ctx);
        match started {
            Ok(run) => {
                ctx.heap().state.job = Some(Job {
                    run,
                    closed: false,
                    exit: None,
                    paused: false,
                });
            }
            Err(e) => {
                reply(ctx, "err", format!("cannot run {program}: {e}").as_bytes());
                reply(ctx, "exit", b"127");
            }
        }
    }
}

/// Once the command's output is closed and it has been reaped, report
/// its exit code and go on with the next one.
fn finish_if_done(ctx: &mut Conn<'_>) {
    let exit = match &ctx.heap().state.job {
        Some(Job {
            closed: true,
            exit: Some(exit),
            ..
        }) => *exit,
        _ => return,
    };
    let code = exit
        .code()
        .unwrap_or_else(|| 128 + exit.signal().unwrap_or(0));
    reply(ctx, "exit", code.to_string().as_bytes());
    ctx.heap().state.job = None;
    start_next(ctx);
}

/// Forward one output line, pausing the command if the client lags.
fn forward(ctx: &mut Conn<'_>, tag: &str) {
    let Ok((line, _)) = ctx.take_arg::<(Vec<u8>, WheelId)>() else {
        return;
    };
    reply(ctx, tag, &line);
    let c = ctx.heap();
    let lagging = c.wheel().is_some_and(|w| w.pending() >= HIGH_WATER);
    if let (true, Some(job)) = (lagging, c.state.job.as_mut()) {
        if !job.paused {
            job.paused = true;
            job.run.pause_stdout();
            job.run.pause_stderr();
        }
    }
}

/// The connection's handlers for its commands' events.
fn install(ctx: &mut Conn<'_>) {
    ctx.state("child_stdout", |ctx| forward(ctx, "out"));
    ctx.state("child_stderr", |ctx| forward(ctx, "err"));
    ctx.state("child_error", |ctx| {
        if let Ok(e) = ctx.take_arg::<RunError>() {
            if !e.is_eof() {
                eprintln!("process_runner: {e}");
            }
        }
    });
    ctx.state("child_closed", |ctx| {
        if let Some(job) = ctx.heap().state.job.as_mut() {
            job.closed = true;
        }
        finish_if_done(ctx);
    });
    ctx.state("child_exit", |ctx| {
        let Some(exit) = ctx
            .arg::<Signal>()
            .ok()
            .and_then(|s| s.arg::<ChildExit>())
            .copied()
        else {
            return;
        };
        match ctx.heap().state.job.as_mut() {
            Some(job) if job.run.pid() == exit.pid => job.exit = Some(exit),
            _ => return,
        }
        finish_if_done(ctx);
    });
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args().nth(1).or(std::env::var("PORT").ok());
    let port: u16 = port.as_deref().unwrap_or("12345").parse()?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "0.0.0.0".into());
    let addr = format!("{bind}:{port}").parse()?;

    let mut kernel = Kernel::new()?;
    let server = ServerTcp::new(addr, Line::literal(b"\n").max_length(MAX_LINE))
        .state(Runner::default)
        .on_connected(install)
        .on_input(|ctx, line| {
            ctx.heap().state.queue.push_back(line);
            start_next(ctx);
        })
        .on_flushed(|ctx| {
            if let Some(job) = ctx.heap().state.job.as_mut() {
                if job.paused {
                    job.paused = false;
                    job.run.resume_stdout();
                    job.run.resume_stderr();
                }
            }
        })
        .on_error(|ctx, _| {
            // The client is gone (or closed its side): nobody will read
            // the output. Dropping the wheel terminates the command.
            let r = &mut ctx.heap().state;
            r.queue.clear();
            r.job = None;
        })
        .spawn(&mut kernel)?;
    for a in &server.addrs {
        println!("listening on {a}");
    }
    kernel.run()?;
    Ok(())
}
