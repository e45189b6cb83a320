//! The dispatch workloads of issue 12, shared by the criterion
//! benchmarks (`benches/kernel.rs`, group `dispatch`), the CPU-time
//! side-by-side run (`benches/dispatch_cpu.rs`) and the allocation count
//! (`tests/alloc_per_event.rs`, rpoe's two only), so that the test counts
//! the very loops the benchmarks time: rpoe's `yield` and `post`, and the
//! same shapes on tokio's unbounded mpsc and on actix.

// Each binary that includes this file uses only some of them.
#![allow(dead_code)]

use std::hint::black_box;

use rpoe::{Kernel, Session};

/// An event's argument in the dispatch benchmarks: none (`()`) or a small
/// `Copy` value (`u64`), the two cases issue 12's targets name; the
/// allocation test adds a 16-byte and a 32-byte one. Every
/// contender builds the next argument from a counter and, when there is a
/// value, reads the one it got, so that no one can skip carrying it.
pub trait Arg: Copy + Send + 'static {
    /// Whether there is a value to read.
    const VALUE: bool;
    /// The argument of the `n`th event.
    fn make(n: u64) -> Self;
}

impl Arg for () {
    const VALUE: bool = false;
    fn make(_: u64) -> Self {}
}

impl Arg for u64 {
    const VALUE: bool = true;
    fn make(n: u64) -> Self {
        n
    }
}

/// A 16-byte `Copy` argument, the largest issue 12 counts as small.
impl Arg for (u64, u64) {
    const VALUE: bool = true;
    fn make(n: u64) -> Self {
        (n, !n)
    }
}

/// A 32-byte argument, too big to ride inline: boxed, in an allocation
/// the kernel reuses for the next argument of the type (issue 17).
impl Arg for [u64; 4] {
    const VALUE: bool = true;
    fn make(n: u64) -> Self {
        [n, !n, n, !n]
    }
}

/// `in_flight` chains of `yield`s in one session, `events` in all.
pub fn rpoe_yield<A: Arg>(events: u64, in_flight: u64) -> u64 {
    let mut kernel = Kernel::new().unwrap();
    let tick = kernel.event_id("tick");
    kernel.spawn(
        Session::new((events, 0u64))
            .on("_start", move |ctx| {
                for i in 0..in_flight {
                    ctx.yield_event(tick, A::make(i));
                }
            })
            .on("tick", move |ctx| {
                if A::VALUE {
                    black_box(*ctx.arg::<A>().unwrap());
                }
                let (left, ran) = ctx.heap();
                *ran += 1;
                if *left > 0 {
                    *left -= 1;
                    let next = A::make(*left);
                    ctx.yield_event(tick, next);
                }
            }),
        (),
    );
    kernel.run().unwrap();
    events
}

/// Two sessions posting to each other, `in_flight` posts under way.
pub fn rpoe_post_pair<A: Arg>(events: u64, in_flight: u64) -> u64 {
    let mut kernel = Kernel::new().unwrap();
    let ping = kernel.event_id("ping");
    let peer = |kernel: &mut Kernel, alias: &'static str, other: &'static str, serve: bool| {
        kernel.spawn(
            Session::new(events / 2)
                .on("_start", move |ctx| {
                    ctx.alias_set(alias).unwrap();
                    if serve {
                        ctx.yield_event("serve", ());
                    }
                })
                .on("serve", move |ctx| {
                    for i in 0..in_flight {
                        ctx.post(other, ping, A::make(i)).unwrap();
                    }
                })
                .on("ping", move |ctx| {
                    if A::VALUE {
                        black_box(*ctx.arg::<A>().unwrap());
                    }
                    let left = ctx.heap();
                    if *left > 0 {
                        *left -= 1;
                        let next = A::make(*left);
                        ctx.post(other, ping, next).unwrap();
                    }
                }),
            (),
        )
    };
    peer(&mut kernel, "a", "b", false);
    peer(&mut kernel, "b", "a", true);
    kernel.run().unwrap();
    events
}

// The peers of issue 12, in the same shape as rpoe's: `in_flight` messages
// seeded, then each one handled sends the next until `events` more have
// been sent, so `events + in_flight` are handled in all, as in
// `rpoe_yield` and `rpoe_post_pair`. The runtime (or actix system) is
// built per iteration, as rpoe's kernel is, so every contender's figure
// includes its set-up alike.

/// A current-thread tokio runtime, as rpoe's kernel is single-threaded.
fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// One task sending itself the next message over an unbounded mpsc.
pub fn tokio_self_send<A: Arg>(events: u64, in_flight: u64) -> u64 {
    tokio_rt().block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<A>();
        for i in 0..in_flight {
            tx.send(A::make(i)).unwrap();
        }
        let (mut left, mut handled) = (events, 0);
        while handled < events + in_flight {
            let v = rx.recv().await.unwrap();
            if A::VALUE {
                black_box(v);
            }
            handled += 1;
            if left > 0 {
                left -= 1;
                tx.send(A::make(left)).unwrap();
            }
        }
        events
    })
}

