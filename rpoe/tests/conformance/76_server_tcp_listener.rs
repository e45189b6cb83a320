//! S76: ServerTcp's listener session runs user code as POE's does:
//! `started` gets the `listener_args` (POE's `Started` with `ListenerArgs`
//! as ARG0..) in the listener session, and each connection's session is
//! a child of the listener.

use std::cell::Cell;
use std::io::Write;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use rpoe::component::ServerTcp;
use rpoe::filter::Line;
use rpoe::{Kernel, Sender, Session, SessionId};

use crate::common;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    let port = Rc::new(Cell::new(0u16));
    let listener_id: Rc<Cell<Option<SessionId>>> = Rc::new(Cell::new(None));

    let (p, l1, l2) = (port.clone(), listener_id.clone(), listener_id.clone());
    ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::new())
        .alias("srv")
        .listener_args(vec!["alpha", "beta"])
        .started(move |ctx, addr| {
            p.set(addr.port());
            l1.set(Some(ctx.id()));
            let args = ctx.heap().args::<Vec<&str>>().unwrap().join(" ");
            say!("started: args [{args}]");
        })
        .on_connected(move |ctx| {
            let is_listener = ctx.parent() == Sender::Session(l2.get().unwrap());
            say!("connected: parent is listener {}", u8::from(is_listener));
        })
        .on_input(|ctx, line: Vec<u8>| {
            say!("input [{}]", String::from_utf8_lossy(&line));
            ctx.heap().shutdown();
        })
        .on_disconnected(|ctx| {
            say!("disconnected");
            let _ = ctx.post("srv", "shutdown", ());
        })
        .spawn(&mut kernel)
        .unwrap();

    // A plain client, as the script's: connect, send a line, and let the
    // session that holds the socket end (closing it).
    let port = port.get();
    kernel.spawn(
        Session::new(None::<TcpStream>).on("_start", move |ctx| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"hi\n").unwrap();
            *ctx.heap() = Some(s);
        }),
        (),
    );

    let _watchdog = common::watchdog(&mut kernel, "s76-watchdog", Duration::from_secs(10));
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s76_server_tcp_listener() {
    common::check("76_server_tcp_listener", twin);
}
