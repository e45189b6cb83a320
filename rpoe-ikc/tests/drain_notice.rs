//! `Ikc::notify_drained` without a NATS server: told at once when
//! nothing waits, and told when the IKC session closes with messages
//! still waiting (here: the first connection fails), so a producer that
//! waits for the notice is never left waiting forever.

use rpoe::{Kernel, Session};
use rpoe_ikc::{Config, Ikc};

/// A NATS address nothing listens on: a port just taken and released.
fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("nats://127.0.0.1:{port}")
}

#[derive(Default)]
struct Seen {
    /// `pending()` when each notice came.
    notices: Vec<usize>,
}

#[test]
fn told_at_once_when_nothing_waits_and_when_the_session_closes() {
    let ikc = Ikc::new(Config::new("k", dead_url())).unwrap();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(ikc.session(), ());
    let (i1, i2) = (ikc.clone(), ikc.clone());
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Seen::default()));
    let s = seen.clone();
    kernel.spawn(
        Session::new(0u32)
            .on("_start", move |ctx| {
                // Nothing queued: the notice comes at once.
                assert_eq!(i1.pending(), 0);
                i1.notify_drained(ctx, "drained");
            })
            .on("drained", move |ctx| {
                s.borrow_mut().notices.push(i2.pending());
                *ctx.heap() += 1;
                if *ctx.heap() == 1 {
                    // Not connected: the post waits in the buffer, and the
                    // notice waits for the buffer (asked twice, told once).
                    i2.post(ctx, "other/svc/ev", &1u32).unwrap();
                    assert_eq!(i2.pending(), 1);
                    i2.notify_drained(ctx, "drained");
                    i2.notify_drained(ctx, "drained");
                }
            }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
    // The second notice came when the failed connection closed the IKC
    // session and emptied the buffer; the kernel then ran dry.
    assert_eq!(seen.borrow().notices, vec![0, 0]);
}
