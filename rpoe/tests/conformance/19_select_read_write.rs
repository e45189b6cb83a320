//! S19: select_read / select_write on a socketpair: watcher events carry
//! (handle, mode, extra args), SENDER is the watching session itself, they
//! are level-triggered, and in one round reads are dispatched before
//! writes; removing all watchers lets the session stop.

use std::io::{Read, Write};

use mio::net::UnixStream;
use rpoe::{HandleId, IoMode, Kernel, Sender, Session};

use crate::common;

/// POE's ARG1 of a select event: 0 read, 1 write.
fn mode_num(m: IoMode) -> u8 {
    m.poe_number()
}

struct Heap {
    left: Option<HandleId>,
    right: Option<HandleId>,
    writes: u32,
    total: String,
}

fn twin() {
    let (left, right) = UnixStream::pair().unwrap();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap {
            left: None,
            right: None,
            writes: 0,
            total: String::new(),
        })
        .on("_start", |ctx| {
            let (left, right) = ctx.take_arg::<(UnixStream, UnixStream)>().unwrap();
            let l = ctx.add_handle(left);
            let r = ctx.add_handle(right);
            // POE's select_*(fh, ev, @args): @args arrive as ARG2..; in
            // rpoe one value (a tuple for several), read with io_extra.
            ctx.select_write_with(l, "can_write", "L").unwrap();
            let h = ctx.heap();
            h.left = Some(l);
            h.right = Some(r);
            ctx.select_read_with(r, "can_read", ("R", "extra")).unwrap();
        })
        .on("can_write", |ctx| {
            let (fh, mode) = ctx.io().unwrap();
            let tag = *ctx.io_extra::<&str>().unwrap();
            let h = ctx.heap();
            h.writes += 1;
            let n = h.writes;
            let same = u8::from(Some(fh) == h.left);
            say!(
                "can_write mode={} tag={tag} same_handle={same} n={n}",
                mode_num(mode)
            );
            let sock = ctx.handle::<UnixStream>(fh).unwrap();
            sock.write_all(format!("chunk{n}\n").as_bytes()).unwrap();
            if n == 2 {
                ctx.select_write_off(fh).unwrap(); // stop watching after two writes
            }
        })
        .on("can_read", |ctx| {
            let (fh, mode) = ctx.io().unwrap();
            let mut buf = [0u8; 3]; // deliberately small reads
            let got = ctx
                .handle::<UnixStream>(fh)
                .unwrap()
                .read(&mut buf)
                .unwrap();
            let sender_is_me = u8::from(ctx.sender() == Sender::Session(ctx.id()));
            let text = String::from_utf8_lossy(&buf[..got]).replace('\n', "\\n");
            let (a, b) = *ctx.io_extra::<(&str, &str)>().unwrap();
            let x = format!("{a},{b}");
            say!(
                "can_read mode={} args={x} sender_is_me={sender_is_me} got=[{text}]",
                mode_num(mode)
            );
            let h = ctx.heap();
            h.total.push_str(&text);
            if h.total == "chunk1\\nchunk2\\n" {
                say!("read everything, removing read watcher");
                ctx.select_read_off(fh).unwrap();
            }
        })
        .on("_stop", |_| say!("_stop")),
        (left, right),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s19_select_read_write() {
    common::check("19_select_read_write", twin);
}
