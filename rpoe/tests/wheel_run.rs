//! The `Run` wheel with real child processes (`sh` scripts): stdout and
//! stderr records per stream in order, stdin put and flushed, the close
//! event after both end-of-file errors, the exit status through the exit
//! event, `kill`, pause/resume, write errors, and reaping in every way a
//! wheel can end — no zombie is ever left behind.
//!
//! Every kernel run is bounded by a watchdog thread that stops the kernel
//! (and fails the test) if the scenario hangs.

use std::cell::RefCell;
use std::path::Path;
use std::process::Command;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rpoe::wheel::{Run, RunError, RunEvent, RunStream, WheelId};
use rpoe::{ChildExit, Ctx, Kernel, Session, SessionId, Signal};

const LIMIT: Duration = Duration::from_secs(20);

/// Run the kernel to the end; if it takes longer than `limit`, stop it
/// through `watched`'s `watchdog` handler and fail.
fn run_bounded(kernel: &mut Kernel, watched: SessionId, limit: Duration) {
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

fn watchdog<H>(ctx: &mut Ctx<'_, H>) {
    ctx.stop_kernel();
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

fn exit_of<H>(ctx: &Ctx<'_, H>) -> ChildExit {
    let sig = ctx.arg::<Signal>().expect("exit event carries a Signal");
    assert_eq!(sig.name(), "CHLD");
    *sig.arg::<ChildExit>().expect("CHLD carries a ChildExit")
}

/// Wait (bounded) until the process is gone from /proc: reaped, not a
/// zombie.
fn assert_reaped(pid: u32, within: Duration) {
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
struct Log {
    events: Vec<String>,
    pid: u32,
    exit: Option<ChildExit>,
}

type Shared = Rc<RefCell<Log>>;

struct Heap {
    run: Option<Run<Vec<u8>>>,
    log: Shared,
}

fn heap(log: &Shared) -> Heap {
    Heap {
        run: None,
        log: log.clone(),
    }
}

fn log(ctx: &mut Ctx<'_, Heap>, line: String) {
    ctx.heap().log.borrow_mut().events.push(line);
}

/// Handlers every scenario shares: records, errors, close and exit go to
/// the log.
fn recording(session: Session<Heap>) -> Session<Heap> {
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

fn builder(cmd: Command) -> rpoe::wheel::RunBuilder<Vec<u8>> {
    Run::builder(cmd)
        .on_stdout("stdout")
        .on_stderr("stderr")
        .on_stdin("stdin")
        .on_error("error")
        .on_close("closed")
        .on_exit("exited")
}

fn events_of(log: &Shared, prefix: &str) -> Vec<String> {
    log.borrow()
        .events
        .iter()
        .filter(|e| e.starts_with(prefix))
        .cloned()
        .collect()
}

fn position(log: &Shared, event: &str) -> usize {
    log.borrow()
        .events
        .iter()
        .position(|e| e == event)
        .unwrap_or_else(|| panic!("no {event:?} in {:?}", log.borrow().events))
}

#[test]
fn stdout_and_stderr_per_stream_in_order_then_close_and_exit_status() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log))).on("_start", |ctx| {
            let script =
                "i=1; while [ $i -le 50 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; exit 4";
            let run = builder(sh(script)).start(ctx).unwrap();
            ctx.heap().log.borrow_mut().pid = run.pid();
            ctx.heap().run = Some(run);
        }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);

    let out: Vec<String> = (1..=50).map(|i| format!("out out{i}")).collect();
    let err: Vec<String> = (1..=50).map(|i| format!("err err{i}")).collect();
    assert_eq!(events_of(&log, "out "), out);
    assert_eq!(events_of(&log, "err "), err);
    // Each stream's records come before its end of file; close after both.
    let last_out = position(&log, "out out50");
    let last_err = position(&log, "err err50");
    let eof_out = position(&log, "eof STDOUT");
    let eof_err = position(&log, "eof STDERR");
    let closed = position(&log, "closed");
    assert!(last_out < eof_out && last_err < eof_err);
    assert!(eof_out < closed && eof_err < closed);
    assert_eq!(events_of(&log, "closed").len(), 1);
    assert_eq!(events_of(&log, "exited").len(), 1);
    assert!(events_of(&log, "stdin").is_empty(), "nothing was put");
    let exit = log.borrow().exit.unwrap();
    assert_eq!(exit.code(), Some(4));
    assert_reaped(log.borrow().pid, Duration::ZERO);
}

