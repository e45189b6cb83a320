//! ClientTcp against a ServerTcp in the same kernel, over 127.0.0.1:
//! connect and exchange lines; the server closing the connection, then a
//! reconnect after the backoff; connect errors against a closed port, then
//! success once a server appears; shutdown. Everything waits on events;
//! every kernel runs under a watchdog.

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rpoe::component::{ClientTcp, ServerTcp};
use rpoe::filter::Line;
use rpoe::{Kernel, Session};

mod support;
use support::{join, run_bounded, serve_one};

const LIMIT: Duration = Duration::from_secs(30);
const ECONNREFUSED: i32 = 111;

type Log = Rc<RefCell<Vec<String>>>;

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

/// An upper-casing line server with alias `srv`; `close_after_reply`
/// makes it close each connection after its first reply.
fn upcase_server(addr: SocketAddr, close_after_reply: bool) -> ServerTcp<Line> {
    ServerTcp::new(addr, Line::literal(b"\n"))
        .alias("srv")
        .on_input(move |ctx, line: Vec<u8>| {
            let c = ctx.heap();
            c.put(&line.to_ascii_uppercase()).unwrap();
            if close_after_reply {
                c.shutdown();
            }
        })
}

#[test]
fn connects_and_exchanges_lines() {
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let info = upcase_server("127.0.0.1:0".parse().unwrap(), false)
        .spawn(&mut kernel)
        .unwrap();
    let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
    let server = info.addrs[0];
    ClientTcp::new(server, Line::literal(b"\n"))
        .state(|| 0u32)
        .on_connected(move |ctx| {
            let c = ctx.heap();
            assert!(c.is_connected());
            assert_eq!(c.remote(), server);
            assert_eq!(c.local_addr().map(|a| a.ip()), Some(server.ip()));
            push(&l1, "connected");
            c.put(&b"hello".to_vec()).unwrap();
            c.put(&b"world".to_vec()).unwrap();
        })
        .on_input(move |ctx, line: Vec<u8>| {
            push(&l2, format!("input {}", String::from_utf8_lossy(&line)));
            let c = ctx.heap();
            c.state += 1;
            if c.state == 2 {
                c.shutdown();
            }
        })
        .on_flushed(move |_| push(&l3, "flushed"))
        .on_disconnected(move |ctx| {
            push(&l4, "disconnected");
            assert!(!ctx.heap().is_connected());
            ctx.post("srv", "shutdown", ()).unwrap();
        })
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *log.borrow(),
        [
            "connected",
            "flushed",
            "input HELLO",
            "input WORLD",
            "disconnected"
        ]
    );
}

#[test]
fn reconnects_after_the_server_closes_with_backoff() {
    const INITIAL: Duration = Duration::from_millis(50);
    let log: Log = Rc::default();
    let times: Rc<RefCell<Vec<(String, Instant)>>> = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let info = upcase_server("127.0.0.1:0".parse().unwrap(), true)
        .spawn(&mut kernel)
        .unwrap();
    let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
    let (t1, t2) = (times.clone(), times.clone());
    ClientTcp::new(info.addrs[0], Line::literal(b"\n"))
        .state(|| 0u32)
        .reconnect(INITIAL, Duration::from_millis(400))
        .on_connected(move |ctx| {
            let c = ctx.heap();
            c.state += 1;
            push(&l1, format!("connected #{}", c.state));
            t1.borrow_mut().push(("connected".into(), Instant::now()));
            c.put(&format!("ping {}", c.state).into_bytes()).unwrap();
        })
        .on_input(move |_, line: Vec<u8>| {
            push(&l2, format!("input {}", String::from_utf8_lossy(&line)));
        })
        .on_error(move |_, e| {
            let what = if e.is_eof() { "eof" } else { e.op };
            push(&l3, format!("error {what}"));
        })
        .on_disconnected(move |ctx| {
            push(&l4, "disconnected");
            t2.borrow_mut()
                .push(("disconnected".into(), Instant::now()));
            if ctx.heap().state == 2 {
                ctx.heap().shutdown(); // no third connection
                ctx.post("srv", "shutdown", ()).unwrap();
            }
        })
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *log.borrow(),
        [
            "connected #1",
            "input PING 1",
            "error eof",
            "disconnected",
            "connected #2",
            "input PING 2",
            "error eof",
            "disconnected"
        ]
    );
    let times = times.borrow();
    let waited = times[2].1 - times[1].1; // disconnected -> connected again
    assert!(
        waited >= INITIAL,
        "reconnected after {waited:?}, before the {INITIAL:?} backoff"
    );
}

