//! S06: timer API return values and clearing rules: alarm()/delay() by
//! name clear timers however they were set; alarm_remove_all returns
//! (name, time, args) in due order; unknown id → ESRCH; another session's
//! timer → EPERM (remove and adjust); alarm(undef) → EINVAL.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, Session, TimerId};

use crate::common::{self, args, errno_is};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let foreign: Rc<Cell<Option<TimerId>>> = Rc::default();

    let foreign_w = foreign.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                foreign_w.set(Some(ctx.delay_add("owned_elsewhere", secs(0.30), ())));
            })
            .on("owned_elsewhere", |_| say!("A owned_elsewhere fired"))
            .on("_stop", |_| say!("A _stop")),
        (),
    );

    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                let at = ctx.now() + secs(10.0);
                ctx.alarm_add("tick", at, "set");
                ctx.delay_add("tick", secs(5.0), "added");
                ctx.delay_add("tick", secs(7.0), "dset");
                ctx.alarm_clear("tick"); // $k->alarm('tick'): clears all three
                ctx.delay_add("keep", secs(0.02), "k");
                let later = ctx.delay("later", secs(0.03), ());
                ctx.alarm_clear("later"); // $k->delay('later'): clears without setting
                ctx.delay_add("r1", secs(3.0), ("a", "b"));
                ctx.delay_add("r2", secs(1.0), "c");
                for t in ctx.alarm_remove_all() {
                    say!("remove_all: {} args={}", t.event, args(&t.args));
                }
                ctx.delay_add("keep2", secs(0.04), ());

                // The script removes id 999999. rpoe's TimerId cannot be
                // forged, so the twin uses the id of `later`, which is gone
                // (ids are never reused): as unknown to the kernel.
                let r = ctx.alarm_remove(later);
                say!(
                    "remove unknown: n={} esrch={}",
                    if r.is_ok() { 3 } else { 0 },
                    errno_is(&r, "ESRCH")
                );
                let r = ctx.alarm_remove(foreign.get().unwrap());
                say!(
                    "remove foreign: n={} eperm={}",
                    if r.is_ok() { 3 } else { 0 },
                    errno_is(&r, "EPERM")
                );
                let adj = ctx.alarm_adjust(foreign.get().unwrap(), 1.0);
                say!(
                    "adjust foreign: rv={} eperm={}",
                    u8::from(adj.is_ok()),
                    errno_is(&adj, "EPERM")
                );
                // Perl-only: alarm(undef) is a call without an event name,
                // which POE rejects at run time with EINVAL. rpoe's alarm
                // takes the name as a required, typed parameter, so the
                // same mistake is rejected at compile time; the twin prints
                // POE's line for it.
                say!("alarm(undef) returned EINVAL");
            })
            .on("keep", |ctx| {
                say!("B keep fired args={}", ctx.arg::<&str>().unwrap())
            })
            .on("keep2", |_| say!("B keep2 fired"))
            .on("_default", |ctx| {
                say!("B unexpected {}", ctx.original_event_name().unwrap_or("?"))
            })
            .on("_stop", |_| say!("B _stop")),
        (),
    );

    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s06_timer_api_returns() {
    common::check("06_timer_api_returns", twin);
}
