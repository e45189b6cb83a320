//! S62: two sessions' yield loops interleave one for one, and a round
//! dispatches only what was queued before it began; driven with
//! run_one_timeslice() so the rounds show.

use std::cell::Cell;
use std::rc::Rc;

use rpoe::{Kernel, Session};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.run().unwrap(); // the script's empty run (silences a POE warning)
    let live = Rc::new(Cell::new(0u32));
    for n in ["A", "B"] {
        let (up, down) = (live.clone(), live.clone());
        kernel.spawn(
            Session::new(())
                .on("_start", move |ctx| {
                    up.set(up.get() + 1);
                    ctx.yield_event("tick", 1u32);
                })
                .on("tick", move |ctx| {
                    let i = *ctx.arg::<u32>().unwrap();
                    say!("  {n} tick {i}");
                    if i < 3 {
                        ctx.yield_event("tick", i + 1);
                    }
                })
                .on("_stop", move |_| {
                    down.set(down.get() - 1);
                    say!("  {n} _stop");
                }),
            (),
        );
    }
    let mut round = 0;
    while live.get() > 0 {
        round += 1;
        say!("round {round}");
        kernel.run_one_timeslice().unwrap();
    }
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s62_yield_interleave_rounds() {
    common::check("62_yield_interleave_rounds", twin);
}
