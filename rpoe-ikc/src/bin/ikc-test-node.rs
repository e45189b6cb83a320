//! A kernel on the bus for the integration tests (tests/bus.rs) and for
//! trying IKC by hand: one process, one kernel, two published sessions.
//!
//! `ikc-test-node NATS_URL KERNEL_NAME [--sub-cap N] [--slow-ms N]
//! [--max-pending N] [--client-cap N] [--call-timeout-ms N]
//! [--user U --password P | --token T] [--tls-ca CA.pem] [--quit-after-ms N]`
//!
//! - `svc` serves: `hit` (u64 sequence number; counted, with the sending
//!   kernel), `echo` (a string; answers `KERNEL:string`), `count`
//!   (answers `[hits, [senders], last_seq, max_seq, decode_errors,
//!   breaks]`, breaks: hits that did not follow the one before), `die` (answers
//!   `"bye"`, then the session is stopped by a KILL signal: a remote
//!   session dying), `stall` (a string, ignored; keeps the call unanswered), `slow` (u64;
//!   counted like `hit`, each taking `--slow-ms` of the kernel's time).
//! - `ctl` drives this kernel from outside: `post` (`[address, n,
//!   first_seq]`: post `n` hits, answers the number queued), `produce`
//!   (the same arguments: post `n` hits following back-pressure — while
//!   nothing is pending, then waiting with `Ikc::notify_drained` —
//!   answering `[posted, waits]` once the last one left the buffer), `postbig`
//!   (`[address, size]`: post a string of `size` bytes), `stream`
//!   (`[address, n, first_seq, every_ms]`: post `n` hits, one per
//!   interval; answers at once), `call` (`[address, arg, n, timeout_ms]`:
//!   `n` calls of `echo` at once; answers with the results once all came
//!   back), `stats` (answers `[sent, delivered, dropped_full,
//!   slow_consumer, reconnects, pending, errors_full, errors_other,
//!   stream_left]`), `quit` (leave the bus and exit).
//!
//! It prints `READY` once both sessions are subscribed, `BUS <event>`
//! for each bus event and `ERROR <to>: <error>` for each error event, so
//! a test can wait for them.

use std::collections::BTreeSet;
use std::time::Duration;

use rpoe::{Kernel, Session};
use rpoe_ikc::{BusEvent, CallReply, Config, Error, Failed, Ikc, Incoming, Publish, ReplyTo};

#[derive(Default)]
struct Svc {
    hits: u64,
    senders: BTreeSet<String>,
    last_seq: u64,
    max_seq: u64,
    decode_errors: u64,
    /// Hits whose number did not follow the one before (out of order,
    /// or one lost in between).
    breaks: u64,
    stalled: Vec<ReplyTo>,
    slow: Duration,
}

#[derive(Default)]
struct Ctl {
    errors_full: u64,
    errors_other: u64,
    batch: Option<Batch>,
    stream: Option<Stream>,
    produce: Option<Produce>,
    ready: u32,
}

/// A `produce` under way.
struct Produce {
    to: String,
    next: u64,
    left: u64,
    posted: u64,
    waits: u64,
    reply: Option<ReplyTo>,
}

struct Batch {
    left: u64,
    results: Vec<Result<(Option<String>, String), String>>,
    reply: Option<ReplyTo>,
}

struct Stream {
    to: String,
    next: u64,
    left: u64,
    every: Duration,
}

type Stat = (u64, u64, u64, u64, u64, usize, u64, u64, u64);

