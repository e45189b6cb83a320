//! Heap allocations per dispatched event (issue 12: "no heap allocation
//! per event for such arguments (a counting-allocator test asserts it)").
//!
//! This binary installs a counting global allocator, runs the dispatch
//! benchmarks' two workloads — one session `yield`ing itself the next event,
//! two sessions `post`ing to each other, 64 events in flight — with no
//! argument and with a `u64`, and reports allocations per event.
//!
//! Per event is measured as a difference between two run lengths, so that
//! what does not scale with the events (building the kernel and its
//! sessions, growing the queue to 64 entries) cancels out:
//! `(allocs(LONG) - allocs(SHORT)) / (LONG - SHORT)`.
//!
//! Measured before the dispatch rework: 0 per event with no argument, 1
//! with a `u64` (the argument was boxed). Since the rework small `Copy`
//! arguments ride inline in the queued event, and every case is held at
//! the target, 0. The `[u64; 4]` cases are boxed arguments
//! (issue 17): 1 per event while each took a fresh box (checked by
//! emptying the kernel's pool of slots), 0 since the box is reused.

use rpoe::{Kernel, Session};

/// The benchmarks' workloads, included rather than copied so that what is
/// counted here is what `benches/kernel.rs` and `benches/dispatch_cpu.rs`
/// time.
#[path = "../benches/dispatch/workloads.rs"]
mod workloads;

use workloads::{rpoe_post_pair, rpoe_yield, Arg};

/// The one place in this binary with `unsafe`: a global allocator that
/// forwards to [`System`](std::alloc::System) and counts, per thread,
/// the allocations it serves.
///
/// Why it is sound: every method forwards its arguments unchanged to
/// `System`, which upholds `GlobalAlloc`'s contract, and returns what
/// `System` returned; the only other work is bumping a thread-local
/// `Cell<u64>` that is const-initialised and has no destructor, so it never
/// allocates (no recursion into the allocator) and is reachable during
/// thread teardown (`try_with` ignores the rare case where it is not).
/// Counting per thread keeps the test harness's other threads out of the
/// figures.
#[allow(unsafe_code)]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static ALLOCS: Cell<u64> = const { Cell::new(0) };
        static LIVE: Cell<i64> = const { Cell::new(0) };
    }

    /// Bytes allocated and not yet freed by this thread (a block freed by
    /// another thread than its allocator's would skew it; the kernel is
    /// single-threaded).
    pub fn live_bytes() -> i64 {
        LIVE.with(Cell::get)
    }

    fn grow(by: usize, less: usize) {
        let _ = LIVE.try_with(|c| c.set(c.get() + by as i64 - less as i64));
    }

    /// Allocations (`alloc`, `alloc_zeroed`, `realloc`) made on this
    /// thread so far.
    pub fn allocs() -> u64 {
        ALLOCS.with(Cell::get)
    }

    fn count() {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    }

    /// `System`, counting.
    pub struct Counting;

    // SAFETY: see the module's documentation: each method is `System`'s,
    // called with the caller's arguments, which the caller guarantees meet
    // the method's contract.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count();
            grow(layout.size(), 0);
            // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count();
            grow(layout.size(), 0);
            // SAFETY: as `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count();
            grow(new_size, layout.size());
            // SAFETY: `ptr` came from this allocator, i.e. from `System`,
            // with `layout`; forwarded unchanged.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            grow(0, layout.size());
            // SAFETY: `ptr` came from `System` with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// Events in flight, as in the dispatch benchmarks.
const IN_FLIGHT: u64 = 64;
/// The two run lengths whose difference is measured.
const SHORT: u64 = 10_000;
const LONG: u64 = 110_000;

/// Allocations per event tolerated, with no argument or a small `Copy`
/// one: issue 12's target, "no heap allocation per event for such
/// arguments".
const BOUND: f64 = 0.0;

/// `IN_FLIGHT` chains of `yield`s in one session, `events` sent after the
/// seeds (the benchmarks' `rpoe_yield`); returns the events handled.
fn yield_loop<A: Arg>(events: u64) -> u64 {
    rpoe_yield::<A>(events, IN_FLIGHT) + IN_FLIGHT
}

/// Two sessions posting to each other, `IN_FLIGHT` posts under way (the
/// benchmarks' `rpoe_post_pair`); returns the events handled.
fn post_pair<A: Arg>(events: u64) -> u64 {
    rpoe_post_pair::<A>(events, IN_FLIGHT) + IN_FLIGHT
}

