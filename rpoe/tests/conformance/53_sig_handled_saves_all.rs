//! S53: one sig_handled saves every touched session (chain P -> M -> G,
//! M without a watcher); a later unhandled INT to M stops M and G only.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session, SessionId};

use crate::common::{self, nm_id, set_name};

type Ids = Rc<RefCell<HashMap<&'static str, SessionId>>>;

fn make(chain: &'static [(&'static str, bool)], ids: Ids) -> Session<()> {
    let (n, watch) = chain[0];
    let rest = &chain[1..];
    Session::new(())
        .on("_start", move |ctx| {
            ids.borrow_mut().insert(n, ctx.id());
            set_name(ctx.id(), n);
            if watch {
                ctx.sig("INT", "on_int").unwrap();
            }
            ctx.delay("alive", Duration::from_secs_f64(0.1), ());
            ctx.delay("bye", Duration::from_secs_f64(0.4), ());
            if !rest.is_empty() {
                ctx.spawn(make(rest, ids.clone()), ());
            }
        })
        .on("on_int", move |ctx| {
            let handle = n == "P";
            say!(
                "{n} on_int{}",
                if handle {
                    " (handled)"
                } else {
                    " (not handled)"
                }
            );
            if handle {
                ctx.sig_handled();
            }
        })
        .on("alive", move |_| say!("{n} alive"))
        .on("bye", move |_| say!("{n} bye"))
        .on("_child", move |ctx| {
            let ch = ctx.arg::<ChildEvent>().unwrap();
            if ch.kind() != "create" {
                let line = format!("{n} _child {} {}", ch.kind(), nm_id(ch.child()));
                say!("{line}");
            }
        })
        .on("_stop", move |_| say!("{n} _stop"))
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let ids: Ids = Rc::default();
    kernel.spawn(
        make(&[("P", true), ("M", false), ("G", true)], ids.clone()),
        (),
    );
    let ids2 = ids.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.yield_event("first", ());
                ctx.delay("second", Duration::from_secs_f64(0.2), ());
            })
            .on("first", move |ctx| {
                say!("driver: signal P INT");
                let p = ids.borrow()["P"];
                ctx.signal(p, "INT", ()).unwrap();
            })
            .on("second", move |ctx| {
                say!("driver: signal M INT");
                let m = ids2.borrow()["M"];
                ctx.signal(m, "INT", ()).unwrap();
            })
            .on("_stop", |_| say!("driver _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s53_sig_handled_saves_all() {
    common::check("53_sig_handled_saves_all", twin);
}