fn ready(n: &mut u32) {
    *n += 1;
    if *n == 2 {
        println!("READY");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: ikc-test-node NATS_URL KERNEL_NAME [options]".into());
    }
    let mut cfg = Config::new(args[2].as_str(), args[1].as_str());
    cfg.reconnect_delay_max = Duration::from_millis(100);
    let mut slow_ms = 0u64;
    let mut user = None;
    let mut quit_after = None;
    let mut i = 3;
    while i + 1 < args.len() {
        let text = args[i + 1].clone();
        match args[i].as_str() {
            "--user" => {
                user = Some(text);
                i += 2;
                continue;
            }
            "--password" => {
                cfg.auth = rpoe_ikc::Auth::UserPassword {
                    user: user.clone().unwrap_or_default(),
                    password: text,
                };
                i += 2;
                continue;
            }
            "--tls-ca" => {
                cfg.tls.root_certificates.push(text.into());
                cfg.tls.required = true;
                i += 2;
                continue;
            }
            "--token" => {
                cfg.auth = rpoe_ikc::Auth::Token(text);
                i += 2;
                continue;
            }
            _ => {}
        }
        let v: u64 = text.parse()?;
        match args[i].as_str() {
            "--sub-cap" => cfg.subscription_capacity = v as usize,
            "--slow-ms" => slow_ms = v,
            "--max-pending" => cfg.max_pending = v as usize,
            "--client-cap" => cfg.client_capacity = v as usize,
            "--call-timeout-ms" => cfg.call_timeout = Duration::from_millis(v),
            "--quit-after-ms" => quit_after = Some(Duration::from_millis(v)),
            other => return Err(format!("unknown option {other}").into()),
        }
        i += 2;
    }
    let ikc = Ikc::new(cfg)?;
    let mut kernel = Kernel::new()?;
    kernel.spawn(ikc.session(), ());
    let shared_ready = std::rc::Rc::new(std::cell::Cell::new(0u32));

    let (i1, r1) = (ikc.clone(), shared_ready.clone());
    kernel.spawn(
        Session::new(Svc {
            slow: Duration::from_millis(slow_ms),
            ..Svc::default()
        })
        .on("_start", move |ctx| {
            i1.publish(
                ctx,
                Publish::new("svc")
                    .event::<u64>("hit")
                    .event::<String>("echo")
                    .event::<()>("count")
                    .event::<()>("die")
                    .event::<String>("stall")
                    .event::<u64>("slow")
                    .on_ready("ready"),
            )
            .expect("publish svc");
        })
        .on("ready", move |_| {
            let mut n = r1.get();
            ready(&mut n);
            r1.set(n);
        })
        .on("hit", |ctx| {
            let m = ctx.take_arg::<Incoming<u64>>().unwrap();
            count(ctx.heap(), &m);
        })
        .on("slow", |ctx| {
            let m = ctx.take_arg::<Incoming<u64>>().unwrap();
            std::thread::sleep(ctx.heap().slow);
            count(ctx.heap(), &m);
        })
        .on("echo", |ctx| {
            let m = ctx.take_arg::<Incoming<String>>().unwrap();
            let me = std::env::args().nth(2).unwrap_or_default();
            if let Some(r) = m.reply {
                let _ = r.send(&format!("{me}:{}", m.args));
            }
        })
        .on("count", |ctx| {
            let m = ctx.take_arg::<Incoming<()>>().unwrap();
            let s = ctx.heap();
            let answer = (
                s.hits,
                s.senders.iter().cloned().collect::<Vec<_>>(),
                s.last_seq,
                s.max_seq,
                s.decode_errors,
                s.breaks,
            );
            if let Some(r) = m.reply {
                let _ = r.send(&answer);
            }
        })
        .on("die", |ctx| {
            let m = ctx.take_arg::<Incoming<()>>().unwrap();
            if let Some(r) = m.reply {
                let _ = r.send("bye");
            }
            let me = ctx.id();
            let _ = ctx.signal(me, "KILL", ());
        })
        .on("stall", |ctx| {
            let m = ctx.take_arg::<Incoming<String>>().unwrap();
            if let Some(r) = m.reply {
                ctx.heap().stalled.push(r);
                println!("STALLED");
            }
        })
        .on("ikc_error", |ctx| {
            let f = ctx.take_arg::<Failed>().unwrap();
            if matches!(f.error, Error::Decode(_)) {
                ctx.heap().decode_errors += 1;
            }
            println!("ERROR {}: {}", f.to, f.error);
        })
        .on("_stop", |_| println!("SVC STOPPED")),
        (),
    );

    let (i2, r2) = (ikc.clone(), shared_ready);
    kernel.spawn(
        Session::new(Ctl::default())
            .on("_start", move |ctx| {
                i2.monitor(ctx, "bus");
                if let Some(after) = quit_after {
                    ctx.delay("quit_timer", after, ());
                }
                i2.publish(
                    ctx,
                    Publish::new("ctl")
                        .event::<(String, u64, u64)>("post")
                        .event::<(String, u64, u64)>("produce")
                        .event::<(String, u64)>("postbig")
                        .event::<(String, u64, u64, u64)>("stream")
                        .event::<(String, String, u64, u64)>("call")
                        .event::<()>("stats")
                        .event::<()>("quit")
                        .on_ready("ready"),
                )
                .expect("publish ctl");
            })
            .on("ready", move |ctx| {
                let mut n = r2.get();
                ready(&mut n);
                r2.set(n);
                ctx.heap().ready = n;
            })
            .on("bus", |ctx| {
                let ev = ctx.take_arg::<BusEvent>().unwrap();
                println!("BUS {ev:?}");
            })
            .on("post", {
                let ikc = ikc.clone();
                move |ctx| {
                    let m = ctx.take_arg::<Incoming<(String, u64, u64)>>().unwrap();
                    let (to, n, first) = m.args;
                    let mut queued = 0u64;
                    for seq in first..first + n {
                        if ikc.post(ctx, &to, &seq).is_ok() {
                            queued += 1;
                        }
                    }
                    if let Some(r) = m.reply {
                        let _ = r.send(&queued);
                    }
                }
            })
            .on("produce", |ctx| {
                let m = ctx.take_arg::<Incoming<(String, u64, u64)>>().unwrap();
                let (to, n, first) = m.args;
                ctx.heap().produce = Some(Produce {
                    to,
                    next: first,
                    left: n,
                    posted: 0,
                    waits: 0,
                    reply: m.reply,
                });
                ctx.yield_event("produce_more", ());
            })
            .on("produce_more", {
                let ikc = ikc.clone();
                move |ctx| {
                    let Some(mut p) = ctx.heap().produce.take() else {
                        return;
                    };
                    while p.left > 0 {
                        if ikc.post(ctx, &p.to, &p.next).is_ok() {
                            p.posted += 1;
                        }
                        p.next += 1;
                        p.left -= 1;
                        if ikc.pending() > 0 {
                            break;
                        }
                    }
                    if p.left == 0 && ikc.pending() == 0 {
                        if let Some(r) = p.reply.take() {
                            let _ = r.send(&(p.posted, p.waits));
                        }
                        return;
                    }
                    p.waits += 1;
                    ctx.heap().produce = Some(p);
                    ikc.notify_drained(ctx, "produce_more");
                }
            })
            .on("postbig", {
                let ikc = ikc.clone();
                move |ctx| {
                    let m = ctx.take_arg::<Incoming<(String, u64)>>().unwrap();
                    let (to, size) = m.args;
                    let r = ikc.post(ctx, &to, &"x".repeat(size as usize));
                    if let Some(reply) = m.reply {
                        let _ = reply.send(&r.is_ok());
                    }
                }
            })
            .on("stream", |ctx| {
                let m = ctx.take_arg::<Incoming<(String, u64, u64, u64)>>().unwrap();
                let (to, n, first, every) = m.args;
                ctx.heap().stream = Some(Stream {
                    to,
                    next: first,
                    left: n,
                    every: Duration::from_millis(every),
                });
                ctx.yield_event("tick", ());
                if let Some(r) = m.reply {
                    let _ = r.send("started");
                }
            })
            .on("tick", {
                let ikc = ikc.clone();
                move |ctx| {
                    let Some(s) = ctx.heap().stream.as_mut() else {
                        return;
                    };
                    if s.left == 0 {
                        println!("STREAM DONE {}", s.next);
                        return;
                    }
                    let (to, seq, every) = (s.to.clone(), s.next, s.every);
                    s.next += 1;
                    s.left -= 1;
                    let _ = ikc.post(ctx, &to, &seq);
                    ctx.delay("tick", every, ());
                }
            })
            .on("call", {
                let ikc = ikc.clone();
                move |ctx| {
                    let m = ctx
                        .take_arg::<Incoming<(String, String, u64, u64)>>()
                        .unwrap();
                    let (to, arg, n, timeout) = m.args;
                    ctx.heap().batch = Some(Batch {
                        left: n,
                        results: Vec::new(),
                        reply: m.reply,
                    });
                    // "@big:N" stands for N bytes of 'x' (larger than the
                    // driver could send through a server with a small
                    // max_payload).
                    let arg = match arg.strip_prefix("@big:") {
                        Some(n) => "x".repeat(n.parse().unwrap_or(0)),
                        None => arg,
                    };
                    for _ in 0..n {
                        let r = ikc.call_timeout::<_, String, _>(
                            ctx,
                            &to,
                            &arg,
                            "rsvp",
                            Duration::from_millis(timeout),
                        );
                        if let Err(e) = r {
                            println!("CALL REFUSED {e}");
                            let b = ctx.heap().batch.as_mut().unwrap();
                            b.results.push(Err(format!("{e:?}")));
                            b.left -= 1;
                        }
                    }
                    if ctx.heap().batch.as_ref().is_some_and(|b| b.left == 0) {
                        let b = ctx.heap().batch.take().unwrap();
                        if let Some(r) = b.reply {
                            let _ = r.send(&b.results);
                        }
                    }
                }
            })
            .on("rsvp", |ctx| {
                let reply = ctx.take_arg::<CallReply<String>>().unwrap();
                let Some(b) = ctx.heap().batch.as_mut() else {
                    return;
                };
                b.results.push(
                    reply
                        .result
                        .map(|s| (reply.from.map(|f| f.to_string()), s))
                        .map_err(|e| format!("{e:?}")),
                );
                b.left -= 1;
                if b.left == 0 {
                    let b = ctx.heap().batch.take().unwrap();
                    if let Some(r) = b.reply {
                        let _ = r.send(&b.results);
                    }
                }
            })
            .on("stats", {
                let ikc = ikc.clone();
                move |ctx| {
                    let m = ctx.take_arg::<Incoming<()>>().unwrap();
                    let s = ikc.stats();
                    // The cheap accessor and the counters agree (a
                    // mismatch ends this node, failing the test).
                    assert_eq!(ikc.pending(), s.pending, "Ikc::pending");
                    let c = ctx.heap();
                    let left = c.stream.as_ref().map_or(0, |s| s.left);
                    let stat: Stat = (
                        s.sent,
                        s.delivered,
                        s.dropped_full,
                        s.slow_consumer,
                        s.reconnects,
                        s.pending,
                        c.errors_full,
                        c.errors_other,
                        left,
                    );
                    if let Some(r) = m.reply {
                        let _ = r.send(&stat);
                    }
                }
            })
            .on("quit", {
                let ikc = ikc.clone();
                move |ctx| {
                    let m = ctx.take_arg::<Incoming<()>>().unwrap();
                    if let Some(r) = m.reply {
                        let _ = r.send("quitting");
                    }
                    ikc.shutdown(ctx);
                }
            })
            .on("quit_timer", {
                let ikc = ikc.clone();
                move |ctx| {
                    println!("QUITTING");
                    ikc.shutdown(ctx);
                }
            })
            .on("ikc_error", |ctx| {
                let f = ctx.take_arg::<Failed>().unwrap();
                match f.error {
                    Error::BufferFull { .. } => ctx.heap().errors_full += 1,
                    _ => {
                        ctx.heap().errors_other += 1;
                        println!("ERROR {}: {}", f.to, f.error);
                    }
                }
            }),
        (),
    );
    rpoe::tokio::run(&mut kernel)?;
    println!("EXIT");
    Ok(())
}

fn count(s: &mut Svc, m: &Incoming<u64>) {
    if s.hits > 0 && m.args != s.last_seq + 1 {
        s.breaks += 1;
    }
    s.hits += 1;
    s.last_seq = m.args;
    s.max_seq = s.max_seq.max(m.args);
    if !s.senders.contains(&*m.from) {
        s.senders.insert(m.from.to_string());
    }
}
