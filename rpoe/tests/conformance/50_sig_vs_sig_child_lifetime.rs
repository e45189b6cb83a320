//! S50: a sig() watcher does not keep a session alive; a pending
//! sig_child() does, until the child is reaped.

use std::cell::Cell;
use std::rc::Rc;

use rpoe::{ChildExit, Kernel, Session, Signal};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.sig("USR1", "usr1").unwrap();
                say!("A _start: watching USR1 only");
            })
            .on("usr1", |_| say!("A usr1 (unexpected)"))
            .on("_stop", |_| say!("A _stop")),
        (),
    );
    let pid: Rc<Cell<u32>> = Rc::default();
    let pid_set = pid.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                // POE forks a child that sleeps 0.2 s and exits 4.
                let child = common::fork_exit("0.2", 4);
                pid_set.set(child);
                ctx.sig_child(child, "reaped").unwrap();
                say!("B _start: forked a child, sig_child on it");
            })
            .on("reaped", move |ctx| {
                let s = ctx.arg::<Signal>().unwrap();
                let ex = s.arg::<ChildExit>().unwrap();
                say!(
                    "B reaped sig={} pid_matches={} exit={}",
                    s.name(),
                    u8::from(ex.pid == pid.get()),
                    ex.status >> 8
                );
            })
            .on("_stop", |_| say!("B _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s50_sig_vs_sig_child_lifetime() {
    common::check("50_sig_vs_sig_child_lifetime", twin);
}
