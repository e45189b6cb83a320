//! Helpers of the ReadWrite wheel's tests (`wheel_read_write.rs`,
//! `wheel_read_write_flow.rs`): connected TCP pairs, a peer driven from
//! the test session, chunked feeds, and the sessions' heaps. Each test
//! file uses only some of them.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use rpoe::filter::Line;
use rpoe::wheel::{ReadWrite, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session};

use crate::support::run_bounded;

pub const LIMIT: Duration = Duration::from_secs(30);
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
pub const EPIPE: i32 = 32;
pub const ECONNRESET: i32 = 104;

/// A connected pair: the wheel's end (non-blocking, mio) and the peer's
/// (blocking, with timeouts).
pub fn tcp_pair() -> (mio::net::TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mine, _) = l.accept().unwrap();
    mine.set_nonblocking(true).unwrap();
    peer.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    peer.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    (mio::net::TcpStream::from_std(mine), peer)
}

pub type Log = Rc<RefCell<Vec<String>>>;

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).escape_debug().to_string()
}

pub fn err_text(e: &WheelError) -> String {
    if e.is_eof() {
        "eof".to_string()
    } else {
        format!("{} error {}", e.op, e.errno)
    }
}

pub struct Peer {
    pub peer: Option<TcpStream>,
    pub wheel: Option<ReadWrite<Vec<u8>>>,
    pub chunks: VecDeque<Vec<u8>>,
}

/// Feed `chunks` one per kernel round (each written only after the
/// previous round's reads), then half-close; return the events.
pub fn feed(chunks: Vec<Vec<u8>>) -> Vec<String> {
    let log: Log = Rc::default();
    let (l1, l2) = (log.clone(), log.clone());
    let (mine, peer) = tcp_pair();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Peer {
            peer: Some(peer),
            wheel: None,
            chunks: chunks.into(),
        })
        .on("_start", |ctx| {
            let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
            let w = ReadWrite::builder(s, Line::literal(b"\n"))
                .on_input("in")
                .on_error("err")
                .start(ctx)
                .unwrap();
            ctx.heap().wheel = Some(w);
            ctx.yield_event("feed", ());
        })
        .on("feed", |ctx| {
            let h = ctx.heap();
            let peer = h.peer.as_mut().unwrap();
            match h.chunks.pop_front() {
                Some(c) => {
                    peer.write_all(&c).unwrap();
                    ctx.yield_event("feed", ());
                }
                None => peer.shutdown(Shutdown::Write).unwrap(),
            }
        })
        .on("in", move |ctx| {
            let (r, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
            l1.borrow_mut().push(text(&r));
        })
        .on("err", move |ctx| {
            let e = ctx.take_arg::<WheelError>().unwrap();
            l2.borrow_mut().push(err_text(&e));
            ctx.heap().wheel = None;
        }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    let v = log.borrow().clone();
    v
}

/// Split `data` into chunks of the sizes `sizes` yields (cycled).
pub fn split(data: &[u8], sizes: impl Fn(usize) -> usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = sizes(i).max(1).min(data.len() - at);
        out.push(data[at..at + n].to_vec());
        at += n;
        i += 1;
    }
    out
}

pub struct PutHeap {
    pub peer: TcpStream,
    pub wheel: Option<ReadWrite<Vec<u8>>>,
    pub flushes: u32,
}

/// What an `on_input_batch` session holds: its wheel and the peer.
#[derive(Default)]
pub struct BatchHeap {
    pub w: Option<ReadWrite<Vec<u8>>>,
    pub peer: Option<TcpStream>,
}

/// Run a session whose wheel (`\n` lines, `on_input_batch`) reads what
/// the peer wrote before it started, `written` in one read. `on_batch` sees
/// each batch after it is recorded, with the number of batches before it;
/// the wheel ends at end of file. Returns the batches, as text.
pub fn batches_of(
    written: &'static [u8],
    on_batch: impl Fn(&mut Ctx<'_, BatchHeap>, &[String], usize) + 'static,
) -> Vec<Vec<String>> {
    let batches: Rc<RefCell<Vec<Vec<String>>>> = Rc::default();
    let b2 = batches.clone();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(BatchHeap::default())
            .on("_start", move |ctx| {
                let (mine, mut peer) = tcp_pair();
                peer.write_all(written).unwrap();
                let w = ReadWrite::builder(mine, Line::literal(b"\n"))
                    .on_input_batch("lines")
                    .on_error("error")
                    .start(ctx)
                    .unwrap();
                let h = ctx.heap();
                (h.w, h.peer) = (Some(w), Some(peer));
            })
            .on("lines", move |ctx| {
                let (lines, _id) = ctx.take_arg::<(Vec<Vec<u8>>, WheelId)>().unwrap();
                let lines: Vec<String> = lines.iter().map(|l| text(l)).collect();
                let before = b2.borrow().len();
                b2.borrow_mut().push(lines.clone());
                on_batch(ctx, &lines, before);
            })
            .on("error", |ctx| {
                assert!(ctx.take_arg::<WheelError>().unwrap().is_eof());
                ctx.heap().w = None;
            }),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    batches.take()
}
