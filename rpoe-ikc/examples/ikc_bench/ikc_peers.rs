//! The IKC side: kernel `a`, which posts and calls on command, and
//! kernel `b`, which counts posts and answers calls.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpoe::{Kernel, KernelHandle, Session};
use rpoe_ikc::{CallReply, Config, Ikc, Incoming, Publish};

use crate::shared::{handle_hit, tid, Arg};

/// Messages the outgoing buffer may hold (the producer waits for it to
/// drain as soon as it holds one, so this is never reached).
const MAX_PENDING: usize = 8192;

pub(crate) fn config(name: &str, url: &str, n: u64) -> Config {
    let mut c = Config::new(name, url);
    // As async-nats's defaults for the plain clients: same channel, and
    // no slow-consumer drops during a burst.
    c.client_capacity = 2048;
    c.subscription_capacity = n as usize + 1024;
    c.max_pending = MAX_PENDING;
    c.max_pending_bytes = 64 << 20;
    c
}

/// Kernel `b`: counts `hit`s (reporting when the target is reached) and
/// answers `echo`.
pub(crate) fn kernel_b<A: Arg>(
    url: String,
    n: u64,
    ready: mpsc::Sender<(KernelHandle, u64)>,
    done: mpsc::Sender<(Instant, u64)>,
) {
    let ikc = Ikc::new(config("b", &url, n)).unwrap();
    let mut kernel = Kernel::new().unwrap();
    let handle = kernel.handle();
    kernel.spawn(ikc.session(), ());
    let i = ikc.clone();
    kernel.spawn(
        Session::new((0u64, 0u64, 0u64))
            .on("_start", move |ctx| {
                ctx.alias_set("sink").unwrap();
                i.publish(
                    ctx,
                    Publish::new("sink")
                        .event::<A>("hit")
                        .event::<A>("echo")
                        .on_ready("ready"),
                )
                .unwrap();
            })
            .on("ready", move |_| {
                ready.send((handle.clone(), tid())).unwrap()
            })
            .on("target", |ctx| {
                let t = ctx.take_arg::<u64>().unwrap();
                *ctx.heap() = (0, t, 0);
            })
            .on("hit", move |ctx| {
                // The same user code as the plain subscriber's.
                let m = ctx.take_arg::<Incoming<A>>().unwrap();
                let h = ctx.heap();
                if handle_hit(&mut h.0, &mut h.2, &m.from, m.args.n()) == h.1 {
                    done.send((Instant::now(), h.2)).unwrap();
                }
            })
            .on("echo", |ctx| {
                let m = ctx.take_arg::<Incoming<A>>().unwrap();
                if let Some(r) = m.reply {
                    let _ = r.send(&m.args);
                }
            })
            .on("quit", {
                let ikc = ikc.clone();
                move |ctx| ikc.shutdown(ctx)
            }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
}

pub(crate) enum AOut {
    Started(Instant),
    Rtts(Vec<Duration>),
}

pub(crate) struct Driver {
    pub(crate) left: u64,
    pub(crate) seq: u64,
    pub(crate) calls_left: u64,
    pub(crate) sent_at: Instant,
    pub(crate) rtts: Vec<Duration>,
}

/// Kernel `a`: posts and calls on command from the main thread.
pub(crate) fn kernel_a<A: Arg>(
    url: String,
    n: u64,
    pad: String,
    per_event: u64,
    ready: mpsc::Sender<(KernelHandle, u64)>,
    out: mpsc::Sender<AOut>,
) {
    let ikc = Ikc::new(config("a", &url, n)).unwrap();
    let mut kernel = Kernel::new().unwrap();
    let handle = kernel.handle();
    kernel.spawn(ikc.session(), ());
    let i = ikc.clone();
    let out2 = out.clone();
    kernel.spawn(
        Session::new(Driver {
            left: 0,
            seq: 0,
            calls_left: 0,
            sent_at: Instant::now(),
            rtts: Vec::new(),
        })
        .on("_start", move |ctx| {
            ctx.alias_set("driver").unwrap();
            // Stay alive between commands: a publication holds it.
            i.publish(ctx, Publish::new("driver").on_ready("ready"))
                .unwrap();
        })
        .on("ready", move |_| {
            ready.send((handle.clone(), tid())).unwrap()
        })
        .on("posts", move |ctx| {
            let n = ctx.take_arg::<u64>().unwrap();
            ctx.heap().left = n;
            ctx.heap().seq = 0;
            out.send(AOut::Started(Instant::now())).unwrap();
            ctx.yield_event("more", ());
        })
        .on("more", {
            let ikc = ikc.clone();
            let pad = pad.clone();
            move |ctx| {
                // As the plain publisher awaits each publish: go on while
                // the client's channel takes each post at once; when it is
                // full (the post waits in IKC's buffer), go on once the
                // buffer has drained. At most `per_event` per event: the
                // kernel then turns and lets tokio run the client's
                // connection task, as tokio's cooperative budget makes the
                // plain publisher's awaits do every 128 sends.
                let mut k = 0;
                let mut full = false;
                while k < ctx.heap().left.min(per_event) {
                    let s = ctx.heap().seq;
                    ctx.heap().seq += 1;
                    ikc.post(ctx, "b/sink/hit", &A::out(s, &pad)).unwrap();
                    k += 1;
                    if ikc.pending() > 0 {
                        full = true;
                        break;
                    }
                }
                ctx.heap().left -= k;
                if ctx.heap().left > 0 {
                    if full {
                        ikc.notify_drained(ctx, "more");
                    } else {
                        ctx.yield_event("more", ());
                    }
                }
            }
        })
        .on("ikc_error", |ctx| {
            let f = ctx.take_arg::<rpoe_ikc::Failed>().unwrap();
            // The comparison would be void: say so and stop.
            eprintln!("ikc_bench: a post failed, the run is void: {f:?}");
            std::process::exit(1);
        })
        .on("calls", {
            let ikc = ikc.clone();
            let pad = pad.clone();
            move |ctx| {
                let m = ctx.take_arg::<u64>().unwrap();
                let d = ctx.heap();
                d.calls_left = m;
                d.rtts = Vec::with_capacity(m as usize);
                d.sent_at = Instant::now();
                ikc.call::<_, A, _>(ctx, "b/sink/echo", &A::out(m, &pad), "rsvp")
                    .unwrap();
            }
        })
        .on("rsvp", {
            let ikc = ikc.clone();
            let pad = pad.clone();
            move |ctx| {
                let r = ctx.take_arg::<CallReply<A>>().unwrap();
                r.result.expect("answered");
                let d = ctx.heap();
                d.rtts.push(d.sent_at.elapsed());
                d.calls_left -= 1;
                if d.calls_left == 0 {
                    let rtts = std::mem::take(&mut d.rtts);
                    out2.send(AOut::Rtts(rtts)).unwrap();
                    return;
                }
                d.sent_at = Instant::now();
                let left = d.calls_left;
                ikc.call::<_, A, _>(ctx, "b/sink/echo", &A::out(left, &pad), "rsvp")
                    .unwrap();
            }
        })
        .on("quit", {
            let ikc = ikc.clone();
            move |ctx| {
                ikc.unpublish(ctx, "driver");
                ikc.shutdown(ctx);
            }
        }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
}
