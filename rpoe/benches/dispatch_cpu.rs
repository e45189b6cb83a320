//! Issue 12's dispatch targets measured in CPU time, side by side, for a
//! machine too loaded for wall-clock figures: each workload of the
//! criterion group `dispatch` (rpoe's `yield` and `post`, tokio's
//! unbounded mpsc, actix's `notify` and `do_send`; no argument and a
//! `u64`) runs `EVENTS` events in turn, round after round, and the CPU
//! time this thread spent (its CPU clock) is read around each run. Time spent descheduled is not counted, so other
//! processes' load moves the figures much less than it moves criterion's
//! wall-clock ones (a busy sibling hyperthread still slows everyone).
//!
//! `cargo bench -p rpoe --bench dispatch_cpu` prints a Markdown table: the
//! least CPU time per event over the rounds for each contender, and
//! rpoe's ratios to tokio and actix against the targets (≤ 1.25× tokio,
//! ≤ 1.0× actix). `ROUNDS` and `EVENTS` may be set in the environment.

#[path = "dispatch/workloads.rs"]
mod workloads;

use workloads::*;

/// Events in flight, as in the criterion group.
const IN_FLIGHT: u64 = 64;

/// This thread's CPU time so far, in nanoseconds: the thread CPU clock,
/// exact at the moment of reading (the scheduler's own per-thread sum in
/// `/proc/thread-self/schedstat` lags by up to a tick, milliseconds,
/// too coarse for runs of a few tens of milliseconds).
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// One workload's contenders: rpoe's and its two peers'.
struct Row {
    what: &'static str,
    rpoe: fn(u64, u64) -> u64,
    tokio: fn(u64, u64) -> u64,
    actix: fn(u64, u64) -> u64,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `calls` calls of `Ctx::call` into the running session (a `u64`
/// argument, the handler adds it to the heap), made from `_start`.
fn rpoe_self_call(calls: u64) -> u64 {
    use rpoe::{Kernel, Session};
    let mut kernel = Kernel::new().unwrap();
    let add = kernel.event_id("add");
    kernel.spawn(
        Session::new(0u64)
            .on("_start", move |ctx| {
                let me = ctx.id();
                for i in 0..calls {
                    let _ = std::hint::black_box(ctx.call(me, add, i));
                }
            })
            .on("add", |ctx| {
                let n = *ctx.arg::<u64>().unwrap();
                *ctx.heap() += n;
            }),
        (),
    );
    kernel.run().unwrap();
    calls
}

/// An argument of the shape IKC hands a published session for each
/// message (`rpoe_ikc::Incoming<u64>`: three shared names, a flag, the
/// value, an optional reply handle): too big to travel inline, so it
/// takes the boxed path.
#[allow(dead_code)]
struct IncomingLike {
    from: std::rc::Rc<str>,
    alias: std::rc::Rc<str>,
    event: std::rc::Rc<str>,
    via_any: bool,
    n: u64,
    reply: Option<Box<u64>>,
}

/// `calls` calls of `Ctx::call` from one session into another with an
/// [`IncomingLike`] argument, which the handler takes: IKC's delivery of
/// each message, the kernel's share of it.
fn rpoe_boxed_call(calls: u64) -> u64 {
    rpoe_boxed_calls(calls, false)
}

/// [`rpoe_boxed_call`]'s calls made by `Ctx::call_each`, in runs of 256
/// (as IKC delivers a subscription's waiting messages).
fn rpoe_boxed_call_each(calls: u64) -> u64 {
    rpoe_boxed_calls(calls, true)
}

fn rpoe_boxed_calls(calls: u64, batched: bool) -> u64 {
    use rpoe::{Kernel, Session};
    let mut kernel = Kernel::new().unwrap();
    let hit = kernel.event_id("hit");
    let sink = kernel.spawn(
        Session::new(0u64).on("hit", |ctx| {
            let m = ctx.take_arg::<IncomingLike>().unwrap();
            *ctx.heap() += m.n;
        }),
        (),
    );
    kernel.spawn(
        Session::new(()).on("_start", move |ctx| {
            let (from, alias, event): (std::rc::Rc<str>, std::rc::Rc<str>, std::rc::Rc<str>) =
                ("a".into(), "sink".into(), "hit".into());
            let make = |n| IncomingLike {
                from: from.clone(),
                alias: alias.clone(),
                event: event.clone(),
                via_any: false,
                n,
                reply: None,
            };
            if batched {
                for start in (0..calls).step_by(256) {
                    let run = (start..(start + 256).min(calls)).map(make);
                    let _ = std::hint::black_box(ctx.call_each(sink, hit, run));
                }
            } else {
                for n in 0..calls {
                    let _ = std::hint::black_box(ctx.call(sink, hit, make(n)));
                }
            }
        }),
        (),
    );
    kernel.run().unwrap();
    calls
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not
    // (then one tiny round checks that everything runs).
    let benching = std::env::args().any(|a| a == "--bench");
    let rounds = if benching { env_or("ROUNDS", 7) } else { 1 };
    let events = if benching {
        env_or("EVENTS", 1_000_000)
    } else {
        1_000
    };
    let rows = [
        Row {
            what: "yield to itself, no argument",
            rpoe: rpoe_yield::<()>,
            tokio: tokio_self_send::<()>,
            actix: actix_notify::<()>,
        },
        Row {
            what: "yield to itself, `u64` argument",
            rpoe: rpoe_yield::<u64>,
            tokio: tokio_self_send::<u64>,
            actix: actix_notify::<u64>,
        },
        Row {
            what: "post between two sessions, no argument",
            rpoe: rpoe_post_pair::<()>,
            tokio: tokio_pair::<()>,
            actix: actix_pair::<()>,
        },
        Row {
            what: "post between two sessions, `u64` argument",
            rpoe: rpoe_post_pair::<u64>,
            tokio: tokio_pair::<u64>,
            actix: actix_pair::<u64>,
        },
    ];
    // best[row][contender]: least CPU ns per event over the rounds.
    let mut best = [[f64::INFINITY; 3]; 4];
    let handled = (events + IN_FLIGHT) as f64;
    for _ in 0..rounds {
        for (r, row) in rows.iter().enumerate() {
            for (c, run) in [row.rpoe, row.tokio, row.actix].into_iter().enumerate() {
                let t0 = thread_cpu_ns();
                std::hint::black_box(run(events, IN_FLIGHT));
                let per = (thread_cpu_ns() - t0) as f64 / handled;
                best[r][c] = best[r][c].min(per);
            }
        }
    }
    // `Ctx::call` into the running session (issue 12: ≤ 10 ns).
    let calls = events * 10;
    let mut call_best = f64::INFINITY;
    for _ in 0..rounds {
        let t0 = thread_cpu_ns();
        std::hint::black_box(rpoe_self_call(calls));
        call_best = call_best.min((thread_cpu_ns() - t0) as f64 / calls as f64);
    }
    let mut boxed_best = f64::INFINITY;
    for _ in 0..rounds {
        let t0 = thread_cpu_ns();
        std::hint::black_box(rpoe_boxed_call(events));
        boxed_best = boxed_best.min((thread_cpu_ns() - t0) as f64 / events as f64);
    }
    let mut each_best = f64::INFINITY;
    for _ in 0..rounds {
        let t0 = thread_cpu_ns();
        std::hint::black_box(rpoe_boxed_call_each(events));
        each_best = each_best.min((thread_cpu_ns() - t0) as f64 / events as f64);
    }
    println!(
        "CPU time per event, least of {rounds} rounds of {events} events, {IN_FLIGHT} in flight\n"
    );
    println!(
        "| workload | rpoe | tokio | actix | rpoe ÷ tokio (≤ 1.25×) | rpoe ÷ actix (≤ 1.0×) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (row, b) in rows.iter().zip(best) {
        println!(
            "| {} | {:.1} ns | {:.1} ns | {:.1} ns | {:.2}× | {:.2}× |",
            row.what,
            b[0],
            b[1],
            b[2],
            b[0] / b[1],
            b[0] / b[2]
        );
    }
    println!(
        "\n`Ctx::call` into the running session (≤ 10 ns): {call_best:.1} ns per call, least of {rounds} rounds of {calls} calls"
    );
    println!(
        "`Ctx::call` into another session with an IKC-sized boxed argument: {boxed_best:.1} ns per call, least of {rounds} rounds of {events} calls"
    );
    println!("The same by `Ctx::call_each`, runs of 256: {each_best:.1} ns per call");
}
