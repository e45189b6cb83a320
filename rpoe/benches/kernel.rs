//! Kernel micro-benchmarks, each beside its plain baseline in the same
//! group, so one `cargo bench -p rpoe` run gives both figures on the same
//! machine at the same time:
//!
//! - `dispatch`: events through post/yield vs a `VecDeque<Box<dyn FnOnce>>`
//!   loop, and beside rpoe's peers (issue 12): tokio's unbounded mpsc on a
//!   current-thread runtime (one task sending itself, two tasks over two
//!   channels) and actix (`ctx.notify` to itself, two actors `do_send`),
//!   each with no argument and with a `u64`;
//! - `call`: `Kernel::call` and `Ctx::call` vs a direct boxed-closure call;
//! - `timers`: set, fire and set+fire of 1,000,000 timers (on a manual
//!   clock, so firing needs no sleep) vs a `BinaryHeap`; cancel by id vs
//!   `HashMap::remove`, and how cancel scales with the number of timers;
//! - `timer_foreign`: a session's `delay()` with no other timers pending vs
//!   with 100,000 in another session (issue 12: within 2×);
//! - `readiness`: one byte through a socket pair to the handler that reads
//!   it vs the same on raw mio;
//! - `framing`: 4 MiB of 64-byte lines, fed in 64 KiB reads, through
//!   `filter::Line` (byte-exact literal mode, and POE's default mode) vs a
//!   plain `memchr` split, in MB/s.
//!
//! `rpoe-bench micro-report` turns the results into ratios against the
//! targets in docs/performance.md.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hint::black_box;
use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mio::net::UnixStream;
use mio::{Events, Interest, Poll, Token};
use rpoe::{Kernel, ManualClock, Session, SessionId, TimerId};

/// Events dispatched per iteration of the dispatch benchmarks.
const EVENTS: u64 = 100_000;
/// Calls per iteration of the in-handler call benchmark.
const CALLS: u64 = 10_000;
/// Timers per iteration of the timer benchmarks.
const TIMERS: usize = 1_000_000;

// ----- dispatch --------------------------------------------------------

/// A queued job of the baseline.
type Job = Box<dyn FnOnce(&mut Loop)>;

/// The baseline: a queue of boxed closures, each queueing the next.
struct Loop {
    queue: VecDeque<Job>,
    left: u64,
}

fn tick(l: &mut Loop, seq: u64) {
    black_box(seq);
    if l.left > 0 {
        l.left -= 1;
        let next = l.left;
        // Captures a value, so every job is a real allocation, as an
        // event with an argument would be.
        l.queue.push_back(Box::new(move |l| tick(l, next)));
    }
}

fn vecdeque_loop(events: u64, in_flight: u64) -> u64 {
    let mut l = Loop {
        queue: VecDeque::new(),
        left: events,
    };
    for i in 0..in_flight {
        l.queue.push_back(Box::new(move |l| tick(l, i)));
    }
    let mut ran = 0;
    while let Some(job) = l.queue.pop_front() {
        job(&mut l);
        ran += 1;
    }
    ran
}

#[path = "dispatch/workloads.rs"]
mod workloads;
use workloads::*;

fn dispatch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(EVENTS));
    for in_flight in [1u64, 64] {
        g.bench_with_input(
            BenchmarkId::new("vecdeque_loop", in_flight),
            &in_flight,
            |b, &k| b.iter(|| vecdeque_loop(EVENTS, k)),
        );
        g.bench_with_input(
            BenchmarkId::new("rpoe_yield", in_flight),
            &in_flight,
            |b, &k| b.iter(|| rpoe_yield::<()>(EVENTS, k)),
        );
    }
    g.bench_with_input(BenchmarkId::new("rpoe_post_pair", 64), &64, |b, &k| {
        b.iter(|| rpoe_post_pair::<()>(EVENTS, k))
    });
    // Issue 12's peers, 64 in flight, with no argument and with a `u64`
    // (the `_u64` names); rpoe's `u64` runs beside them.
    type Contender = (&'static str, fn(u64, u64) -> u64);
    let contenders: [Contender; 10] = [
        ("rpoe_yield_u64", rpoe_yield::<u64>),
        ("rpoe_post_pair_u64", rpoe_post_pair::<u64>),
        ("tokio_self_send", tokio_self_send::<()>),
        ("tokio_self_send_u64", tokio_self_send::<u64>),
        ("tokio_pair", tokio_pair::<()>),
        ("tokio_pair_u64", tokio_pair::<u64>),
        ("actix_notify", actix_notify::<()>),
        ("actix_notify_u64", actix_notify::<u64>),
        ("actix_pair", actix_pair::<()>),
        ("actix_pair_u64", actix_pair::<u64>),
    ];
    for (name, run) in contenders {
        g.bench_with_input(BenchmarkId::new(name, 64), &64, |b, &k| {
            b.iter(|| run(EVENTS, k))
        });
    }
    g.finish();
}

