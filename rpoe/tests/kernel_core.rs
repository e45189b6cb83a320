//! The kernel core's contract, one test per promise: sessions and their
//! lifecycle events, post / yield / call, typed arguments, timers on a
//! manual clock, garbage collection and stop (I/O watchers:
//! `kernel_io_watchers.rs`).

use std::time::Duration;

use rpoe::{Ctx, Error, Kernel, ManualClock, ObjectStates, Session, Value};

mod support;

use support::{lines, log, Log};

#[test]
fn start_gets_creator_args_and_runs_inside_spawn() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    let l2 = l.clone();
    let id = k.spawn(
        Session::new(l.clone()).on("_start", |ctx| {
            let (a, b) = *ctx.arg::<(u32, &str)>().unwrap();
            let sender = ctx.sender();
            ctx.heap()
                .borrow_mut()
                .push(format!("start {a} {b} from {sender}"));
        }),
        (7u32, "x"),
    );
    l2.borrow_mut().push(format!("spawned {}", id.number()));
    k.run().unwrap();
    assert_eq!(lines(&l), ["start 7 x from kernel", "spawned 1"]);
}

#[test]
fn ids_count_from_one_and_are_not_reused() {
    let mut k = Kernel::new().unwrap();
    let a = k.spawn(Session::new(()), ());
    k.run().unwrap();
    let b = k.spawn(Session::new(()), ());
    assert_eq!((a.number(), b.number()), (1, 2));
}

#[test]
fn stop_runs_when_nothing_can_wake_the_session_and_run_returns() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| ctx.yield_event("work", ()))
            .on("work", |ctx| ctx.heap().borrow_mut().push("work".into()))
            .on("_stop", |ctx| ctx.heap().borrow_mut().push("stop".into())),
        (),
    );
    k.run().unwrap();
    assert_eq!(lines(&l), ["work", "stop"]);
    assert_eq!(k.session_count(), 0);
}

#[test]
fn idle_sessions_are_collected_most_recent_first() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    for name in ["A", "B", "C"] {
        k.spawn(
            Session::new((l.clone(), name)).on("_stop", |ctx| {
                let (l, n) = ctx.heap().clone();
                l.borrow_mut().push(n.to_string());
            }),
            (),
        );
    }
    k.run().unwrap();
    assert_eq!(lines(&l), ["C", "B", "A"]);
}

#[test]
fn default_gets_unknown_events_with_their_name_and_args() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| ctx.yield_event("mystery", (1, 2)))
            .on("_default", |ctx| {
                let line = format!(
                    "{} {:?} {:?}",
                    ctx.event_name(),
                    ctx.original_event_name(),
                    ctx.arg::<(i32, i32)>().ok()
                );
                ctx.heap().borrow_mut().push(line);
            }),
        (),
    );
    k.run().unwrap();
    // _default also receives _stop, which this session has no handler for.
    assert_eq!(
        lines(&l),
        [
            "_default Some(\"mystery\") Some((1, 2))",
            "_default Some(\"_stop\") None"
        ]
    );
}

struct Counter {
    n: u32,
    log: Log,
}

impl Counter {
    fn start(ctx: &mut Ctx<'_, Self>) {
        ctx.yield_event("tick", ());
    }
    fn tick(ctx: &mut Ctx<'_, Self>) {
        ctx.heap().n += 1;
        if ctx.heap().n < 3 {
            ctx.yield_event("tick", ());
        }
    }
    fn stop(ctx: &mut Ctx<'_, Self>) {
        let n = ctx.heap().n;
        ctx.heap().log.borrow_mut().push(format!("ticks {n}"));
    }
}

impl ObjectStates for Counter {
    fn states(s: Session<Self>) -> Session<Self> {
        s.on("_start", Self::start)
            .on("tick", Self::tick)
            .on("_stop", Self::stop)
    }
}

#[test]
fn object_states_session() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::object(Counter {
            n: 0,
            log: l.clone(),
        }),
        (),
    );
    k.run().unwrap();
    assert_eq!(lines(&l), ["ticks 3"]);
}

#[test]
fn post_by_id_and_alias_and_call_returns_the_handler_value() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    let svc = k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| ctx.alias_set("svc").unwrap())
            .on("ping", |ctx| {
                let who = ctx.sender();
                let arg = *ctx.arg::<&str>().unwrap();
                ctx.heap()
                    .borrow_mut()
                    .push(format!("ping {arg} from {who}"));
                format!("pong:{arg}")
            }),
        (),
    );
    k.spawn(
        Session::new(l.clone()).on("_start", move |ctx| {
            ctx.post(svc, "ping", "by-id").unwrap();
            ctx.post("svc", "ping", "by-alias").unwrap();
            let v = ctx.call("svc", "ping", "called").unwrap();
            let s = v.take::<String>().unwrap();
            ctx.heap().borrow_mut().push(format!("call returned {s}"));
            let e = ctx.post("nobody", "ping", ()).unwrap_err();
            ctx.heap()
                .borrow_mut()
                .push(format!("nobody: {}", e.errno_name()));
        }),
        (),
    );
    k.run().unwrap();
    assert_eq!(
        lines(&l),
        [
            "ping called from 2",
            "call returned pong:called",
            "nobody: ESRCH",
            "ping by-id from 2",
            "ping by-alias from 2",
        ]
    );
}

