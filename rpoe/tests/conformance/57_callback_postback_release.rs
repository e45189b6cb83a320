//! S57: a callback returns its handler's value synchronously; a bare
//! postback (no context, no args) delivers two empty lists a round later;
//! a postback handed away and dropped uncalled releases its session in
//! the round it is dropped.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, Postback, Postbacked, Session, SessionId};

use crate::common::{self, args};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let t_id: Rc<Cell<Option<SessionId>>> = Rc::default();
    let t_set = t_id.clone();
    kernel.spawn(
        Session::new(None::<Postback>)
            .on("_start", move |ctx| {
                t_set.set(Some(ctx.id()));
                ctx.delay("bye", Duration::from_secs_f64(0.4), ());
            })
            .on("take", |ctx| {
                let pb = ctx.take_arg::<Postback>().unwrap();
                *ctx.heap() = Some(pb);
                say!("T holding S2's postback");
                ctx.delay("drop", Duration::from_secs_f64(0.2), ());
            })
            .on("drop", |ctx| {
                say!("T drops the postback without calling it");
                *ctx.heap() = None;
                say!("T drop handler ends");
            })
            .on("bye", |_| say!("T bye"))
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                let cb = ctx.callback("sum", "base10");
                let r = cb.call(ctx, (3i32, 4i32)).unwrap();
                say!(
                    "S callback returned {} (synchronously)",
                    r.get::<i32>().unwrap()
                );
                let pb = ctx.postback("bare", ());
                pb.post(());
                // POE's postback call returns 0; rpoe's post returns ().
                say!("S postback() returned 0; handler not run yet");
            })
            .on("sum", |ctx| {
                let p = ctx.arg::<Postbacked>().unwrap();
                let (a, b) = *p.args.get::<(i32, i32)>().unwrap();
                let line = format!(
                    "S sum ctx=[{}] args=[{a},{b}]",
                    p.context::<&str>().unwrap()
                );
                say!("{line}");
                10 + a + b
            })
            .on("bare", |ctx| {
                let p = ctx.arg::<Postbacked>().unwrap();
                let ctx_list = if p.context::<()>().is_some() { "" } else { "?" };
                // POE's handler gets two arguments, ARG0 = [@ctx] and
                // ARG1 = [@args]; rpoe's one Postbacked carries the same
                // two parts.
                let line = format!("S bare argc=2 ctx=[{ctx_list}] args=[{}]", args(&p.args));
                say!("{line}");
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                let pb = ctx.postback("never", ());
                ctx.post(t_id.get().unwrap(), "take", pb).unwrap();
            })
            .on("never", |_| say!("S2 never (unexpected)"))
            .on("_stop", |_| say!("S2 _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s57_callback_postback_release() {
    common::check("57_callback_postback_release", twin);
}
