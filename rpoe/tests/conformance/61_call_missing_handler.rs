//! S61: call()/post() of an event with no handler: without `_default`,
//! call gives nothing back (POE: undef, and `$!` reset to 0 by call) and
//! the posted event is dropped; with `_default`, call returns its value
//! and posted events land there. Same for a call into one's own session.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Error, Kernel, Session, SessionId, Value};

use crate::common::{self, ctx_args, value};

/// POE's `defined $r ? $r : 'undef'` plus `$! + 0` after call(). POE's
/// call() resets `$!` to 0 after every dispatch, so a missing handler
/// shows errno=0 although the session layer set ENOSYS; rpoe returns
/// `Error::NoHandler` (README S61), printed here as POE shows it.
fn shown(r: &Result<Value, Error>) -> String {
    match r {
        Ok(v) => format!("{} errno=0", value(v)),
        Err(Error::NoHandler { .. }) => "undef errno=0".to_string(),
        Err(e) => format!("undef error={e}"),
    }
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let ids: Rc<Cell<Option<(SessionId, SessionId)>>> = Rc::default();

    let n = kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("bye", Duration::from_secs_f64(0.2), ());
            })
            .on("known", |_| "known-ret")
            .on("bye", |ctx| {
                let me = ctx.id();
                let r = ctx.call(me, "nope_self", ());
                say!("N call(self, nope_self) -> {}", shown(&r));
            })
            .on("_stop", |_| say!("N _stop")),
        (),
    );
    let d = kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("bye", Duration::from_secs_f64(0.3), ());
            })
            .on("_default", |ctx| {
                let name = ctx.original_event_name().unwrap_or("?").to_string();
                say!("D _default {name} args=[{}]", ctx_args(ctx));
                format!("dflt:{name}")
            })
            .on("bye", |_| {})
            .on("_stop", |_| say!("D _stop")),
        (),
    );
    ids.set(Some((n, d)));

    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("go", ()))
            .on("go", move |ctx| {
                let (n, d) = ids.get().unwrap();
                let r = ctx.call(n, "known", "1");
                say!("C call(N, known) -> {}", shown(&r));
                let r = ctx.call(n, "nope", "1");
                say!("C call(N, nope) -> {}", shown(&r));
                let r = ctx.post(n, "nope", "3");
                say!("C post(N, nope) -> {}", u8::from(r.is_ok()));
                let r = ctx.call(d, "nope", "4").unwrap();
                say!("C call(D, nope) -> {}", value(&r));
                // Perl-only: the same call in list context; rpoe's call
                // returns the one value either way.
                let r = ctx.call(d, "nope", "5").unwrap();
                say!("C call(D, nope) in list context -> [{}]", value(&r));
                let r = ctx.post(d, "nope", "6");
                say!("C post(D, nope) -> {}", u8::from(r.is_ok()));
            })
            .on("_stop", |_| say!("C _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s61_call_missing_handler() {
    common::check("61_call_missing_handler", twin);
}