#[test]
fn call_into_self_and_back_up_the_call_chain() {
    // A calls B, B calls A back (A is running), A calls itself.
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(0u32)
            .on("_start", |ctx| ctx.alias_set("B").unwrap())
            .on("enter", |ctx| {
                *ctx.heap() += 1;
                let depth = *ctx.arg::<u32>().unwrap();
                let back = ctx.call("A", "enter", depth + 1).unwrap();
                format!("B{depth}>{}", back.take::<String>().unwrap())
            }),
        (),
    );
    k.spawn(
        Session::new((l.clone(), 0u32))
            .on("_start", |ctx| {
                ctx.alias_set("A").unwrap();
                ctx.yield_event("go", ());
            })
            .on("go", |ctx| {
                let r = ctx
                    .call("B", "enter", 1u32)
                    .unwrap()
                    .take::<String>()
                    .unwrap();
                let me = ctx.id();
                let own = ctx.call(me, "self_call", ()).unwrap();
                let seen = ctx.heap().1;
                let line = format!(
                    "{r} / {} / A heap saw {seen} nested entries",
                    own.take::<&str>().unwrap()
                );
                ctx.heap().0.borrow_mut().push(line);
                ctx.alias_remove("A").unwrap();
            })
            .on("enter", |ctx| {
                ctx.heap().1 += 1;
                format!("A{}", ctx.arg::<u32>().unwrap())
            })
            .on("self_call", |ctx| {
                assert_eq!(ctx.event_name(), "self_call");
                "self-ok"
            }),
        (),
    );
    k.run().unwrap();
    assert_eq!(lines(&l), ["B1>A2 / self-ok / A heap saw 1 nested entries"]);
}

#[test]
fn wrong_argument_type_is_an_error_not_a_panic() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| ctx.yield_event("typed", 5u8))
            .on("typed", |ctx| {
                let e = ctx.arg::<String>().unwrap_err();
                assert!(matches!(e, Error::ArgType { .. }));
                let ok = *ctx.arg::<u8>().unwrap();
                let taken = ctx.take_arg::<u8>().unwrap();
                ctx.heap()
                    .borrow_mut()
                    .push(format!("{e} / {ok} / {taken}"));
            }),
        (),
    );
    k.run().unwrap();
    let got = lines(&l);
    assert!(got[0].contains("not alloc::string::String"), "{got:?}");
    // Both types are named: what was sent, and what was asked for.
    assert!(got[0].contains("argument is u8, not"), "{got:?}");
    assert!(got[0].ends_with("/ 5 / 5"), "{got:?}");
}

#[test]
fn calling_an_unknown_event_without_default_is_no_handler() {
    let mut k = Kernel::new().unwrap();
    let id = k.spawn(
        Session::new(()).on("_start", |ctx| ctx.alias_set("x").unwrap()),
        (),
    );
    let e = k.call(id, "nope", ()).unwrap_err();
    assert_eq!(e.errno_name(), "ENOSYS");
    let v: Value = k.call(id, "_start", ()).unwrap();
    assert!(v.is_unit());
    k.stop();
}

#[test]
fn event_ids_are_interned_once() {
    let mut k = Kernel::new().unwrap();
    let a = k.event_id("tick");
    let b = k.event_id("tick");
    let c = k.event_id("tock");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn timers_fire_in_due_order_fifo_among_equals_on_a_manual_clock() {
    let l = log();
    let clock = ManualClock::new();
    let mut k = Kernel::with_manual_clock(clock.clone()).unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                let now = ctx.now();
                ctx.delay_add("t", Duration::from_millis(30), "c");
                ctx.delay_add("t", Duration::from_millis(10), "a");
                ctx.alarm_add("t", now + Duration::from_millis(10), "b");
                ctx.delay("replaced", Duration::from_millis(5), "x");
                ctx.delay("replaced", Duration::from_millis(20), "y");
            })
            .on("t", |ctx| {
                let s = *ctx.arg::<&str>().unwrap();
                ctx.heap().borrow_mut().push(s.to_string());
            })
            .on("replaced", |ctx| {
                let s = *ctx.arg::<&str>().unwrap();
                ctx.heap().borrow_mut().push(format!("replaced {s}"));
            }),
        (),
    );
    assert!(k.run_one_timeslice().unwrap());
    assert!(
        lines(&l).is_empty(),
        "nothing is due before the clock moves"
    );
    clock.advance(Duration::from_millis(10));
    k.run_one_timeslice().unwrap();
    assert_eq!(lines(&l), ["a", "b"]);
    clock.advance(Duration::from_millis(10));
    k.run_one_timeslice().unwrap();
    assert_eq!(lines(&l), ["a", "b", "replaced y"]);
    // With only a future timer left and nothing else to wake it, run()
    // says so instead of hanging.
    assert!(matches!(k.run(), Err(Error::ClockStalled(_))));
    clock.advance(Duration::from_millis(10));
    k.run().unwrap();
    assert_eq!(lines(&l), ["a", "b", "replaced y", "c"]);
}

