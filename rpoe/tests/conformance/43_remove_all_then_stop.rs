//! S43: alarm_remove_all returns every pending timer in due order, and a
//! session held only by them is collected at the end of that round.

use std::time::Duration;

use rpoe::{Kernel, Session};

use crate::common::{self, args};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("c", secs(0.9), "c-arg");
                ctx.delay("a", secs(0.3), ("a-arg", "a2"));
                ctx.delay("b", secs(0.6), ());
                ctx.yield_event("clear", ());
            })
            .on("clear", |ctx| {
                let all = ctx.alarm_remove_all();
                say!("S removed {} timers", all.len());
                for t in &all {
                    say!("S removed {} args=[{}]", t.event, args(&t.args));
                }
                say!("S clear handler ends");
            })
            .on("a", |_| say!("S a fired (unexpected)"))
            .on("b", |_| say!("S b fired (unexpected)"))
            .on("c", |_| say!("S c fired (unexpected)"))
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("tick", secs(0.2), ());
            })
            .on("tick", |_| say!("T tick at 0.2 s"))
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s43_remove_all_then_stop() {
    common::check("43_remove_all_then_stop", twin);
}
