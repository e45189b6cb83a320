//! S51: a signal sent to the kernel reaches every session's watcher
//! (receivers printed sorted: siblings come in hash order in POE); an
//! unwatched benign signal does nothing; signal to an unknown id fails.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Dest, Kernel, Session, SessionId, Signal};

use crate::common::{self, errno_is};

type Got = Rc<RefCell<Vec<String>>>;
type Ids = Rc<RefCell<Vec<(&'static str, SessionId)>>>;

fn watcher(n: &'static str, child: Option<&'static str>, got: Got, ids: Ids) -> Session<()> {
    let g = got.clone();
    let i = ids.clone();
    Session::new(())
        .on("_start", move |ctx| {
            i.borrow_mut().push((n, ctx.id()));
            ctx.sig_with("PING", "ping", format!("w-{n}")).unwrap();
            ctx.delay("done", Duration::from_secs_f64(0.3), ());
            if let Some(c) = child {
                ctx.spawn(watcher(c, None, g.clone(), i.clone()), ());
            }
        })
        .on("ping", move |ctx| {
            let s = ctx.arg::<Signal>().unwrap();
            got.borrow_mut().push(format!(
                "{n} got {},{},{}",
                s.name(),
                s.arg::<&str>().unwrap(),
                s.extra::<String>().unwrap()
            ));
        })
        .on("done", |_| {})
        .on("_stop", move |_| say!("{n} _stop"))
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let got: Got = Rc::default();
    let ids: Ids = Rc::default();
    kernel.spawn(watcher("A", Some("A1"), got.clone(), ids.clone()), ());
    kernel.spawn(watcher("B", None, got.clone(), ids.clone()), ());
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.yield_event("step1", ()))
            .on("step1", |ctx| {
                ctx.signal_all("PING", "x");
                // POE's signal() returns 1; rpoe's signal_all cannot fail.
                say!("D signal(kernel, PING) returned 1");
                ctx.yield_event("step2", ());
            })
            .on("step2", move |ctx| {
                say!("D PING receivers (sorted):");
                let mut lines = got.borrow().clone();
                lines.sort();
                for l in lines {
                    say!("  {l}");
                }
                ctx.signal_all("QUIET", ());
                let r = ctx.signal(Dest::Number(9999), "PING", ());
                say!(
                    "D signal(9999, PING) returned {} esrch={}",
                    u8::from(r.is_ok()),
                    errno_is(&r, "ESRCH")
                );
                ctx.yield_event("step3", ());
            })
            .on("step3", move |ctx| {
                let mut alive: Vec<&str> = ids
                    .borrow()
                    .iter()
                    .filter(|(_, id)| ctx.session_by_number(id.number()).is_some())
                    .map(|(n, _)| *n)
                    .collect();
                alive.sort();
                say!("D after unwatched QUIET, alive: {}", alive.join(" "));
            })
            .on("_stop", |_| say!("D _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s51_signal_to_kernel() {
    common::check("51_signal_to_kernel", twin);
}