// ----- call ------------------------------------------------------------

fn call(c: &mut Criterion) {
    let mut g = c.benchmark_group("call");

    g.throughput(Throughput::Elements(1));
    let f: Box<dyn Fn(&mut u64) -> u64> = Box::new(|x| {
        *x += 1;
        *x
    });
    let mut x = 0u64;
    g.bench_function("boxed_closure", |b| {
        b.iter(|| black_box(&f)(black_box(&mut x)))
    });

    let mut kernel = Kernel::new().unwrap();
    let inc = kernel.event_id("inc");
    let sid = kernel.spawn(
        Session::new(0u64)
            .on("_start", |ctx| ctx.alias_set("counter").unwrap())
            .on("inc", |ctx| {
                *ctx.heap() += 1;
                *ctx.heap()
            })
            .on("drive", move |ctx| {
                let me = ctx.id();
                for _ in 0..CALLS {
                    black_box(ctx.call(me, inc, ()).unwrap());
                }
            }),
        (),
    );
    g.bench_function("rpoe_kernel_call", |b| {
        b.iter(|| kernel.call(sid, inc, ()).unwrap())
    });

    g.throughput(Throughput::Elements(CALLS));
    let drive = kernel.event_id("drive");
    g.bench_function(BenchmarkId::new("rpoe_ctx_call", CALLS), |b| {
        b.iter(|| kernel.call(sid, drive, ()).unwrap())
    });
    g.finish();
}

// ----- timers ----------------------------------------------------------

/// The same pseudo-random delays (under one second) for every contender.
fn delays(n: usize) -> Vec<Duration> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_nanos(x % 1_000_000_000)
        })
        .collect()
}

/// A fixed shuffle of `0..n`, to cancel in an order unrelated to creation.
fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

/// The session that owns the timers: its ids, in cancel order.
struct TimerHeap {
    ids: Vec<TimerId>,
    fired: usize,
}

/// A kernel on a manual clock with one session that has set a timer for
/// every delay; the ids are kept in `order` for cancelling.
fn kernel_with_timers(
    delays: &[Duration],
    order: Option<&[usize]>,
) -> (Kernel, ManualClock, SessionId) {
    let clock = ManualClock::new();
    let mut kernel = Kernel::with_manual_clock(clock.clone()).unwrap();
    let fire = kernel.event_id("fire");
    let delays = delays.to_vec();
    let order = order.map(<[usize]>::to_vec);
    let sid = kernel.spawn(
        Session::new(TimerHeap {
            ids: Vec::new(),
            fired: 0,
        })
        .on("_start", move |ctx| {
            let ids: Vec<TimerId> = delays.iter().map(|d| ctx.delay_add(fire, *d, ())).collect();
            if let Some(order) = &order {
                ctx.heap().ids = order.iter().map(|&i| ids[i]).collect();
            }
        })
        .on("fire", |ctx| ctx.heap().fired += 1)
        .on("cancel_all", |ctx| {
            let ids = std::mem::take(&mut ctx.heap().ids);
            for id in ids {
                black_box(ctx.alarm_remove(id).unwrap());
            }
        }),
        (),
    );
    (kernel, clock, sid)
}

/// Fire every timer: move the clock past the last and run.
fn fire_all(kernel: &mut Kernel, clock: &ManualClock) {
    clock.advance(Duration::from_secs(2));
    kernel.run().unwrap();
}

/// The baseline's timers: `(due ns, seq, event)` in a min-heap, the
/// kernel's own key layout.
type Heap = BinaryHeap<Reverse<(u64, u64, u32)>>;

fn due_ns(d: &Duration) -> u64 {
    d.as_nanos() as u64
}

fn heap_with_timers(delays: &[Duration]) -> Heap {
    let mut heap = Heap::new();
    for (i, d) in delays.iter().enumerate() {
        heap.push(Reverse((due_ns(d), i as u64, 7)));
    }
    heap
}

fn heap_fire_all(mut heap: Heap) -> usize {
    let mut fired = 0;
    while let Some(Reverse(t)) = heap.pop() {
        black_box(t);
        fired += 1;
    }
    fired
}

