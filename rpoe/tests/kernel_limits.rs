//! The kernel under attack (issue 13): every resource a misbehaving
//! handler or thread can consume has a bound, and reaching it ends in an
//! error, not a hang or a crash.
//!
//! - a failing DIE handler ends `run` with an error instead of being
//!   handed its own failure forever;
//! - recursion through `call` (or `spawn`) stops at the call-depth limit
//!   with an error instead of overflowing the stack;
//! - posts from other threads wait in a bounded inbox: a thread posting in
//!   a tight loop is slowed to the kernel's pace instead of growing memory
//!   (the flood itself, with a timer's lateness measured under it, is in
//!   `kernel_flood.rs`, a binary of its own so no sibling test competes
//!   for the CPU);
//! - a round dispatches a bounded batch of events, so I/O gets its turn
//!   under a flood of them, in the same order as without the cap.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mio::net::UnixStream;
use rpoe::{DieInfo, Error, Kernel, KernelBuilder, Session, Signal, TryPostError};

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

#[test]
fn a_handler_at_the_depth_limit_can_still_stop_sessions_and_they_get_stop() {
    // `_stop`, `_child` and `_parent` are the kernel's own events: they get
    // a little headroom past the limit, so nobody misses them because the
    // handler that caused them ran deep.
    let l = log();
    let mut k = Kernel::builder().call_depth_limit(3).build().unwrap();
    let l2 = l.clone();
    k.spawn(
        Session::new(l.clone())
            .on("_start", move |ctx| {
                ctx.spawn(
                    Session::new(l2.clone()).on("_stop", |ctx| {
                        ctx.heap().borrow_mut().push("child _stop".into())
                    }),
                    (),
                );
                ctx.yield_event("go", 1u32);
            })
            .on("go", |ctx| {
                let level = *ctx.arg::<u32>().unwrap();
                let me = ctx.id();
                match ctx.call(me, "go", level + 1) {
                    Err(Error::CallDepth { .. }) => {
                        ctx.heap()
                            .borrow_mut()
                            .push(format!("refused below {level}"));
                        ctx.stop_kernel();
                    }
                    Err(e) => panic!("{e}"),
                    Ok(_) => {}
                }
            })
            .on("_child", |ctx| {
                let kind = ctx.arg::<rpoe::ChildEvent>().unwrap().kind();
                ctx.heap()
                    .borrow_mut()
                    .push(format!("parent _child {kind}"));
            })
            .on("_stop", |ctx| {
                ctx.heap().borrow_mut().push("parent _stop".into())
            }),
        (),
    );
    let (r, fired) = run_watched(&mut k, Duration::from_secs(5));
    assert!(!fired);
    r.unwrap();
    assert_eq!(
        *l.borrow(),
        [
            "parent _child create",
            "refused below 3",
            "child _stop",
            "parent _child lose",
            "parent _stop"
        ]
    );
}

// ----- the cross-thread inbox --------------------------------------------

/// A session aliased "sink" that counts `n` events and records their
/// arguments; a refcount keeps it alive until it has them all.
fn sink(got: Rc<RefCell<Vec<u32>>>, want: usize) -> Session<Rc<RefCell<Vec<u32>>>> {
    Session::new(got)
        .on("_start", |ctx| {
            ctx.alias_set("sink").unwrap();
            let me = ctx.id();
            ctx.refcount_increment(me, "expecting").unwrap();
        })
        .on("n", move |ctx| {
            let v = *ctx.arg::<u32>().unwrap();
            let got = ctx.heap().clone();
            got.borrow_mut().push(v);
            if got.borrow().len() == want {
                let me = ctx.id();
                ctx.refcount_decrement(me, "expecting").unwrap();
            }
        })
}

