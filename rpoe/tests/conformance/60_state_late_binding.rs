//! S60: handlers are looked up at dispatch time: the first of three queued
//! `ev` events installs v2 with state() (a call right after reaches v2),
//! so the second runs v2; v2 removes `ev` while running, so a call and
//! the third queued event go to `_default`; a handler installed inside a
//! handler can be called at once.

use rpoe::{Ctx, Kernel, Session};

use crate::common::{self, value};

fn v2(ctx: &mut Ctx<'_, ()>) -> Option<&'static str> {
    let arg = *ctx.arg::<&str>().unwrap();
    say!("ev v2 arg={arg} state={}", ctx.event_name());
    if arg == "direct" {
        return Some("v2-ret");
    }
    say!("ev v2: removing ev");
    ctx.state_remove("ev");
    let me = ctx.id();
    let r = ctx.call(me, "ev", "after-remove");
    say!(
        "call after removal returned {}",
        r.as_ref().map_or("undef".to_string(), value)
    );
    ctx.state("fresh", |ctx| {
        format!("fresh:{}", ctx.arg::<&str>().unwrap())
    });
    let r = ctx.call(me, "fresh", "x").unwrap();
    say!(
        "call to a handler installed just now returned {}",
        value(&r)
    );
    None
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                for a in ["1", "2", "3"] {
                    ctx.yield_event("ev", a);
                }
            })
            .on("ev", |ctx| {
                say!(
                    "ev original arg={}: installing v2",
                    ctx.arg::<&str>().unwrap()
                );
                ctx.state("ev", v2);
                let me = ctx.id();
                let r = ctx.call(me, "ev", "direct").unwrap();
                let r = r.get::<Option<&str>>().copied().flatten().unwrap_or("?");
                say!("call right after replacing returned {r}");
            })
            .on("_default", |ctx| {
                let name = ctx.original_event_name().unwrap_or("?").to_string();
                say!("_default got {name} args=[{}]", common::ctx_args(ctx));
                "dflt"
            })
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s60_state_late_binding() {
    common::check("60_state_late_binding", twin);
}
