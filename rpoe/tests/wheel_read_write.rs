//! ReadWrite over real TCP connections on 127.0.0.1: framing across any
//! chunking, put and flushed, watermarks, pausing input, half-close,
//! switching the input filter mid-stream, end of file, and a write error
//! on a reset connection.
//!
//! The peer end is a plain blocking socket that the test session drives
//! from its handlers (or a thread, where the peer must read while the
//! wheel writes). Every step waits for a wheel event, never for time; each
//! kernel runs under a watchdog so a missing event fails instead of
//! hanging.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use rpoe::filter::{Block, Line};
use rpoe::wheel::{ReadWrite, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session};

mod support;
use support::run_bounded;

const LIMIT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const EPIPE: i32 = 32;
const ECONNRESET: i32 = 104;

/// A connected pair: the wheel's end (non-blocking, mio) and the peer's
/// (blocking, with timeouts).
fn tcp_pair() -> (mio::net::TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mine, _) = l.accept().unwrap();
    mine.set_nonblocking(true).unwrap();
    peer.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    peer.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    (mio::net::TcpStream::from_std(mine), peer)
}

type Log = Rc<RefCell<Vec<String>>>;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).escape_debug().to_string()
}

fn err_text(e: &WheelError) -> String {
    if e.is_eof() {
        "eof".to_string()
    } else {
        format!("{} error {}", e.op, e.errno)
    }
}

struct Peer {
    peer: Option<TcpStream>,
    wheel: Option<ReadWrite<Vec<u8>>>,
    chunks: VecDeque<Vec<u8>>,
}

/// Feed `chunks` one per kernel round (each written only after the
/// previous round's reads), then half-close; return the events.
fn feed(chunks: Vec<Vec<u8>>) -> Vec<String> {
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
fn split(data: &[u8], sizes: impl Fn(usize) -> usize) -> Vec<Vec<u8>> {
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

struct PutHeap {
    peer: TcpStream,
    wheel: Option<ReadWrite<Vec<u8>>>,
    flushes: u32,
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
fn watermark_events_and_put_return_value() {
    const BIG: usize = 4 << 20;
    const HIGH: usize = 256 << 10;
    const LOW: usize = 64 << 10;
    let log: Log = Rc::default();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let (mine, peer) = tcp_pair();
    // Small socket buffers, so that most of a big record waits in the
    // wheel until the peer reads.
    socket2::SockRef::from(&mine)
        .set_send_buffer_size(32 << 10)
        .unwrap();
    socket2::SockRef::from(&peer)
        .set_recv_buffer_size(32 << 10)
        .unwrap();
    // The peer reads everything, but only once told to.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut peer = peer;
        go_rx.recv_timeout(LIMIT).expect("told to read");
        let mut total = 0usize;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match peer.read(&mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("peer read failed after {total} bytes: {e}"),
            }
        }
    });
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((None::<ReadWrite<Vec<u8>>>, Some(go_tx), 0u32))
            .on("_start", move |ctx| {
                let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
                // No effective high mark yet: this put stays "low".
                let w = ReadWrite::builder(s, Line::literal(b"\n"))
                    .on_high(usize::MAX, "high")
                    .on_low(LOW, "low")
                    .on_flushed("flushed")
                    .start(ctx)
                    .unwrap();
                let high = w.put(&vec![b'x'; BIG - 1]).unwrap();
                l1.borrow_mut().push(format!("put high={high}"));
                // Lower the mark: the first write leaves the buffer above
                // it, which sends the high event.
                w.set_marks(Some(HIGH), Some(LOW));
                ctx.heap().0 = Some(w);
            })
            .on("high", move |ctx| {
                l2.borrow_mut().push("high".into());
                if let Some(go) = ctx.heap().1.take() {
                    go.send(()).unwrap();
                }
            })
            .on("low", move |_| l3.borrow_mut().push("low".into()))
            .on("flushed", {
                let l = log.clone();
                move |ctx| {
                    l.borrow_mut().push("flushed".into());
                    let h = ctx.heap();
                    h.2 += 1;
                    if h.2 == 1 {
                        // Above the high mark at once: put says so.
                        let w = h.0.as_ref().unwrap();
                        let high = w.put(&vec![b'y'; BIG - 1]).unwrap();
                        l.borrow_mut().push(format!("put high={high}"));
                        assert!(w.pending() >= HIGH);
                    } else {
                        h.0 = None; // close: the reader sees EOF
                    }
                }
            }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *log.borrow(),
        [
            "put high=false",
            "high",
            "low",
            "flushed",
            "put high=true",
            "low",
            "flushed"
        ]
    );
    assert_eq!(reader.join().unwrap(), 2 * BIG);
}