#[test]
fn try_post_fails_when_the_inbox_is_full_and_gives_the_argument_back() {
    let mut k = Kernel::builder().inbox_capacity(4).build().unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    k.spawn(sink(got.clone(), 4), ());
    let h = k.handle();
    assert_eq!(h.capacity(), 4);
    // The kernel is not running, so nothing makes room.
    let t = std::thread::spawn(move || {
        for i in 0..4u32 {
            h.try_post("sink", "n", i).unwrap();
        }
        let refused = h.try_post("sink", "n", 99u32).unwrap_err();
        assert!(refused.is_full());
        assert_eq!(
            refused.to_string(),
            "the kernel's cross-thread inbox is full"
        );
        assert_eq!(refused.into_inner(), 99);
        assert_eq!(h.queued(), 4);
        h
    });
    let h = t.join().unwrap();
    k.run().unwrap();
    assert_eq!(*got.borrow(), [0, 1, 2, 3]);
    assert_eq!(h.queued(), 0);
    // `?` turns the refusal into the kernel's error type.
    let e: Error = TryPostError::Full(()).into();
    assert!(matches!(e, Error::InboxFull));
}

#[test]
fn post_on_the_kernel_thread_with_a_full_inbox_fails_instead_of_deadlocking() {
    let mut k = Kernel::builder().inbox_capacity(1).build().unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    k.spawn(sink(got.clone(), 1), ());
    let h = k.handle();
    h.post("sink", "n", 1u32).unwrap();
    assert!(matches!(h.post("sink", "n", 2u32), Err(Error::InboxFull)));
    // post_timeout does not wait on this thread either.
    let started = Instant::now();
    let e = h
        .post_timeout("sink", "n", 3u32, Duration::from_secs(60))
        .unwrap_err();
    assert!(e.is_full() && started.elapsed() < Duration::from_secs(30));
    k.run().unwrap();
    assert_eq!(*got.borrow(), [1]);
}

#[test]
fn post_timeout_waits_at_most_the_timeout_for_room() {
    let k = Kernel::builder().inbox_capacity(1).build().unwrap();
    let h = k.handle();
    h.post("nobody", "n", 0u32).unwrap();
    let t = std::thread::spawn(move || {
        let started = Instant::now();
        let r = h.post_timeout("nobody", "n", 1u32, Duration::from_millis(50));
        (r.map_err(|e| e.into_inner()), started.elapsed())
    });
    let (r, waited) = t.join().unwrap();
    assert_eq!(r, Err(1));
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    drop(k);
}

#[test]
fn dropping_the_kernel_fails_posts_waiting_for_room() {
    let k = Kernel::builder().inbox_capacity(1).build().unwrap();
    let h = k.handle();
    h.post("nobody", "n", 0u32).unwrap();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        tx.send(()).unwrap();
        // Blocks (the kernel never runs) until the kernel is dropped;
        // if the drop comes first, it fails at once. Either way: an error.
        h.post("nobody", "n", 1u32)
    });
    rx.recv().unwrap();
    drop(k);
    let r = t.join().unwrap();
    assert!(matches!(r, Err(Error::NoSuchSession(_))), "{r:?}");
}

#[test]
fn posts_from_a_thread_arrive_in_order_through_a_tiny_inbox() {
    // The poster outruns the kernel all the time and must wait for room
    // again and again; nothing is lost or reordered.
    const N: u32 = 20_000;
    let mut k = Kernel::builder().inbox_capacity(8).build().unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    k.spawn(sink(got.clone(), N as usize), ());
    let h = k.handle();
    let t = std::thread::spawn(move || {
        for i in 0..N {
            h.post("sink", "n", i).unwrap();
            assert!(h.queued() <= 8);
        }
    });
    let (r, fired) = run_watched(&mut k, Duration::from_secs(60));
    assert!(!fired);
    r.unwrap();
    t.join().unwrap();
    assert!(got.borrow().iter().copied().eq(0..N));
}

// ----- events per round ------------------------------------------------

#[derive(Default)]
struct Burst {
    theirs: Option<UnixStream>,
    dispatched: usize,
    /// How many burst events had run when the socket's readiness did.
    read_after: Option<usize>,
}

