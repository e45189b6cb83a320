//! Helpers shared by the kernel-level integration tests (included with
//! `mod support;`).
//!
//! Each test file is a crate of its own and uses only some of these, so
//! the ones not every file calls are marked `allow(dead_code)`.

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rpoe::{Kernel, Session};

/// What a test's handlers saw, in order, shared between them.
#[allow(dead_code)]
pub type Log = Rc<RefCell<Vec<String>>>;

/// An empty [`Log`].
#[allow(dead_code)]
pub fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// What `l` holds now.
#[allow(dead_code)]
pub fn lines(l: &Log) -> Vec<String> {
    l.borrow().clone()
}

/// Run `kernel` until its sessions are done; fail the test if they are
/// still running after `limit` (a watchdog session, held only by an alias,
/// stops the kernel then).
pub fn run_bounded(kernel: &mut Kernel, limit: Duration) {
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.alias_set("watchdog").unwrap())
            .on("expire", move |ctx| {
                f.set(true);
                ctx.stop_kernel();
            }),
        (),
    );
    let handle = kernel.handle();
    let (tx, rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        if rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = handle.post("watchdog", "expire", ());
        }
    });
    let r = kernel.run();
    drop(tx);
    t.join().unwrap();
    assert!(!fired.get(), "the kernel was still running after {limit:?}");
    r.unwrap();
}

/// Run `peer` on a thread of its own while [`run_bounded`] runs `kernel`,
/// then wait for it and return what it returned; a panic on the peer's
/// side (a failed assertion) fails the test with its own message.
#[allow(dead_code)]
pub fn run_with_peer<T: Send + 'static>(
    kernel: &mut Kernel,
    limit: Duration,
    peer: impl FnOnce() -> T + Send + 'static,
) -> T {
    let t = std::thread::spawn(peer);
    run_bounded(kernel, limit);
    join(t)
}

/// A blocking peer on a thread of its own that accepts one connection on
/// a fresh 127.0.0.1 port and hands it to `serve`. Returns the port's
/// address, to connect to, and the thread, to [`join`] once done.
#[allow(dead_code)]
pub fn serve_one<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        serve(stream)
    });
    (addr, t)
}

/// Wait for a helper thread and return its result; its panic (a failed
/// assertion there) is raised again here, with its own message.
#[allow(dead_code)]
pub fn join<T>(t: JoinHandle<T>) -> T {
    t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}
