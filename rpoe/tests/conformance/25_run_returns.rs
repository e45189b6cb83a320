//! S25: run() lifecycle: an empty run returns at once; run() returns after
//! sessions created during the run end; the kernel runs again;
//! run_one_timeslice runs one round; run_while runs until its flag clears.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, Session};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();

    kernel.run().unwrap();
    say!("empty run returned");

    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                say!("first _start");
                ctx.yield_event("spawn", ());
            })
            .on("spawn", |ctx| {
                say!("first spawns a child during run");
                ctx.spawn(
                    Session::new(())
                        .on("_start", |ctx| {
                            ctx.delay("done", Duration::from_secs_f64(0.05), ());
                        })
                        .on("done", |_| say!("child done"))
                        .on("_stop", |_| say!("child _stop")),
                    (),
                );
            })
            .on("_child", |_| {})
            .on("_stop", |_| say!("first _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("first run returned");

    let count = Rc::new(Cell::new(0u32));
    let c = count.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("step", ()))
            .on("step", move |ctx| {
                c.set(c.get() + 1);
                say!("step {}", c.get());
                if c.get() < 6 {
                    ctx.yield_event("step", ());
                }
            })
            .on("_stop", |_| say!("second _stop")),
        (),
    );
    let mut slices = 0;
    while count.get() < 2 && kernel.run_one_timeslice().unwrap() {
        slices += 1;
    }
    let _ = slices;
    say!("after run_one_timeslice loop: count={}", count.get());

    let flag = Rc::new(Cell::new(true));
    let f = flag.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("flip", Duration::from_secs_f64(0.3), ());
            })
            .on("flip", move |_| {
                say!("flip flag");
                f.set(false);
            })
            .on("_stop", |_| say!("flipper _stop")),
        (),
    );
    kernel.run_while(|| flag.get()).unwrap();
    say!("run_while returned: count={}", count.get());
    kernel.run().unwrap();
    say!("final run returned: count={}", count.get());
}

#[test]
fn s25_run_returns() {
    common::check("25_run_returns", twin);
}
