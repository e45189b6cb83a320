//! S15: real OS signals (sent to our own process) reach watchers deepest
//! first; INT handled by B saves both; unhandled TERM stops both and run()
//! returns; the process itself is not killed.

use std::time::Duration;

use rpoe::{ChildEvent, Kernel, Session, Signal};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                for s in ["USR1", "INT", "TERM"] {
                    ctx.sig(s, "on_sig").unwrap();
                }
                ctx.delay("keepalive", Duration::from_secs(10), ());
                ctx.spawn(
                    Session::new(())
                        .on("_start", |ctx| {
                            for s in ["USR1", "INT", "TERM"] {
                                ctx.sig(s, "on_sig").unwrap();
                            }
                            ctx.delay("keepalive", Duration::from_secs(10), ());
                        })
                        .on("on_sig", |ctx| {
                            let s = ctx.arg::<Signal>().unwrap().name().to_string();
                            let h = s == "INT";
                            say!("B got {s}{}", if h { " (handled)" } else { "" });
                            if h {
                                ctx.sig_handled();
                            }
                        })
                        .on("_stop", |_| say!("B _stop")),
                    (),
                );
                ctx.yield_event("send", "USR1");
            })
            .on("send", |ctx| {
                let s = *ctx.arg::<&str>().unwrap();
                say!("A sends SIG{s} to itself");
                // POE: kill $s => $$
                let num = match s {
                    "USR1" => SIGUSR1,
                    "INT" => SIGINT,
                    _ => SIGTERM,
                };
                signal_hook::low_level::raise(num).unwrap();
                let next = match s {
                    "USR1" => Some("INT"),
                    "INT" => Some("TERM"),
                    _ => None,
                };
                if let Some(n) = next {
                    ctx.delay("send", Duration::from_secs_f64(0.1), n);
                }
            })
            .on("on_sig", |ctx| {
                say!("A got {}", ctx.arg::<Signal>().unwrap().name())
            })
            .on("_child", |ctx| {
                say!("A _child {}", ctx.arg::<ChildEvent>().unwrap().kind())
            })
            .on("_stop", |_| say!("A _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s15_os_signals() {
    common::check("15_os_signals", twin);
}