#[test]
fn connect_errors_back_off_until_a_server_appears() {
    const INITIAL: Duration = Duration::from_millis(20);
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed: nothing listens there yet
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log: Log = Rc::default();
    let errors: Rc<RefCell<Vec<Instant>>> = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    // Starts the server on request (from the client's error callback).
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.alias_set("ctl").unwrap())
            .on("start_server", move |ctx| {
                upcase_server(addr, false).spawn_child(ctx).unwrap();
            }),
        (),
    );
    let (l1, l2, l3, l4) = (log.clone(), log.clone(), log.clone(), log.clone());
    let e1 = errors.clone();
    ClientTcp::new(addr, Line::literal(b"\n"))
        .alias("cli")
        .reconnect(INITIAL, Duration::from_secs(1))
        .on_connect_error(move |ctx, e| {
            assert_eq!((e.op, e.errno), ("connect", ECONNREFUSED));
            let n = ctx.heap().failed_attempts();
            push(&l1, format!("connect error #{n}"));
            e1.borrow_mut().push(Instant::now());
            if n == 3 {
                ctx.post("ctl", "start_server", ()).unwrap();
            }
        })
        .on_connected(move |ctx| {
            assert_eq!(ctx.heap().failed_attempts(), 0, "reset on success");
            push(&l2, "connected");
            ctx.heap().put(&b"finally".to_vec()).unwrap();
        })
        .on_input(move |ctx, line: Vec<u8>| {
            push(&l3, format!("input {}", String::from_utf8_lossy(&line)));
            ctx.heap().shutdown();
        })
        .on_disconnected(move |ctx| {
            push(&l4, "disconnected");
            ctx.post("srv", "shutdown", ()).unwrap();
        })
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *log.borrow(),
        [
            "connect error #1",
            "connect error #2",
            "connect error #3",
            "connected",
            "input FINALLY",
            "disconnected"
        ]
    );
    // Exponential: the second wait is about twice the first.
    let e = errors.borrow();
    assert!(e[1] - e[0] >= INITIAL, "{:?}", e[1] - e[0]);
    assert!(e[2] - e[1] >= 2 * INITIAL, "{:?}", e[2] - e[1]);
}

#[test]
fn shutdown_stops_reconnecting() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let errors = Rc::new(Cell::new(0u32));
    let e = errors.clone();
    let mut kernel = Kernel::new().unwrap();
    let client = ClientTcp::new(SocketAddr::from(([127, 0, 0, 1], port)), Line::new())
        .alias("cli")
        .reconnect(Duration::from_millis(10), Duration::from_millis(10))
        .on_connect_error(move |ctx, _| {
            e.set(e.get() + 1);
            if e.get() == 2 {
                // Posted, as another session would; handled before the
                // next attempt's timer.
                ctx.post("cli", "shutdown", ()).unwrap();
            }
        })
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(errors.get(), 2);
    assert!(
        kernel.session_info(client).is_none(),
        "the client session ended"
    );
}

