//! The kernel's I/O watchers on real sockets (POE's `select_read`,
//! `select_write`, `select_expedite`): the handle handed back, level
//! triggering, pause and resume, what keeps a session alive, and urgent
//! data.

use std::io::{Read, Write};
use std::time::Duration;

use mio::net::UnixStream;
use rpoe::{Ctx, HandleId, Kernel, ManualClock, Sender, Session};

mod support;

use support::{lines, log, Log};

/// A session watching one end of a socket pair.
struct Io {
    log: Log,
    h: Option<HandleId>,
}

/// A session logging to `l`, its handle not yet adopted.
fn io_session(l: &Log) -> Session<Io> {
    Session::new(Io {
        log: l.clone(),
        h: None,
    })
}

/// Adopt the socket `_start` was given as the session's handle.
fn adopt(ctx: &mut Ctx<'_, Io>) -> HandleId {
    let sock = ctx.take_arg::<UnixStream>().unwrap();
    let h = ctx.add_handle(sock);
    ctx.heap().h = Some(h);
    h
}

#[test]
fn select_read_hands_back_the_handle_and_is_level_triggered() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    theirs.write_all(b"abcdef").unwrap();
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        io_session(&l)
            .on("_start", move |ctx| {
                let h = adopt(ctx);
                ctx.select_read(h, "readable").unwrap();
            })
            .on("readable", |ctx| {
                let h = *ctx.arg::<HandleId>().unwrap();
                assert_eq!(Some(h), ctx.heap().h);
                assert_eq!(ctx.sender(), Sender::Session(ctx.id()));
                // Read two bytes per event: the watcher fires again while
                // data remains.
                let mut buf = [0u8; 2];
                let n = ctx.handle::<UnixStream>(h).unwrap().read(&mut buf).unwrap();
                let s = String::from_utf8_lossy(&buf[..n]).to_string();
                ctx.heap().log.borrow_mut().push(s);
                if ctx.heap().log.borrow().len() == 3 {
                    ctx.select_read_off(h).unwrap();
                }
            }),
        ours,
    );
    k.run().unwrap();
    drop(theirs);
    assert_eq!(lines(&l), ["ab", "cd", "ef"]);
}

#[test]
fn select_write_pause_resume_and_close() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let l = log();
    let mut k = Kernel::with_manual_clock(ManualClock::new()).unwrap();
    k.spawn(
        io_session(&l)
            .on("_start", |ctx| {
                let h = adopt(ctx);
                ctx.select_write(h, "writable").unwrap();
                ctx.select_pause_write(h).unwrap();
                ctx.yield_event("resume", ());
            })
            .on("resume", |ctx| {
                ctx.heap().log.borrow_mut().push("resume".into());
                let h = ctx.heap().h.unwrap();
                ctx.select_resume_write(h).unwrap();
            })
            .on("writable", |ctx| {
                let h = *ctx.arg::<HandleId>().unwrap();
                ctx.handle::<UnixStream>(h)
                    .unwrap()
                    .write_all(b"hi")
                    .unwrap();
                ctx.heap().log.borrow_mut().push("wrote".into());
                ctx.close_handle(h).unwrap();
                assert!(ctx.handle::<UnixStream>(h).is_err());
            })
            .on("_stop", |ctx| {
                ctx.heap().log.borrow_mut().push("stop".into())
            }),
        ours,
    );
    k.run().unwrap();
    assert_eq!(lines(&l), ["resume", "wrote", "stop"]);
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hi", "closing the handle closed the socket");
}

