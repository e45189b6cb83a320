//! S73: select_expedite on a TCP connection: the urgent byte raises the
//! expedite event (mode 2, POE's MODE_EX) with the extra args, sender the
//! watching session, every round until it is read with MSG_OOB; ordinary
//! data after it goes to the read watcher.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use rpoe::{HandleId, Kernel, Sender, Session};

use crate::common;

struct Heap {
    server: Option<HandleId>,
    client: TcpStream,
    urgent: u32,
}

fn twin() {
    let listen = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listen.local_addr().unwrap()).unwrap();
    let (server, _) = listen.accept().unwrap();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap {
            server: None,
            client,
            urgent: 0,
        })
        .on("_start", |ctx| {
            let server = ctx.take_arg::<std::net::TcpStream>().unwrap();
            let s = ctx.add_std_handle(server).unwrap();
            ctx.heap().server = Some(s);
            // POE's select_expedite(fh, ev, @args): one value here, a tuple.
            ctx.select_expedite_with(s, "urgent", ("X", "extra"))
                .unwrap();
            say!("watching for urgent data");
            socket2::SockRef::from(&ctx.heap().client)
                .send_out_of_band(b"!")
                .unwrap();
            say!("sent urgent byte");
        })
        .on("urgent", |ctx| {
            let (fh, mode) = ctx.io().unwrap();
            let (a, b) = *ctx.io_extra::<(&str, &str)>().unwrap();
            let sender_is_me = u8::from(ctx.sender() == Sender::Session(ctx.id()));
            let h = ctx.heap();
            h.urgent += 1;
            let n = h.urgent;
            let same = u8::from(Some(fh) == h.server);
            say!(
                "urgent n={n} mode={} args={a},{b} same_handle={same} sender_is_me={sender_is_me}",
                mode.poe_number()
            );
            // Left unread, the byte raises the event again next round.
            if n < 2 {
                return;
            }
            let mut buf = [0u8; 1];
            let sock = ctx.handle::<mio::net::TcpStream>(fh).unwrap();
            let (got, _) =
                rustix::net::recv(&*sock, &mut buf[..], rustix::net::RecvFlags::OOB).unwrap();
            say!(
                "recv MSG_OOB got=[{}]",
                String::from_utf8_lossy(&buf[..got])
            );
            ctx.select_expedite_off(fh).unwrap();
            ctx.select_read(fh, "plain").unwrap();
            ctx.heap().client.write_all(b"abc").unwrap();
        })
        .on("plain", |ctx| {
            let (fh, mode) = ctx.io().unwrap();
            let mut buf = [0u8; 16];
            let got = ctx
                .handle::<mio::net::TcpStream>(fh)
                .unwrap()
                .read(&mut buf)
                .unwrap();
            say!(
                "plain mode={} got=[{}]",
                mode.poe_number(),
                String::from_utf8_lossy(&buf[..got])
            );
            ctx.select_read_off(fh).unwrap();
        })
        .on("_stop", |_| say!("_stop")),
        server,
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s73_select_expedite() {
    common::check("73_select_expedite", twin);
}