#[test]
fn alarm_remove_returns_the_timer_and_keeps_the_session_alive_until_then() {
    let l = log();
    let clock = ManualClock::new();
    let mut k = Kernel::with_manual_clock(clock.clone()).unwrap();
    k.spawn(
        Session::new(l.clone()).on("_start", |ctx| {
            let id = ctx.delay_add("gone", Duration::from_secs(1), 42u32);
            let r = ctx.alarm_remove(id).unwrap();
            let again = ctx.alarm_remove(id).unwrap_err();
            let line = format!(
                "{} {:?} {:?} {}",
                r.event,
                r.due.since_start(),
                r.args.get::<u32>(),
                again.errno_name()
            );
            ctx.heap().borrow_mut().push(line);
        }),
        (),
    );
    k.run().unwrap();
    assert_eq!(lines(&l), ["gone 1s Some(42) ESRCH"]);
}

#[test]
fn a_yield_loop_does_not_starve_timers() {
    let l = log();
    let clock = ManualClock::new();
    let mut k = Kernel::with_manual_clock(clock.clone()).unwrap();
    k.spawn(
        Session::new((l.clone(), 0u32))
            .on("_start", |ctx| {
                ctx.delay("timer", Duration::from_millis(1), ());
                ctx.yield_event("spin", ());
            })
            .on("spin", |ctx| {
                ctx.heap().1 += 1;
                if ctx.heap().1 < 1000 {
                    ctx.yield_event("spin", ());
                }
            })
            .on("timer", |ctx| {
                let n = ctx.heap().1;
                ctx.heap()
                    .0
                    .borrow_mut()
                    .push(format!("timer after {n} spins"));
            }),
        (),
    );
    k.run_one_timeslice().unwrap();
    k.run_one_timeslice().unwrap();
    clock.advance(Duration::from_millis(1));
    k.run_one_timeslice().unwrap();
    k.run().unwrap();
    // One spin per round: the timer ran in the third round, not after all 1000.
    assert_eq!(lines(&l), ["timer after 3 spins"]);
}

#[test]
fn kernel_stop_stops_everything_now() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                ctx.delay("never", Duration::from_secs(3600), ());
                ctx.yield_event("halt", ());
            })
            .on("halt", |ctx| {
                ctx.stop_kernel();
                ctx.heap().borrow_mut().push("after stop".into());
            })
            .on("_stop", |ctx| ctx.heap().borrow_mut().push("stop".into())),
        (),
    );
    k.run().unwrap();
    assert_eq!(lines(&l), ["stop", "after stop"]);
    assert_eq!(k.pending_count(), 0);
}

#[test]
fn children_hold_their_parent_and_report_create_and_lose() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                let child = Session::new(())
                    .on("_start", |ctx| {
                        ctx.yield_event("work", ());
                        "kid-start"
                    })
                    .on("work", |_| ())
                    .on("_stop", |_| "kid-stop");
                ctx.spawn(child, ());
            })
            .on("_child", |ctx| {
                let ev = ctx.take_arg::<rpoe::ChildEvent>().unwrap();
                let v = ev.value().and_then(|v| v.get::<&str>().copied());
                ctx.heap().borrow_mut().push(format!(
                    "{} {} {:?}",
                    ev.kind(),
                    ev.child().number(),
                    v
                ));
            })
            .on("_stop", |ctx| {
                ctx.heap().borrow_mut().push("parent stop".into())
            }),
        (),
    );
    k.run().unwrap();
    assert_eq!(
        lines(&l),
        [
            "create 2 Some(\"kid-start\")",
            "lose 2 Some(\"kid-stop\")",
            "parent stop"
        ]
    );
}

#[test]
fn alias_only_sessions_are_stopped_when_the_kernel_runs_dry() {
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| ctx.alias_set("daemon").unwrap())
            .on("_stop", |ctx| {
                ctx.heap().borrow_mut().push("daemon stop".into())
            }),
        (),
    );
    k.run().unwrap();
    assert_eq!(lines(&l), ["daemon stop"]);
}
