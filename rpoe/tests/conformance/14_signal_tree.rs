//! S14: a signal reaches its target's subtree deepest first with args
//! (name, signal args, watcher args); unwatched benign signals do nothing;
//! one sig_handled saves everyone; an unhandled terminal signal stops the
//! whole subtree deepest first with `_child lose`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session, SessionId, Signal};

use crate::common::{self, nm_id, set_name};

type Ids = Rc<RefCell<HashMap<&'static str, SessionId>>>;

fn make(chain: &'static [&'static str], ids: Ids) -> Session<u32> {
    let n = chain[0];
    let rest = &chain[1..];
    Session::new(0u32)
        .on("_start", move |ctx| {
            ids.borrow_mut().insert(n, ctx.id());
            set_name(ctx.id(), n);
            ctx.sig_with("PING", "on_ping", format!("extra-{n}"))
                .unwrap();
            ctx.sig("TERM", "on_term").unwrap();
            ctx.delay("keepalive", Duration::from_secs(5), ());
            if !rest.is_empty() {
                ctx.spawn(make(rest, ids.clone()), ());
            }
        })
        .on("on_ping", move |ctx| {
            let s = ctx.arg::<Signal>().unwrap();
            say!(
                "{n} on_ping args={},{},{}",
                s.name(),
                s.arg::<&str>().unwrap(),
                s.extra::<String>().unwrap()
            );
        })
        .on("on_term", move |ctx| {
            let first = *ctx.heap() == 0;
            *ctx.heap() += 1;
            let handle = n == "G" && first;
            say!(
                "{n} on_term{}",
                if handle {
                    " (handled)"
                } else {
                    " (not handled)"
                }
            );
            if handle {
                ctx.sig_handled();
            }
        })
        .on("_child", move |ctx| {
            let ch = ctx.arg::<ChildEvent>().unwrap();
            if ch.kind() != "create" {
                let line = format!("{n} _child {} {}", ch.kind(), nm_id(ch.child()));
                say!("{line}");
            }
        })
        .on("_stop", move |_| say!("{n} _stop"))
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let ids: Ids = Rc::default();
    kernel.spawn(make(&["P", "C", "G"], ids.clone()), ());
    let id = move |n: &str| ids.borrow()[n];
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("step1", ()))
            .on("step1", {
                let id = id.clone();
                move |ctx| {
                    say!("driver: signal P PING");
                    ctx.signal(id("P"), "PING", "x").unwrap();
                    ctx.yield_event("step2", ());
                }
            })
            .on("step2", {
                let id = id.clone();
                move |ctx| {
                    say!("driver: signal P QUIETLY (no watchers)");
                    ctx.signal(id("P"), "QUIETLY", ()).unwrap();
                    ctx.yield_event("step3", ());
                }
            })
            .on("step3", {
                let id = id.clone();
                move |ctx| {
                    say!("driver: signal C TERM");
                    ctx.signal(id("C"), "TERM", ()).unwrap();
                    ctx.yield_event("step4", ());
                }
            })
            .on("step4", move |ctx| {
                say!("driver: signal P TERM");
                ctx.signal(id("P"), "TERM", ()).unwrap();
            })
            .on("_stop", |_| say!("driver _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s14_signal_tree() {
    common::check("14_signal_tree", twin);
}
