//! S52: one watcher per (session, signal): a second sig() replaces the
//! first; sig_remove stops delivery; with its TERM watcher removed the
//! session is stopped by the next TERM.

use std::time::Duration;

use rpoe::{Kernel, Session, Signal};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.sig_with("PING", "first", "a1").unwrap();
                ctx.sig_with("PING", "second", ("b1", "b2")).unwrap();
                ctx.sig("TERM", "on_term").unwrap();
                ctx.delay("never", Duration::from_secs(5), ());
                let me = ctx.id();
                ctx.signal(me, "PING", "p1").unwrap();
                ctx.yield_event("step2", ());
            })
            .on("first", |_| say!("first (unexpected)"))
            .on("second", |ctx| {
                let s = ctx.arg::<Signal>().unwrap();
                let (b1, b2) = s.extra::<(&str, &str)>().unwrap();
                say!("second {},{},{b1},{b2}", s.name(), s.arg::<&str>().unwrap());
            })
            .on("step2", |ctx| {
                say!("step2: sig(PING) removes the watcher, signalling PING again");
                ctx.sig_remove("PING");
                let me = ctx.id();
                ctx.signal(me, "PING", "p2").unwrap();
                ctx.yield_event("step3", ());
            })
            .on("step3", |ctx| {
                say!("step3: still alive; sig(TERM) removed, signalling TERM");
                ctx.sig_remove("TERM");
                let me = ctx.id();
                ctx.signal(me, "TERM", ()).unwrap();
                ctx.yield_event("step4", ());
            })
            .on("step4", |_| say!("step4 (unexpected)"))
            .on("on_term", |_| say!("on_term (unexpected)"))
            .on("never", |_| say!("never (unexpected)"))
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s52_sig_replace_remove() {
    common::check("52_sig_replace_remove", twin);
}
