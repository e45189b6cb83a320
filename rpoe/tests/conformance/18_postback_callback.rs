//! S18: callback() is synchronous and returns the handler's value;
//! postback() posts asynchronously with the context and the call's args,
//! SENDER being the caller, and holds its session until dropped.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, Postback, Postbacked, Sender, Session, SessionId};

use crate::common::{self, args};

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let t_id: Rc<Cell<Option<SessionId>>> = Rc::default();
    let t_set = t_id.clone();
    kernel.spawn(
        Session::new(None::<Postback>)
            .on("_start", move |ctx| t_set.set(Some(ctx.id())))
            .on("take", |ctx| {
                let pb = ctx.take_arg::<Postback>().unwrap();
                *ctx.heap() = Some(pb);
                say!("T holding postback");
                ctx.delay("fire", Duration::from_secs_f64(0.05), ());
            })
            .on("fire", |ctx| {
                say!("T calls postback");
                ctx.heap().as_ref().unwrap().post(("a", "b"));
                // POE's postback returns 0; rpoe's post returns nothing.
                say!("T postback call returned false");
                ctx.delay("drop", Duration::from_secs_f64(0.05), ());
            })
            .on("drop", |ctx| {
                say!("T drops postback");
                *ctx.heap() = None;
            })
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    let t_got = t_id.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                let cb = ctx.callback("sync", "k");
                say!("S calling callback");
                let r = cb.call(ctx, "v").unwrap();
                say!("S callback returned {}", r.get::<i32>().unwrap());
                drop(cb);
                let pb = ctx.postback("got", ("c1", "c2"));
                ctx.post(t_id.get().unwrap(), "take", pb).unwrap();
            })
            .on("sync", |ctx| {
                let p = ctx.arg::<Postbacked>().unwrap();
                let line = format!(
                    "S sync ctx=[{}] args=[{}]",
                    p.context::<&str>().unwrap(),
                    args(&p.args)
                );
                say!("{line}");
                42i32
            })
            .on("got", move |ctx| {
                let t_is_sender = ctx.sender() == Sender::Session(t_got.get().unwrap());
                let p = ctx.arg::<Postbacked>().unwrap();
                let (c1, c2) = p.context::<(&str, &str)>().unwrap();
                let line = format!(
                    "S got ctx=[{c1},{c2}] args=[{}] sender_is_T={}",
                    args(&p.args),
                    u8::from(t_is_sender)
                );
                say!("{line}");
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s18_postback_callback() {
    common::check("18_postback_callback", twin);
}
