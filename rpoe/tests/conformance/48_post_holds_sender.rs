//! S48: a queued event holds its sender as well as its receiver: S, which
//! posted to T, lives until T is handed the message; S2, which posted
//! nothing, is collected a round earlier.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, Sender, Session, SessionId};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let s_id: Rc<Cell<Option<SessionId>>> = Rc::default();

    let s_seen = s_id.clone();
    let t = kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("bye", Duration::from_secs_f64(0.2), ());
            })
            .on("msg", move |ctx| {
                let s = s_seen.get().unwrap();
                let from = if ctx.sender() == Sender::Session(s) {
                    "S"
                } else {
                    "?"
                };
                // POE: defined $kernel->ID_id_to_session($s_id)
                let exists = ctx.session_by_number(s.number()).is_some();
                say!("T msg from sender {from}, S exists={}", u8::from(exists));
            })
            .on("bye", |_| say!("T bye"))
            .on("_stop", |_| say!("T _stop")),
        (),
    );

    let s_set = s_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                s_set.set(Some(ctx.id()));
                ctx.yield_event("go", ());
            })
            .on("go", move |ctx| {
                say!("S go: posting to T");
                ctx.post(t, "msg", ()).unwrap();
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("go", ()))
            .on("go", |_| say!("S2 go: posting nothing"))
            .on("_stop", |_| say!("S2 _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s48_post_holds_sender() {
    common::check("48_post_holds_sender", twin);
}
