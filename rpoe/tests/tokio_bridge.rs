//! The tokio bridge: a kernel on a tokio current-thread runtime, with
//! tokio's sockets and timers used from futures inside sessions, next to
//! the kernel's own I/O and timers.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rpoe::{Kernel, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Log = Rc<RefCell<Vec<String>>>;

#[test]
fn tokio_sockets_and_timers_inside_sessions() {
    let l: Log = Log::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                // Inside the runtime's context, as tokio crates expect.
                ctx.spawn_future("bound", async {
                    let _ = tokio::runtime::Handle::current();
                    TcpListener::bind("127.0.0.1:0").await.unwrap()
                });
                // The kernel's own timers keep working beside tokio's.
                ctx.delay("kernel_tick", Duration::from_millis(1), ());
            })
            .on("kernel_tick", |ctx| {
                ctx.heap().borrow_mut().push("tick".into())
            })
            .on("bound", |ctx| {
                let listener = ctx.take_arg::<TcpListener>().unwrap();
                let addr = listener.local_addr().unwrap();
                ctx.spawn_future("served", async move {
                    let (mut s, _) = listener.accept().await.unwrap();
                    let mut buf = Vec::new();
                    s.read_to_end(&mut buf).await.unwrap();
                    buf.reverse();
                    s.write_all(&buf).await.unwrap();
                    buf.len()
                });
                ctx.spawn_future("replied", async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    s.write_all(b"hello").await.unwrap();
                    s.shutdown().await.unwrap();
                    let mut out = String::new();
                    s.read_to_string(&mut out).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    out
                });
            })
            .on("served", |ctx| {
                let n = ctx.take_arg::<usize>().unwrap();
                ctx.heap().borrow_mut().push(format!("served {n}"));
            })
            .on("replied", |ctx| {
                let s = ctx.take_arg::<String>().unwrap();
                ctx.heap().borrow_mut().push(format!("replied {s}"));
            }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
    let mut got = l.borrow().clone();
    got.sort();
    assert_eq!(got, ["replied olleh", "served 5", "tick"]);
}

#[test]
fn stopping_cancels_a_pending_tokio_future() {
    let mut kernel = Kernel::new().unwrap();
    let l: Log = Log::default();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                ctx.spawn_future("never", async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                });
                ctx.yield_event("quit", ());
            })
            .on("quit", |ctx| {
                ctx.heap().borrow_mut().push("quit".into());
                // POE's way to end a program: stop every session.
                ctx.stop_kernel();
            })
            .on("never", |_| unreachable!()),
        (),
    );
    // Returns at once: the hour-long sleep was dropped with the session.
    let start = std::time::Instant::now();
    rpoe::tokio::run(&mut kernel).unwrap();
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(*l.borrow(), ["quit"]);
}

#[test]
fn drive_inside_a_caller_owned_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = Rc::new(RefCell::new(0u32));
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(got.clone())
            .on("_start", |ctx| {
                ctx.spawn_future("n", async {
                    // A task of the runtime, outside any session.
                    tokio::spawn(async { 41u32 }).await.unwrap() + 1
                });
            })
            .on("n", |ctx| {
                let n = ctx.take_arg::<u32>().unwrap();
                *ctx.heap().borrow_mut() = n;
            }),
        (),
    );
    rt.block_on(rpoe::tokio::drive(&mut kernel)).unwrap();
    assert_eq!(*got.borrow(), 42);
}

#[test]
fn a_session_kept_only_by_its_alias_is_collected_as_in_run() {
    // POE's IDLE then ZOMBIE: the outer loop must not wait on the
    // descriptor while the kernel has that step to take.
    let mut kernel = Kernel::new().unwrap();
    let l: Log = Log::default();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| ctx.alias_set("service").unwrap())
            .on("_stop", |ctx| ctx.heap().borrow_mut().push("_stop".into())),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
    assert_eq!(*l.borrow(), ["_stop"]);
}

