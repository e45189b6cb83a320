//! Futures in sessions: their outputs are events, in order with the rest;
//! a pending task holds its session and is cancelled when it stops; the
//! kernel's sockets and timers (also on the manual clock) are awaitable;
//! a panicking future is a DIE.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use rpoe::mio::net::TcpStream;
use rpoe::{AsyncIo, Ctx, DieInfo, Error, Kernel, ManualClock, Session, Signal};

mod support;
use support::{join, serve_one};

type Log = Rc<RefCell<Vec<String>>>;

fn log(l: &Log, s: impl Into<String>) {
    l.borrow_mut().push(s.into());
}

/// A kernel on a manual clock, and the clock.
fn manual_kernel() -> (Kernel, ManualClock) {
    let clock = ManualClock::new();
    (Kernel::with_manual_clock(clock.clone()).unwrap(), clock)
}

/// Spawn a future that sleeps `d` on the kernel's clock and then logs
/// `"woke"`; its end is the event `"slept"`.
fn nap_then_log(ctx: &mut Ctx<'_, Log>, d: Duration) {
    let nap = ctx.sleep(d);
    let l = ctx.heap().clone();
    ctx.spawn_future("slept", async move {
        nap.await;
        log(&l, "woke");
    });
}

/// A blocking peer that reads one line from its one connection and
/// answers with what `answer` makes of it (the line with its newline).
fn answer_one_line(
    answer: impl FnOnce(&str) -> String + Send + 'static,
) -> (SocketAddr, JoinHandle<()>) {
    serve_one(move |mut s| {
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        s.write_all(answer(&line).as_bytes()).unwrap();
    })
}

/// Run `kernel` with a session that connects a kernel socket to `addr`
/// and spawns the future `talk` makes of it; the future's output, once
/// `run` has returned.
fn over_a_kernel_socket<T: 'static, Fut: Future<Output = T> + 'static>(
    kernel: &mut Kernel,
    addr: SocketAddr,
    talk: impl FnOnce(AsyncIo<TcpStream>) -> Fut + 'static,
) -> T {
    let got: Rc<RefCell<Option<T>>> = Rc::default();
    let talk = Cell::new(Some(talk));
    kernel.spawn(
        Session::new(got.clone())
            .on("_start", move |ctx| {
                let io = ctx.add_async(TcpStream::connect(addr).unwrap()).unwrap();
                let talk = talk.take().expect("_start runs once");
                ctx.spawn_future("output", talk(io));
            })
            .on("output", |ctx| {
                let output = ctx.take_arg::<T>().unwrap();
                *ctx.heap().borrow_mut() = Some(output);
            }),
        (),
    );
    kernel.run().unwrap();
    got.take().expect("the future's output")
}

/// A one-shot value handed from any thread to a future, with the waker
/// fired by whoever comes second.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(Option<u32>, Option<Waker>)>>);

impl Gate {
    fn open(&self, v: u32) {
        let w = {
            let mut g = self.0.lock().unwrap();
            g.0 = Some(v);
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl Future for Gate {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut g = self.0.lock().unwrap();
        match g.0 {
            Some(v) => Poll::Ready(v),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Sets its flag when dropped: shows a future was cancelled.
struct DropFlag(Rc<Cell<bool>>, Log);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
        log(&self.1, "future dropped");
    }
}

#[test]
fn output_is_queued_when_the_future_completes() {
    let l: Log = Log::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                ctx.yield_event("a", ());
                // Ready at its first poll, which comes in the next round:
                // after "a" and "b", queued before it completed.
                ctx.spawn_future("f", async { 7u32 });
                ctx.yield_event("b", ());
            })
            .on("a", |ctx| {
                log(ctx.heap(), "a");
                ctx.yield_event("c", ());
            })
            .on("b", |ctx| log(ctx.heap(), "b"))
            .on("c", |ctx| log(ctx.heap(), "c"))
            .on("f", |ctx| {
                let v = ctx.take_arg::<u32>().unwrap();
                assert_eq!(ctx.sender(), rpoe::Sender::Session(ctx.id()));
                log(ctx.heap(), format!("f {v}"));
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(*l.borrow(), ["a", "b", "f 7", "c"]);
}

#[test]
fn a_sleep_is_a_timer_in_due_order_on_the_manual_clock() {
    let l: Log = Log::default();
    let (mut kernel, clock) = manual_kernel();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                ctx.delay("t1", Duration::from_secs(10), ());
                nap_then_log(ctx, Duration::from_secs(10));
                // Set after the sleep's timer is asked for, but the sleep
                // registers at its first poll (next round): t2 is first.
                ctx.delay("t2", Duration::from_secs(10), ());
                ctx.delay("t3", Duration::from_secs(11), ());
            })
            .on("t1", |ctx| log(ctx.heap(), "t1"))
            .on("t2", |ctx| log(ctx.heap(), "t2"))
            .on("t3", |ctx| log(ctx.heap(), "t3"))
            .on("slept", |ctx| log(ctx.heap(), "slept")),
        (),
    );
    for _ in 0..5 {
        assert!(kernel.run_one_timeslice().unwrap());
    }
    assert!(l.borrow().is_empty(), "nothing before the clock moves");
    clock.advance(Duration::from_secs(10));
    for _ in 0..5 {
        kernel.run_one_timeslice().unwrap();
    }
    assert_eq!(*l.borrow(), ["t1", "t2", "woke", "slept"]);
    clock.advance(Duration::from_secs(1));
    while kernel.run_one_timeslice().unwrap() {}
    assert_eq!(*l.borrow(), ["t1", "t2", "woke", "slept", "t3"]);
}

