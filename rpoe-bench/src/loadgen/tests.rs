//! The load generator against small in-test servers: an honest echo
//! passes; a changed byte, an extra byte, a connection closed early and a
//! server that stops answering all fail. Outcomes do not depend on timing.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use super::engine::Engine;
use super::*;
use crate::lines::LineMaker;

/// How a test server mangles what it echoes.
#[derive(Clone, Copy)]
enum Fault {
    None,
    /// Changes the 100th byte of each connection.
    Corrupt,
    /// Sends one byte more after the 100th.
    Extra,
    /// Closes after echoing 100 bytes.
    CloseEarly,
    /// Echoes nothing.
    Silent,
}

/// A thread-per-connection echo server with `fault`; serves until the
/// test process ends.
fn server(fault: Fault) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || echo(stream, fault));
        }
    });
    addr
}

fn echo(mut s: TcpStream, fault: Fault) {
    let mut buf = [0u8; 4096];
    let mut total = 0usize;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut out = buf[..n].to_vec();
        let crosses = total < 100 && total + n >= 100;
        match fault {
            Fault::Corrupt if crosses => out[99 - total] ^= 1,
            Fault::Extra if crosses => out.insert(100 - total, b'!'),
            Fault::CloseEarly if crosses => {
                let _ = s.write_all(&out[..100 - total]);
                return;
            }
            Fault::Silent => continue,
            _ => {}
        }
        total += n;
        if s.write_all(&out).is_err() {
            break;
        }
    }
    let _ = s.shutdown(Shutdown::Both);
}

fn target(addr: SocketAddr) -> Target {
    Target {
        stall_timeout: Duration::from_millis(300),
        ..Target::new(addr, None)
    }
}

/// Three connections, five lines each, then the clean close.
fn exchange(fault: Fault) -> Result<(), LoadError> {
    let t = target(server(fault));
    let mut e = Engine::connect(t.addr, 3, LineMaker::new(64).unwrap(), t.engine_options())?;
    let now = std::time::Instant::now();
    for i in 0..3 {
        e.send_lines(i, 5, now)?;
    }
    e.finish()
}

#[test]
fn an_honest_echo_passes() {
    exchange(Fault::None).unwrap();
}

#[test]
fn a_changed_byte_fails() {
    let err = exchange(Fault::Corrupt).unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::Mismatch {
                what: crate::lines::Mismatch::Differs {
                    seq: 1,
                    offset: 35,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn an_extra_byte_fails() {
    let err = exchange(Fault::Extra).unwrap_err();
    assert!(matches!(err, LoadError::Mismatch { .. }), "{err}");
}

#[test]
fn a_connection_closed_early_fails() {
    let err = exchange(Fault::CloseEarly).unwrap_err();
    assert!(
        matches!(err, LoadError::ClosedEarly { mid_line: true, .. }),
        "{err}"
    );
}

#[test]
fn a_silent_server_is_a_stall() {
    let err = exchange(Fault::Silent).unwrap_err();
    assert!(matches!(err, LoadError::Stall { .. }), "{err}");
    assert!(
        err.to_string().contains("not yet accepted and served"),
        "{err}"
    );
}

#[test]
fn a_closed_loop_run_reports_its_window() {
    let t = target(server(Fault::None));
    let spec = LoadSpec {
        conns: 2,
        line_len: 32,
        drive: Drive::Closed { in_flight: 4 },
        warmup: Duration::ZERO,
        duration: Duration::from_millis(20),
    };
    let r = load::run(&t, &spec).unwrap();
    assert!(r.lines > 0);
    assert!(r.latency.is_some());
    assert!(r.server.is_none());
}