#[test]
fn connect_event_switches_to_a_new_address() {
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let info = upcase_server("127.0.0.1:0".parse().unwrap(), false)
        .spawn(&mut kernel)
        .unwrap();
    let server = info.addrs[0];
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    ClientTcp::new(dead, Line::literal(b"\n"))
        .on_connect_error(move |ctx, e| {
            push(&l1, format!("error {} {}", e.op, e.errno));
            ctx.yield_event("connect", server); // try the live one
        })
        .on_connected(move |ctx| {
            push(
                &l2,
                format!("connected to live={}", ctx.heap().remote() == server),
            );
            ctx.heap().put(&b"x".to_vec()).unwrap();
        })
        .on_input(move |ctx, line: Vec<u8>| {
            push(&l3, format!("input {}", String::from_utf8_lossy(&line)));
            ctx.heap().shutdown();
            ctx.post("srv", "shutdown", ()).unwrap();
        })
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(
        *log.borrow(),
        [
            format!("error connect {ECONNREFUSED}"),
            "connected to live=true".to_string(),
            "input X".to_string()
        ]
    );
}

#[test]
fn a_connect_that_hangs_times_out() {
    const ETIMEDOUT: i32 = 110;
    // A listener whose accept queue is full (backlog 0, one connection
    // never accepted): Linux drops further SYNs, so a connect hangs.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    sock.listen(0).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let _queued = std::net::TcpStream::connect(addr).unwrap();
    let log: Log = Rc::default();
    let l = log.clone();
    let mut kernel = Kernel::new().unwrap();
    ClientTcp::new(addr, Line::new())
        .connect_timeout(Duration::from_millis(200))
        .on_connect_error(move |_, e| push(&l, format!("{} {}", e.op, e.errno)))
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    drop(sock);
    assert_eq!(*log.borrow(), [format!("connect {ETIMEDOUT}")]);
}

#[test]
fn shutdown_before_the_first_attempt_means_no_attempt() {
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let log: Log = Rc::default();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let mut kernel = Kernel::new().unwrap();
    ClientTcp::new(dead, Line::new())
        .reconnect(Duration::from_millis(10), Duration::from_millis(10))
        .on_started(move |ctx| {
            push(&l1, "started");
            ctx.heap().shutdown();
        })
        .on_connect_error(move |_, _| push(&l2, "connect error"))
        .on_connected(move |_| push(&l3, "connected"))
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(*log.borrow(), ["started"]);
}

/// Issue 13, finding 12: against a server that accepts and hangs up at
/// once (what rpoe-echo does at its connection cap) the client used to
/// reconnect every `initial` forever, since every connect reset the
/// backoff. Now short-lived connections count as failures: over a fixed
/// window the reconnects are few and grow apart.
#[test]
fn a_server_that_hangs_up_at_once_is_not_hammered() {
    const INITIAL: Duration = Duration::from_millis(10);
    const WINDOW: Duration = Duration::from_millis(1500);
    let mut kernel = Kernel::new().unwrap();
    let server = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::literal(b"\n"))
        .alias("srv")
        .on_connected(|ctx| ctx.heap().shutdown())
        .spawn(&mut kernel)
        .unwrap();
    let connects: Rc<RefCell<Vec<Instant>>> = Rc::default();
    let c = connects.clone();
    ClientTcp::new(server.addrs[0], Line::literal(b"\n"))
        .alias("cli")
        .reconnect(INITIAL, Duration::from_secs(5))
        .on_connected(move |_| c.borrow_mut().push(Instant::now()))
        .spawn(&mut kernel);
    // The observation window, then stop both.
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.delay("stop", WINDOW, ());
            })
            .on("stop", |ctx| {
                ctx.post("cli", "shutdown", ()).unwrap();
                ctx.post("srv", "shutdown", ()).unwrap();
            }),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    let t = connects.borrow();
    let gaps: Vec<Duration> = t.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("{} connects in {WINDOW:?}; gaps {gaps:?}", t.len());
    // 10, 20, 40, ... ms (each up to 1.5x): at most 8 waits fit in 1.5 s.
    assert!(
        (4..=10).contains(&t.len()),
        "{} connects in {WINDOW:?}",
        t.len()
    );
    // Each wait is at least twice the one before (a timer never fires
    // early; connecting only adds to it).
    for (i, gap) in gaps.iter().enumerate() {
        assert!(*gap >= INITIAL * (1 << i), "gap {i} is {gap:?}: {gaps:?}");
    }
}

