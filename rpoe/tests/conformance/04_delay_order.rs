//! S04: timers fire in due order whatever order they were set in; delay()
//! replaces same-named timers, delay_add() adds; alarm_remove() cancels and
//! returns (name, time, args); delay_adjust() re-bases on now;
//! alarm_adjust() shifts by a delta. Real time, as the script.

use std::time::Duration;

use rpoe::{Kernel, Session};

use crate::common::{self, args, ctx_args};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                // POE's delay_set is rpoe's delay_add; alarm_set is alarm_add.
                ctx.delay_add("d3", secs(0.90), "x");
                ctx.delay_add("d1", secs(0.20), ());
                ctx.delay_add("d2", secs(0.70), ());
                // alarm_set(a50 => time() + 0.50): POE's wall clock and
                // rpoe's kernel clock both give "now + 0.5 s".
                let at = ctx.now() + secs(0.50);
                ctx.alarm_add("a50", at, ());
                // POE's delay() returns 0 on success (an errno otherwise);
                // rpoe's returns the new timer's id, which cannot fail. The
                // twin prints POE's success value.
                let _id = ctx.delay("rep", secs(0.10), "first");
                say!("delay returned 0");
                ctx.delay("rep", secs(0.80), "second"); // replaces 'first'
                ctx.delay_add("add", secs(0.40), "one");
                ctx.delay_add("add", secs(0.60), "two");
                let gone = ctx.delay_add("gone", secs(0.10), ("g1", "g2"));
                let removed = ctx.alarm_remove(gone).unwrap();
                // POE returns the time as a number; rpoe's Time is always
                // defined.
                let _when = removed.due;
                say!(
                    "removed {} args={} time_defined=1",
                    removed.event,
                    args(&removed.args)
                );
                let adj = ctx.delay_add("adj", secs(1.50), ());
                let new = ctx.delay_adjust(adj, secs(0.30));
                say!(
                    "delay_adjust returned {}",
                    match new {
                        Ok(t) if t.as_secs_f64() > 0.0 => "a time",
                        _ => "false",
                    }
                );
                let aa = ctx.delay_add("aa", secs(1.10), ());
                ctx.alarm_adjust(aa, -1.00).unwrap();
            })
            .on("_default", |ctx| {
                let ev = ctx.original_event_name().unwrap().to_string();
                let a = ctx_args(ctx);
                if a.is_empty() {
                    say!("fired {ev}");
                } else {
                    say!("fired {ev} args={a}");
                }
            })
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s04_delay_order() {
    common::check("04_delay_order", twin);
}
