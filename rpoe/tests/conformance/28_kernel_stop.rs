//! S28: POE::Kernel->stop() from inside a handler stops every session
//! deepest first, with `_stop` / `_child lose` delivered synchronously
//! inside the stop() call (the calling session's too), discards queued
//! work, and run() returns; the kernel can be run again.

use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session};

use crate::common;

/// `node(P, C, G)`: a chain of sessions, each creating the next in its
/// `_start`; the last yields `halt`.
fn node(chain: &'static [&'static str]) -> Session<()> {
    let n = chain[0];
    let rest = &chain[1..];
    Session::new(())
        .on("_start", move |ctx| {
            ctx.delay("never", Duration::from_secs(5), ());
            if !rest.is_empty() {
                ctx.spawn(node(rest), ());
            } else {
                ctx.yield_event("halt", ());
            }
        })
        .on("halt", move |ctx| {
            say!("{n} calls POE::Kernel->stop");
            ctx.stop_kernel();
            say!("{n} handler continues after stop()");
        })
        .on("never", move |_| say!("{n} never (unexpected)"))
        .on("_child", move |ctx| {
            let kind = ctx.arg::<ChildEvent>().unwrap().kind();
            if kind != "create" {
                say!("{n} _child {kind}");
            }
        })
        .on("_stop", move |_| say!("{n} _stop"))
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(node(&["P", "C", "G"]), ());
    kernel.run().unwrap();
    say!("main: first run returned");

    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("hi", ()))
            .on("hi", |_| say!("again hi"))
            .on("_stop", |_| say!("again _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: second run returned");
}

#[test]
fn s28_kernel_stop() {
    common::check("28_kernel_stop", twin);
}