#[test]
fn paused_input_waits_until_resumed() {
    let log: Log = Rc::default();
    let l = log.clone();
    let l2 = log.clone();
    let (mine, peer) = tcp_pair();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((peer, None::<ReadWrite<Vec<u8>>>))
            .on("_start", |ctx| {
                let s = ctx.take_arg::<mio::net::TcpStream>().unwrap();
                let w = ReadWrite::builder(s, Line::literal(b"\n"))
                    .on_input("in")
                    .start(ctx)
                    .unwrap();
                ctx.heap().1 = Some(w);
                ctx.heap().0.write_all(b"one\n").unwrap();
            })
            .on("in", move |ctx| {
                let (r, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                l.borrow_mut().push(text(&r));
                let h = ctx.heap();
                if r == b"one" {
                    h.1.as_ref().unwrap().pause_input();
                    h.0.write_all(b"two\n").unwrap();
                    ctx.yield_event("tick", 3u32);
                } else {
                    h.1 = None;
                }
            })
            .on("tick", move |ctx| {
                // Rounds pass, "two" waits in the socket.
                let n = *ctx.arg::<u32>().unwrap();
                if n > 0 {
                    ctx.yield_event("tick", n - 1);
                } else {
                    l2.borrow_mut().push("resume".into());
                    ctx.heap().1.as_ref().unwrap().resume_input();
                }
            }),
        mine,
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(*log.borrow(), ["one", "resume", "two"]);
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

/// Issue 12: a wheel with watermark events but no flushed event writes a
/// put at once while it is below the high mark (no event can follow from
/// the write, so nothing waits for POE's next-writable order); a put that
/// reaches the high mark waits for the writable readiness (the low event
/// then comes before what the putting, queued handler yielded, as in POE:
/// scenario 74's order).
#[test]
fn watermarks_defer_the_write_only_at_the_mark() {
    #[derive(Default)]
    struct Heap {
        w: Option<ReadWrite<Vec<u8>>>,
        peer: Option<TcpStream>,
    }
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let (seen2, seen3) = (seen.clone(), seen.clone());
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap::default())
            .on("_start", |ctx| {
                let (mine, peer) = tcp_pair();
                let w = ReadWrite::builder(mine, Line::literal(b"\n"))
                    .on_input("in")
                    .on_high(100, "high")
                    .on_low(10, "low")
                    .start(ctx)
                    .unwrap();
                let mut peer = peer;
                peer.write_all(b"go\n").unwrap();
                let h = ctx.heap();
                (h.w, h.peer) = (Some(w), Some(peer));
            })
            .on("in", |ctx| {
                // In the I/O phase, where the two orders differ.
                ctx.heap()
                    .w
                    .as_ref()
                    .unwrap()
                    .put(&b"small".to_vec())
                    .unwrap();
                ctx.yield_event("check", 6usize);
            })
            .on("check", move |ctx| {
                let size = *ctx.arg::<usize>().unwrap();
                let h = ctx.heap();
                let w = h.w.as_ref().unwrap();
                seen2
                    .borrow_mut()
                    .push(format!("check {size}: {} pending", w.pending()));
                if size == 6 {
                    w.put(&vec![b'b'; 200]).unwrap();
                    ctx.yield_event("check", 201usize);
                } else {
                    let mut got = vec![0u8; 6 + 201];
                    h.peer.as_mut().unwrap().read_exact(&mut got).unwrap();
                    assert_eq!(&got[..6], b"small\n");
                    h.w = None;
                }
            })
            .on("low", move |_| seen3.borrow_mut().push("low".into())),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *seen.borrow(),
        ["check 6: 0 pending", "low", "check 201: 0 pending"]
    );
}

/// What an `on_input_batch` session holds: its wheel and the peer.
#[derive(Default)]
struct BatchHeap {
    w: Option<ReadWrite<Vec<u8>>>,
    peer: Option<TcpStream>,
}

/// Run a session whose wheel (`\n` lines, `on_input_batch`) reads what
/// the peer wrote before it started, `written` in one read. `on_batch` sees
/// each batch after it is recorded, with the number of batches before it;
/// the wheel ends at end of file. Returns the batches, as text.
fn batches_of(
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

/// `on_input_batch`: the records of one read come in one event, in order,
/// an unfinished record waits for the next read, and end of file comes
/// after the last batch.
#[test]
fn on_input_batch_hands_a_reads_records_over_together() {
    // Three records and the start of a fourth in the first read.
    let batches = batches_of(b"a\nbb\nccc\ndd", |ctx, lines, _| {
        if lines.len() == 3 {
            let peer = ctx.heap().peer.as_mut().unwrap();
            peer.write_all(b"d\n").unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
        }
    });
    assert_eq!(batches, [vec!["a", "bb", "ccc"], vec!["ddd"]]);
}

/// `on_input_batch` and the input filter switched twice in one handler,
/// each switch completing records out of the bytes the old filter held:
/// the carried records come once, together, and no batch is empty. (Each
/// switch queues a delivery; the second used to find the records already
/// sent by the first and post an empty batch.)
#[test]
fn on_input_batch_never_posts_an_empty_batch_after_two_filter_switches() {
    // One read: a line, then bytes the first filter holds.
    let batches = batches_of(b"first\nx;y;z", |ctx, _, before| {
        if before == 0 {
            let h = ctx.heap();
            let w = h.w.as_ref().unwrap();
            // "x;y;z" gives "x", "y" and holds "z"; then "z" gives "".
            w.set_input_filter(Line::new().input_any_of(b";"));
            w.set_input_filter(Line::literal(b"z"));
            h.peer.as_mut().unwrap().shutdown(Shutdown::Write).unwrap();
        }
    });
    assert_eq!(batches, [vec!["first"], vec!["x", "y", ""]]);
}
