//! S72: renaming a wheel's events at run time — POE's `$wheel->event(
//! InputEvent => ...)` as `ReadWrite::set_event`: later records go to the
//! new input event, end of file to the renamed error event.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream as StdUnixStream;

use mio::net::UnixStream;
use rpoe::filter::Line;
use rpoe::wheel::{ReadWrite, ReadWriteEvent, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session};

use crate::common;

struct Heap {
    left: StdUnixStream,
    w: Option<ReadWrite<Vec<u8>>>,
}

fn line(ctx: &Ctx<'_, Heap>) -> String {
    let (l, _) = ctx.arg::<(Vec<u8>, WheelId)>().unwrap();
    String::from_utf8_lossy(l).to_string()
}

fn error(ctx: &mut Ctx<'_, Heap>, name: &str) {
    let e = ctx.take_arg::<WheelError>().unwrap();
    say!("{name} op={} errnum={}", e.op, e.errno);
    ctx.heap().w = None;
}

fn twin() {
    let (left, right) = StdUnixStream::pair().unwrap();
    right.set_nonblocking(true).unwrap();
    let right = UnixStream::from_std(right);
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap { left, w: None })
            .on("_start", |ctx| {
                let right = ctx.take_arg::<UnixStream>().unwrap();
                let w = ReadWrite::builder(right, Line::new())
                    .on_input("got_one")
                    .on_error("err_one")
                    .start(ctx)
                    .unwrap();
                let h = ctx.heap();
                h.w = Some(w);
                h.left.write_all(b"one\n").unwrap();
            })
            .on("got_one", |ctx| {
                say!("got_one [{}]", line(ctx));
                let ev = ctx.event_id("got_two");
                let h = ctx.heap();
                h.w.as_ref()
                    .unwrap()
                    .set_event(ReadWriteEvent::Input, Some(ev));
                h.left.write_all(b"two\nthree\n").unwrap();
            })
            .on("got_two", |ctx| {
                let l = line(ctx);
                say!("got_two [{l}]");
                if l == "three" {
                    let ev = ctx.event_id("err_two");
                    let h = ctx.heap();
                    h.w.as_ref()
                        .unwrap()
                        .set_event(ReadWriteEvent::Error, Some(ev));
                    h.left.shutdown(Shutdown::Write).unwrap();
                }
            })
            .on("err_one", |ctx| error(ctx, "err_one"))
            .on("err_two", |ctx| error(ctx, "err_two"))
            .on("_stop", |_| say!("_stop")),
        right,
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s72_wheel_event_rename() {
    common::check("72_wheel_event_rename", twin);
}
