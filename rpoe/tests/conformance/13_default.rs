//! S13: `_default` gets unknown events (name, args, STATE `_default`);
//! call() returns its value; without `_default` the event is dropped and
//! call() returns undef; `_default` also receives `_child`; a signal
//! watcher naming a missing handler lands in `_default`, which does not
//! handle it, so a terminal signal stops the session.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session, SessionId, Signal};

use crate::common::{self, ctx_args, value};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let plain: Rc<Cell<Option<SessionId>>> = Rc::default();
    let plain_set = plain.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                plain_set.set(Some(ctx.id()));
                ctx.yield_event("nothing", ());
            })
            .on("known", |_| "known-ret")
            .on("_stop", |_| say!("plain _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                ctx.yield_event("mystery", ("1", "2"));
                let me = ctx.id();
                let r = ctx.call(me, "unknown_call", "z").unwrap();
                say!("call to own unknown event returned {}", value(&r));
                let p = plain.get().unwrap();
                let r = ctx.call(p, "no_such_event", ());
                say!(
                    "call to plain session unknown event returned {}",
                    r.as_ref().map_or("undef".to_string(), value)
                );
                let r = ctx.call(p, "known", ()).unwrap();
                say!("call to plain session known event returned {}", value(&r));
                ctx.spawn(
                    Session::new(())
                        .on("_start", |_| "kid-ret")
                        .on("_stop", |_| {}),
                    (),
                );
            })
            .on("_default", |ctx| {
                let ev = ctx.original_event_name().unwrap_or("?").to_string();
                // Perl prints ref() of references: the child session is
                // `POE::Session`; rpoe passes a ChildEvent.
                let shown = match ctx.arg::<ChildEvent>() {
                    Ok(ch) => format!(
                        "{},POE::Session,{}",
                        ch.kind(),
                        ch.value().map_or("undef".to_string(), value)
                    ),
                    Err(_) => ctx_args(ctx),
                };
                say!(
                    "_default state={} event={ev} args=[{shown}]",
                    ctx.event_name()
                );
                format!("dflt({ev})")
            })
            .on("_stop", |_| say!("D _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.sig("HUP", "no_such_handler").unwrap();
                ctx.delay("never", Duration::from_secs(5), ());
                ctx.yield_event("raise", ());
            })
            .on("raise", |ctx| {
                say!("H signalling itself HUP");
                let me = ctx.id();
                ctx.signal(me, "HUP", "extra").unwrap();
            })
            .on("_default", |ctx| {
                let ev = ctx.original_event_name().unwrap_or("?").to_string();
                let args = match ctx.arg::<Signal>() {
                    Ok(s) => format!("{},{}", s.name(), s.arg::<&str>().copied().unwrap_or("?")),
                    Err(_) => ctx_args(ctx),
                };
                say!("H _default event={ev} args=[{args}]");
            })
            .on("_stop", |_| say!("H _stop (killed by unhandled HUP)")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s13_default() {
    common::check("13_default", twin);
}
