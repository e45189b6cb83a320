//! S09: detach_myself in `_start` (child gets `_parent(P, kernel)`, P never
//! sees `_child create`); detach_child (P gets `_child lose`, then the
//! child `_parent`); EPERM for a kernel child / a non-child, ESRCH for a
//! session that is gone.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{ChildEvent, Kernel, ParentChange, Session, SessionId};

use crate::common::{self, errname, nm, nm_id, set_name};

fn kid(k: &'static str) -> Session<()> {
    Session::new(())
        .on("_start", move |ctx| {
            set_name(ctx.id(), k);
            if k == "C1" {
                say!("C1 _start, detaching myself");
                let ok = ctx.detach_myself();
                say!("C1 detach_myself returned {}", u8::from(ok.is_ok()));
                ctx.delay("again", Duration::from_secs_f64(0.10), ());
            } else {
                say!("C2 _start");
                ctx.delay("idle", Duration::from_secs_f64(0.30), ());
            }
            // POE: _start returns delay()'s value, 0 (seen in P's
            // `_child create ... ret=0`).
            0
        })
        .on("again", move |ctx| {
            let r = ctx.detach_myself();
            say!(
                "{k} detach_myself again returned {} errno={}",
                u8::from(r.is_ok()),
                errname(&r)
            );
        })
        .on("idle", move |_| say!("{k} idle"))
        .on("_parent", move |ctx| {
            let p = *ctx.arg::<ParentChange>().unwrap();
            say!("{k} _parent old={} new={}", nm(p.old), nm(p.new));
        })
        .on("_stop", move |_| say!("{k} _stop"))
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let q_id: Rc<Cell<Option<SessionId>>> = Rc::default();
    let q_set = q_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                q_set.set(Some(ctx.id()));
                set_name(ctx.id(), "Q");
                ctx.delay("bye", Duration::from_secs_f64(0.40), ());
            })
            .on("bye", |_| say!("Q bye"))
            .on("_stop", |_| say!("Q _stop")),
        (),
    );
    kernel.spawn(
        Session::new(Vec::<SessionId>::new())
            .on("_start", |ctx| {
                set_name(ctx.id(), "P");
                for k in ["C1", "C2"] {
                    let id = ctx.spawn(kid(k), ());
                    ctx.heap().push(id);
                }
                ctx.delay("detach", Duration::from_secs_f64(0.20), ());
            })
            .on("detach", move |ctx| {
                let (c1, c2) = (ctx.heap()[0], ctx.heap()[1]);
                let r = ctx.detach_child(c1);
                say!(
                    "P detach_child(C1, already gone) returned {} errno={}",
                    u8::from(r.is_ok()),
                    errname(&r)
                );
                let r = ctx.detach_child(q_id.get().unwrap());
                say!(
                    "P detach_child(Q, not my child) returned {} errno={}",
                    u8::from(r.is_ok()),
                    errname(&r)
                );
                let r = ctx.detach_child(c2);
                say!("P detach_child(C2) returned {}", u8::from(r.is_ok()));
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
fn s09_detach() {
    common::check("09_detach", twin);
}
