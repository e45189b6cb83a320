//! SocketFactory over real sockets: non-blocking connects (IPv4, IPv6,
//! Unix) reported by the success event, refused connects by the failure
//! event, and listen mode (bind, listen, accept; `local_addr`).
//!
//! Every test synchronises on the wheel's events and runs its kernel under
//! a watchdog, so a missing event fails the test instead of hanging it.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdTcpListener, TcpStream as StdTcpStream};
use std::os::unix::net::{UnixListener as StdUnixListener, UnixStream as StdUnixStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use rpoe::wheel::{
    Connected, Endpoint, SocketFactory, SocketFactoryEvent, TcpConnected, UnixConnected,
    WheelError, WheelId,
};
use rpoe::{Kernel, Session};

mod support;

use support::run_bounded;
use support::{log, Log};

const ECONNREFUSED: i32 = 111;
const ENOENT: i32 = 2;
const EADDRINUSE: i32 = 98;
const LIMIT: Duration = Duration::from_secs(20);
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn unique_path(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("rpoe-sf-{}-{tag}-{n}.sock", std::process::id()))
}

/// Connect to `target` in a session; return what the session received.
fn connect_once(target: Endpoint) -> (Log, Option<Box<dyn std::any::Any>>) {
    let events = log();
    let got: Rc<RefCell<Option<Box<dyn std::any::Any>>>> = Rc::new(RefCell::new(None));
    let mut kernel = Kernel::new().unwrap();
    let (ev, g) = (events.clone(), got.clone());
    let ev2 = events.clone();
    let ev3 = events.clone();
    let is_tcp = matches!(target, Endpoint::Tcp(_));
    kernel.spawn(
        Session::new((None::<SocketFactory>, None::<WheelId>))
            .on("_start", move |ctx| {
                let to = ctx.take_arg::<Endpoint>().unwrap();
                let f = SocketFactory::connect(to.clone())
                    .on_success("ok")
                    .on_failure("fail")
                    .start(ctx)
                    .unwrap();
                assert_eq!(f.endpoint(), &to);
                assert!(!f.is_listening());
                if let (Endpoint::Tcp(remote), Some(local)) = (&to, f.local_addr()) {
                    // getsockname: the local end of a TCP connect is known
                    // (and bound) as soon as the connect has started.
                    let local = local.tcp().unwrap();
                    assert_eq!(local.ip(), remote.ip());
                    assert_ne!(local.port(), 0);
                }
                ctx.heap().1 = Some(f.id());
                ctx.heap().0 = Some(f);
            })
            .on("ok", move |ctx| {
                let id = ctx.heap().1.unwrap();
                if is_tcp {
                    let c = ctx.take_arg::<TcpConnected>().unwrap();
                    assert_eq!(c.wheel, id);
                    ev.borrow_mut().push(format!("connected to {}", c.peer));
                    *g.borrow_mut() = Some(Box::new(c));
                } else {
                    let c = ctx.take_arg::<UnixConnected>().unwrap();
                    assert_eq!(c.wheel, id);
                    let p = c.peer.as_pathname().map(|p| p.display().to_string());
                    ev.borrow_mut()
                        .push(format!("connected to {}", p.unwrap_or_default()));
                    *g.borrow_mut() = Some(Box::new(c));
                }
                ctx.heap().0 = None;
            })
            .on("fail", move |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                assert_eq!(Some(e.wheel), ctx.heap().1);
                ev2.borrow_mut()
                    .push(format!("failed op={} errno={}", e.op, e.errno));
                ctx.heap().0 = None;
            })
            .on("_stop", move |_| ev3.borrow_mut().push("_stop".into())),
        target,
    );
    run_bounded(&mut kernel, LIMIT);
    let got = got.borrow_mut().take();
    (events, got)
}

/// Accept the connection on `listener` and check that bytes flow both
/// ways over the stream the success event delivered.
fn exchange_tcp(listener: &StdTcpListener, client: mio::net::TcpStream) {
    let (mut server_side, _) = listener.accept().unwrap();
    server_side.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut client = StdTcpStream::from(client);
    client.set_nonblocking(false).unwrap();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    client.write_all(b"ping\n").unwrap();
    let mut buf = [0u8; 5];
    server_side.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping\n");
    server_side.write_all(b"pong\n").unwrap();
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong\n");
}

