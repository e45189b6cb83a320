//! S34: ListenAccept and SocketFactory: the accept event carries (socket,
//! peer address, wheel id); a SocketFactory's success event (socket, peer
//! address, wheel id); a refused connect its failure event ("connect",
//! ECONNREFUSED, ..., wheel id). The three events come in one round in
//! an order POE leaves to hash order, so they are printed sorted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use rpoe::wheel::{Accepted, ListenAccept, SocketFactory, TcpConnected, WheelError, WheelId};
use rpoe::{Kernel, Session};

use crate::common;

/// ECONNREFUSED on Linux.
const ECONNREFUSED: i32 = 111;

#[derive(Default)]
struct Heap {
    la: Option<ListenAccept>,
    ok: Option<SocketFactory>,
    bad: Option<SocketFactory>,
    ids: HashMap<WheelId, &'static str>,
    log: Vec<String>,
    server_side: Option<TcpStream>,
    client_side: Option<TcpStream>,
    finished: bool,
}

fn twin() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dead_port = {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        closed.local_addr().unwrap().port()
    }; // closed here
    listener.set_nonblocking(true).unwrap();
    let listener = TcpListener::from_std(listener);

    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap::default())
            .on("_start", move |ctx| {
                let listener = ctx.take_arg::<TcpListener>().unwrap();
                let la = ListenAccept::new(ctx, listener, "accepted", "la_error").unwrap();
                let to = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
                let ok = SocketFactory::connect(to(port))
                    .on_success("connected")
                    .on_failure("sf_fail")
                    .start(ctx)
                    .unwrap();
                let bad = SocketFactory::connect(to(dead_port))
                    .on_success("connected")
                    .on_failure("sf_fail")
                    .start(ctx)
                    .unwrap();
                let h = ctx.heap();
                h.ids.insert(la.id(), "listen");
                h.ids.insert(ok.id(), "good-connect");
                h.ids.insert(bad.id(), "bad-connect");
                h.la = Some(la);
                h.ok = Some(ok);
                h.bad = Some(bad);
            })
            .on("accepted", |ctx| {
                let a = ctx.take_arg::<Accepted<TcpStream, SocketAddr>>().unwrap();
                let h = ctx.heap();
                // POE: `defined fileno($sock)`; a Rust stream is always open.
                h.log.push(format!(
                    "accepted on {} from {} is_socket=1",
                    h.ids[&a.wheel],
                    a.peer.ip()
                ));
                h.server_side = Some(a.stream);
                ctx.yield_event("finish", ());
            })
            .on("connected", move |ctx| {
                let c = ctx.take_arg::<TcpConnected>().unwrap();
                let h = ctx.heap();
                h.log.push(format!(
                    "connected via {} to port_matches={}",
                    h.ids[&c.wheel],
                    u8::from(c.peer.port() == port)
                ));
                h.client_side = Some(c.stream);
                h.ok = None;
                ctx.yield_event("finish", ());
            })
            .on("sf_fail", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                let h = ctx.heap();
                h.log.push(format!(
                    "failure on {}: op={} refused={}",
                    h.ids[&e.wheel],
                    e.op,
                    u8::from(e.errno == ECONNREFUSED)
                ));
                h.bad = None;
                ctx.yield_event("finish", ());
            })
            .on("la_error", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                say!("listen error {}", e.op);
            })
            .on("finish", |ctx| {
                let h = ctx.heap();
                if h.server_side.is_none() || h.client_side.is_none() || h.bad.is_some() {
                    return;
                }
                if std::mem::replace(&mut h.finished, true) {
                    return;
                }
                let mut log = std::mem::take(&mut h.log);
                log.sort();
                for line in log {
                    say!("{line}");
                }
                say!("all done, dropping wheels and sockets");
                h.la = None;
                h.server_side = None;
                h.client_side = None;
            })
            .on("_stop", |_| say!("_stop")),
        listener,
    );
    let _watchdog = common::watchdog(&mut kernel, "s34-watchdog", Duration::from_secs(10));
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s34_listen_accept_socketfactory() {
    common::check("34_listen_accept_socketfactory", twin);
}