#[test]
fn io_gets_its_turn_within_a_round_of_a_burst_of_events() {
    // A handler queues 100,000 events at once; the first of them makes a
    // socket readable. Before the cap, the round dispatched all 100,000
    // before polling again, so the read waited for the whole burst.
    const BURST: usize = 100_000;
    let (ours, theirs) = UnixStream::pair().unwrap();
    let state = Rc::new(RefCell::new(Burst {
        theirs: Some(theirs),
        ..Burst::default()
    }));
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new((state.clone(), None))
            .on("_start", |ctx| {
                let sock = ctx.take_arg::<UnixStream>().unwrap();
                let h = ctx.add_handle(sock);
                ctx.heap().1 = Some(h);
                ctx.select_read(h, "readable").unwrap();
                for _ in 0..BURST {
                    ctx.yield_event("burst", ());
                }
            })
            .on("burst", |ctx| {
                let st = ctx.heap().0.clone();
                let mut st = st.borrow_mut();
                st.dispatched += 1;
                if st.dispatched == 1 {
                    st.theirs.as_mut().unwrap().write_all(b"x").unwrap();
                }
            })
            .on("readable", |ctx| {
                let h = ctx.heap().1.unwrap();
                let mut b = [0u8; 1];
                assert_eq!(
                    ctx.handle::<UnixStream>(h).unwrap().read(&mut b).unwrap(),
                    1
                );
                ctx.close_handle(h).unwrap();
                let st = ctx.heap().0.clone();
                let mut st = st.borrow_mut();
                st.read_after = Some(st.dispatched);
            }),
        ours,
    );
    let (r, fired) = run_watched(&mut k, Duration::from_secs(60));
    assert!(!fired);
    r.unwrap();
    let st = state.borrow();
    assert_eq!(st.dispatched, BURST);
    let read_after = st.read_after.unwrap();
    assert!(
        read_after <= KernelBuilder::DEFAULT_EVENTS_PER_ROUND,
        "the socket's readiness waited for {read_after} events"
    );
}

/// Events and timers of three sessions that post, yield, call and set
/// zero-delay timers at each other, then stop; returns the order their
/// handlers ran in.
fn interleaving(k: &mut Kernel) -> Vec<String> {
    let l = log();
    for name in ["a", "b", "c"] {
        k.spawn(
            Session::new((l.clone(), name))
                .on("_start", |ctx| {
                    let name = ctx.heap().1;
                    ctx.alias_set(name).unwrap();
                    for i in 0..3u32 {
                        ctx.yield_event("step", i);
                    }
                })
                .on("step", |ctx| {
                    let i = *ctx.arg::<u32>().unwrap();
                    let (l, name) = ctx.heap().clone();
                    l.borrow_mut().push(format!("{name} step {i}"));
                    if i < 12 {
                        ctx.yield_event("step", i + 3);
                        let peer = if name == "a" { "b" } else { "a" };
                        ctx.post(peer, "poke", format!("{name}{i}")).unwrap();
                    }
                    if i % 4 == 0 {
                        ctx.delay_add("tick", Duration::ZERO, i);
                        let me = ctx.id();
                        ctx.call(me, "poke", format!("call{i}")).unwrap();
                    }
                })
                .on("poke", |ctx| {
                    let from = ctx.take_arg::<String>().unwrap();
                    let (l, name) = ctx.heap().clone();
                    l.borrow_mut().push(format!("{name} poke {from}"));
                })
                .on("tick", |ctx| {
                    let i = *ctx.arg::<u32>().unwrap();
                    let (l, name) = ctx.heap().clone();
                    l.borrow_mut().push(format!("{name} tick {i}"));
                })
                .on("_stop", |ctx| {
                    let (l, name) = ctx.heap().clone();
                    l.borrow_mut().push(format!("{name} _stop"));
                }),
            (),
        );
    }
    k.run().unwrap();
    let v = l.borrow().clone();
    v
}

#[test]
fn capping_events_per_round_keeps_their_order() {
    let clock = rpoe::ManualClock::new();
    let mut uncapped = Kernel::with_manual_clock(clock.clone()).unwrap();
    let expected = interleaving(&mut uncapped);
    assert!(expected.len() > 100, "{}", expected.len());
    for cap in [1, 2, 3, 7] {
        let mut k = Kernel::builder()
            .events_per_round(cap)
            .manual_clock(clock.clone())
            .build()
            .unwrap();
        assert_eq!(interleaving(&mut k), expected, "events_per_round({cap})");
    }
    assert!(matches!(
        Kernel::builder().events_per_round(0).build(),
        Err(Error::Invalid(_))
    ));
}
