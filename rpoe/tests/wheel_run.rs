//! The `Run` wheel with real child processes (`sh` scripts): stdout and
//! stderr records per stream in order, stdin put and flushed, the close
//! event after both end-of-file errors, the exit status through the exit
//! event, `kill`, pause/resume, write errors, several children, renamed
//! events. Reaping in every way a wheel can end is in
//! `wheel_run_reaping.rs`.
//!
//! Every kernel run is bounded by a watchdog thread that stops the kernel
//! (and fails the test) if the scenario hangs.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::wheel::{Run, RunError, RunEvent, RunStream, WheelId};
use rpoe::{Kernel, Session};

mod run_support;
use run_support::*;

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
