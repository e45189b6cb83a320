//! The `Run` wheel's endings, with real child processes (`sh` scripts):
//! every way a wheel, its session or its kernel can end while a child
//! runs — dropped, stopped, killed after the grace period, never told of
//! the exit — leaves no zombie and nothing running. The wheel's normal
//! life (output, input, exit status, pausing) is in `wheel_run.rs`.
//!
//! Every kernel run is bounded by a watchdog thread that stops the kernel
//! (and fails the test) if the scenario hangs.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rpoe::wheel::Run;
use rpoe::{Kernel, Session};

mod run_support;
use run_support::*;

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
