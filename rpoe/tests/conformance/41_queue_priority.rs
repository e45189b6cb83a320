//! S41: one time-ordered queue: a timer already past due jumps ahead of
//! FIFO events queued before it; `delay(x => 0)` lands between the yields
//! made before and after it; timers due at the same instant fire in the
//! order they were set.

use std::time::Duration;

use rpoe::{Kernel, Session};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.yield_event("ev", "y1");
                ctx.yield_event("ev", "y2");
                // POE: alarm(past => time() - 5). rpoe's clock starts with
                // the kernel, so "5 s ago" saturates at the clock's origin,
                // which is still before every event queued since.
                let past = ctx.now() - Duration::from_secs(5);
                ctx.alarm("past", past, ());
                ctx.yield_event("ev", "y3");
                ctx.delay("zero", Duration::ZERO, ());
                ctx.yield_event("ev", "y4");
                let at = ctx.now() + Duration::from_secs_f64(0.2);
                ctx.alarm_add("same", at, "first-set");
                ctx.alarm_add("same", at, "second-set");
                ctx.alarm_add("also", at, "third-set");
                ctx.alarm_add("same", at, "fourth-set");
            })
            .on("ev", |ctx| say!("fifo {}", ctx.arg::<&str>().unwrap()))
            .on("past", |_| say!("timer past (due 5 s ago)"))
            .on("zero", |_| say!("timer zero (delay 0)"))
            .on("same", |ctx| {
                say!("timer same {}", ctx.arg::<&str>().unwrap())
            })
            .on("also", |ctx| {
                say!("timer also {}", ctx.arg::<&str>().unwrap())
            })
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s41_queue_priority() {
    common::check("41_queue_priority", twin);
}
