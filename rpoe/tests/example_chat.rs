//! Black-box test of the `chat_server` example with real clients: join
//! and leave notices, lines relayed to everyone but the sender, CRLF and
//! split lines. Needs the example built: plain `cargo test -p rpoe`
//! builds it (or `cargo build -p rpoe --example chat_server`).
//!
//! Every read has a deadline (the testkit's socket timeouts); the order of
//! what a client receives is what proves that nothing was echoed back.

use std::io::Write;
use std::net::Shutdown;

use rpoe_testkit::io::{self, LineClient as Client};
use rpoe_testkit::{Server, ServerSpec};

fn server() -> Server {
    ServerSpec::example("chat_server").spawn()
}

#[test]
fn lines_go_to_everyone_else_with_join_and_leave_notices() {
    let s = server();
    let mut a = Client::join(s.addr());
    let mut b = Client::join(s.addr());
    assert_eq!(a.line(), format!("* {} joined", b.name));

    a.send(b"hello from a\n");
    assert_eq!(b.line(), format!("{}: hello from a", a.name));
    b.send(b"hi a\n");
    // A's own line would have been queued for it before B's reply.
    assert_eq!(
        a.line(),
        format!("{}: hi a", b.name),
        "no echo to the sender"
    );

    let mut c = Client::join(s.addr());
    assert_eq!(a.line(), format!("* {} joined", c.name));
    assert_eq!(b.line(), format!("* {} joined", c.name));

    // CRLF, two lines in one write, a line split across writes.
    c.send(b"one\r\ntwo\nthr");
    c.send(b"ee\n");
    for who in [&mut a, &mut b] {
        assert_eq!(who.line(), format!("{}: one", c.name));
        assert_eq!(who.line(), format!("{}: two", c.name));
        assert_eq!(who.line(), format!("{}: three", c.name));
    }

    b.stream.shutdown(Shutdown::Write).unwrap();
    let b_name = b.name.clone();
    let rest = io::read_until_eof(&b.stream, io::IO_TIMEOUT);
    assert!(rest.is_empty(), "b got {}", io::show(&rest));
    assert_eq!(a.line(), format!("* {b_name} left"));
    assert_eq!(c.line(), format!("* {b_name} left"));

    a.send(b"\n\r\nstill here\n"); // empty lines are not relayed
    assert_eq!(c.line(), format!("{}: still here", a.name));
    s.assert_alive("after the conversation");
}

#[test]
fn an_over_long_line_disconnects_its_sender() {
    let s = server();
    let mut a = Client::join(s.addr());
    let b = Client::join(s.addr());
    assert_eq!(a.line(), format!("* {} joined", b.name));
    // 70 KB without a newline: over the 64 KiB line limit.
    let mut w = &b.stream;
    let _ = w.write_all(&vec![b'x'; 70_000]);
    let (_, end) = io::read_until_closed(&b.stream, io::IO_TIMEOUT);
    assert!(end.is_closed());
    assert_eq!(a.line(), format!("* {} left", b.name));
    s.assert_alive("after dropping the long-line client");
}
