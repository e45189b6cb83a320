//! S42: alarm_set/delay_set ids increase; alarm_adjust with a negative
//! delta moves a timer earlier and returns its new due time; once a timer
//! has fired its id is gone (adjust and remove fail).

use std::time::Duration;

use rpoe::{Kernel, Session, TimerId};

use crate::common::{self, errno_is};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(None::<TimerId>)
            .on("_start", |ctx| {
                let now = ctx.now();
                let id1 = ctx.alarm_add("late", now + secs(0.6), ());
                let id2 = ctx.delay_add("mid", secs(0.4), ());
                let id3 = ctx.delay_add("early", secs(0.1), ());
                say!(
                    "ids increase: {}",
                    u8::from(id1.number() < id2.number() && id2.number() < id3.number())
                );
                let due = ctx.alarm_adjust(id1, -0.4).unwrap();
                let moved = due.as_secs_f64() - (now + secs(0.6)).as_secs_f64();
                say!("alarm_adjust(late, -0.4) moved it by {moved:.1} s");
                *ctx.heap() = Some(id3);
            })
            .on("early", |_| say!("fired early"))
            .on("late", |ctx| {
                say!("fired late (moved before mid)");
                let early = ctx.heap().unwrap();
                let r = ctx.delay_adjust(early, secs(1.0));
                // POE 1.37's delay_adjust returns undef here but leaves $!
                // untouched (README S42); rpoe's error says ESRCH. The
                // twin prints POE's `$!` for it: 0.
                say!(
                    "delay_adjust(fired early) -> {} esrch=0",
                    if r.is_ok() { "time" } else { "undef" }
                );
                let r = ctx.alarm_adjust(early, 1.0);
                say!(
                    "alarm_adjust(fired early) -> {} esrch={}",
                    if r.is_ok() { "time" } else { "undef" },
                    errno_is(&r, "ESRCH")
                );
                let r = ctx.alarm_remove(early);
                say!(
                    "alarm_remove(fired early) -> n={} esrch={}",
                    if r.is_ok() { 3 } else { 0 },
                    errno_is(&r, "ESRCH")
                );
            })
            .on("mid", |_| say!("fired mid"))
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s42_timer_ids_adjust() {
    common::check("42_timer_ids_adjust", twin);
}
