//! Timers set in bulk (issue 12's timer store sorts large batches into a
//! run and keeps small ones on a heap): firing order stays POE's — due
//! time, then the order they were set in — through cancels, moves, a
//! second batch set while the first is firing, and many sessions' timers
//! interleaved; `alarm_remove_all` and `alarm_clear` touch only their own
//! session's timers.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, ManualClock, Session, Time, TimerId};

/// Due time, in ms, of the `i`-th timer: repeats often, so FIFO among
/// equal times is exercised.
fn due_ms(i: u64) -> u64 {
    (i * 7) % 13
}

#[test]
fn bulk_timers_fire_by_due_time_then_set_order() {
    let clock = ManualClock::new();
    let mut kernel = Kernel::with_manual_clock(clock.clone()).unwrap();
    let fired: Rc<RefCell<Vec<u64>>> = Rc::default();
    let log = fired.clone();
    kernel.spawn(
        Session::new(Vec::<TimerId>::new())
            .on("_start", |ctx| {
                for i in 0..2_000u64 {
                    let at = Time::from_start(Duration::from_millis(due_ms(i)));
                    let id = ctx.alarm_add("t", at, i);
                    ctx.heap().push(id);
                }
                // Cancel every 5th; move every 7th (not cancelled) to
                // 20 ms, behind everything else, in the order moved.
                let ids = ctx.heap().clone();
                for (i, id) in ids.iter().enumerate() {
                    if i % 5 == 0 {
                        ctx.alarm_remove(*id).unwrap();
                    } else if i % 7 == 0 {
                        ctx.delay_adjust(*id, Duration::from_millis(20)).unwrap();
                    }
                }
            })
            .on("t", move |ctx| {
                let i = *ctx.arg::<u64>().unwrap();
                log.borrow_mut().push(i);
                if i == 1 {
                    // A second batch while the first is firing, due after
                    // the first's times but before the moved ones.
                    for j in 0..500u64 {
                        let at = Time::from_start(Duration::from_millis(15));
                        ctx.alarm_add("t", at, 10_000 + j);
                    }
                }
            }),
        (),
    );
    clock.advance(Duration::from_secs(1));
    kernel.run().unwrap();

    let mut want: Vec<(u64, u64, u64)> = Vec::new(); // (due ms, order, i)
    let mut order = 0;
    for i in 0..2_000u64 {
        if i % 5 != 0 && i % 7 != 0 {
            want.push((due_ms(i), i, i));
        }
    }
    order += 2_000;
    for j in 0..500u64 {
        want.push((15, order + 10_000 + j, 10_000 + j));
    }
    order += 20_000;
    for i in 0..2_000u64 {
        if i % 5 != 0 && i % 7 == 0 {
            want.push((20, order + i, i));
        }
    }
    want.sort();
    let want: Vec<u64> = want.into_iter().map(|(_, _, i)| i).collect();
    assert_eq!(*fired.borrow(), want);
}

#[test]
fn clearing_one_sessions_timers_leaves_the_others() {
    let clock = ManualClock::new();
    let mut kernel = Kernel::with_manual_clock(clock.clone()).unwrap();
    let fired: Rc<RefCell<Vec<(u32, u64)>>> = Rc::default();
    for s in 0..3u32 {
        let log = fired.clone();
        kernel.spawn(
            Session::new(())
                .on("_start", move |ctx| {
                    for i in 0..300u64 {
                        let name = if i % 2 == 0 { "even" } else { "odd" };
                        ctx.delay_add(name, Duration::from_millis(i % 10), i);
                    }
                    match s {
                        // Session 0 drops its "odd" timers; session 1 all.
                        0 => assert_eq!(ctx.alarm_clear("odd"), 150),
                        1 => assert_eq!(ctx.alarm_remove_all().len(), 300),
                        _ => {}
                    }
                    // `delay` replaces only this session's "even" timers.
                    if s == 2 {
                        ctx.delay("even", Duration::from_millis(50), 999u64);
                    }
                })
                .on("even", {
                    let log = log.clone();
                    move |ctx| log.borrow_mut().push((s, *ctx.arg::<u64>().unwrap()))
                })
                .on("odd", move |ctx| {
                    log.borrow_mut().push((s, *ctx.arg::<u64>().unwrap()))
                }),
            (),
        );
    }
    clock.advance(Duration::from_secs(1));
    kernel.run().unwrap();
    let fired = fired.borrow();
    let of = |s: u32| -> Vec<u64> {
        fired
            .iter()
            .filter(|(k, _)| *k == s)
            .map(|(_, i)| *i)
            .collect()
    };
    let mut evens: Vec<u64> = (0..300).filter(|i| i % 2 == 0).collect();
    evens.sort_by_key(|i| (i % 10, *i));
    assert_eq!(of(0), evens);
    assert!(of(1).is_empty());
    let mut odds: Vec<u64> = (0..300).filter(|i| i % 2 == 1).collect();
    odds.sort_by_key(|i| (i % 10, *i));
    odds.push(999);
    assert_eq!(of(2), odds);
}
