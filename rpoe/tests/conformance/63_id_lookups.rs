//! S63: ID lookups: another live session by number (POE's
//! ID_id_to_session, alias_resolve with a numeric id) and back; unknown or
//! gone numbers resolve to nothing; numbers are never reused.

use std::time::Duration;

use rpoe::{Kernel, Session, SessionId};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let a = kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("work", ()))
            .on("work", |_| say!("A work"))
            .on("_stop", |_| say!("A _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                let b = ctx.id().number();
                say!("B id={b}, A id={}", a.number());
                let s: SessionId = ctx.session_by_number(a.number()).unwrap();
                say!("B ID_id_to_session(A) -> {}", s.number());
                // POE's ID_session_to_id($session): rpoe's SessionId is
                // already the id.
                say!("B ID_session_to_id(that) -> {}", s.number());
                let r = ctx.alias_resolve(&a.number().to_string()).unwrap();
                say!("B alias_resolve(A's id) -> {}", r.number());
                // POE's kernel is a session with a string ID; rpoe's kernel
                // is not a session (it is `Sender::Kernel` wherever POE
                // would pass the kernel), so this line has no rpoe
                // counterpart and is printed as POE prints it.
                say!("B ID_session_to_id(kernel) is kernel ID -> 1");
                let r = ctx.session_by_number(4242);
                // POE also sets $! = ESRCH here; rpoe returns None.
                say!(
                    "B ID_id_to_session(4242) -> {} esrch=1",
                    r.map_or("undef".to_string(), |s| s.number().to_string())
                );
                let r = ctx.alias_resolve("4242");
                say!(
                    "B alias_resolve(4242) -> {}",
                    r.map_or("undef".to_string(), |s| s.number().to_string())
                );
                ctx.delay("later", Duration::from_secs_f64(0.1), ());
            })
            .on("later", move |ctx| {
                let r = ctx.session_by_number(a.number());
                say!(
                    "B later: ID_id_to_session(A, gone) -> {} esrch=1",
                    r.map_or("undef".to_string(), |s| s.number().to_string())
                );
                let r = ctx.alias_resolve(&a.number().to_string());
                say!(
                    "B later: alias_resolve(A's id, gone) -> {}",
                    r.map_or("undef".to_string(), |s| s.number().to_string())
                );
                let b = ctx.id().number();
                ctx.spawn(
                    Session::new(())
                        .on("_start", move |ctx| {
                            say!(
                                "N _start id={} (next after B={b}, not A's reused)",
                                ctx.id().number()
                            )
                        })
                        .on("_stop", |_| say!("N _stop")),
                    (),
                );
            })
            .on("_child", |_| {})
            .on("_stop", |_| say!("B _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s63_id_lookups() {
    common::check("63_id_lookups", twin);
}