#[test]
fn a_sleep_on_the_system_clock() {
    let done = Rc::new(Cell::new(false));
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(done.clone())
            .on("_start", |ctx| {
                let start = ctx.now();
                let nap = ctx.sleep(Duration::from_millis(5));
                let due = nap.deadline();
                assert!(due >= start + Duration::from_millis(5));
                ctx.spawn_future("slept", async move {
                    nap.await;
                    due
                });
            })
            .on("slept", |ctx| {
                let due = ctx.take_arg::<rpoe::Time>().unwrap();
                assert!(ctx.now() >= due);
                ctx.heap().set(true);
            }),
        (),
    );
    kernel.run().unwrap();
    assert!(done.get());
}

#[test]
fn a_pending_task_holds_its_session_and_is_cancelled_when_it_stops() {
    let l: Log = Log::default();
    let dropped = Rc::new(Cell::new(false));
    let (mut kernel, _clock) = manual_kernel();
    let d = dropped.clone();
    let id = kernel.spawn(
        Session::new(l.clone())
            .on("_start", move |ctx| {
                let flag = DropFlag(d.clone(), ctx.heap().clone());
                ctx.spawn_future("never", async move {
                    let _flag = flag;
                    std::future::pending::<()>().await
                });
                assert_eq!(ctx.task_count(), 1);
            })
            .on("never", |_| unreachable!())
            .on("_stop", |ctx| log(ctx.heap(), "_stop")),
        (),
    );
    for _ in 0..10 {
        assert!(kernel.run_one_timeslice().unwrap());
    }
    let info = kernel.session_info(id).expect("held by its task");
    assert!(info
        .refcounts
        .iter()
        .any(|(tag, n)| tag == "rpoe::task" && *n == 1));
    assert!(!dropped.get());
    kernel.stop();
    assert!(dropped.get());
    assert_eq!(*l.borrow(), ["_stop", "future dropped"]);
    assert_eq!(kernel.session_count(), 0);
}

#[test]
fn a_cancelled_task_releases_its_session() {
    let l: Log = Log::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                let flag = DropFlag(Rc::new(Cell::new(false)), ctx.heap().clone());
                let task = ctx.spawn_future("never", async move {
                    let _flag = flag;
                    std::future::pending::<()>().await
                });
                ctx.yield_event("cancel", task);
            })
            .on("cancel", |ctx| {
                let task = ctx.take_arg::<rpoe::TaskId>().unwrap();
                assert!(ctx.task_cancel(task));
                assert!(!ctx.task_cancel(task));
                log(ctx.heap(), "cancelled");
            })
            .on("_stop", |ctx| log(ctx.heap(), "_stop")),
        (),
    );
    // run() returns: nothing holds the session once the task is gone.
    kernel.run().unwrap();
    assert_eq!(*l.borrow(), ["future dropped", "cancelled", "_stop"]);
}

#[test]
fn a_wake_from_another_thread_wakes_the_blocked_kernel() {
    let gate = Gate::default();
    let got = Rc::new(Cell::new(0));
    let mut kernel = Kernel::new().unwrap();
    let g = gate.clone();
    kernel.spawn(
        Session::new(got.clone())
            .on("_start", move |ctx| {
                ctx.spawn_future("value", g.clone());
            })
            .on("value", |ctx| {
                let v = ctx.take_arg::<u32>().unwrap();
                ctx.heap().set(v);
            }),
        (),
    );
    // Polled once (pending), then the kernel blocks in its poll with
    // nothing else to do until the thread's wake.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        rx.recv().unwrap();
        gate.open(99);
    });
    assert!(kernel.run_one_timeslice().unwrap());
    tx.send(()).unwrap();
    kernel.run().unwrap();
    join(t);
    assert_eq!(got.get(), 99);
}

