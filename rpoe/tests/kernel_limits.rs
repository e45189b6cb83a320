//! The kernel under attack (issue 13): every resource a misbehaving
//! handler or thread can consume has a bound, and reaching it ends in an
//! error, not a hang or a crash.
//!
//! - a failing DIE handler ends `run` with an error instead of being
//!   handed its own failure forever;
//! - recursion through `call` (or `spawn`) stops at the call-depth limit
//!   with an error instead of overflowing the stack;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpoe::{DieInfo, Error, Kernel, KernelBuilder, Session, Signal};

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

// ----- call depth ------------------------------------------------------

/// What unbounded recursion through `call` saw: the deepest level whose
/// handler ran, and the [`Error::CallDepth`] (event, limit) the call below
/// it got. Only the caller at the limit sees the error itself: the levels
/// above get their callee's return value.
#[derive(Default)]
struct Dive {
    deepest: u32,
    error: Option<(String, u32)>,
}

/// A session whose `go` calls `down`, which calls itself (into the same
/// session, or ping-ponging with a twin when `peer` is given) without
/// end. Every level passes the failure up.
fn diver(peer: Option<&'static str>) -> Session<Rc<RefCell<Dive>>> {
    let dive = Rc::new(RefCell::new(Dive::default()));
    Session::new(dive)
        .on("_start", move |ctx| {
            if let Some(p) = peer {
                ctx.alias_set(if p == "a" { "b" } else { "a" }).unwrap();
            }
        })
        .on("go", move |ctx| -> Result<rpoe::Value, Error> {
            let me = ctx.id();
            ctx.call(me, "down", 1u32)
        })
        .on("down", move |ctx| -> Result<rpoe::Value, Error> {
            let level = *ctx.arg::<u32>().unwrap();
            let dive = ctx.heap().clone();
            dive.borrow_mut().deepest = level;
            let r = match peer {
                Some(p) => ctx.call(p, "down", level + 1),
                None => {
                    let me = ctx.id();
                    ctx.call(me, "down", level + 1)
                }
            };
            if let Err(Error::CallDepth { event, limit }) = &r {
                dive.borrow_mut()
                    .error
                    .get_or_insert((event.clone(), *limit));
            }
            r
        })
}

/// Run unbounded self-recursion on a kernel built by `build`; returns how
/// deep it got and the error.
fn dive_alone(build: KernelBuilder) -> (u32, Option<(String, u32)>) {
    let mut k = build.build().unwrap();
    let s = diver(None);
    let dive = Rc::new(RefCell::new(Dive::default()));
    let d2 = dive.clone();
    let id = k.spawn(
        s.on("_stop", move |ctx| {
            let mut mine = ctx.heap().borrow_mut();
            let mut out = d2.borrow_mut();
            out.deepest = mine.deepest;
            out.error = mine.error.take();
        }),
        (),
    );
    k.post(id, "go", ()).unwrap();
    k.run().unwrap();
    let mut d = dive.borrow_mut();
    (d.deepest, d.error.take())
}

#[test]
fn unbounded_call_recursion_gets_call_depth_error_at_the_default_limit() {
    // Runs on the test harness's thread (Rust's default 2 MiB stack for
    // threads it spawns). Before the limit this overflowed the stack and
    // aborted the whole test process.
    let (deepest, err) = dive_alone(Kernel::builder());
    // `go` is the first handler on the stack, `down` 1 the second...
    let limit = KernelBuilder::DEFAULT_CALL_DEPTH_LIMIT;
    assert_eq!(deepest, limit - 1);
    assert_eq!(err, Some(("down".to_string(), limit)));
}

#[test]
fn call_depth_limit_holds_on_a_spawned_thread_with_the_default_stack() {
    let t = std::thread::Builder::new()
        .name("default-stack".into())
        .spawn(|| dive_alone(Kernel::builder()).0)
        .unwrap();
    assert_eq!(
        t.join().unwrap(),
        KernelBuilder::DEFAULT_CALL_DEPTH_LIMIT - 1
    );
}

#[test]
fn call_depth_limit_is_configurable() {
    let (deepest, err) = dive_alone(Kernel::builder().call_depth_limit(10));
    assert_eq!(deepest, 9);
    assert_eq!(err, Some(("down".to_string(), 10)));
    assert!(matches!(
        Kernel::builder().call_depth_limit(0).build(),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn ping_pong_calls_between_two_sessions_stop_at_the_limit() {
    let mut k = Kernel::builder().call_depth_limit(50).build().unwrap();
    let a = diver(Some("b"));
    let a_dive = Rc::new(RefCell::new(Dive::default()));
    let a_dive2 = a_dive.clone();
    let a_id = k.spawn(
        a.on("_stop", move |ctx| {
            let mut mine = ctx.heap().borrow_mut();
            let mut out = a_dive2.borrow_mut();
            out.deepest = mine.deepest;
            out.error = mine.error.take();
        }),
        (),
    );
    let b = diver(Some("a"));
    let b_dive = Rc::new(RefCell::new(Dive::default()));
    let b_dive2 = b_dive.clone();
    k.spawn(
        b.on("_stop", move |ctx| {
            let mut mine = ctx.heap().borrow_mut();
            let mut out = b_dive2.borrow_mut();
            out.deepest = mine.deepest;
            out.error = mine.error.take();
        }),
        (),
    );
    k.post(a_id, "go", ()).unwrap();
    let (r, fired) = run_watched(&mut k, Duration::from_secs(10));
    assert!(!fired);
    r.unwrap();
    // `go` and `down` 1..=49 ran, alternating between a and b: 50
    // handlers on the stack; the call from `down` 49 was refused.
    let deepest = a_dive.borrow().deepest.max(b_dive.borrow().deepest);
    assert_eq!(deepest, 49);
    let errors = a_dive.borrow().error.is_some() as u8 + b_dive.borrow().error.is_some() as u8;
    assert_eq!(errors, 1, "exactly the deepest caller saw the refusal");
}

#[test]
fn unbounded_spawn_recursion_fails_the_spawning_handler_at_the_limit() {
    fn nest(depth: Rc<RefCell<u32>>) -> Session<Rc<RefCell<u32>>> {
        Session::new(depth).on("_start", |ctx| {
            let d = ctx.heap().clone();
            *d.borrow_mut() += 1;
            ctx.spawn(nest(d), ());
        })
    }
    let depth = Rc::new(RefCell::new(0));
    let mut k = Kernel::builder().call_depth_limit(100).build().unwrap();
    k.spawn(nest(depth.clone()), ());
    let (r, fired) = run_watched(&mut k, Duration::from_secs(10));
    assert!(!fired);
    // The 100th `_start` could not spawn: it failed (a DIE nobody
    // handled), so run() stops everything and reports it.
    assert_eq!(*depth.borrow(), 100);
    match r {
        Err(Error::HandlerFailed { event, message, .. }) => {
            assert_eq!(event, "_start");
            assert!(message.contains("call depth limit"), "{message}");
        }
        other => panic!("run() returned {other:?}"),
    }
    assert_eq!(k.session_count(), 0);
}
