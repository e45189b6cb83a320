//! S47: posts made from `_stop` (a yield to the dying session, a post to a
//! live one) are never delivered, though post reports success; call() from
//! `_stop` runs the other session's handler and returns its value.

use std::time::Duration;

use rpoe::{Kernel, Session};

use crate::common::{self, value};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.alias_set("B").unwrap();
                ctx.delay("bye", Duration::from_secs_f64(0.3), ());
            })
            .on("note", |_| say!("B note from A (unexpected)"))
            .on("ask", |ctx| {
                say!("B ask: called with {}", ctx.arg::<&str>().unwrap());
                "answer"
            })
            .on("bye", |ctx| {
                say!("B bye; removing alias");
                ctx.alias_remove("B").unwrap();
            })
            .on("_stop", |_| say!("B _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |_| say!("A _start (nothing to do)"))
            .on("late", |_| say!("A late (unexpected)"))
            .on("_stop", |ctx| {
                say!("A _stop begin");
                ctx.yield_event("late", ());
                let ok = ctx.post("B", "note", "from-stop");
                say!("A post from _stop returned {}", u8::from(ok.is_ok()));
                let r = ctx.call("B", "ask", "q");
                say!(
                    "A call from _stop returned {}",
                    r.as_ref().map_or("undef".to_string(), value)
                );
                say!("A _stop end");
            }),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s47_stop_cannot_post() {
    common::check("47_stop_cannot_post", twin);
}