#[test]
fn a_future_talks_over_a_kernel_socket() {
    // More than the adapter buffers at once, to exercise the pause.
    let (addr, server) = answer_one_line(|line| line.trim_end().to_uppercase().repeat(40_000));
    let mut kernel = Kernel::new().unwrap();
    let got = over_a_kernel_socket(&mut kernel, addr, |io| async move {
        io.write_all(b"hello\n").await.unwrap();
        let mut out = Vec::new();
        io.read_to_end(&mut out, 1 << 20).await.unwrap();
        String::from_utf8(out).unwrap()
    });
    join(server);
    assert_eq!(got.len(), 5 * 40_000);
    assert!(got.chars().all(|c| "HELO".contains(c)));
}

#[test]
fn a_read_limit_is_an_error_not_unbounded_memory() {
    let (addr, server) = serve_one(|mut s| {
        let _ = s.write_all(&[b'x'; 10_000]);
    });
    let mut kernel = Kernel::new().unwrap();
    let got = over_a_kernel_socket(&mut kernel, addr, |io| async move {
        let mut out = Vec::new();
        io.read_to_end(&mut out, 1000).await.map_err(|e| e.kind())
    });
    join(server);
    assert_eq!(got, Err(std::io::ErrorKind::InvalidData));
}

#[test]
fn a_panicking_future_is_a_die_signal() {
    let l: Log = Log::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                ctx.sig("DIE", "on_die").unwrap();
                ctx.spawn_future("result", async {
                    panic!("boom in a future");
                });
            })
            .on("result", |_| unreachable!())
            .on("on_die", |ctx| {
                let info = ctx.arg::<Signal>().unwrap().arg::<DieInfo>().unwrap();
                let line = format!("{} {}", info.event, info.message);
                log(ctx.heap(), line);
                ctx.sig_handled();
                ctx.sig_remove("DIE");
            })
            .on("_stop", |ctx| log(ctx.heap(), "_stop")),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(*l.borrow(), ["result boom in a future", "_stop"]);
}

#[test]
fn an_unhandled_panic_in_a_future_ends_run_with_the_error() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(()).on("_start", |ctx| {
            ctx.spawn_future("result", async {
                panic!("nobody catches this");
            });
        }),
        (),
    );
    match kernel.run() {
        Err(Error::HandlerFailed { event, message, .. }) => {
            assert_eq!(event, "result");
            assert_eq!(message, "nobody catches this");
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn a_future_awaits_a_kernel_socket_on_the_manual_clock() {
    // The manual clock stands still, so only I/O readiness can move this
    // future: the kernel must still poll its sockets (without ClockStalled)
    // while a task waits on one and no timer is pending.
    let (addr, server) = answer_one_line(|line| line.to_uppercase());
    let (mut kernel, clock) = manual_kernel();
    let before = clock.now();
    let got = over_a_kernel_socket(&mut kernel, addr, |io| async move {
        io.write_all(b"manual\n").await.unwrap();
        let mut out = Vec::new();
        io.read_to_end(&mut out, 1024).await.unwrap();
        String::from_utf8(out).unwrap()
    });
    join(server);
    assert_eq!(got, "MANUAL\n");
    assert_eq!(clock.now(), before, "the manual clock moved by itself");
}

#[test]
fn alarm_remove_all_leaves_a_pending_sleep_alone() {
    // POE's alarm_remove_all clears the session's alarms; a Sleep's timer is
    // the kernel's, not an alarm the session set. Were it cleared, the
    // future would never wake and would hold its session forever.
    let l: Log = Log::default();
    let (mut kernel, clock) = manual_kernel();
    kernel.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                nap_then_log(ctx, Duration::from_secs(5));
                ctx.delay("alarm", Duration::from_secs(5), ());
                ctx.yield_event("clear", ());
            })
            .on("clear", |ctx| {
                // The sleep has registered its timer by now (first poll).
                let removed = ctx.alarm_remove_all();
                let names: Vec<String> = removed.into_iter().map(|r| r.event).collect();
                log(ctx.heap(), format!("removed {names:?}"));
            })
            .on("alarm", |ctx| log(ctx.heap(), "alarm"))
            .on("slept", |ctx| log(ctx.heap(), "slept")),
        (),
    );
    for _ in 0..5 {
        kernel.run_one_timeslice().unwrap();
    }
    clock.advance(Duration::from_secs(5));
    let mut turns = 0;
    while kernel.run_one_timeslice().unwrap() {
        turns += 1;
        assert!(turns < 100, "the session never stopped: {:?}", l.borrow());
    }
    assert_eq!(*l.borrow(), ["removed [\"alarm\"]", "woke", "slept"]);
}
