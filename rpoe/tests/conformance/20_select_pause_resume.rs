//! S20: select_pause_read / select_resume_read: a paused read watcher
//! delivers nothing while data waits, still keeps the session alive, and
//! delivers the backlog once resumed.

use std::io::{Read, Write};
use std::time::Duration;

use mio::net::UnixStream;
use rpoe::{HandleId, Kernel, Session};

use crate::common;

struct Heap {
    /// The writing end, `$a`: a plain socket the session keeps (unwatched).
    a: Option<UnixStream>,
    /// The watched end, `$b`.
    b: Option<HandleId>,
}

fn twin() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap { a: None, b: None })
            .on("_start", |ctx| {
                let (mut a, b) = ctx.take_arg::<(UnixStream, UnixStream)>().unwrap();
                let b = ctx.add_handle(b);
                ctx.select_read(b, "readable").unwrap();
                a.write_all(b"one\n").unwrap();
                let h = ctx.heap();
                h.a = Some(a);
                h.b = Some(b);
            })
            .on("readable", |ctx| {
                let (fh, _) = ctx.io().unwrap();
                let mut buf = [0u8; 100];
                let n = ctx
                    .handle::<UnixStream>(fh)
                    .unwrap()
                    .read(&mut buf)
                    .unwrap();
                let text = String::from_utf8_lossy(&buf[..n]).replace('\n', "\\n");
                say!("readable got=[{text}]");
                let b = ctx.heap().b.unwrap();
                if text == "one\\n" {
                    say!("pausing reads, writing more");
                    ctx.select_pause_read(b).unwrap();
                    ctx.heap().a.as_mut().unwrap().write_all(b"two\n").unwrap();
                    ctx.delay("resume", Duration::from_secs_f64(0.3), ());
                    ctx.yield_event("tick", 1u32);
                } else {
                    ctx.select_read_off(b).unwrap();
                    ctx.heap().a = None; // close $a
                }
            })
            .on("tick", |ctx| {
                let n = *ctx.arg::<u32>().unwrap();
                say!("tick {n} (no read event while paused)");
                if n < 3 {
                    ctx.yield_event("tick", n + 1);
                }
            })
            .on("resume", |ctx| {
                say!("resuming reads");
                let b = ctx.heap().b.unwrap();
                ctx.select_resume_read(b).unwrap();
            })
            .on("_stop", |_| say!("_stop")),
        (a, b),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s20_select_pause_resume() {
    common::check("20_select_pause_resume", twin);
}
