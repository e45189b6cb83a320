//! S54: a held public refcount keeps the kernel from going idle, so the
//! alias-only session gets no IDLE; once the refcount is released (by a
//! real SIGALRM 0.3 s later) IDLE comes (handled), then ZOMBIE
//! (non-maskable) stops the alias-only session.

use std::time::Duration;

use rpoe::{Kernel, Session, Signal};
use signal_hook::consts::SIGALRM;

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                say!("A _start: alias only");
                ctx.alias_set("a").unwrap();
                ctx.sig("IDLE", "on_idle").unwrap();
                ctx.sig("ZOMBIE", "on_zombie").unwrap();
            })
            .on("on_idle", |ctx| {
                say!(
                    "A got {} (handling it)",
                    ctx.arg::<Signal>().unwrap().name()
                );
                ctx.sig_handled();
            })
            .on("on_zombie", |ctx| {
                say!(
                    "A got {} (handling it anyway)",
                    ctx.arg::<Signal>().unwrap().name()
                );
                ctx.sig_handled();
            })
            .on("_stop", |_| say!("A _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                let me = ctx.id();
                say!(
                    "R _start: refcount_increment -> {}",
                    ctx.refcount_increment(me, "hold").unwrap()
                );
                ctx.sig("ALRM", "on_alrm").unwrap();
            })
            .on("on_alrm", |ctx| {
                let me = ctx.id();
                let name = ctx.arg::<Signal>().unwrap().name().to_string();
                say!(
                    "R got {name}: refcount_decrement -> {}",
                    ctx.refcount_decrement(me, "hold").unwrap()
                );
                ctx.sig_remove("ALRM");
            })
            .on("_stop", |_| say!("R _stop")),
        (),
    );
    // POE: ualarm(300_000) before run(): the process's own SIGALRM.
    let alarm = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(300));
        signal_hook::low_level::raise(SIGALRM).unwrap();
    });
    kernel.run().unwrap();
    alarm.join().unwrap();
    say!("main: after run");
}

#[test]
fn s54_idle_zombie_refcount() {
    common::check("54_idle_zombie_refcount", twin);
}
