//! S59: run_one_timeslice() returns true while sessions exist. In POE the
//! round that collects the last session and the one after it (the
//! kernel's own session getting IDLE) still return true; only the next
//! call returns false.

use rpoe::{Kernel, Session};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.run().unwrap(); // the script's empty run (silences a POE warning)
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                say!("S _start");
                ctx.yield_event("step", 1u32);
            })
            .on("step", |ctx| {
                let n = *ctx.arg::<u32>().unwrap();
                say!("S step {n}");
                if n < 3 {
                    ctx.yield_event("step", n + 1);
                }
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    let mut n = 0;
    loop {
        n += 1;
        let r = kernel.run_one_timeslice().unwrap();
        say!(
            "main: timeslice {n} returned {}",
            if r { "true" } else { "false" }
        );
        if !r {
            break;
        }
        assert!(n <= 20, "runaway");
    }
    say!("main: done after {n} timeslices");
}

#[test]
fn s59_run_one_timeslice_end() {
    common::check("59_run_one_timeslice_end", twin);
}
