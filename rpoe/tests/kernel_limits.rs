//! The kernel under attack (issue 13): every resource a misbehaving
//! handler or thread can consume has a bound, and reaching it ends in an
//! error, not a hang or a crash.
//!
//! - a failing DIE handler ends `run` with an error instead of being
//!   handed its own failure forever;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpoe::{DieInfo, Error, Kernel, Session, Signal};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// Run `kernel` with a watchdog: if `run` has not returned after `limit`,
/// another thread posts to a watchdog session (held only by an alias),
/// which stops the kernel. Returns `run`'s result and whether the watchdog
/// had to fire (then the test has failed: the kernel was stuck).
fn run_watched(kernel: &mut Kernel, limit: Duration) -> (Result<(), Error>, bool) {
    let fired = Rc::new(RefCell::new(false));
    let f = fired.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.alias_set("watchdog").unwrap())
            .on("expire", move |ctx| {
                *f.borrow_mut() = true;
                ctx.stop_kernel();
            }),
        (),
    );
    let handle = kernel.handle();
    let (tx, rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        if rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = handle.post("watchdog", "expire", ());
        }
    });
    let r = kernel.run();
    drop(tx);
    t.join().unwrap();
    let fired = *fired.borrow();
    (r, fired)
}

// ----- a failing DIE handler -------------------------------------------

/// A session whose `boom` fails and whose DIE watcher fails too, after
/// calling `sig_handled` or not.
fn die_in_die(l: &Log, handle_first: bool, panic: bool) -> Session<Log> {
    Session::new(l.clone())
        .on("_start", |ctx| {
            ctx.sig("DIE", "on_die").unwrap();
            ctx.yield_event("boom", ());
        })
        .on_try("boom", |ctx| -> Result<(), String> {
            ctx.heap().borrow_mut().push("boom".into());
            Err("first failure".into())
        })
        .on_try("on_die", move |ctx| -> Result<(), String> {
            let msg = ctx
                .arg::<Signal>()
                .unwrap()
                .arg::<DieInfo>()
                .unwrap()
                .message
                .clone();
            ctx.heap().borrow_mut().push(format!("on_die: {msg}"));
            if handle_first {
                ctx.sig_handled();
            }
            if panic {
                panic!("second failure");
            }
            Err("second failure".into())
        })
        .on("_stop", |ctx| ctx.heap().borrow_mut().push("_stop".into()))
}

fn assert_die_in_die(r: Result<(), Error>, fired: bool, l: &Log) {
    assert!(!fired, "run() did not return: the DIE handler looped");
    match r {
        Err(Error::DieHandlerFailed {
            event,
            message,
            original,
            ..
        }) => {
            assert_eq!(event, "on_die");
            assert_eq!(message, "second failure");
            match original.as_deref() {
                Some(Error::HandlerFailed { event, message, .. }) => {
                    assert_eq!(
                        (event.as_str(), message.as_str()),
                        ("boom", "first failure")
                    );
                }
                other => panic!("original failure: {other:?}"),
            }
        }
        other => panic!("run() returned {other:?}"),
    }
    // As in POE: the handler ran once, then everything was stopped.
    assert_eq!(*l.borrow(), ["boom", "on_die: first failure", "_stop"]);
}

#[test]
fn panicking_die_handler_that_handled_the_signal_ends_run_with_an_error() {
    // Before the fix each failure became a new DIE to the same handler,
    // which handled it and failed again: millions of times a second.
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(die_in_die(&l, true, true), ());
    let started = Instant::now();
    let (r, fired) = run_watched(&mut k, Duration::from_secs(5));
    assert_die_in_die(r, fired, &l);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(k.session_count(), 0);
}

#[test]
fn failing_die_handler_that_did_not_handle_the_signal_reports_both_failures() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(die_in_die(&l, false, false), ());
    let (r, fired) = run_watched(&mut k, Duration::from_secs(5));
    assert_die_in_die(r, fired, &l);
}

#[test]
fn die_handler_of_an_ancestor_that_fails_ends_run_with_an_error() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    let l2 = l.clone();
    k.spawn(
        Session::new(l.clone())
            .on("_start", move |ctx| {
                ctx.sig("DIE", "on_die").unwrap();
                ctx.spawn(
                    Session::new(l2.clone())
                        .on("_start", |ctx| ctx.yield_event("boom", ()))
                        .on("boom", |_| panic!("child failure"))
                        .on("_stop", |ctx| {
                            ctx.heap().borrow_mut().push("child _stop".into())
                        }),
                    (),
                );
            })
            .on("on_die", |ctx| {
                ctx.sig_handled();
                ctx.heap().borrow_mut().push("parent on_die".into());
                panic!("parent failure");
            })
            .on("_stop", |ctx| {
                ctx.heap().borrow_mut().push("parent _stop".into())
            }),
        (),
    );
    let (r, fired) = run_watched(&mut k, Duration::from_secs(5));
    assert!(!fired, "run() did not return");
    match r {
        Err(Error::DieHandlerFailed {
            session,
            message,
            original,
            ..
        }) => {
            assert_eq!((session, message.as_str()), (1, "parent failure"));
            assert!(
                matches!(
                    original.as_deref(),
                    Some(Error::HandlerFailed { session: 2, .. })
                ),
                "{original:?}"
            );
        }
        other => panic!("run() returned {other:?}"),
    }
    assert_eq!(
        *l.borrow(),
        ["parent on_die", "child _stop", "parent _stop"]
    );
}