/// A connection that lasted `reconnect_reset_after` starts the backoff
/// over: the wait after it is about `initial` again, not the doubled one.
#[test]
fn a_connection_that_lasted_resets_the_backoff() {
    const INITIAL: Duration = Duration::from_millis(20);
    const LASTS: Duration = Duration::from_millis(150);
    let mut kernel = Kernel::new().unwrap();
    // Hangs up at once on the first three connections; lets the fourth
    // last longer than LASTS before hanging up.
    let accepted = Rc::new(Cell::new(0u32));
    let a = accepted.clone();
    let server = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::literal(b"\n"))
        .alias("srv")
        .on_connected(move |ctx| {
            a.set(a.get() + 1);
            let after = if a.get() == 4 {
                LASTS + Duration::from_millis(50)
            } else {
                Duration::ZERO
            };
            ctx.delay("hang_up", after, ());
        })
        .on("hang_up", |ctx| ctx.heap().shutdown())
        .spawn(&mut kernel)
        .unwrap();
    let events: Rc<RefCell<Vec<(Instant, &'static str)>>> = Rc::default();
    let (e1, e2) = (events.clone(), events.clone());
    ClientTcp::new(server.addrs[0], Line::literal(b"\n"))
        .state(|| 0u32)
        .reconnect(INITIAL, Duration::from_secs(5))
        .reconnect_reset_after(LASTS)
        .on_connected(move |ctx| {
            ctx.heap().state += 1;
            e1.borrow_mut().push((Instant::now(), "connected"));
            if ctx.heap().state == 5 {
                ctx.heap().shutdown();
                ctx.post("srv", "shutdown", ()).unwrap();
            }
        })
        .on_disconnected(move |_| e2.borrow_mut().push((Instant::now(), "gone")))
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    let ev = events.borrow();
    let kinds: Vec<&str> = ev.iter().map(|e| e.1).collect();
    let mut expect = ["connected", "gone"].repeat(4);
    expect.push("connected");
    assert_eq!(kinds[..9], expect[..], "{ev:?}");
    // Waits after each loss: 20, 40, 80 ms (each up to 1.5x) while the
    // connections were short-lived ...
    let wait = |i: usize| ev[2 * i + 2].0 - ev[2 * i + 1].0;
    assert!(wait(2) >= 4 * INITIAL, "third wait {:?}", wait(2));
    // ... and back to 20 ms (up to 30, plus scheduling) after the one
    // that lasted, where the doubling would have made it 160.
    assert!(
        wait(3) >= INITIAL && wait(3) < 6 * INITIAL,
        "wait after a lasting connection {:?}",
        wait(3)
    );
}

/// A server that sends a record that never ends: the client holds at
/// most the default input cap (64 KiB) of it, then drops the connection
/// with a `"get"` error, instead of buffering what the filter allows
/// (64 MiB for `Line`).
#[test]
fn a_server_that_never_ends_its_line_is_dropped_at_the_input_cap() {
    use std::io::{Read, Write};
    let (addr, server) = serve_one(|mut s| {
        s.set_write_timeout(Some(LIMIT)).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0usize;
        while sent < 32 << 20 {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break, // the client hung up
            }
        }
        // Hold the connection open until the client closes it.
        let _ = s.read(&mut [0u8; 16]);
        sent
    });
    let log: Log = Rc::default();
    let (l1, l2) = (log.clone(), log.clone());
    let mut kernel = Kernel::new().unwrap();
    ClientTcp::new(addr, Line::literal(b"\n"))
        .on_error(move |_, e| push(&l1, format!("error {} {}", e.op, e.message)))
        .on_disconnected(move |_| push(&l2, "disconnected"))
        .spawn(&mut kernel);
    run_bounded(&mut kernel, LIMIT);
    let sent = join(server);
    assert!(sent < 32 << 20, "the client took all {sent} bytes");
    let log = log.borrow();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log[0].starts_with("error get") && log[0].contains("limit of 65536"),
        "{log:?}"
    );
    assert_eq!(log[1], "disconnected");
}
