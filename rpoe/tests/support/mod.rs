//! Helpers shared by the kernel-level integration tests (included with
//! `mod support;`).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use rpoe::{Kernel, Session};

/// Run `kernel` until its sessions are done; fail the test if they are
/// still running after `limit` (a watchdog session, held only by an alias,
/// stops the kernel then).
pub fn run_bounded(kernel: &mut Kernel, limit: Duration) {
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.alias_set("watchdog").unwrap())
            .on("expire", move |ctx| {
                f.set(true);
                ctx.stop_kernel();
            }),
        (),
    );
    let handle = kernel.handle();
    let (tx, rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        if rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = handle.post("watchdog", "expire", ());
        }
    });
    let r = kernel.run();
    drop(tx);
    t.join().unwrap();
    assert!(!fired.get(), "the kernel was still running after {limit:?}");
    r.unwrap();
}
