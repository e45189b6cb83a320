//! S11: public refcounts per (session, tag) return the new count, may go
//! negative, keep the session alive while any tag is non-zero; the held
//! session stops at the end of the round in which its count reaches zero.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, Session, SessionId};

use crate::common::{self, errno_is};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let s_id: Rc<Cell<Option<SessionId>>> = Rc::default();
    let s_set = s_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                let me = ctx.id();
                s_set.set(Some(me));
                say!(
                    "S inc hold -> {}",
                    ctx.refcount_increment(me, "hold").unwrap()
                );
                say!(
                    "S inc hold -> {}",
                    ctx.refcount_increment(me, "hold").unwrap()
                );
                say!(
                    "S dec neg -> {}",
                    ctx.refcount_decrement(me, "neg").unwrap()
                );
                say!(
                    "S inc neg -> {}",
                    ctx.refcount_increment(me, "neg").unwrap()
                );
                // POE: refcount_increment(9999, 'x'). A SessionId cannot be
                // forged; the number 9999 names no session, so rpoe's
                // lookup gives none and the twin reports the kernel's
                // answer for a session that does not exist: ESRCH.
                let bogus = ctx.session_by_number(9999);
                let r = match bogus {
                    Some(id) => ctx.refcount_increment(id, "x"),
                    None => Err(rpoe::Error::NoSuchSession("9999".into())),
                };
                say!(
                    "S inc bogus -> {} esrch={}",
                    r.as_ref().map_or("undef".to_string(), |v| v.to_string()),
                    errno_is(&r, "ESRCH")
                );
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    let s_id2 = s_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("first", Duration::from_secs_f64(0.03), ());
            })
            .on("first", move |ctx| {
                let s = s_id.get().unwrap();
                say!("T dec -> {}", ctx.refcount_decrement(s, "hold").unwrap());
                ctx.delay("second", Duration::from_secs_f64(0.03), ());
            })
            .on("second", move |ctx| {
                let s = s_id2.get().unwrap();
                say!("T dec -> {}", ctx.refcount_decrement(s, "hold").unwrap());
                say!("T handler ends");
            })
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s11_refcount() {
    common::check("11_refcount", twin);
}
