//! S71: a wheel's error carries the operation, the errno, and its text as
//! POE's `$errstr` ("Connection refused"), without std's " (os error N)"
//! suffix: `WheelError::{op, errno, message}`.

use std::net::SocketAddr;

use rpoe::wheel::{SocketFactory, WheelError};
use rpoe::{Kernel, Session};

use crate::common;

/// ECONNREFUSED on Linux.
const ECONNREFUSED: i32 = 111;

fn twin() {
    let dead_port = {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        closed.local_addr().unwrap().port()
    }; // closed here
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(None::<SocketFactory>)
            .on("_start", move |ctx| {
                let sf = SocketFactory::connect(SocketAddr::from(([127, 0, 0, 1], dead_port)))
                    .on_success("connected")
                    .on_failure("failed")
                    .start(ctx)
                    .unwrap();
                *ctx.heap() = Some(sf);
            })
            .on("connected", |ctx| {
                say!("connected?!");
                *ctx.heap() = None;
            })
            .on("failed", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                say!(
                    "failed: op={} errnum_is_ECONNREFUSED={} errstr=[{}]",
                    e.op,
                    u8::from(e.errno == ECONNREFUSED),
                    e.message
                );
                *ctx.heap() = None;
            })
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s71_wheel_errstr() {
    common::check("71_wheel_errstr", twin);
}
