//! S44: a session force-stopped while it has children hands them to its
//! parent: grandparent `_child gain`, then child `_parent(old, new)`, then
//! the session's `_stop` and its parent's `_child lose`. P's unhandled
//! TERM stops C1 (touched) first; C2, created by P's TERM handler after
//! the touched set was taken, is handed up to GP and lives on.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{ChildEvent, Kernel, ParentChange, Session, SessionId};

use crate::common::{self, nm, nm_id, set_name};

fn kid(n: &'static str, secs: f64) -> Session<()> {
    Session::new(())
        .on("_start", move |ctx| {
            set_name(ctx.id(), n);
            ctx.delay("done", Duration::from_secs_f64(secs), ());
        })
        .on("done", move |_| say!("{n} done"))
        .on("_parent", move |ctx| {
            let p = *ctx.arg::<ParentChange>().unwrap();
            say!("{n} _parent old={} new={}", nm(p.old), nm(p.new));
        })
        .on("_stop", move |_| say!("{n} _stop"))
}

fn child_line(who: &str, ch: &ChildEvent) -> String {
    format!("{who} _child {} {}", ch.kind(), nm_id(ch.child()))
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let p_id: Rc<Cell<Option<SessionId>>> = Rc::default();
    let p_set = p_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                set_name(ctx.id(), "GP");
                ctx.delay("linger", Duration::from_secs_f64(0.4), ());
                let p_set = p_set.clone();
                ctx.spawn(
                    Session::new(())
                        .on("_start", move |ctx| {
                            p_set.set(Some(ctx.id()));
                            set_name(ctx.id(), "P");
                            ctx.sig("TERM", "on_term").unwrap();
                            ctx.delay("never", Duration::from_secs(5), ());
                            ctx.spawn(kid("C1", 5.0), ());
                        })
                        .on("on_term", |ctx| {
                            say!("P on_term (not handled), creating C2");
                            ctx.spawn(kid("C2", 0.2), ());
                            say!("P on_term ends");
                        })
                        .on("never", |_| say!("P never (unexpected)"))
                        .on("_child", |ctx| {
                            let line = child_line("P", ctx.arg::<ChildEvent>().unwrap());
                            say!("{line}");
                        })
                        .on("_stop", |_| say!("P _stop")),
                    (),
                );
                ctx.yield_event("kill_p", ());
            })
            .on("kill_p", move |ctx| {
                say!("GP signals P TERM");
                ctx.signal(p_id.get().unwrap(), "TERM", ()).unwrap();
            })
            .on("linger", |_| say!("GP linger"))
            .on("_child", |ctx| {
                let line = child_line("GP", ctx.arg::<ChildEvent>().unwrap());
                say!("{line}");
            })
            .on("_stop", |_| say!("GP _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s44_stop_hands_children_up() {
    common::check("44_stop_hands_children_up", twin);
}
