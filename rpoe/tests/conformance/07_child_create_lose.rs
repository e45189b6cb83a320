//! S07: a child created in a handler runs `_start`, then the parent gets
//! `_child(create, child, start_ret)`, then create() returns; when the
//! child stops: child `_stop`, then parent `_child(lose, child, stop_ret)`;
//! the parent is collected right after its last child.

use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session};

use crate::common::{self, sender};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                say!("P _start begin");
                let c = ctx.spawn(
                    Session::new(())
                        .on("_start", |ctx| {
                            say!("C _start (sender={})", sender(ctx.sender()));
                            ctx.delay("work", Duration::from_secs_f64(0.05), ());
                            "c-start-ret"
                        })
                        .on("work", |_| say!("C work"))
                        .on("_parent", |_| say!("C _parent (unexpected)"))
                        .on("_stop", |_| {
                            say!("C _stop");
                            "c-stop-ret"
                        }),
                    (),
                );
                say!("P create returned child {}", c.number());
                say!("P _start end");
            })
            .on("_child", |ctx| {
                let ch = ctx.arg::<ChildEvent>().unwrap();
                let line = format!(
                    "P _child {} child={} ret={} sender={}",
                    ch.kind(),
                    ch.child().number(),
                    ch.value().map_or("undef".to_string(), common::value),
                    sender(ctx.sender())
                );
                say!("{line}");
            })
            .on("_stop", |_| say!("P _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s07_child_create_lose() {
    common::check("07_child_create_lose", twin);
}
