//! S22: ReadWrite + the default Line filter on a socketpair: lines arrive
//! as `(line, wheel id)` whatever the chunking, `put` frames with CRLF,
//! the flushed event follows the write, end of file is a `"read"` error
//! with errno 0 and the trailing fragment is dropped.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::Duration;

use mio::net::UnixStream;
use rpoe::filter::Line;
use rpoe::wheel::{ReadWrite, WheelError, WheelId};
use rpoe::{Kernel, Session};

use crate::common;

struct Heap {
    peer: StdUnixStream,
    wheel: Option<ReadWrite<Vec<u8>>>,
    wid: Option<WheelId>,
    chunks: Vec<&'static str>,
}

fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

fn twin() {
    let (peer, mine) = StdUnixStream::pair().unwrap();
    mine.set_nonblocking(true).unwrap();
    let mine = UnixStream::from_std(mine);
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap {
            peer,
            wheel: None,
            wid: None,
            chunks: vec!["a\nb\r\nc", "d\n", "e\n\nf"],
        })
        .on("_start", |ctx| {
            let mine = ctx.take_arg::<UnixStream>().unwrap();
            let w = ReadWrite::builder(mine, Line::new())
                .on_input("got_line")
                .on_error("got_error")
                .on_flushed("flushed")
                .start(ctx)
                .unwrap();
            w.put(&b"x".to_vec()).unwrap();
            w.put(&b"y".to_vec()).unwrap();
            let h = ctx.heap();
            h.wid = Some(w.id());
            h.wheel = Some(w);
            ctx.yield_event("feed", ());
        })
        .on("flushed", |ctx| {
            let id = *ctx.arg::<WheelId>().unwrap();
            let h = ctx.heap();
            let mut raw = [0u8; 100];
            let n = h.peer.read(&mut raw).unwrap();
            say!(
                "flushed wheel_matches={}; peer read raw [{}]",
                u8::from(Some(id) == h.wid),
                shown(&raw[..n])
            );
        })
        .on("feed", |ctx| {
            let h = ctx.heap();
            if h.chunks.is_empty() {
                say!("peer shuts down its write side");
                h.peer.shutdown(Shutdown::Write).unwrap();
            } else {
                let c = h.chunks.remove(0);
                say!("peer writes [{}]", shown(c.as_bytes()));
                h.peer.write_all(c.as_bytes()).unwrap();
                ctx.delay("feed", Duration::from_secs_f64(0.05), ());
            }
        })
        .on("got_line", |ctx| {
            let (line, id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
            let same = u8::from(Some(id) == ctx.heap().wid);
            say!(
                "line [{}] wheel_matches={same}",
                String::from_utf8_lossy(&line)
            );
        })
        .on("got_error", |ctx| {
            let e = ctx.take_arg::<WheelError>().unwrap();
            let h = ctx.heap();
            say!(
                "error op={} errnum={} errstr=[{}] wheel_matches={}",
                e.op,
                e.errno,
                if e.is_eof() { "" } else { &e.message },
                u8::from(Some(e.wheel) == h.wid)
            );
            h.wheel = None;
        })
        .on("_stop", |_| say!("_stop")),
        mine,
    );
    let _watchdog = common::watchdog(&mut kernel, "s22-watchdog", Duration::from_secs(10));
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s22_wheel_readwrite_line() {
    common::check("22_wheel_readwrite_line", twin);
}
