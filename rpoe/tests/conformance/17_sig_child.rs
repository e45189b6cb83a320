//! S17: sig_child(pid, ev) keeps the session alive until the child is
//! reaped; ev gets CHLD with the pid and `$?`; sig("CHLD") watchers get
//! the CHLD signal after it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{ChildExit, Kernel, Session, Signal};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let pid: Rc<Cell<u32>> = Rc::default();
    let pid_w = pid.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.sig("CHLD", "any_child").unwrap();
                ctx.delay("linger", Duration::from_secs_f64(1.0), ());
            })
            .on("any_child", move |ctx| {
                let s = ctx.arg::<Signal>().unwrap();
                let ex = s.arg::<ChildExit>().unwrap();
                say!(
                    "W got signal {} pid_matches={} status={}",
                    s.name(),
                    u8::from(ex.pid == pid_w.get()),
                    ex.status
                );
            })
            .on("linger", |ctx| {
                say!("W linger done");
                ctx.sig_remove("CHLD");
            })
            .on("_stop", |_| say!("W _stop")),
        (),
    );
    let pid_s = pid.clone();
    kernel.spawn(
        // The heap keeps sig_child's extra argument: rpoe's sig_child takes
        // none (POE passes `@extra` after `$?`).
        Session::new("ctx")
            .on("_start", move |ctx| {
                // POE forks a child that sleeps 0.1 s and exits 3.
                let child = common::fork_exit("0.1", 3);
                pid_s.set(child);
                say!("S forked child");
                ctx.sig_child(child, "reaped").unwrap();
            })
            .on("reaped", move |ctx| {
                let extra = *ctx.heap();
                let s = ctx.arg::<Signal>().unwrap();
                let ex = s.arg::<ChildExit>().unwrap();
                say!(
                    "S reaped sig={} pid_matches={} exit={} extra={extra}",
                    s.name(),
                    u8::from(ex.pid == pid.get()),
                    ex.status >> 8
                );
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s17_sig_child() {
    common::check("17_sig_child", twin);
}
