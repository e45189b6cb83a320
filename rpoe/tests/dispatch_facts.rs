//! What a handler learns about its own dispatch travels with the delivery
//! (issue 10): here, whether the OS reported the peer closed with a read
//! readiness (`Ctx::io_peer_closed`), seen by the read handler of that
//! handle and by nobody else — not a write handler of the same round,
//! not a handler the read handler calls.

use std::io::Write;
use std::os::unix::net::UnixStream;

use rpoe::{Kernel, Session};

#[derive(Default)]
struct Seen {
    /// `io_peer_closed` in each read event, in order.
    reads: Vec<bool>,
    /// `io_peer_closed` in a write event of the same handle.
    writes: Vec<bool>,
    /// `io_peer_closed` inside a call made from the read handler.
    in_call: Vec<bool>,
}

#[test]
fn peer_closed_travels_with_the_read_event() {
    let open = run(false);
    let closed = run(true);
    assert_eq!(open.reads, vec![false], "peer still open");
    assert_eq!(closed.reads, vec![true], "peer closed after writing");
    // Writes of the same handle and calls made from the read handler are
    // other deliveries: the fact is not theirs.
    assert!(open.writes.iter().chain(&closed.writes).all(|c| !c));
    assert_eq!(closed.in_call, vec![false]);
}

/// One session watching one end of a socket pair for reads and writes;
/// what it saw is handed out through its `_stop`. `close_peer`: the far
/// end writes and then closes before the kernel runs; otherwise it writes
/// and stays open.
fn run(close_peer: bool) -> Seen {
    let (near, mut far) = UnixStream::pair().unwrap();
    far.write_all(b"hello").unwrap();
    let far = if close_peer {
        drop(far);
        None
    } else {
        Some(far)
    };
    let out = std::rc::Rc::new(std::cell::RefCell::new(Seen::default()));
    let sink = out.clone();
    let near = std::cell::Cell::new(Some(near));
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((Seen::default(), None))
            .on("_start", move |ctx| {
                let h = ctx.add_std_handle(near.take().unwrap()).unwrap();
                ctx.select_read(h, "readable").unwrap();
                ctx.select_write(h, "writable").unwrap();
                ctx.heap().1 = Some(h);
            })
            .on("readable", |ctx| {
                let closed = ctx.io_peer_closed();
                ctx.heap().0.reads.push(closed);
                let me = ctx.id();
                ctx.call(me, "probe", ()).unwrap();
                let h = ctx.heap().1.unwrap();
                ctx.close_handle(h).unwrap();
            })
            .on("writable", |ctx| {
                let closed = ctx.io_peer_closed();
                ctx.heap().0.writes.push(closed);
                let h = ctx.heap().1.unwrap();
                let _ = ctx.select_write_off(h);
            })
            .on("probe", |ctx| {
                let closed = ctx.io_peer_closed();
                ctx.heap().0.in_call.push(closed);
            })
            .on("_stop", move |ctx| {
                *sink.borrow_mut() = std::mem::take(&mut ctx.heap().0);
            }),
        (),
    );
    kernel.run().unwrap();
    drop(far);
    std::rc::Rc::try_unwrap(out).ok().unwrap().into_inner()
}

/// A handler's call depth comes from its own frame: 1 for what the kernel
/// dispatched, one more per nested call — into itself or into another
/// session — and back to 1 for the next queued event, whatever ran before.
#[test]
fn call_depth_travels_with_the_frame() {
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<(&str, u32)>::new()));
    let mut kernel = Kernel::new().unwrap();
    let s2 = seen.clone();
    let other = kernel.spawn(
        Session::new(()).on("inner", move |ctx| {
            s2.borrow_mut().push(("other.inner", ctx.call_depth()));
        }),
        (),
    );
    let s1 = seen.clone();
    let s3 = seen.clone();
    let s4 = seen.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                s1.borrow_mut().push(("_start", ctx.call_depth()));
                ctx.yield_event("outer", ());
            })
            .on("outer", move |ctx| {
                s3.borrow_mut().push(("outer", ctx.call_depth()));
                let me = ctx.id();
                ctx.call(me, "middle", ()).unwrap();
                s3.borrow_mut().push(("outer after", ctx.call_depth()));
            })
            .on("middle", move |ctx| {
                s4.borrow_mut().push(("middle", ctx.call_depth()));
                ctx.call(other, "inner", ()).unwrap();
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(
        *seen.borrow(),
        vec![
            ("_start", 1),
            ("outer", 1),
            ("middle", 2),
            ("other.inner", 3),
            ("outer after", 1),
        ]
    );
}
