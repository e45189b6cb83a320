//! `ListenAccept::set_event` over real loopback sockets: after a rename the
//! next connection reaches the new accept event; silenced, a connection is
//! accepted and closed without an event.

use std::cell::RefCell;
use std::io::Read;
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::rc::Rc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use rpoe::wheel::{Accepted, ListenAccept, ListenAcceptEvent};
use rpoe::{Ctx, Kernel, Session};

#[derive(Default)]
struct Heap {
    wheel: Option<ListenAccept>,
    addr: Option<SocketAddr>,
    clients: Vec<StdTcpStream>,
    log: Rc<RefCell<Vec<String>>>,
}

fn connect(ctx: &mut Ctx<'_, Heap>) {
    let addr = ctx.heap().addr.unwrap();
    let c = StdTcpStream::connect(addr).unwrap();
    ctx.heap().clients.push(c);
}

fn peer_port(ctx: &Ctx<'_, Heap>) -> u16 {
    ctx.arg::<Accepted<TcpStream, SocketAddr>>()
        .unwrap()
        .peer
        .port()
}

#[test]
fn set_event_renames_and_silences_accept() {
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap {
            log: log.clone(),
            ..Heap::default()
        })
        .on("_start", |ctx| {
            let l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let w = ListenAccept::new(ctx, l, "acc_one", "").unwrap();
            let h = w.handle().unwrap();
            let addr = ctx.handle::<TcpListener>(h).unwrap().local_addr().unwrap();
            ctx.heap().addr = Some(addr);
            ctx.heap().wheel = Some(w);
            connect(ctx);
        })
        .on("acc_one", |ctx| {
            let port = peer_port(ctx);
            let h = ctx.heap();
            assert_eq!(port, h.clients[0].local_addr().unwrap().port());
            h.log.borrow_mut().push("acc_one".into());
            let ev = ctx.event_id("acc_two");
            let h = ctx.heap();
            h.wheel
                .as_ref()
                .unwrap()
                .set_event(ListenAcceptEvent::Accept, Some(ev));
            connect(ctx);
        })
        .on("acc_two", |ctx| {
            let port = peer_port(ctx);
            let h = ctx.heap();
            assert_eq!(port, h.clients[1].local_addr().unwrap().port());
            h.log.borrow_mut().push("acc_two".into());
            h.wheel
                .as_ref()
                .unwrap()
                .set_event(ListenAcceptEvent::Accept, None);
            connect(ctx);
            ctx.delay("check", Duration::from_millis(300), ());
        })
        .on("check", |ctx| {
            let h = ctx.heap();
            // The third connection was accepted and closed unreported.
            let c = &mut h.clients[2];
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 8];
            let n = c.read(&mut buf).unwrap();
            h.log.borrow_mut().push(format!("third read {n}"));
            h.wheel = None;
        })
        .on("_stop", |ctx| {
            ctx.heap().log.borrow_mut().push("_stop".into())
        }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(
        *log.borrow(),
        ["acc_one", "acc_two", "third read 0", "_stop"]
    );
}
