//! ReadWrite over real TCP connections on 127.0.0.1: framing across any
//! chunking, put and flushed, half-close, switching the input filter
//! mid-stream, end of file, a record that never ends, and a write error
//! on a reset connection. Watermarks, pausing input and batches are in
//! `wheel_read_write_flow.rs`.
//!
//! The peer end is a plain blocking socket that the test session drives
//! from its handlers (or a thread, where the peer must read while the
//! wheel writes). Every step waits for a wheel event, never for time; each
//! kernel runs under a watchdog so a missing event fails instead of
//! hanging.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use rpoe::filter::{Block, Line};
use rpoe::wheel::{ReadWrite, WheelError, WheelId};
use rpoe::{Kernel, Session};

mod support;
use support::run_bounded;

mod rw_support;
use rw_support::*;

#[test]
fn records_are_the_same_however_the_input_is_chunked() {
    let long = "L".repeat(700);
    let data = format!("alpha\nbeta\r\n\ngamma delta\n{long}\nomega\nfrag");
    let data = data.as_bytes();
    let mut want: Vec<String> = ["alpha", "beta\\r", "", "gamma delta", &long, "omega"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.push("eof".into()); // and the trailing "frag" is dropped
    let mut chunkings: Vec<(String, Vec<Vec<u8>>)> = vec![("whole".into(), vec![data.to_vec()])];
    for n in [1usize, 2, 3, 5, 7, 64] {
        chunkings.push((format!("{n}-byte"), split(data, |_| n)));
    }
    for seed in 1u64..=4 {
        // A small LCG: irregular chunk sizes from 1 to 23 bytes.
        let sizes = move |i: usize| {
            let x = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add((i as u64).wrapping_mul(1442695040888963407));
            ((x >> 33) % 23 + 1) as usize
        };
        chunkings.push((format!("random seed {seed}"), split(data, sizes)));
    }
    for (name, chunks) in chunkings {
        assert_eq!(feed(chunks), want, "chunking: {name}");
    }
}

#[test]
fn eof_reports_read_error_zero_and_drops_the_trailing_fragment() {
    let log: Log = Rc::default();
    let (l1, l2) = (log.clone(), log.clone());
    let (mine, peer) = tcp_pair();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((Some(peer), None::<ReadWrite<Vec<u8>>>, None::<WheelId>))
            .on("_start", |ctx| {
                let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
                let w = ReadWrite::builder(s, Line::literal(b"\n"))
                    .on_input("in")
                    .on_error("err")
                    .start(ctx)
                    .unwrap();
                let h = ctx.heap();
                h.2 = Some(w.id());
                h.1 = Some(w);
                let p = h.0.as_mut().unwrap();
                p.write_all(b"one\ntwo\nfrag").unwrap();
                p.shutdown(Shutdown::Write).unwrap();
            })
            .on("in", move |ctx| {
                let (r, id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                assert_eq!(Some(id), ctx.heap().2);
                l1.borrow_mut().push(text(&r));
            })
            .on("err", move |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                assert_eq!((e.op, e.errno, e.message.as_str()), ("read", 0, ""));
                assert!(e.is_eof());
                assert_eq!(Some(e.wheel), ctx.heap().2);
                l2.borrow_mut().push(err_text(&e));
                ctx.heap().1 = None;
            }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(*log.borrow(), ["one", "two", "eof"]);
}

#[test]
fn puts_in_one_handler_are_one_write_then_flushed() {
    let log: Log = Rc::default();
    let l = log.clone();
    let (mine, peer) = tcp_pair();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(PutHeap {
            peer,
            wheel: None,
            flushes: 0,
        })
        .on("_start", |ctx| {
            let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
            let w = ReadWrite::builder(s, Line::literal(b"\n"))
                .on_flushed("flushed")
                .start(ctx)
                .unwrap();
            for r in ["one", "two", "three"] {
                assert!(!w.put(&r.as_bytes().to_vec()).unwrap(), "no high mark");
            }
            assert_eq!(w.pending(), 14, "buffered until the handler returns");
            ctx.heap().wheel = Some(w);
        })
        .on("flushed", move |ctx| {
            let id = *ctx.arg::<WheelId>().unwrap();
            let h = ctx.heap();
            let w = h.wheel.as_ref().unwrap();
            assert_eq!(id, w.id());
            assert_eq!(w.pending(), 0);
            h.flushes += 1;
            let want: &[u8] = if h.flushes == 1 {
                b"one\ntwo\nthree\n"
            } else {
                b"four\n"
            };
            let mut got = vec![0u8; want.len()];
            h.peer.read_exact(&mut got).unwrap();
            l.borrow_mut().push(format!("flushed {}", text(&got)));
            if h.flushes == 1 {
                w.put(&b"four".to_vec()).unwrap();
            } else {
                h.wheel = None;
            }
        }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *log.borrow(),
        ["flushed one\\ntwo\\nthree\\n", "flushed four\\n"]
    );
}

#[test]
fn shutdown_output_half_closes_and_input_continues() {
    let log: Log = Rc::default();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let (mine, peer) = tcp_pair();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((peer, None::<ReadWrite<Vec<u8>>>))
            .on("_start", |ctx| {
                let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
                let w = ReadWrite::builder(s, Line::literal(b"\n"))
                    .on_input("in")
                    .on_error("err")
                    .on_flushed("flushed")
                    .start(ctx)
                    .unwrap();
                w.put(&b"bye".to_vec()).unwrap();
                w.shutdown_output();
                ctx.heap().1 = Some(w);
            })
            .on("flushed", move |ctx| {
                // The peer gets the data, then end of file ...
                let mut got = Vec::new();
                ctx.heap().0.read_to_end(&mut got).unwrap();
                l1.borrow_mut()
                    .push(format!("peer read {} then EOF", text(&got)));
                // ... and can still talk to the wheel.
                ctx.heap().0.write_all(b"after\n").unwrap();
            })
            .on("in", move |ctx| {
                let (r, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                l2.borrow_mut().push(format!("in {}", text(&r)));
                ctx.heap().0.shutdown(Shutdown::Write).unwrap();
            })
            .on("err", move |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                l3.borrow_mut().push(err_text(&e));
                ctx.heap().1 = None;
            }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *log.borrow(),
        ["peer read bye\\n then EOF", "in after", "eof"]
    );
}

#[test]
fn set_input_filter_mid_stream_keeps_the_pending_bytes() {
    let log: Log = Rc::default();
    let (l1, l2) = (log.clone(), log.clone());
    let (mine, peer) = tcp_pair();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((peer, None::<ReadWrite<Vec<u8>>>))
            .on("_start", |ctx| {
                let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
                let w = ReadWrite::builder(s, Line::literal(b"\n"))
                    .on_input("in")
                    .on_error("err")
                    .start(ctx)
                    .unwrap();
                ctx.heap().1 = Some(w);
                // A line, then the start of what is to be 4-byte blocks.
                ctx.heap().0.write_all(b"hello\nXXXX").unwrap();
            })
            .on("in", move |ctx| {
                let (r, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                l1.borrow_mut().push(text(&r));
                let h = ctx.heap();
                match r.as_slice() {
                    b"hello" => {
                        // "XXXX" waits in the line filter: it moves to the
                        // block filter, and frames with what comes next.
                        h.1.as_ref().unwrap().set_input_filter(Block::fixed(4));
                        h.0.write_all(b"YYYYZZ").unwrap();
                    }
                    b"YYYY" => h.0.shutdown(Shutdown::Write).unwrap(),
                    _ => {}
                }
            })
            .on("err", move |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                l2.borrow_mut().push(err_text(&e));
                ctx.heap().1 = None;
            }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(*log.borrow(), ["hello", "XXXX", "YYYY", "eof"]);
}

#[test]
fn writing_to_a_reset_connection_is_a_write_error() {
    let log: Log = Rc::default();
    let l = log.clone();
    let (mine, peer) = tcp_pair();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((Some(peer), None::<ReadWrite<Vec<u8>>>))
            .on("_start", |ctx| {
                let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
                let w = ReadWrite::builder(s, Line::literal(b"\n"))
                    .on_error("err")
                    .on_flushed("flushed")
                    .start(ctx)
                    .unwrap();
                // Not reading: the reset is noticed by a write.
                w.pause_input();
                let peer = ctx.heap().0.take().unwrap();
                socket2::SockRef::from(&peer)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(peer); // RST
                w.put(&vec![b'z'; 64 << 10]).unwrap();
                ctx.heap().1 = Some(w);
            })
            .on("flushed", |ctx| {
                // The reset had not arrived yet: keep writing.
                if let Some(w) = &ctx.heap().1 {
                    w.put(&vec![b'z'; 64 << 10]).unwrap();
                }
            })
            .on("err", move |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                l.borrow_mut().push(format!("{} {}", e.op, e.errno));
                ctx.heap().1 = None;
            }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    let log = log.borrow();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0] == format!("write {EPIPE}") || log[0] == format!("write {ECONNRESET}"),
        "{log:?}"
    );
}

/// `max_input` bounds what the filter may hold unframed, whatever the
/// filter's own (POE-sized) limits: the records before are delivered,
/// then a `"get"` error, and reading stops.
#[test]
fn max_input_cuts_off_a_record_that_never_ends() {
    #[derive(Default)]
    struct Heap {
        wheel: Option<ReadWrite<Vec<u8>>>,
        far: Option<mio::net::UnixStream>,
        lines: Vec<Vec<u8>>,
        error: Option<WheelError>,
    }
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap::default())
            .on("_start", |ctx| {
                let (near, mut far) = mio::net::UnixStream::pair().unwrap();
                let wheel = ReadWrite::builder(near, Line::literal("\n"))
                    .max_input(1000)
                    .on_input("line")
                    .on_error("error")
                    .start(ctx)
                    .unwrap();
                far.write_all(b"ok\n").unwrap();
                far.write_all(&[b'x'; 1001]).unwrap();
                let heap = ctx.heap();
                (heap.wheel, heap.far) = (Some(wheel), Some(far));
            })
            .on("line", |ctx| {
                let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                ctx.heap().lines.push(line);
            })
            .on("error", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                let heap = ctx.heap();
                heap.error = Some(e);
                heap.wheel = None;
                heap.far = None;
            })
            .on("_stop", |ctx| {
                let heap = ctx.heap();
                assert_eq!(heap.lines, [b"ok".to_vec()]);
                let e = heap.error.as_ref().expect("an error event");
                assert_eq!((e.op, e.errno), ("get", 22), "{e}");
                assert!(e.message.contains("limit of 1000"), "{e}");
            }),
        (),
    );
    kernel.run().unwrap();
}
