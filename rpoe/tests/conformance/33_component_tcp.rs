//! S33: ServerTcp and ClientTcp on loopback with the default Line framing
//! both ways (input: any newline; output: CRLF): one session per
//! connection with connected / input / disconnected callbacks, a client
//! with connected / input / error / disconnected, shutdown after flush,
//! and `shutdown` posted to the listener's alias ends the server.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use rpoe::component::{ClientTcp, ServerTcp};
use rpoe::filter::Line;
use rpoe::{ChildEvent, Kernel, Session, SessionId};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let port = Rc::new(Cell::new(0u16));

    // ServerTcp has no `Stopped` callback (its `started` is shown in
    // S76): the listener is spawned as the child of a silent session,
    // which prints POE's `Started` line once the listener is up and its
    // `Stopped` line when the listener's `_stop` reports the loss of that
    // child.
    let p = port.clone();
    kernel.spawn(
        Session::new(None::<SessionId>)
            .on("_start", move |ctx| {
                let info = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::new())
                    .alias("srv")
                    .on_connected(|ctx| {
                        say!("server: client connected from {}", ctx.heap().remote.ip());
                    })
                    .on_input(|ctx, line: Vec<u8>| {
                        say!("server: input [{}]", String::from_utf8_lossy(&line));
                        let c = ctx.heap();
                        if line == b"bye" {
                            c.put(&b"BYE".to_vec()).unwrap();
                            c.shutdown();
                        } else {
                            c.put(&line.to_ascii_uppercase()).unwrap();
                        }
                    })
                    .on_disconnected(|ctx| {
                        say!("server: client disconnected");
                        let _ = ctx.post("srv", "shutdown", ());
                    })
                    .spawn_child(ctx)
                    .unwrap();
                p.set(info.addrs[0].port());
                say!("server started");
                *ctx.heap() = Some(info.session);
            })
            .on("_child", |ctx| {
                let ev = ctx.arg::<ChildEvent>().unwrap();
                if let ChildEvent::Lose(child, _) = ev {
                    if Some(*child) == *ctx.heap() {
                        say!("server: listener stopped");
                    }
                }
            }),
        (),
    );

    let remote = SocketAddr::from(([127, 0, 0, 1], port.get()));
    ClientTcp::new(remote, Line::new())
        .on_connected(|ctx| {
            say!("client: connected");
            let c = ctx.heap();
            c.put(&b"hello".to_vec()).unwrap();
            c.put(&b"bye".to_vec()).unwrap();
        })
        .on_input(|_ctx, line: Vec<u8>| {
            say!(
                "client: input [{}]",
                String::from_utf8_lossy(&line).replace('\r', "\\r")
            );
        })
        .on_error(|_ctx, e| {
            say!("client: server error op={} errnum={}", e.op, e.errno);
        })
        .on_disconnected(|_ctx| say!("client: disconnected"))
        .spawn(&mut kernel);

    let _watchdog = common::watchdog(&mut kernel, "s33-watchdog", Duration::from_secs(10));
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s33_component_tcp() {
    common::check("33_component_tcp", twin);
}