#[test]
fn connect_ipv4_succeeds() {
    let listener = StdTcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (events, got) = connect_once(Endpoint::Tcp(addr));
    assert_eq!(
        *events.borrow(),
        [format!("connected to {addr}"), "_stop".to_string()]
    );
    let c = got.unwrap().downcast::<TcpConnected>().unwrap();
    assert_eq!(c.peer, addr);
    exchange_tcp(&listener, c.stream);
}

#[test]
fn connect_ipv6_succeeds() {
    let listener = match StdTcpListener::bind("[::1]:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "SKIPPED connect_ipv6_succeeds: cannot bind [::1]:0 ({e}); no IPv6 loopback here"
            );
            return;
        }
    };
    let addr = listener.local_addr().unwrap();
    let (events, got) = connect_once(Endpoint::Tcp(addr));
    assert_eq!(
        *events.borrow(),
        [format!("connected to {addr}"), "_stop".to_string()]
    );
    let c = got.unwrap().downcast::<TcpConnected>().unwrap();
    assert!(c.peer.is_ipv6());
    exchange_tcp(&listener, c.stream);
}

#[test]
fn refused_connect_fails_with_econnrefused() {
    let dead = {
        let l = StdTcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // closed: nothing listens there any more
    let (events, got) = connect_once(Endpoint::Tcp(dead));
    assert!(got.is_none());
    assert_eq!(
        *events.borrow(),
        [
            format!("failed op=connect errno={ECONNREFUSED}"),
            "_stop".to_string()
        ]
    );
}

#[test]
fn unix_socket_connect_succeeds() {
    let path = unique_path("connect");
    let listener = StdUnixListener::bind(&path).unwrap();
    let (events, got) = connect_once(Endpoint::Unix(path.clone()));
    assert_eq!(
        *events.borrow(),
        [
            format!("connected to {}", path.display()),
            "_stop".to_string()
        ]
    );
    let c = got.unwrap().downcast::<UnixConnected>().unwrap();
    let (mut server_side, _) = listener.accept().unwrap();
    let mut client = StdUnixStream::from(c.stream);
    client.set_nonblocking(false).unwrap();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    server_side.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    server_side.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn unix_socket_connect_to_missing_path_fails() {
    let path = unique_path("missing");
    let (events, got) = connect_once(Endpoint::Unix(path));
    assert!(got.is_none());
    assert_eq!(
        *events.borrow(),
        [
            format!("failed op=connect errno={ENOENT}"),
            "_stop".to_string()
        ]
    );
}

#[test]
fn dropping_a_connecting_factory_sends_nothing() {
    let listener = StdTcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let events = log();
    let (ev, ev2) = (events.clone(), events.clone());
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                let f = SocketFactory::connect(addr)
                    .on_success("ok")
                    .on_failure("fail")
                    .start(ctx)
                    .unwrap();
                drop(f); // closes the socket before the connect is reported
            })
            .on("ok", move |_| ev.borrow_mut().push("ok".into()))
            .on("fail", move |_| ev2.borrow_mut().push("fail".into())),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    assert!(events.borrow().is_empty(), "{:?}", events.borrow());
    assert_eq!(kernel.handle_count(), 0);
}

#[derive(Default)]
struct ListenHeap {
    factory: Option<SocketFactory>,
    clients: Vec<StdTcpStream>,
    expect_peers: Vec<SocketAddr>,
    accepted: Vec<(SocketAddr, WheelId)>,
}

