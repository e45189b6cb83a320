//! The sharded `ikc_chat_server` example, black-box: two processes (two
//! kernels) on one nats-server, a client on each; each sees the other's
//! join notice and lines, and its own lines are not echoed back. Needs
//! the example built (plain `cargo test -p rpoe-ikc` builds it) and
//! nats-server (see tests/bus.rs for the skip policy).

mod support;

use rpoe_testkit::io::LineClient as Client;
use rpoe_testkit::ServerSpec;
use support::{nats_or_skip, NatsServer};

fn shard(nats: &str, name: &str, peer: &str) -> rpoe_testkit::server::Server {
    let path = ServerSpec::example_path("ikc_chat_server");
    assert!(
        path.exists(),
        "ikc_chat_server example not found at {}: `cargo build -p rpoe-ikc --example ikc_chat_server`",
        path.display()
    );
    ServerSpec::new(path)
        .args([
            "--nats", nats, "--name", name, "--peer", peer, "--port", "0",
        ])
        .spawn()
}

#[test]
fn clients_on_two_shards_see_each_other() {
    if !nats_or_skip("clients_on_two_shards_see_each_other") {
        return;
    }
    let server = NatsServer::start();
    let a = shard(&server.url(), "a", "b");
    let b = shard(&server.url(), "b", "a");
    let mut x = Client::join(a.addr());
    let mut y = Client::join(b.addr());
    // x (on a) sees y (on b) join, through the bus.
    assert_eq!(x.line(), format!("* b/{} joined", y.name));
    y.send(b"hello from b\r\n");
    assert_eq!(x.line(), format!("b/{}: hello from b", y.name));
    x.send(b"hi b\n");
    // y may or may not see x's join notice first: it went over the bus
    // while y was connecting.
    let mut l = y.line();
    if l == format!("* a/{} joined", x.name) {
        l = y.line();
    }
    assert_eq!(l, format!("a/{}: hi b", x.name));
    // A second client on a sees local and remote lines alike; x's own
    // line is not echoed to x (the next line x reads is z's join).
    let mut z = Client::join(a.addr());
    assert_eq!(x.line(), format!("* a/{} joined", z.name));
    assert_eq!(y.line(), format!("* a/{} joined", z.name));
    z.send(b"third\n");
    assert_eq!(x.line(), format!("a/{}: third", z.name));
    assert_eq!(y.line(), format!("a/{}: third", z.name));
    drop(z);
    assert!(y.line().ends_with(" left"));
}
