//! S01: `_start` runs inside create(), gets args/heap, SENDER is the
//! kernel; idle sessions stop in the round after creation, most recently
//! idle first; run() returns after the last `_stop`.

use rpoe::{Kernel, Session};

use crate::common::{self, sender};

/// B's heap: `{ n => 5 }`.
struct BHeap {
    n: u32,
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();

    say!("main: before create A");
    let a = kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                let (x, y) = *ctx.arg::<(&str, &str)>().unwrap();
                say!(
                    "A _start id={} sender={} args={x},{y}",
                    ctx.id().number(),
                    sender(ctx.sender())
                );
                "A-start-ret"
            })
            .on("_stop", |_| say!("A _stop")),
        ("x", "y"),
    );
    say!("main: create A returned session id={}", a.number());

    kernel.spawn(
        Session::new(BHeap { n: 5 })
            .on("_start", |ctx| {
                let n = ctx.heap().n;
                say!("B _start id={} heap.n={n}", ctx.id().number());
                ctx.yield_event("work", ());
            })
            .on("work", |_| say!("B work"))
            .on("_stop", |_| say!("B _stop")),
        (),
    );

    say!("main: before run");
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s01_start_stop_order() {
    common::check("01_start_stop_order", twin);
}
