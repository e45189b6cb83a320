//! S02: call() runs now and returns the handler's value; post/yield are
//! FIFO; post succeeds, yield returns nothing; unknown destinations fail
//! with ESRCH. The alias-held `svc` stops only when the kernel goes IDLE.

use std::cell::Cell;
use std::rc::Rc;

use rpoe::{Kernel, Session, SessionId};

use crate::common::{self, errno_is, sender};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let svc_id: Rc<Cell<Option<SessionId>>> = Rc::default();

    let svc_id_w = svc_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                svc_id_w.set(Some(ctx.id()));
                ctx.alias_set("svc").unwrap();
            })
            .on("ping", |ctx| {
                let arg = *ctx.arg::<&str>().unwrap();
                say!("svc ping arg={arg} sender={}", sender(ctx.sender()));
                format!("pong:{arg}")
            })
            .on("list", |_| vec![1, 2, 3])
            .on("_stop", |_| say!("svc _stop")),
        (),
    );

    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                // `yield` returns nothing: Perl's undef.
                let () = ctx.yield_event("y1", ());
                say!("C yield returned undef");

                // `post` returns 1 on success: rpoe's Ok(()).
                let p = ctx.post("svc", "ping", "p1");
                say!("C post returned {}", u8::from(p.is_ok()));

                let r = ctx.call("svc", "ping", "c1").unwrap();
                say!("C call returned {}", r.get::<String>().unwrap());

                let l = ctx.call("svc", "list", ()).unwrap();
                let l = l.get::<Vec<i32>>().unwrap();
                let joined: Vec<String> = l.iter().map(i32::to_string).collect();
                say!("C list call returned {}", joined.join(","));

                // Judgement call (README S02 note): Perl's scalar-context
                // call of a handler returning a list gives its last
                // element (comma operator). rpoe returns the one typed
                // value the handler returned (the Vec); a Rust caller
                // wanting POE's scalar reading takes its last element.
                let sr = ctx.call(svc_id.get().unwrap(), "list", ()).unwrap();
                let last = sr.get::<Vec<i32>>().and_then(|v| v.last().copied());
                say!("C scalar call of list returned {}", last.unwrap());

                ctx.yield_event("y2", ());

                let bad = ctx.post("nobody", "x", ());
                say!(
                    "C post to nobody: rv={} esrch={}",
                    u8::from(bad.is_ok()),
                    errno_is(&bad, "ESRCH")
                );
                let bc = ctx.call("nobody", "x", ());
                say!(
                    "C call to nobody: rv={} esrch={}",
                    match &bc {
                        Ok(v) => common::value(v),
                        Err(_) => "undef".to_string(),
                    },
                    errno_is(&bc, "ESRCH")
                );
                say!("C _start end");
            })
            .on("y1", |_| say!("C y1"))
            .on("y2", |_| say!("C y2"))
            .on("_stop", |_| say!("C _stop")),
        (),
    );

    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s02_post_yield_call() {
    common::check("02_post_yield_call", twin);
}