/// Allocations per event of `run`, from the difference of two lengths.
fn per_event(run: fn(u64) -> u64) -> f64 {
    // A first run, uncounted, so that one-time lazy set-up anywhere in the
    // process is not charged to the short run.
    run(SHORT);
    let a0 = counting::allocs();
    let n_short = run(SHORT);
    let a1 = counting::allocs();
    let n_long = run(LONG);
    let a2 = counting::allocs();
    let (short, long) = (a1 - a0, a2 - a1);
    long.saturating_sub(short) as f64 / (n_long - n_short) as f64
}

#[test]
fn allocations_per_event_yield_and_post() {
    /// What is measured and the workload.
    type Case = (&'static str, fn(u64) -> u64);
    let cases: [Case; 8] = [
        ("yield, no argument", yield_loop::<()>),
        ("yield, u64 argument", yield_loop::<u64>),
        ("yield, (u64, u64) argument", yield_loop::<(u64, u64)>),
        ("post between two sessions, no argument", post_pair::<()>),
        ("post between two sessions, u64 argument", post_pair::<u64>),
        (
            "post between two sessions, (u64, u64) argument",
            post_pair::<(u64, u64)>,
        ),
        ("yield, boxed [u64; 4] argument", yield_loop::<[u64; 4]>),
        (
            "post between two sessions, boxed [u64; 4] argument",
            post_pair::<[u64; 4]>,
        ),
    ];
    let mut over = Vec::new();
    for (what, run) in cases {
        let per = per_event(run);
        println!("allocations per event, {what}: {per:.3} (bound {BOUND})");
        if per > BOUND {
            over.push(format!("{what}: {per:.3} > {BOUND}"));
        }
    }
    assert!(
        over.is_empty(),
        "allocations per event over bound: {over:?}"
    );
}

/// Issue 12: "after a burst drains, the queue returns its memory (bounded
/// slack)". One session queues a burst of `BURST` events to itself, then a
/// last one; by the time the last runs the burst has drained, and the
/// bytes this thread still holds are compared with what it held before
/// the burst. Before the rework the queue kept its peak (~150 MB here).
#[test]
fn a_drained_burst_returns_the_queue_memory() {
    const BURST: u64 = 1_000_000;
    /// Slack allowed: the queue keeps 1,024 entries of capacity (80 KiB)
    /// and may hold twice what is left in it; 1 MiB is far below the
    /// burst's ~80 MB and far above the floor.
    const SLACK: i64 = 1 << 20;
    let mut kernel = Kernel::new().unwrap();
    let burst = kernel.event_id("burst");
    let last = kernel.event_id("last");
    kernel.spawn(
        Session::new((0i64, 0i64, 0u64))
            .on("_start", move |ctx| {
                ctx.heap().0 = counting::live_bytes();
                for i in 0..BURST {
                    ctx.yield_event(burst, i);
                }
                ctx.heap().1 = counting::live_bytes();
                ctx.yield_event(last, ());
            })
            .on("burst", |ctx| ctx.heap().2 += 1)
            .on("last", |ctx| {
                let (before, peak, ran) = *ctx.heap();
                let after = counting::live_bytes();
                println!(
                    "burst of {ran} events: {} bytes more at its peak, {} after it drained",
                    peak - before,
                    after - before
                );
                assert_eq!(ran, BURST);
                assert!(peak - before > 50 * SLACK, "the burst was queued");
                assert!(
                    after - before < SLACK,
                    "{} bytes still held after the burst drained",
                    after - before
                );
            }),
        (),
    );
    kernel.run().unwrap();
}

/// This module's `#[allow]` is the exception, not the rule: the workspace
/// lint set denies unsafe code everywhere else, and every crate opts in
/// (checked with the other lints in `ergonomics.rs`).
#[test]
fn the_workspace_denies_unsafe_code_elsewhere() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("Cargo.toml");
    let root = std::fs::read_to_string(root).unwrap();
    let rust = root
        .split("[workspace.lints.rust]")
        .nth(1)
        .expect("a [workspace.lints.rust] table");
    assert!(
        rust.lines()
            .any(|l| l.starts_with("unsafe_code") && (l.contains("deny") || l.contains("forbid"))),
        "the workspace lint set denies unsafe code"
    );
}
