//! S46: sessions that become collectable in one round stop at its end in
//! reverse order (A, B, C created idle stop C, B, A); a parent held only
//! by its children is collected in the same sweep as its last child.

use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session};

use crate::common;

fn kid(n: &'static str, secs: f64) -> Session<()> {
    Session::new(())
        .on("_start", move |ctx| {
            ctx.delay("done", Duration::from_secs_f64(secs), ());
        })
        .on("done", move |_| say!("{n} done"))
        .on("_stop", move |_| say!("{n} _stop"))
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Vec::<(u64, &'static str)>::new())
            .on("_start", |ctx| {
                for (n, secs) in [("K1", 0.1), ("K2", 0.2)] {
                    let id = ctx.spawn(kid(n, secs), ());
                    ctx.heap().push((id.number(), n));
                }
            })
            .on("_child", |ctx| {
                let ch = ctx.arg::<ChildEvent>().unwrap();
                let (kind, num) = (ch.kind(), ch.child().number());
                if kind == "lose" {
                    let name = ctx
                        .heap()
                        .iter()
                        .find(|(id, _)| *id == num)
                        .map_or("?", |(_, n)| *n);
                    say!("P _child {kind} {name}");
                }
            })
            .on("_stop", |_| say!("P _stop")),
        (),
    );
    for n in ["A", "B", "C"] {
        kernel.spawn(
            Session::new(())
                .on("_start", move |_| say!("{n} _start"))
                .on("_stop", move |_| say!("{n} _stop")),
            (),
        );
    }
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("tick", Duration::from_secs_f64(0.3), ());
            })
            .on("tick", |_| say!("T tick (after P is gone)"))
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s46_gc_sweep_order() {
    common::check("46_gc_sweep_order", twin);
}