/// The cancel baseline's timers: id → (due, event).
fn hashmap_with_timers(delays: &[Duration]) -> HashMap<u64, (Duration, u32)> {
    delays
        .iter()
        .enumerate()
        .map(|(i, d)| (i as u64, (*d, 7u32)))
        .collect()
}

fn hashmap_cancel(
    mut map: HashMap<u64, (Duration, u32)>,
    order: &[usize],
) -> HashMap<u64, (Duration, u32)> {
    for &i in order {
        black_box(map.remove(&(i as u64)).unwrap());
    }
    map
}

fn timers(c: &mut Criterion) {
    let delays = delays(TIMERS);
    let order = shuffled(TIMERS);
    let mut g = c.benchmark_group("timers");
    g.sample_size(10);
    g.throughput(Throughput::Elements(TIMERS as u64));

    g.bench_function("binaryheap_set", |b| {
        b.iter_batched(
            || (),
            |()| heap_with_timers(&delays),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rpoe_set", |b| {
        b.iter_batched(
            || (),
            |()| kernel_with_timers(&delays, None),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("binaryheap_fire", |b| {
        b.iter_batched(
            || heap_with_timers(&delays),
            heap_fire_all,
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rpoe_fire", |b| {
        b.iter_batched(
            || kernel_with_timers(&delays, None),
            |(mut kernel, clock, _)| {
                fire_all(&mut kernel, &clock);
                kernel
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("binaryheap_set_fire", |b| {
        b.iter(|| heap_fire_all(heap_with_timers(&delays)))
    });
    g.bench_function("rpoe_set_fire", |b| {
        b.iter_batched(
            || (),
            |()| {
                let (mut kernel, clock, _) = kernel_with_timers(&delays, None);
                fire_all(&mut kernel, &clock);
                kernel
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("hashmap_cancel", |b| {
        b.iter_batched(
            || hashmap_with_timers(&delays),
            |map| hashmap_cancel(map, &order),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rpoe_cancel", |b| {
        b.iter_batched(
            || kernel_with_timers(&delays, Some(&order)),
            |(mut kernel, clock, sid)| {
                kernel.call(sid, "cancel_all", ()).unwrap();
                (kernel, clock)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    // Cancel cost per timer as the number of timers grows, beside an O(1)
    // HashMap at the same sizes (whose growth is all cache misses): rpoe's
    // growth beyond the HashMap's must stay within log n.
    let mut g = c.benchmark_group("timer_cancel_scaling");
    g.sample_size(10);
    for n in [1_000usize, 32_000, 1_000_000] {
        let delays = &delays[..n];
        let order = shuffled(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("hashmap_cancel", n), &n, |b, _| {
            b.iter_batched(
                || hashmap_with_timers(delays),
                |map| hashmap_cancel(map, &order),
                BatchSize::PerIteration,
            )
        });
        g.bench_with_input(BenchmarkId::new("rpoe_cancel", n), &n, |b, _| {
            b.iter_batched(
                || kernel_with_timers(delays, Some(&order)),
                |(mut kernel, clock, sid)| {
                    kernel.call(sid, "cancel_all", ()).unwrap();
                    (kernel, clock)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// `delay()` calls per iteration of the foreign-timers benchmark.
const DELAYS: usize = 1_000;

/// A kernel (manual clock, so nothing fires) where one session holds
/// `foreign` timers and another, returned, re-sets one named timer with
/// `delay` [`DELAYS`] times per `work` call.
fn kernel_for_delay(foreign: usize) -> (Kernel, SessionId) {
    let mut kernel = Kernel::with_manual_clock(ManualClock::new()).unwrap();
    kernel.spawn(
        Session::new(()).on("_start", move |ctx| {
            for _ in 0..foreign {
                ctx.delay_add("far", Duration::from_secs(10), ());
            }
        }),
        (),
    );
    let sid = kernel.spawn(
        Session::new(()).on("_start", |_| {}).on("work", |ctx| {
            for _ in 0..DELAYS {
                black_box(ctx.delay("tick", Duration::from_secs(1), ()));
            }
        }),
        (),
    );
    (kernel, sid)
}

/// Issue 12: a session's `delay` (clear its timers of one name, set one)
/// must not cost more because other sessions have timers pending.
fn timer_foreign(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_foreign");
    g.throughput(Throughput::Elements(DELAYS as u64));
    for (name, foreign) in [("delay_no_foreign", 0), ("delay_100k_foreign", 100_000)] {
        let (mut kernel, sid) = kernel_for_delay(foreign);
        g.bench_function(name, |b| {
            b.iter(|| kernel.call(sid, "work", ()).unwrap());
        });
    }
    g.finish();
}

// ----- readiness -------------------------------------------------------

/// Read what is there; with `drain`, read on to `WouldBlock`.
fn read_bytes(s: &mut UnixStream, drain: bool) -> usize {
    let mut buf = [0u8; 64];
    let mut got = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => {
                got += n;
                if !drain {
                    return got;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return got,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// A kernel with one session watching the read end of a socket pair; its
/// handler reads the byte (and with `drain` reads on to `WouldBlock` and
/// says so, sparing the kernel the re-arm). Returns the write end.
fn rpoe_reader(drain: bool) -> (Kernel, UnixStream) {
    let (w, r) = UnixStream::pair().unwrap();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(0usize)
            .on("_start", |ctx| {
                let r: UnixStream = ctx.take_arg().unwrap();
                let h = ctx.add_handle(r);
                ctx.select_read(h, "readable").unwrap();
            })
            .on("readable", move |ctx| {
                let (h, _) = ctx.io().unwrap();
                let got = read_bytes(ctx.handle::<UnixStream>(h).unwrap(), drain);
                *ctx.heap() += got;
                if drain {
                    ctx.io_drained();
                }
            }),
        r,
    );
    (kernel, w)
}

fn readiness(c: &mut Criterion) {
    let mut g = c.benchmark_group("readiness");
    g.throughput(Throughput::Elements(1));

    let (mut w, mut r) = UnixStream::pair().unwrap();
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut r, Token(0), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(16);
    g.bench_function("mio_raw", |b| {
        b.iter(|| {
            w.write_all(&[1]).unwrap();
            poll.poll(&mut events, None).unwrap();
            for _ in events.iter() {
                // Edge-triggered: a short read drained the socket.
                black_box(read_bytes(&mut r, false));
            }
        })
    });

    for (name, drain) in [("rpoe_read_once", false), ("rpoe_read_drained", true)] {
        let (mut kernel, mut w) = rpoe_reader(drain);
        g.bench_function(name, |b| {
            b.iter(|| {
                w.write_all(&[1]).unwrap();
                kernel.run_one_timeslice().unwrap();
            })
        });
    }
    g.finish();
}

/// 4 MiB of distinct 64-byte lines.
fn framing_input() -> Vec<u8> {
    let mut v = Vec::with_capacity(4 << 20);
    let mut i = 0u64;
    while v.len() + 64 <= 4 << 20 {
        let line = format!("{i:020}-abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnop");
        v.extend_from_slice(&line.as_bytes()[..63]);
        v.push(b'\n');
        i += 1;
    }
    v
}

/// The plain baseline: count the lines of each 64 KiB read with `memchr`,
/// carrying the unterminated tail (copied, as a framer must).
fn memchr_split(input: &[u8]) -> usize {
    let mut carry: Vec<u8> = Vec::new();
    let mut lines = 0;
    for chunk in input.chunks(64 * 1024) {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            if carry.is_empty() {
                black_box(&chunk[start..nl]);
            } else {
                carry.extend_from_slice(&chunk[start..nl]);
                black_box(&carry);
                carry.clear();
            }
            lines += 1;
            start = nl + 1;
        }
        carry.extend_from_slice(&chunk[start..]);
    }
    lines
}

fn line_filter(input: &[u8], mut filter: rpoe::filter::Line) -> usize {
    use rpoe::filter::Filter;
    let mut out = Vec::new();
    let mut lines = 0;
    for chunk in input.chunks(64 * 1024) {
        filter.get(chunk, &mut out).unwrap();
        lines += out.len();
        out.clear();
    }
    lines
}

fn framing(c: &mut Criterion) {
    let input = framing_input();
    let mut g = c.benchmark_group("framing");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("memchr_split", |b| {
        b.iter(|| memchr_split(black_box(&input)))
    });
    g.bench_function("rpoe_line_literal", |b| {
        b.iter(|| line_filter(black_box(&input), rpoe::filter::Line::literal(b"\n")))
    });
    g.bench_function("rpoe_line_poe_default", |b| {
        b.iter(|| line_filter(black_box(&input), rpoe::filter::Line::new()))
    });
    g.finish();
}

criterion_group!(
    benches,
    dispatch,
    call,
    timers,
    timer_foreign,
    readiness,
    framing
);
criterion_main!(benches);