#[test]
fn listen_mode_accepts_and_reports_local_addr() {
    let done: Rc<RefCell<Vec<(SocketAddr, WheelId)>>> = Rc::default();
    let ids: Rc<Cell<Option<WheelId>>> = Rc::default();
    let listen_addr: Rc<Cell<Option<SocketAddr>>> = Rc::default();
    let (d, i, la) = (done.clone(), ids.clone(), listen_addr.clone());
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(ListenHeap::default())
            .on("_start", move |ctx| {
                let f = SocketFactory::listen("127.0.0.1:0".parse::<SocketAddr>().unwrap())
                    .backlog(16)
                    .on_success("accepted")
                    .on_failure("failed")
                    .start(ctx)
                    .unwrap();
                assert!(f.is_listening());
                assert!(f.listener().is_some());
                assert_eq!(f.listener().map(|l| l.id()), Some(f.id()));
                let local = f.local_addr().and_then(Endpoint::tcp).unwrap();
                assert_ne!(local.port(), 0, "getsockname resolves port 0");
                la.set(Some(local));
                i.set(Some(f.id()));
                // Two clients connect (the OS completes them in the backlog).
                let h = ctx.heap();
                for _ in 0..2 {
                    let c = StdTcpStream::connect(local).unwrap();
                    h.expect_peers.push(c.local_addr().unwrap());
                    h.clients.push(c);
                }
                h.factory = Some(f);
            })
            .on("accepted", move |ctx| {
                let a = ctx
                    .take_arg::<Connected<mio::net::TcpStream, SocketAddr>>()
                    .unwrap();
                let h = ctx.heap();
                h.accepted.push((a.peer, a.wheel));
                if h.accepted.len() == 2 {
                    h.factory = None; // stop listening
                    h.clients.clear();
                    d.borrow_mut().append(&mut h.accepted);
                    let mut want = std::mem::take(&mut h.expect_peers);
                    want.sort();
                    let mut got: Vec<SocketAddr> = d.borrow().iter().map(|x| x.0).collect();
                    got.sort();
                    assert_eq!(got, want, "peers are the clients' addresses");
                }
            })
            .on("failed", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                panic!("unexpected failure {e}");
            }),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    let done = done.borrow();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|(_, w)| Some(*w) == ids.get()));
    // The listener was closed with the wheel: a new connect is refused.
    let err = StdTcpStream::connect(listen_addr.get().unwrap()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(ECONNREFUSED));
}

#[test]
fn listen_mode_on_a_unix_path() {
    let path = unique_path("listen");
    let got = log();
    let g = got.clone();
    let p = path.clone();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((None::<SocketFactory>, None::<StdUnixStream>))
            .on("_start", move |ctx| {
                let f = SocketFactory::listen(p.as_path())
                    .on_success("accepted")
                    .on_failure("failed")
                    .start(ctx)
                    .unwrap();
                assert_eq!(f.local_addr(), Some(&Endpoint::Unix(p.clone())));
                let c = StdUnixStream::connect(&p).unwrap();
                ctx.heap().0 = Some(f);
                ctx.heap().1 = Some(c);
            })
            .on("accepted", move |ctx| {
                let a = ctx.take_arg::<UnixConnected>().unwrap();
                let mut s = StdUnixStream::from(a.stream);
                s.set_nonblocking(false).unwrap();
                s.write_all(b"hello").unwrap();
                let mut buf = [0u8; 5];
                let c = ctx.heap().1.as_mut().unwrap();
                c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                c.read_exact(&mut buf).unwrap();
                g.borrow_mut()
                    .push(String::from_utf8_lossy(&buf).into_owned());
                *ctx.heap() = (None, None);
            })
            .on("failed", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                panic!("unexpected failure {e}");
            }),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(*got.borrow(), ["hello"]);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn listen_on_a_busy_port_fails_with_bind() {
    let busy = StdTcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let events = log();
    let ev = events.clone();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(None::<SocketFactory>)
            .on("_start", move |ctx| {
                let f = SocketFactory::listen(addr)
                    .on_success("accepted")
                    .on_failure("failed")
                    .start(ctx)
                    .unwrap();
                assert!(!f.is_listening());
                assert!(f.local_addr().is_none());
                *ctx.heap() = Some(f);
            })
            .on("failed", move |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                assert_eq!(Some(e.wheel), ctx.heap().as_ref().map(SocketFactory::id));
                ev.borrow_mut().push(format!("{} {}", e.op, e.errno));
                *ctx.heap() = None;
            }),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(*events.borrow(), [format!("bind {EADDRINUSE}")]);
}

