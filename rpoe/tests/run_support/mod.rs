//! Helpers of the `Run` wheel's tests (`wheel_run.rs`,
//! `wheel_run_reaping.rs`): `sh` children, a watchdog bounding each
//! kernel run, a session recording every wheel event, and reaping checks.
//! Each test file uses only some of them.

#![allow(dead_code)]

use std::cell::RefCell;
use std::path::Path;
use std::process::Command;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rpoe::wheel::{Run, RunError, RunEvent, WheelId};
use rpoe::{ChildExit, Ctx, Kernel, Session, SessionId, Signal};

pub const LIMIT: Duration = Duration::from_secs(20);

/// Run the kernel to the end; if it takes longer than `limit`, stop it
/// through `watched`'s `watchdog` handler and fail.
pub fn run_bounded(kernel: &mut Kernel, watched: SessionId, limit: Duration) {
    let handle = kernel.handle();
    let (done, wait) = mpsc::channel::<()>();
    let dog = thread::spawn(move || {
        if wait.recv_timeout(limit).is_err() {
            let _ = handle.post(watched, "watchdog", ());
            true
        } else {
            false
        }
    });
    kernel.run().unwrap();
    let _ = done.send(());
    let fired = dog.join().unwrap();
    assert!(!fired, "the scenario did not finish within {limit:?}");
}

pub fn watchdog<H>(ctx: &mut Ctx<'_, H>) {
    ctx.stop_kernel();
}

pub fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

pub fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

pub fn exit_of<H>(ctx: &Ctx<'_, H>) -> ChildExit {
    let sig = ctx.arg::<Signal>().expect("exit event carries a Signal");
    assert_eq!(sig.name(), "CHLD");
    *sig.arg::<ChildExit>().expect("CHLD carries a ChildExit")
}

/// Wait (bounded) until the process is gone from /proc: reaped, not a
/// zombie.
pub fn assert_reaped(pid: u32, within: Duration) {
    let give_up = Instant::now() + within;
    let proc_dir = format!("/proc/{pid}");
    while Path::new(&proc_dir).exists() {
        if Instant::now() >= give_up {
            let state = std::fs::read_to_string(format!("{proc_dir}/stat")).unwrap_or_default();
            panic!("pid {pid} still exists after {within:?}: {state}");
        }
        // Reaping from a background thread has no event to wait on.
        thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Default)]
pub struct Log {
    pub events: Vec<String>,
    pub pid: u32,
    pub exit: Option<ChildExit>,
}

pub type Shared = Rc<RefCell<Log>>;

pub struct Heap {
    pub run: Option<Run<Vec<u8>>>,
    pub log: Shared,
}

pub fn heap(log: &Shared) -> Heap {
    Heap {
        run: None,
        log: log.clone(),
    }
}

pub fn log(ctx: &mut Ctx<'_, Heap>, line: String) {
    ctx.heap().log.borrow_mut().events.push(line);
}

/// Handlers every scenario shares: records, errors, close and exit go to
/// the log.
pub fn recording(session: Session<Heap>) -> Session<Heap> {
    session
        .on("stdout", |ctx| {
            let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
            log(ctx, format!("out {}", text(&line)));
        })
        .on("stderr", |ctx| {
            let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
            log(ctx, format!("err {}", text(&line)));
        })
        .on("stdin", |ctx| {
            log(ctx, "stdin flushed".into());
        })
        .on("error", |ctx| {
            let e = ctx.take_arg::<RunError>().unwrap();
            let line = if e.is_eof() {
                format!("eof {}", e.stream)
            } else {
                format!("error {} {}", e.error.op, e.stream)
            };
            log(ctx, line);
        })
        .on("closed", |ctx| {
            let id = *ctx.arg::<WheelId>().unwrap();
            assert_eq!(Some(id), ctx.heap().run.as_ref().map(Run::id));
            log(ctx, "closed".into());
        })
        .on("exited", |ctx| {
            let exit = exit_of(ctx);
            let log = ctx.heap().log.clone();
            let mut log = log.borrow_mut();
            assert_eq!(exit.pid, log.pid);
            log.exit = Some(exit);
            log.events.push("exited".into());
        })
        .on("watchdog", watchdog)
}

pub fn builder(cmd: Command) -> rpoe::wheel::RunBuilder<Vec<u8>> {
    Run::builder(cmd)
        .on_stdout("stdout")
        .on_stderr("stderr")
        .on_stdin("stdin")
        .on_error("error")
        .on_close("closed")
        .on_exit("exited")
}

pub fn events_of(log: &Shared, prefix: &str) -> Vec<String> {
    log.borrow()
        .events
        .iter()
        .filter(|e| e.starts_with(prefix))
        .cloned()
        .collect()
}

pub fn position(log: &Shared, event: &str) -> usize {
    log.borrow()
        .events
        .iter()
        .position(|e| e == event)
        .unwrap_or_else(|| panic!("no {event:?} in {:?}", log.borrow().events))
}

pub struct RenameHeap {
    pub child: Option<Run<Vec<u8>>>,
    pub log: Rc<RefCell<Vec<String>>>,
}

pub fn rename_log(ctx: &mut Ctx<'_, RenameHeap>, event: &str) {
    let line = match ctx.arg::<(Vec<u8>, WheelId)>() {
        Ok((l, _)) => format!("{event} {}", text(l)),
        Err(_) => event.to_string(),
    };
    ctx.heap().log.borrow_mut().push(line);
}

pub fn rename(ctx: &mut Ctx<'_, RenameHeap>, which: RunEvent, to: Option<&str>) {
    let ev = to.map(|n| ctx.event_id(n));
    ctx.heap().child.as_ref().unwrap().set_event(which, ev);
}

pub fn put(ctx: &mut Ctx<'_, RenameHeap>, line: &[u8]) {
    let h = ctx.heap();
    h.child.as_ref().unwrap().put(&line.to_vec()).unwrap();
}
