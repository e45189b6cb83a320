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