/// One side of the tokio pair: handles `expect` messages, sending the
/// other side one per message while its budget `left` lasts.
async fn tokio_peer<A: Arg>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<A>,
    tx: tokio::sync::mpsc::UnboundedSender<A>,
    mut left: u64,
    expect: u64,
) {
    for _ in 0..expect {
        let v = rx.recv().await.unwrap();
        if A::VALUE {
            black_box(v);
        }
        if left > 0 {
            left -= 1;
            // The other side may have handled its last message already.
            let _ = tx.send(A::make(left));
        }
    }
}

/// Two tasks sending to each other over two unbounded mpsc channels.
pub fn tokio_pair<A: Arg>(events: u64, in_flight: u64) -> u64 {
    tokio_rt().block_on(async move {
        let (to_a, rx_a) = tokio::sync::mpsc::unbounded_channel::<A>();
        let (to_b, rx_b) = tokio::sync::mpsc::unbounded_channel::<A>();
        // `b` serves: it seeds `in_flight` messages to `a`.
        for i in 0..in_flight {
            to_a.send(A::make(i)).unwrap();
        }
        let half = events / 2;
        let a = tokio::spawn(tokio_peer(rx_a, to_b, half, half + in_flight));
        let b = tokio::spawn(tokio_peer(rx_b, to_a, half, half));
        a.await.unwrap();
        b.await.unwrap();
        events
    })
}

/// An actix message carrying an [`Arg`].
struct Msg<A>(A);

impl<A: Arg> actix::Message for Msg<A> {
    type Result = ();
}

/// The actor of the actix self-send: each message `notify`s the next.
struct Notifier {
    left: u64,
    handled: u64,
    expect: u64,
}

impl actix::Actor for Notifier {
    type Context = actix::Context<Self>;
}

impl<A: Arg> actix::Handler<Msg<A>> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: Msg<A>, ctx: &mut Self::Context) {
        if A::VALUE {
            black_box(msg.0);
        }
        self.handled += 1;
        if self.left > 0 {
            self.left -= 1;
            actix::AsyncContext::notify(ctx, Msg(A::make(self.left)));
        }
        if self.handled == self.expect {
            actix::System::current().stop();
        }
    }
}

/// One actor sending itself the next message with `ctx.notify`.
pub fn actix_notify<A: Arg>(events: u64, in_flight: u64) -> u64 {
    let sys = actix::System::new();
    sys.block_on(async move {
        let addr = actix::Actor::start(Notifier {
            left: events,
            handled: 0,
            expect: events + in_flight,
        });
        for i in 0..in_flight {
            addr.do_send(Msg(A::make(i)));
        }
    });
    sys.run().unwrap();
    events
}

/// One of the two actors of the actix pair, `do_send`ing to `other`.
struct Peer<A: Arg> {
    other: Option<actix::Addr<Peer<A>>>,
    left: u64,
    /// Handled by both actors together; the last handled stops the system.
    handled: std::rc::Rc<std::cell::Cell<u64>>,
    expect: u64,
}

impl<A: Arg> actix::Actor for Peer<A> {
    type Context = actix::Context<Self>;
}

/// Tell a peer the other's address (the two cannot be built knowing it).
struct Meet<A: Arg>(actix::Addr<Peer<A>>);

impl<A: Arg> actix::Message for Meet<A> {
    type Result = ();
}

impl<A: Arg> actix::Handler<Meet<A>> for Peer<A> {
    type Result = ();
    fn handle(&mut self, msg: Meet<A>, _: &mut Self::Context) {
        self.other = Some(msg.0);
    }
}

impl<A: Arg> actix::Handler<Msg<A>> for Peer<A> {
    type Result = ();
    fn handle(&mut self, msg: Msg<A>, _: &mut Self::Context) {
        if A::VALUE {
            black_box(msg.0);
        }
        let handled = self.handled.get() + 1;
        self.handled.set(handled);
        if self.left > 0 {
            self.left -= 1;
            if let Some(other) = &self.other {
                other.do_send(Msg(A::make(self.left)));
            }
        }
        if handled == self.expect {
            // Drop the addresses so the two actors are freed with the system.
            self.other = None;
            actix::System::current().stop();
        }
    }
}

/// Two actors `do_send`ing to each other.
pub fn actix_pair<A: Arg>(events: u64, in_flight: u64) -> u64 {
    let sys = actix::System::new();
    sys.block_on(async move {
        let handled = std::rc::Rc::new(std::cell::Cell::new(0));
        let peer = || Peer::<A> {
            other: None,
            left: events / 2,
            handled: handled.clone(),
            expect: events + in_flight,
        };
        let (a, b) = (actix::Actor::start(peer()), actix::Actor::start(peer()));
        // Each mailbox is in order: `Meet` is handled before any `Msg`.
        a.do_send(Meet(b.clone()));
        b.do_send(Meet(a.clone()));
        for i in 0..in_flight {
            a.do_send(Msg(A::make(i)));
        }
    });
    sys.run().unwrap();
    events
}
