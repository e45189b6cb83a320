//! S55: a handler failing inside a call() into another session: call()
//! fails at once and the caller goes on; DIE is queued to the callee and
//! reaches its ancestors; a handling ancestor saves it; the caller's DIE
//! watcher is not touched.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{DieInfo, Kernel, Session, SessionId, Signal};

use crate::common::{self, nm, nm_id, set_name};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let c_id: Rc<Cell<Option<SessionId>>> = Rc::default();
    let c_set = c_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                set_name(ctx.id(), "P");
                ctx.sig("DIE", "on_die").unwrap();
                let c_set = c_set.clone();
                ctx.spawn(
                    Session::new(())
                        .on("_start", move |ctx| {
                            c_set.set(Some(ctx.id()));
                            set_name(ctx.id(), "C");
                            ctx.delay("later", Duration::from_secs_f64(0.2), ());
                        })
                        .on_try("boom", |_| -> Result<(), String> {
                            say!("C boom: dying");
                            Err("callee failure".to_string())
                        })
                        .on("later", |_| say!("C later (survived)"))
                        .on("_stop", |_| say!("C _stop")),
                    (),
                );
            })
            .on("on_die", |ctx| {
                let s = ctx.arg::<Signal>().unwrap();
                let ex = s.arg::<DieInfo>().unwrap();
                let line = format!(
                    "P on_die sig={} event={} err={} dest={} source={} (handling)",
                    s.name(),
                    ex.event,
                    ex.message.trim_end(),
                    nm_id(ex.session),
                    nm(ex.source)
                );
                say!("{line}");
                ctx.sig_handled();
            })
            .on("_child", |_| {})
            .on("_stop", |_| say!("P _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                set_name(ctx.id(), "K");
                ctx.sig("DIE", "on_die").unwrap();
                ctx.yield_event("go", ());
            })
            .on("go", move |ctx| {
                say!("K calling C boom");
                let r = ctx.call(c_id.get().unwrap(), "boom", ());
                say!(
                    "K call returned {}",
                    r.as_ref().map_or("undef".to_string(), common::value)
                );
                ctx.yield_event("next", ());
            })
            .on("next", |_| say!("K next"))
            .on("on_die", |_| say!("K on_die (unexpected)"))
            .on("_stop", |_| say!("K _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s55_die_in_call() {
    common::check("55_die_in_call", twin);
}
