//! S56: a failure in `_stop` raises no DIE signal; it is kept, everything
//! is stopped, and run() returns it. In POE 1.37 the check comes only
//! after the next dispatched queued event, so T's 0.2 s timer still fires
//! before T is stopped.

use std::time::Duration;

use rpoe::{Error, Kernel, Session};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.sig("DIE", "on_die").unwrap();
                ctx.yield_event("work", ());
            })
            .on("work", |_| say!("S work"))
            .on("on_die", |_| say!("S on_die (unexpected)"))
            .on_try("_stop", |_| -> Result<(), String> {
                say!("S _stop: dying");
                Err("failure in _stop".to_string())
            }),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.sig("DIE", "on_die").unwrap();
                ctx.delay("tick", Duration::from_secs_f64(0.2), ());
                ctx.delay("tock", Duration::from_secs_f64(0.4), ());
            })
            .on("tick", |_| say!("T tick"))
            .on("tock", |_| say!("T tock (unexpected)"))
            .on("on_die", |_| say!("T on_die (unexpected)"))
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    match kernel.run() {
        Ok(()) => say!("main: run returned normally"),
        Err(Error::HandlerFailed { message, .. }) => {
            let first = message.lines().next().unwrap_or("").to_string();
            say!("main: run died with: {first}");
        }
        Err(e) => say!("main: run failed otherwise: {e}"),
    }
}

#[test]
fn s56_die_in_stop() {
    common::check("56_die_in_stop", twin);
}