#[test]
fn stdin_put_flushed_once_then_shutdown_gives_eof() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let script = "while IFS= read -r l; do echo \"got $l\"; done; echo bye >&2; exit 0";
                let run = builder(sh(script)).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                for word in ["alpha", "beta", "gamma"] {
                    run.put(&word.as_bytes().to_vec()).unwrap();
                }
                assert!(run.pending_stdin() > 0, "written after the handler returns");
                ctx.heap().run = Some(run);
            })
            .on("stdout", |ctx| {
                let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                let n = {
                    let mut log = ctx.heap().log.borrow_mut();
                    log.events.push(format!("out {}", text(&line)));
                    log.events.iter().filter(|e| e.starts_with("out ")).count()
                };
                if n == 3 {
                    ctx.heap().run.as_ref().unwrap().shutdown_stdin();
                }
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert_eq!(
        events_of(&log, "out "),
        ["out got alpha", "out got beta", "out got gamma"]
    );
    assert_eq!(events_of(&log, "err "), ["err bye"]);
    // Three puts in one handler: one write, one flushed event, before any
    // output.
    assert_eq!(events_of(&log, "stdin flushed").len(), 1);
    assert!(position(&log, "stdin flushed") < position(&log, "out got alpha"));
    assert_eq!(log.borrow().exit.unwrap().code(), Some(0));
    assert_eq!(events_of(&log, "closed").len(), 1);
}

#[test]
fn kill_terminates_and_exit_event_reports_the_signal() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                // `exec` so that the signal reaches sleep itself.
                let run = builder(sh("echo ready; exec sleep 30")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("stdout", |ctx| {
                let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                assert_eq!(line, b"ready");
                let run = ctx.heap().run.as_ref().unwrap();
                assert!(run.kill("bogus").is_err());
                run.kill("").unwrap(); // POE's default: TERM
            })
            .on("exited", |ctx| {
                let exit = exit_of(ctx);
                ctx.heap().log.borrow_mut().exit = Some(exit);
                // Reaped now: another kill reaches nobody.
                let err = ctx.heap().run.as_ref().unwrap().kill("KILL").unwrap_err();
                assert_eq!(err.raw_os_error(), Some(3), "ESRCH, got {err}");
                ctx.heap().run = None;
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    let exit = log.borrow().exit.unwrap();
    assert_eq!(exit.signal(), Some(15));
    assert_eq!(exit.code(), None);
    assert_reaped(log.borrow().pid, Duration::ZERO);
}

#[test]
fn dropping_the_wheel_of_a_running_child_terminates_it_and_still_reports_the_exit() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let run = builder(sh("echo ready; exec sleep 30")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("stdout", |ctx| {
                ctx.heap().run = None; // the child still has its output open
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    let l = log.borrow();
    assert_eq!(l.exit.unwrap().signal(), Some(15), "{:?}", l.events);
    // Nothing but the exit after the drop: no EOF, no close.
    assert!(events_of(&log, "eof").is_empty() && events_of(&log, "closed").is_empty());
    assert_reaped(l.pid, Duration::ZERO);
}

#[test]
fn a_child_that_closed_its_output_is_left_to_finish_after_the_drop() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let script = "echo hi; exec >&- 2>&-; sleep 0.2; exit 6";
                let run = builder(sh(script)).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("closed", |ctx| {
                ctx.heap().log.borrow_mut().events.push("closed".into());
                ctx.heap().run = None; // POE's usual "delete the wheel on close"
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert_eq!(log.borrow().exit.unwrap().code(), Some(6));
    assert!(position(&log, "closed") < position(&log, "exited"));
}

#[test]
fn kill_on_drop_false_lets_the_child_run_to_its_end() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log))).on("_start", |ctx| {
            let run = builder(sh("sleep 0.2; exit 9"))
                .kill_on_drop(false)
                .start(ctx)
                .unwrap();
            ctx.heap().log.borrow_mut().pid = run.pid();
            // Dropped at once, output still open.
        }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert_eq!(log.borrow().exit.unwrap().code(), Some(9));
    assert_eq!(log.borrow().events, ["exited"]);
}

#[test]
fn a_session_stopped_with_its_child_running_leaves_no_zombie() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let run = builder(sh("echo ready; exec sleep 30")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("stdout", |ctx| ctx.yield_event("stop", ()))
            .on("stop", |ctx| ctx.stop_kernel()),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    // The session is gone before the child exits: the wheel terminated it
    // and a background thread reaps it.
    assert!(log.borrow().exit.is_none());
    assert_reaped(log.borrow().pid, Duration::from_secs(10));
}

#[test]
fn a_kernel_stopped_from_an_output_event_terminates_the_child_and_reaps_it_by_its_drop() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let run = builder(sh("echo ready; exec sleep 30")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("stdout", |ctx| ctx.stop_kernel()),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    // SIGTERM went out when the wheel was dropped. (The kernel returns from
    // a stop during I/O dispatch without running the work the drop queued,
    // so reaping may wait until the kernel runs again or is dropped.)
    drop(kernel);
    assert!(log.borrow().exit.is_none());
    assert_reaped(log.borrow().pid, Duration::from_secs(10));
}

#[test]
fn a_kernel_dropped_with_a_child_running_leaves_no_zombie() {
    let log: Shared = Rc::default();
    let pid = {
        let mut kernel = Kernel::new().unwrap();
        kernel.spawn(
            recording(Session::new(heap(&log))).on("_start", |ctx| {
                let run = builder(sh("exec sleep 30")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            }),
            (),
        );
        let pid = log.borrow().pid;
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        pid
        // The kernel is dropped here without running.
    };
    assert_reaped(pid, Duration::from_secs(10));
}

#[test]
fn without_an_exit_event_the_child_is_still_reaped_and_default_never_sees_it() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        Session::new(heap(&log))
            .on("_start", |ctx| {
                let run = Run::builder(sh("exit 2")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("_default", |ctx| {
                let name = ctx.original_event_name().unwrap_or("?").to_string();
                ctx.heap().log.borrow_mut().events.push(name);
            })
            .on("_stop", |_| ())
            .on("watchdog", watchdog),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert!(log.borrow().events.is_empty(), "{:?}", log.borrow().events);
    assert_reaped(log.borrow().pid, Duration::ZERO);
}

#[test]
fn sig_child_from_the_user_renames_the_exit_event() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let run = builder(sh("exit 5")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.sig_child(run.pid(), "reaped").unwrap();
                ctx.heap().run = Some(run);
            })
            .on("reaped", |ctx| {
                let exit = exit_of(ctx);
                let mut l = ctx.heap().log.borrow_mut();
                l.exit = Some(exit);
                l.events.push("reaped".into());
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert_eq!(log.borrow().exit.unwrap().code(), Some(5));
    assert_eq!(events_of(&log, "reaped").len(), 1);
    assert!(events_of(&log, "exited").is_empty());
}

#[test]
fn paused_stdout_delivers_nothing_until_resumed() {
    let log: Shared = Rc::default();
    let resumed = Rc::new(RefCell::new(false));
    let (r1, r2) = (resumed.clone(), resumed.clone());
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let run = builder(sh("echo one; echo two; echo three >&2"))
                    .start(ctx)
                    .unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                run.pause_stdout();
                ctx.heap().run = Some(run);
            })
            .on("stderr", move |ctx| {
                // stderr is not paused; its line comes first.
                assert!(!*r1.borrow());
                ctx.heap().log.borrow_mut().events.push("err".into());
                ctx.delay("resume", Duration::from_millis(100), ());
            })
            .on("resume", move |ctx| {
                *r2.borrow_mut() = true;
                ctx.heap().run.as_ref().unwrap().resume_stdout();
            })
            .on("stdout", move |ctx| {
                assert!(*resumed.borrow(), "stdout arrived while paused");
                let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                ctx.heap()
                    .log
                    .borrow_mut()
                    .events
                    .push(format!("out {}", text(&line)));
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert_eq!(events_of(&log, "out "), ["out one", "out two"]);
    assert!(position(&log, "err") < position(&log, "out one"));
    assert_eq!(events_of(&log, "closed").len(), 1);
}

#[test]
fn writing_to_a_child_that_exited_is_a_write_error_on_stdin() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let run = builder(sh("exec 0<&-; exit 0")).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("closed", |ctx| {
                ctx.heap().log.borrow_mut().events.push("closed".into());
                // The child is gone (its output closed at exit): the pipe
                // has no reader.
                let big = vec![b'x'; 256 * 1024];
                ctx.heap().run.as_ref().unwrap().put(&big).unwrap();
            })
            .on("error", |ctx| {
                let e = ctx.take_arg::<RunError>().unwrap();
                let line = if e.is_eof() {
                    format!("eof {}", e.stream)
                } else {
                    assert_eq!(e.error.errno, 32, "EPIPE: {e}");
                    format!("error {} {}", e.error.op, e.stream)
                };
                ctx.heap().log.borrow_mut().events.push(line);
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert_eq!(events_of(&log, "error "), ["error write STDIN"]);
    assert!(events_of(&log, "stdin flushed").is_empty());
}

#[test]
fn a_program_that_does_not_exist_fails_to_start() {
    let mut kernel = Kernel::new().unwrap();
    let failed = Rc::new(RefCell::new(None));
    let f = failed.clone();
    kernel.spawn(
        Session::new(()).on("_start", move |ctx| {
            let r = Run::program("/nonexistent/rpoe-no-such-program", ["x"]).start(ctx);
            *f.borrow_mut() = Some(r.map(|_| ()).map_err(|e| e.to_string()));
        }),
        (),
    );
    kernel.run().unwrap();
    let r = failed.borrow_mut().take().unwrap();
    let err = r.unwrap_err();
    assert!(err.contains("No such file"), "{err}");
}

#[test]
fn several_children_in_one_session_are_told_apart_by_wheel_id() {
    let seen: Rc<RefCell<Vec<(WheelId, String)>>> = Rc::default();
    let ids: Rc<RefCell<Vec<WheelId>>> = Rc::default();
    let (s, i) = (seen.clone(), ids.clone());
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Vec::<Run<Vec<u8>>>::new())
            .on("_start", move |ctx| {
                for n in 0..4 {
                    let run = Run::program("sh", ["-c", &format!("echo child{n}")])
                        .on_stdout("out")
                        .start(ctx)
                        .unwrap();
                    i.borrow_mut().push(run.id());
                    ctx.heap().push(run);
                }
            })
            .on("out", move |ctx| {
                let (line, id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                s.borrow_mut().push((id, text(&line)));
            }),
        (),
    );
    kernel.run().unwrap();
    let mut seen = seen.borrow().clone();
    seen.sort();
    let expected: Vec<(WheelId, String)> = ids
        .borrow()
        .iter()
        .enumerate()
        .map(|(n, id)| (*id, format!("child{n}")))
        .collect();
    assert_eq!(seen, expected);
    let _ = RunStream::Stdout; // the stream names are public API
}

/// Issue 13, finding 11: a child that ignores SIGTERM used to survive the
/// wheel's drop, and its session (alive until the child is reaped) with
/// it — `run` never returned. Now it gets SIGKILL after the grace period.
#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    const GRACE: Duration = Duration::from_millis(300);
    let log: Shared = Rc::default();
    let dropped_at: Rc<RefCell<Option<Instant>>> = Rc::default();
    let d = dropped_at.clone();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                // `exec` keeps the ignored disposition: the sleep itself
                // ignores TERM.
                let script = "trap '' TERM; echo ready; exec sleep 30";
                let run = builder(sh(script)).kill_grace(GRACE).start(ctx).unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("stdout", move |ctx| {
                *d.borrow_mut() = Some(Instant::now());
                ctx.heap().run = None; // SIGTERM, which the child ignores
            }),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    let exited_after = dropped_at.borrow().expect("dropped").elapsed();
    let l = log.borrow();
    assert_eq!(l.exit.map(|e| e.signal()), Some(Some(9)), "{:?}", l.events);
    assert!(exited_after >= GRACE, "killed after {exited_after:?}");
    assert_reaped(l.pid, Duration::ZERO);
}

/// The escalation also covers a session that is gone: the child is
/// killed and reaped in the background, not left running.
#[test]
fn a_stopped_session_whose_child_ignores_sigterm_leaves_nothing_running() {
    let log: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        recording(Session::new(heap(&log)))
            .on("_start", |ctx| {
                let script = "trap '' TERM; echo ready; exec sleep 30";
                let run = builder(sh(script))
                    .kill_grace(Duration::from_millis(100))
                    .start(ctx)
                    .unwrap();
                ctx.heap().log.borrow_mut().pid = run.pid();
                ctx.heap().run = Some(run);
            })
            .on("stdout", |ctx| ctx.yield_event("stop", ()))
            .on("stop", |ctx| ctx.stop_kernel()),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    assert!(log.borrow().exit.is_none());
    assert_reaped(log.borrow().pid, Duration::from_secs(10));
}

struct RenameHeap {
    child: Option<Run<Vec<u8>>>,
    log: Rc<RefCell<Vec<String>>>,
}

fn rename_log(ctx: &mut Ctx<'_, RenameHeap>, event: &str) {
    let line = match ctx.arg::<(Vec<u8>, WheelId)>() {
        Ok((l, _)) => format!("{event} {}", text(l)),
        Err(_) => event.to_string(),
    };
    ctx.heap().log.borrow_mut().push(line);
}

fn rename(ctx: &mut Ctx<'_, RenameHeap>, which: RunEvent, to: Option<&str>) {
    let ev = to.map(|n| ctx.event_id(n));
    ctx.heap().child.as_ref().unwrap().set_event(which, ev);
}

fn put(ctx: &mut Ctx<'_, RenameHeap>, line: &[u8]) {
    let h = ctx.heap();
    h.child.as_ref().unwrap().put(&line.to_vec()).unwrap();
}

#[test]
fn set_event_renames_and_silences_events() {
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let sid = kernel.spawn(
        Session::new(RenameHeap {
            child: None,
            log: log.clone(),
        })
        .on("_start", |ctx| {
            // One answer per line read, on stdout, stderr, stdout.
            let cmd = sh(r#"read a; echo "$a"; read b; echo "$b" >&2; read c; echo "$c""#);
            let child = Run::builder(cmd)
                .on_stdout("out_one")
                .on_stderr("err_one")
                .on_stdin("in_one")
                .on_close("close_one")
                .on_error("error_one")
                .start(ctx)
                .unwrap();
            ctx.heap().child = Some(child);
            put(ctx, b"one");
        })
        .on("in_one", |ctx| {
            rename_log(ctx, "in_one");
            rename(ctx, RunEvent::Stdin, None);
        })
        .on("out_one", |ctx| {
            rename_log(ctx, "out_one");
            rename(ctx, RunEvent::Stdout, Some("out_two"));
            rename(ctx, RunEvent::Stderr, Some("err_two"));
            put(ctx, b"two");
        })
        .on("out_two", |ctx| rename_log(ctx, "out_two"))
        .on("err_one", |ctx| rename_log(ctx, "err_one"))
        .on("err_two", |ctx| {
            rename_log(ctx, "err_two");
            rename(ctx, RunEvent::Stdout, None);
            rename(ctx, RunEvent::Error, None);
            rename(ctx, RunEvent::Close, Some("close_two"));
            put(ctx, b"three");
        })
        .on("error_one", |ctx| rename_log(ctx, "error_one"))
        .on("close_one", |ctx| rename_log(ctx, "close_one"))
        .on("close_two", |ctx| {
            rename_log(ctx, "close_two");
            ctx.heap().child = None;
        })
        .on("watchdog", |ctx| ctx.stop_kernel()),
        (),
    );
    run_bounded(&mut kernel, sid, LIMIT);
    // "three" (stdout) and both ends of file (errors) were not sent; the
    // second put's stdin event neither.
    assert_eq!(
        *log.borrow(),
        ["in_one", "out_one one", "err_two two", "close_two"]
    );
}