#[test]
fn paused_listener_accepts_only_after_resume() {
    let events = log();
    let (ev, ev2) = (events.clone(), events.clone());
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((None::<SocketFactory>, None::<StdTcpStream>))
            .on("_start", move |ctx| {
                let f = SocketFactory::listen("127.0.0.1:0".parse::<SocketAddr>().unwrap())
                    .on_success("accepted")
                    .start(ctx)
                    .unwrap();
                f.pause_accept();
                let local = f.local_addr().and_then(Endpoint::tcp).unwrap();
                let c = StdTcpStream::connect(local).unwrap(); // waits in the backlog
                *ctx.heap() = (Some(f), Some(c));
                ctx.yield_event("tick", 3u32);
            })
            .on("tick", move |ctx| {
                // Several rounds pass with the connection pending.
                let n = *ctx.arg::<u32>().unwrap();
                if n > 0 {
                    ctx.yield_event("tick", n - 1);
                } else {
                    ev.borrow_mut().push("resume".into());
                    ctx.heap().0.as_ref().unwrap().resume_accept();
                }
            })
            .on("accepted", move |ctx| {
                ev2.borrow_mut().push("accepted".into());
                *ctx.heap() = (None, None);
            }),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    assert_eq!(*events.borrow(), ["resume", "accepted"]);
}

struct RenameHeap {
    factories: Vec<SocketFactory>,
    log: Log,
}

#[test]
fn set_event_renames_and_silences_success_and_failure() {
    let listener = StdTcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap();
    let closed = {
        let l = StdTcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let got = log();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(RenameHeap {
            factories: Vec::new(),
            log: got.clone(),
        })
        .on("_start", move |ctx| {
            let conn_two = ctx.event_id("conn_two");
            let fail_two = ctx.event_id("fail_two");
            let start = |ctx: &mut rpoe::Ctx<'_, RenameHeap>, to: SocketAddr| {
                SocketFactory::connect(to)
                    .on_success("conn_one")
                    .on_failure("fail_one")
                    .start(ctx)
                    .unwrap()
            };
            let renamed = start(ctx, open);
            renamed.set_event(SocketFactoryEvent::Success, Some(conn_two));
            let silenced = start(ctx, open);
            silenced.set_event(SocketFactoryEvent::Success, None);
            let refused = start(ctx, closed);
            refused.set_event(SocketFactoryEvent::Failure, Some(fail_two));
            let refused_silenced = start(ctx, closed);
            refused_silenced.set_event(SocketFactoryEvent::Failure, None);
            ctx.heap().factories = vec![renamed, silenced, refused, refused_silenced];
            ctx.delay("done", Duration::from_millis(500), ());
        })
        .on("conn_one", |ctx| {
            ctx.heap().log.borrow_mut().push("conn_one".into())
        })
        .on("conn_two", |ctx| {
            let c = ctx.take_arg::<TcpConnected>().unwrap();
            let line = format!("conn_two {}", c.peer);
            ctx.heap().log.borrow_mut().push(line);
        })
        .on("fail_one", |ctx| {
            ctx.heap().log.borrow_mut().push("fail_one".into())
        })
        .on("fail_two", |ctx| {
            let e = ctx.take_arg::<WheelError>().unwrap();
            let line = format!("fail_two {} {}", e.op, e.errno);
            ctx.heap().log.borrow_mut().push(line);
        })
        .on("done", |ctx| {
            ctx.heap().factories.clear();
            ctx.heap().log.borrow_mut().push("done".into());
        }),
        (),
    );
    run_bounded(&mut kernel, LIMIT);
    let mut got = got.borrow().clone();
    let last = got.pop();
    got.sort();
    assert_eq!(last.as_deref(), Some("done"));
    assert_eq!(
        got,
        [
            format!("conn_two {open}"),
            format!("fail_two connect {ECONNREFUSED}"),
        ]
    );
    drop(listener);
}
