//! `Ctx::call_each`: a run of calls of one event into one session, each
//! with its own argument, entered once. Each test pins one promise of its
//! documentation: order and count, what a failure leaves untaken, that
//! work a handler leaves for the kernel is done between items, and that
//! no item is taken once the session is gone.

use std::cell::RefCell;
use std::rc::Rc;

use rpoe::{ChildEvent, Error, Kernel, Postback, Session, SessionId};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// A session whose `item` handler logs its argument, the event it runs
/// as and who sent it; it panics on 13.
fn sink(log: &Log) -> Session<Option<Postback>> {
    let l = log.clone();
    let l2 = log.clone();
    Session::new(None::<Postback>)
        .on("item", move |ctx| {
            let n = ctx.take_arg::<u64>().unwrap();
            assert_ne!(n, 13, "unlucky");
            let who = match ctx.sender() {
                rpoe::Sender::Session(s) => s.number().to_string(),
                rpoe::Sender::Kernel => "kernel".into(),
            };
            l.borrow_mut()
                .push(format!("{} {n} from {who}", ctx.event_name()));
            // Work for the kernel in the middle of the run.
            if n == 2 {
                if let Some(pb) = ctx.heap() {
                    pb.post(n);
                }
            }
            // Queued after item 2's postback event, as separate calls
            // would have it: the kernel took that work between items.
            if n == 3 {
                ctx.yield_event("own", n);
            }
            n * 10
        })
        .on("_start", |ctx| {
            let pb = ctx.postback("told", ());
            *ctx.heap() = Some(pb);
        })
        .on("told", move |ctx| {
            l2.borrow_mut().push("told".to_string());
            // Let the session end.
            *ctx.heap() = None;
        })
        .on("own", {
            let l = log.clone();
            move |ctx| {
                let n = ctx.take_arg::<u64>().unwrap();
                l.borrow_mut().push(format!("own {n}"));
            }
        })
        .on("_stop", |_| {})
}

/// Spawn `sink`, then a caller whose `_start` runs `body` with it.
fn run(log: &Log, body: impl Fn(&mut rpoe::Ctx<'_, ()>, SessionId) + 'static) -> Result<(), Error> {
    let mut kernel = Kernel::new().unwrap();
    let target = kernel.spawn(sink(log), ());
    kernel.spawn(
        Session::new(()).on("_start", move |ctx| body(ctx, target)),
        (),
    );
    kernel.run()
}

#[test]
fn every_item_runs_in_order_as_its_own_call() {
    let log = log();
    let l = log.clone();
    run(&log, move |ctx, target| {
        let me = ctx.id().number();
        let ran = ctx.call_each(target, "item", [1u64, 2, 3, 4]).unwrap();
        assert_eq!(ran, 4);
        l.borrow_mut().push(format!("ran {ran} from {me}"));
    })
    .unwrap();
    let got = log.borrow().clone();
    // The postback called by item 2 was posted between items (its event
    // runs later, queued), and the run went on after it.
    assert_eq!(
        got,
        [
            "item 1 from 2",
            "item 2 from 2",
            "item 3 from 2",
            "item 4 from 2",
            "ran 4 from 2",
            "told",
            "own 3",
        ]
    );
}

#[test]
fn a_failed_handler_ends_the_run_and_leaves_the_rest_untaken() {
    let log = log();
    let l = log.clone();
    run(&log, move |ctx, target| {
        let mut items = [11u64, 12, 13, 14, 15].into_iter();
        let r = ctx.call_each(target, "item", &mut items);
        assert!(matches!(r, Err(Error::HandlerFailed { .. })), "{r:?}");
        let rest: Vec<u64> = items.collect();
        l.borrow_mut().push(format!("left {rest:?}"));
    })
    // The panic is the sink's DIE, which it does not handle.
    .unwrap_err();
    let got = log.borrow().clone();
    assert_eq!(got, ["item 11 from 2", "item 12 from 2", "left [14, 15]"]);
}

#[test]
fn no_item_is_taken_for_a_session_that_is_gone() {
    let log = log();
    let l = log.clone();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            // A child with nothing to hold it: it stops after `_start`.
            .on("_start", |ctx| {
                ctx.spawn(Session::new(()).on("item", |_| {}), ());
            })
            // Still in the table while it is told it lost the child:
            // look again once that is done.
            .on("_child", |ctx| {
                if let ChildEvent::Lose(gone, _) = ctx.take_arg::<ChildEvent>().unwrap() {
                    ctx.yield_event("later", gone);
                }
            })
            .on("later", move |ctx| {
                let gone = ctx.take_arg::<SessionId>().unwrap();
                let mut items = [1u64, 2].into_iter();
                let r = ctx.call_each(gone, "item", &mut items);
                assert!(matches!(r, Err(Error::NoSuchSession(_))), "{r:?}");
                l.borrow_mut().push(format!("left {}", items.len()));
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(log.borrow().clone(), ["left 2"]);
}

#[test]
fn the_run_ends_when_a_handler_stops_the_kernel() {
    let log = log();
    let l = log.clone();
    let mut kernel = Kernel::new().unwrap();
    let l2 = log.clone();
    let target = kernel.spawn(
        Session::new(()).on("item", move |ctx| {
            let n = ctx.take_arg::<u64>().unwrap();
            l2.borrow_mut().push(format!("item {n}"));
            if n == 2 {
                ctx.stop_kernel();
            }
        }),
        (),
    );
    kernel.spawn(
        Session::new(()).on("_start", move |ctx| {
            let mut items = [1u64, 2, 3, 4].into_iter();
            let r = ctx.call_each(target, "item", &mut items);
            l.borrow_mut()
                .push(format!("{} left {}", r.is_err(), items.len()));
        }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(log.borrow().clone(), ["item 1", "item 2", "true left 2"]);
}

#[test]
fn a_run_into_the_running_session_reaches_its_own_handlers() {
    let log = log();
    let l = log.clone();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(0u64)
            .on("_start", |ctx| {
                let me = ctx.id();
                assert_eq!(ctx.call_each(me, "add", 1..=3u64).unwrap(), 3);
                assert_eq!(*ctx.heap(), 6);
            })
            .on("add", move |ctx| {
                let n = ctx.take_arg::<u64>().unwrap();
                *ctx.heap() += n;
                l.borrow_mut().push(format!("add {n}"));
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(log.borrow().clone(), ["add 1", "add 2", "add 3"]);
}
