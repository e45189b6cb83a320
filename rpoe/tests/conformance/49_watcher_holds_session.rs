//! S49: a watched handle keeps its session alive, whether the watcher is
//! active with nothing to read or paused with data waiting; once the last
//! watcher is removed the session is collected at the end of that round.

use std::io::Write;
use std::time::Duration;

use mio::net::UnixStream;
use rpoe::{HandleId, Kernel, Session, SessionId};

use crate::common;

struct SHeap {
    /// `$a`: watched, nothing to read.
    idle: Option<HandleId>,
    /// `$c`: watched but paused, with data waiting.
    paused: Option<HandleId>,
    /// The unwatched peers, `$b` and `$d`, kept open.
    peers: Vec<UnixStream>,
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let s = kernel.spawn(
        Session::new(SHeap {
            idle: None,
            paused: None,
            peers: Vec::new(),
        })
        .on("_start", |ctx| {
            let (a, b) = UnixStream::pair().unwrap();
            let (c, mut d) = UnixStream::pair().unwrap();
            let a = ctx.add_handle(a);
            let c = ctx.add_handle(c);
            ctx.select_read(a, "readable").unwrap();
            ctx.select_read(c, "readable").unwrap();
            ctx.select_pause_read(c).unwrap();
            d.write_all(b"waiting\n").unwrap();
            let h = ctx.heap();
            h.idle = Some(a);
            h.paused = Some(c);
            h.peers = vec![b, d];
            say!("S watching two handles (one paused with data waiting)");
        })
        .on("readable", |_| say!("S readable (unexpected)"))
        .on("unwatch", |ctx| {
            let which = *ctx.arg::<&str>().unwrap();
            say!("S unwatch {which}");
            let h = if which == "idle" {
                ctx.heap().idle.unwrap()
            } else {
                ctx.heap().paused.unwrap()
            };
            ctx.select_read_off(h).unwrap();
        })
        .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("check", Duration::from_secs_f64(0.1), 1u32);
            })
            .on("check", move |ctx| {
                let n = *ctx.arg::<u32>().unwrap();
                let exists = ctx.session_by_number(s.number()).is_some();
                say!("T check {n}: S exists={}", u8::from(exists));
                let s: SessionId = s;
                if n == 1 {
                    let _ = ctx.call(s, "unwatch", "idle");
                } else if n == 2 {
                    let _ = ctx.call(s, "unwatch", "paused");
                    say!("T after removing the last watcher");
                }
                if n < 3 {
                    ctx.delay("check", Duration::from_secs_f64(0.1), n + 1);
                }
            })
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s49_watcher_holds_session() {
    common::check("49_watcher_holds_session", twin);
}
