//! S69: an unhandled TERM stops every session: all `_stop`s run first,
//! then the heaps are dropped (Drop impls run), in the order the sessions
//! stopped — POE's DESTROYs come after the last `_stop`.

use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session};

use crate::common;

/// A heap value that reports when it is dropped (POE's DESTROY).
pub(crate) struct Tracker(pub(crate) &'static str);

impl Drop for Tracker {
    fn drop(&mut self) {
        say!("DESTROY {}", self.0);
    }
}

/// P with child C; P's `tick` ends everything with `end`.
pub(crate) fn tree(kernel: &mut Kernel, label: &'static str, end: fn(&mut rpoe::Ctx<'_, Tracker>)) {
    kernel.spawn(
        Session::new(Tracker("P"))
            .on("_start", |ctx| {
                ctx.spawn(
                    Session::new(Tracker("C"))
                        .on("_start", |ctx| {
                            ctx.delay("never", Duration::from_secs(10), ());
                        })
                        .on("_stop", |_| say!("C _stop")),
                    (),
                );
                ctx.delay("tick", Duration::from_secs_f64(0.1), ());
            })
            .on("tick", move |ctx| {
                say!("P {label}");
                end(ctx);
            })
            .on("_child", |ctx| {
                let what = match ctx.arg::<ChildEvent>().unwrap() {
                    ChildEvent::Create(..) => "create",
                    ChildEvent::Lose(..) => "lose",
                    _ => "gain",
                };
                say!("P _child {what}");
            })
            .on("_stop", |_| say!("P _stop")),
        (),
    );
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    tree(&mut kernel, "signals TERM", |ctx| {
        ctx.signal_all("TERM", ())
    });
    let _ = kernel.run();
    say!("main: after run");
}

#[test]
fn s69_stop_all_then_free() {
    common::check("69_stop_all_then_free", twin);
}