#[test]
fn a_paused_watcher_keeps_its_session_alive_and_a_closed_one_does_not() {
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let clock = ManualClock::new();
    let mut k = Kernel::with_manual_clock(clock).unwrap();
    let id = k.spawn(
        Session::new(None::<HandleId>)
            .on("_start", |ctx| {
                let sock = ctx.take_arg::<UnixStream>().unwrap();
                let h = ctx.add_handle(sock);
                *ctx.heap() = Some(h);
                ctx.select_read(h, "r").unwrap();
                ctx.select_pause_read(h).unwrap();
            })
            .on("close", |ctx| {
                let h = ctx.heap().unwrap();
                let sock: UnixStream = ctx.take_handle(h).unwrap();
                drop(sock);
            }),
        ours,
    );
    for _ in 0..3 {
        assert!(k.run_one_timeslice().unwrap());
    }
    assert_eq!(k.session_count(), 1);
    k.post(id, "close", ()).unwrap();
    k.run().unwrap();
    assert_eq!(k.session_count(), 0);
}

#[test]
fn a_drained_handle_fires_again_only_on_new_data() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    theirs.write_all(b"first").unwrap();
    let l = log();
    let mut k = Kernel::with_manual_clock(ManualClock::new()).unwrap();
    let id = k.spawn(
        io_session(&l)
            .on("_start", |ctx| {
                let h = adopt(ctx);
                ctx.select_read(h, "readable").unwrap();
            })
            .on("readable", |ctx| {
                let h = *ctx.arg::<HandleId>().unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                loop {
                    match ctx.handle::<UnixStream>(h).unwrap().read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(_) => {
                            ctx.io_drained();
                            break;
                        }
                    }
                }
                let s = String::from_utf8_lossy(&got).to_string();
                ctx.heap().log.borrow_mut().push(s);
            })
            .on("done", |ctx| {
                let h = ctx.heap().h.unwrap();
                ctx.close_handle(h).unwrap();
            }),
        ours,
    );
    for _ in 0..5 {
        k.run_one_timeslice().unwrap();
    }
    assert_eq!(
        lines(&l),
        ["first"],
        "no event after the handler drained it"
    );
    theirs.write_all(b"second").unwrap();
    for _ in 0..5 {
        k.run_one_timeslice().unwrap();
    }
    assert_eq!(lines(&l), ["first", "second"]);
    k.post(id, "done", ()).unwrap();
    k.run().unwrap();
}

/// select_expedite: urgent TCP data sent from another thread (after the
/// kernel is already waiting) wakes the poll as EPOLLPRI and raises the
/// expedite event with mode Expedite (POE's 2); the watcher alone keeps the
/// session alive until then, and `select_off` removes it so it stops.
#[test]
fn select_expedite_reports_urgent_tcp_data() {
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listen.local_addr().unwrap()).unwrap();
    let (server, _) = listen.accept().unwrap();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        socket2::SockRef::from(&client)
            .send_out_of_band(b"U")
            .unwrap();
        // Keep the connection open until the kernel has read the byte.
        let mut rest = Vec::new();
        let _ = (&client).read_to_end(&mut rest);
    });
    let l = log();
    let mut k = Kernel::new().unwrap();
    k.spawn(
        Session::new(l.clone())
            .on("_start", |ctx| {
                let s = ctx.take_arg::<std::net::TcpStream>().unwrap();
                let h = ctx.add_std_handle(s).unwrap();
                ctx.select_expedite(h, "urgent").unwrap();
            })
            .on("urgent", |ctx| {
                let (h, mode) = ctx.io().unwrap();
                let mut buf = [0u8; 4];
                let sock = ctx.handle::<mio::net::TcpStream>(h).unwrap();
                let (n, _) =
                    rustix::net::recv(&*sock, &mut buf[..], rustix::net::RecvFlags::OOB).unwrap();
                let line = format!(
                    "urgent {:?} {} {}",
                    mode,
                    mode.poe_number(),
                    String::from_utf8_lossy(&buf[..n])
                );
                ctx.heap().borrow_mut().push(line);
                ctx.select_off(h).unwrap();
                ctx.close_handle(h).unwrap();
            })
            .on("_stop", |ctx| ctx.heap().borrow_mut().push("_stop".into())),
        server,
    );
    k.run().unwrap();
    sender.join().unwrap();
    assert_eq!(lines(&l), ["urgent Expedite 2 U", "_stop"]);
}
