//! What the kernel keeps for event names and handler tables (issue 12):
//! names only posted are not kept once nothing queued uses them, and a
//! session's handler table is sized by its own handlers, not by how many
//! names the kernel has seen. Measured through the kernel's own tables.

use std::cell::Cell;
use std::rc::Rc;

use super::dispatch::SessionImpl;
use super::ids::SessionId;
use crate::{Kernel, Session};

/// Distinct names in the burst tests (the figure).
const NAMES: usize = 1_000_000;

/// Slots the handler table of session `id` (heap type `()`) holds.
fn handler_slots(k: &mut Kernel, id: SessionId) -> usize {
    let key = k.core.sessions.key_of(id).expect("session alive");
    let (id, boxed) = k.core.sessions.take_session(key).expect("session alive");
    let boxed = boxed.expect("session not running");
    let Ok(s) = boxed.into_any().downcast::<SessionImpl<()>>() else {
        panic!("heap type is ()");
    };
    let n = s.handlers.slots();
    k.core.sessions.put_session(key, id, s);
    n
}

#[test]
fn a_burst_of_unhandled_names_is_forgotten_once_drained() {
    let mut k = Kernel::new().unwrap();
    let (base, _) = k.core.names.footprint();
    let sid = k.spawn(Session::new(()).on("_start", |_| {}), ());
    for i in 0..NAMES {
        k.post(sid, format!("unhandled {i}").as_str(), ()).unwrap();
    }
    // While queued, the names are needed (a handler may yet be added).
    assert!(k.core.names.footprint().0 >= NAMES);
    k.run().unwrap();
    let (names, slots) = k.core.names.footprint();
    assert!(
        names <= base + 2 && slots <= 4096,
        "after the burst drained the name table holds {names} names in {slots} slots \
         (started with {base})"
    );
    // A session made now gets small ids and a small table.
    let sid = k.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("later", std::time::Duration::from_millis(1), ());
            })
            .on("later", |_| {}),
        (),
    );
    assert!(handler_slots(&mut k, sid) <= 64);
    k.run().unwrap();
}

#[test]
fn a_stream_of_distinct_names_keeps_the_table_bounded() {
    // Each event's `_default` handler posts the next distinct name, so
    // only one is queued at a time; the sweep between rounds must keep
    // the table near its threshold however many names go by.
    let mut k = Kernel::new().unwrap();
    let peak = Rc::new(Cell::new(0usize));
    let seen = peak.clone();
    k.spawn(
        Session::new(0usize)
            .on("_start", |ctx| ctx.yield_event("n0", ()))
            .on("_default", move |ctx| {
                seen.set(seen.get().max(ctx.core.names.footprint().0));
                *ctx.heap() += 1;
                let n = *ctx.heap();
                if n < 200_000 {
                    ctx.yield_event(format!("n{n}").as_str(), ());
                }
            }),
        (),
    );
    k.run().unwrap();
    assert!(peak.get() < 3000, "name table peaked at {}", peak.get());
    assert!(k.core.names.footprint().0 < 16);
}

#[test]
fn a_late_sessions_handler_table_is_sized_by_its_handlers() {
    let mut k = Kernel::new().unwrap();
    // Names held for good (as a user holding `EventId`s would).
    for i in 0..NAMES {
        k.event_id(&format!("held {i}"));
    }
    let sid = k.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("late one", ()))
            .on("late one", |ctx| ctx.yield_event("late two", ()))
            .on("late two", |_| {}),
        (),
    );
    let slots = handler_slots(&mut k, sid);
    assert!(slots <= 8, "a session of 3 handlers holds {slots} slots");
    k.run().unwrap();
    // Held names stay: their ids must keep meaning the same name.
    let held = k.event_id("held 7");
    assert_eq!(k.core.names.name(held), "held 7");
    assert!(k.core.names.footprint().0 >= NAMES);
}

#[test]
fn a_name_pinned_after_a_transient_use_is_kept() {
    // "tick" is first seen as a post (transient), then a handler added at
    // run time and `event_id` pin it: sweeps must not free it.
    let mut k = Kernel::new().unwrap();
    let sid = k.spawn(Session::new(()).on("_start", |_| {}), ());
    k.post(sid, "tick", ()).unwrap();
    let id = k.event_id("tick");
    for i in 0..10_000 {
        k.post(sid, format!("noise {i}").as_str(), ()).unwrap();
    }
    k.run().unwrap();
    assert_eq!(k.core.names.name(id), "tick");
    assert_eq!(k.event_id("tick"), id);
}

#[test]
fn a_burst_of_timers_leaves_no_storage_behind() {
    let clock = crate::ManualClock::new();
    let mut k = Kernel::with_manual_clock(clock.clone()).unwrap();
    let fired = Rc::new(Cell::new(0usize));
    let count = fired.clone();
    k.spawn(
        Session::new(())
            .on("_start", |ctx| {
                for i in 0..200_000u64 {
                    ctx.delay_add("t", std::time::Duration::from_micros(i % 1000), ());
                }
            })
            .on("t", move |_| count.set(count.get() + 1)),
        (),
    );
    assert!(k.core.queue.timer_footprint() >= 200_000);
    clock.advance(std::time::Duration::from_secs(1));
    k.run().unwrap();
    assert_eq!(fired.get(), 200_000);
    let left = k.core.queue.timer_footprint();
    assert!(left < 4096, "the drained timer store holds {left} entries");
}
