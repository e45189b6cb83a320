//! S74: where ReadWrite's flushed event lands: the wheel writes on the
//! next writable readiness and sends flushed from there, so events yielded
//! by an input handler come before it and events yielded by a queued
//! handler after it; the peer sees the data a round after the write.

use mio::net::UnixStream;
use rpoe::filter::Line;
use rpoe::wheel::{ReadWrite, WheelId};
use rpoe::{Kernel, Session};

use crate::common;

#[derive(Default)]
struct Heap {
    w: Option<ReadWrite<Vec<u8>>>,
    peer: Option<ReadWrite<Vec<u8>>>,
    f: u32,
}

fn text(ctx: &mut rpoe::Ctx<'_, Heap>) -> String {
    let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
    String::from_utf8_lossy(&line).into_owned()
}

fn twin() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap::default())
            .on("_start", |ctx| {
                let (a, b) = ctx.take_arg::<(UnixStream, UnixStream)>().unwrap();
                let w = ReadWrite::builder(a, Line::new())
                    .on_input("in")
                    .on_flushed("flushed")
                    .start(ctx)
                    .unwrap();
                let peer = ReadWrite::builder(b, Line::new())
                    .on_input("peer_in")
                    .start(ctx)
                    .unwrap();
                peer.put(&b"ping".to_vec()).unwrap();
                say!("_start: peer put ping");
                let h = ctx.heap();
                h.w = Some(w);
                h.peer = Some(peer);
            })
            .on("in", |ctx| {
                say!("in: {}", text(ctx));
                ctx.yield_event("before", ());
                ctx.heap()
                    .w
                    .as_ref()
                    .unwrap()
                    .put(&b"pong".to_vec())
                    .unwrap();
                ctx.yield_event("after", ());
            })
            .on("peer_in", |ctx| {
                say!("peer_in: {}", text(ctx));
                ctx.yield_event("go", ());
            })
            .on("go", |ctx| {
                ctx.yield_event("before", ());
                ctx.heap()
                    .w
                    .as_ref()
                    .unwrap()
                    .put(&b"bye".to_vec())
                    .unwrap();
                ctx.yield_event("after", ());
                say!("go: put bye");
            })
            .on("before", |_| say!("before"))
            .on("after", |_| say!("after"))
            .on("flushed", |ctx| {
                let h = ctx.heap();
                h.f += 1;
                say!("flushed n={}", h.f);
                if h.f == 2 {
                    h.w = None;
                    h.peer = None;
                }
            })
            .on("_stop", |_| say!("_stop")),
        (a, b),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s74_readwrite_flushed_order() {
    common::check("74_readwrite_flushed_order", twin);
}
