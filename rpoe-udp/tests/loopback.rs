//! The UDP wheel, from outside rpoe, exchanging datagrams on loopback.

use std::net::SocketAddr;

use rpoe::filter::Line;
use rpoe::mio::net::UdpSocket;
use rpoe::wheel::WheelError;
use rpoe::{Kernel, Session};
use rpoe_udp::{Datagram, PutError, Udp};

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap()
}

#[derive(Default)]
struct Heap {
    client: Option<Udp<Vec<u8>>>,
    server: Option<Udp<Vec<u8>>>,
    server_addr: Option<SocketAddr>,
    client_addr: Option<SocketAddr>,
    echoed: Vec<Vec<u8>>,
    seen_from: Vec<SocketAddr>,
}

/// A client sends records to an echo server, several records in one
/// datagram and several datagrams from one handler; the server answers
/// each record to its sender; the client sees every record once, in order.
#[test]
fn records_round_trip_between_two_wheels() {
    let mut kernel = Kernel::new().unwrap();
    let sent: Vec<Vec<u8>> = ["one", "two", "three", "four"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let want = sent.clone();
    kernel.spawn(
        Session::new(Heap::default())
            .on("_start", move |ctx| {
                let (c, s) = (bind(), bind());
                let (caddr, saddr) = (c.local_addr().unwrap(), s.local_addr().unwrap());
                let server = Udp::builder(s, Line::literal(b"\n"))
                    .on_input("request")
                    .on_error("error")
                    .start(ctx)
                    .unwrap();
                let client = Udp::builder(c, Line::literal(b"\n"))
                    .on_input("reply")
                    .on_error("error")
                    .start(ctx)
                    .unwrap();
                for r in &sent {
                    client.put(r, saddr).unwrap();
                }
                let h = ctx.heap();
                h.client = Some(client);
                h.server = Some(server);
                h.client_addr = Some(caddr);
                h.server_addr = Some(saddr);
            })
            .on("request", |ctx| {
                let d = ctx.take_arg::<Datagram<Vec<u8>>>().unwrap();
                let h = ctx.heap();
                assert_eq!(Some(d.wheel), h.server.as_ref().map(Udp::id));
                h.seen_from.push(d.from);
                h.server.as_ref().unwrap().put(&d.record, d.from).unwrap();
            })
            .on("reply", move |ctx| {
                let d = ctx.take_arg::<Datagram<Vec<u8>>>().unwrap();
                let h = ctx.heap();
                assert_eq!(Some(d.from), h.server_addr);
                h.echoed.push(d.record);
                if h.echoed.len() == want.len() {
                    assert_eq!(h.echoed, want);
                    assert!(h.seen_from.iter().all(|a| Some(*a) == h.client_addr));
                    // Dropping both wheels ends the session.
                    h.client = None;
                    h.server = None;
                }
            })
            .on("error", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                panic!("unexpected wheel error: {e}");
            }),
        (),
    );
    kernel.run().unwrap();
}

/// One datagram carrying several records gives one event per record;
/// an unterminated tail is dropped with its datagram, not glued to the
/// next one.
#[test]
fn a_record_never_spans_datagrams() {
    let mut kernel = Kernel::new().unwrap();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    kernel.spawn(
        Session::new((None::<Udp<Vec<u8>>>, Vec::<Vec<u8>>::new()))
            .on("_start", move |ctx| {
                let s = bind();
                let to = s.local_addr().unwrap();
                let w = Udp::builder(s, Line::literal(b"\n"))
                    .on_input("in")
                    .start(ctx)
                    .unwrap();
                // Sent before the kernel polls: all three are waiting.
                peer.send_to(b"a\nb\npart", to).unwrap();
                peer.send_to(b"ial\n", to).unwrap();
                peer.send_to(b"c\n", to).unwrap();
                ctx.heap().0 = Some(w);
            })
            .on("in", |ctx| {
                let d = ctx.take_arg::<Datagram<Vec<u8>>>().unwrap();
                let h = ctx.heap();
                h.1.push(d.record);
                if h.1.last().map(Vec::as_slice) == Some(b"c") {
                    h.0 = None;
                }
            })
            .on("_stop", |ctx| {
                let got = &ctx.heap().1;
                let want: Vec<Vec<u8>> =
                    vec![b"a".to_vec(), b"b".to_vec(), b"ial".to_vec(), b"c".to_vec()];
                assert_eq!(got, &want);
            }),
        (),
    );
    kernel.run().unwrap();
}

/// The send queue is bounded: puts past the bound from one handler are
/// refused with `QueueFull`, and a put on a dropped-socket wheel is not
/// possible (the wheel is gone with its handle).
#[test]
fn the_send_queue_is_bounded() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(()).on("_start", |ctx| {
            let s = bind();
            let to: SocketAddr = s.local_addr().unwrap();
            let w = Udp::builder(s, Line::literal(b"\n"))
                .max_queued(2)
                .start(ctx)
                .unwrap();
            // Nothing is sent before this handler returns.
            w.put(&b"1".to_vec(), to).unwrap();
            w.put(&b"2".to_vec(), to).unwrap();
            assert_eq!(w.queued(), 2);
            assert!(matches!(
                w.put(&b"3".to_vec(), to),
                Err(PutError::QueueFull)
            ));
            // Dropping the wheel stops it; the session then ends.
        }),
        (),
    );
    kernel.run().unwrap();
}
