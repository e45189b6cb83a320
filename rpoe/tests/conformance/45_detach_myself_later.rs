//! S45: detach_myself outside `_start`: the old parent gets `_child lose`
//! (ret undef), then the child `_parent(old, kernel)`, inside the call;
//! the parent, left with nothing, is collected at the end of the round.

use std::time::Duration;

use rpoe::{ChildEvent, Kernel, ParentChange, Session};

use crate::common::{self, nm, nm_id, set_name};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                set_name(ctx.id(), "P");
                ctx.spawn(
                    Session::new(())
                        .on("_start", |ctx| {
                            set_name(ctx.id(), "C");
                            ctx.delay("leave", Duration::from_secs_f64(0.1), ());
                        })
                        .on("leave", |ctx| {
                            say!("C leave: calling detach_myself");
                            let ok = ctx.detach_myself();
                            say!("C detach_myself returned {}", u8::from(ok.is_ok()));
                            ctx.delay("after", Duration::from_secs_f64(0.1), ());
                        })
                        .on("after", |_| say!("C after (still running, top-level)"))
                        .on("_parent", |ctx| {
                            let p = *ctx.arg::<ParentChange>().unwrap();
                            say!("C _parent old={} new={}", nm(p.old), nm(p.new));
                        })
                        .on("_stop", |_| say!("C _stop")),
                    (),
                );
            })
            .on("_child", |ctx| {
                let ch = ctx.arg::<ChildEvent>().unwrap();
                let line = format!(
                    "P _child {} {} ret={}",
                    ch.kind(),
                    nm_id(ch.child()),
                    ch.value().map_or("undef".to_string(), common::value)
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
fn s45_detach_myself_later() {
    common::check("45_detach_myself_later", twin);
}