/// A waker that counts its wakes.
struct Counting(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Counting {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_wake_between_turns_goes_to_the_wake_hook_until_run_takes_it_back() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Poll, Waker};

    // A future that finishes once `done` is set, keeping its waker where
    // the test can reach it.
    let slot: Rc<RefCell<Option<Waker>>> = Rc::default();
    let done = Rc::new(std::cell::Cell::new(false));
    let mut kernel = Kernel::new().unwrap();
    let (s, d) = (slot.clone(), done.clone());
    kernel.spawn(
        Session::new(0u32)
            .on("_start", move |ctx| {
                let (s, d) = (s.clone(), d.clone());
                ctx.spawn_future(
                    "finished",
                    std::future::poll_fn(move |cx| {
                        if d.get() {
                            return Poll::Ready(());
                        }
                        *s.borrow_mut() = Some(cx.waker().clone());
                        Poll::Pending
                    }),
                );
            })
            .on("tick", |_| {})
            .on("finished", |ctx| *ctx.heap() += 1),
        (),
    );
    // First poll: the future hands out its waker.
    while slot.borrow().is_none() {
        assert!(kernel.turn().unwrap());
    }
    assert_eq!(kernel.next_deadline(), None, "nothing to do until woken");

    let hook = Arc::new(Counting(AtomicUsize::new(0)));
    kernel.set_wake_hook(Some(&Waker::from(hook.clone())));
    let waker = slot.borrow_mut().take().unwrap();
    waker.wake_by_ref();
    assert_eq!(hook.0.load(Ordering::SeqCst), 1, "the hook was woken");
    assert_eq!(kernel.next_deadline(), Some(Duration::ZERO));

    // From another thread too (the hook is a `Waker`: it may be woken
    // from anywhere).
    assert!(kernel.turn().unwrap());
    let waker = slot.borrow_mut().take().unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    assert_eq!(hook.0.load(Ordering::SeqCst), 2);

    // `run_one_timeslice` may block in the OS: it takes the hook back, so
    // that later wakes reach the kernel's descriptor (and end its wait).
    assert!(kernel.turn().unwrap());
    let waker = slot.borrow_mut().take().expect("polled again, pending");
    let id = kernel.session_ids()[0];
    kernel.post(id, "tick", ()).unwrap(); // so that this round has work
    assert!(kernel.run_one_timeslice().unwrap());
    done.set(true);
    waker.wake();
    assert_eq!(
        hook.0.load(Ordering::SeqCst),
        2,
        "not the hook after run_one_timeslice"
    );
    assert_eq!(
        kernel.next_deadline(),
        Some(Duration::ZERO),
        "the kernel sees the wake"
    );
    kernel.run().unwrap();
}

#[test]
fn tokio_tasks_run_while_the_kernel_has_endless_work() {
    // A session that always has an event queued, and a tokio task it
    // waits for: the bridge must let tokio run between its turns.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spins = Rc::new(RefCell::new(0u64));
        let mut kernel = Kernel::new().unwrap();
        kernel.spawn(
            Session::new(false)
                .on("_start", |ctx| {
                    ctx.spawn_future("answer", async {
                        tokio::spawn(async {
                            tokio::task::yield_now().await;
                            7u32
                        })
                        .await
                        .unwrap()
                    });
                    ctx.yield_event("spin", ());
                })
                .on("spin", {
                    let spins = spins.clone();
                    move |ctx| {
                        *spins.borrow_mut() += 1;
                        if !*ctx.heap() {
                            ctx.yield_event("spin", ());
                        }
                    }
                })
                .on("answer", |ctx| {
                    assert_eq!(ctx.take_arg::<u32>().unwrap(), 7);
                    *ctx.heap() = true;
                }),
            (),
        );
        rpoe::tokio::run(&mut kernel).unwrap();
        tx.send(*spins.borrow()).unwrap();
    });
    let spins = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the tokio task never ran while the kernel was busy");
    assert!(spins >= 1);
}
