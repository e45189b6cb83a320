//! The sharded `ikc_chat_server` example, black-box: two processes (two
//! kernels) on one nats-server, a client on each; each sees the other's
//! join notice and lines, and its own lines are not echoed back. Needs
//! the example built (plain `cargo test -p rpoe-ikc` builds it) and
//! nats-server (see tests/bus.rs for the skip policy).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use rpoe_testkit::ServerSpec;
use support::{nats_or_skip, NatsServer};

struct Client {
    name: String,
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    fn join(addr: std::net::SocketAddr) -> Client {
        let w = TcpStream::connect(addr).unwrap();
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = w.local_addr().unwrap().to_string();
        let r = BufReader::new(w.try_clone().unwrap());
        Client { name, w, r }
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        match self.r.read_line(&mut s) {
            Ok(0) => panic!("{}: EOF", self.name),
            Ok(_) => s.trim_end_matches('\n').to_string(),
            Err(e) => panic!("{}: no line ({e}); got {s:?}", self.name),
        }
    }
}

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
    y.w.write_all(b"hello from b\r\n").unwrap();
    assert_eq!(x.line(), format!("b/{}: hello from b", y.name));
    x.w.write_all(b"hi b\n").unwrap();
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
    z.w.write_all(b"third\n").unwrap();
    assert_eq!(x.line(), format!("a/{}: third", z.name));
    assert_eq!(y.line(), format!("a/{}: third", z.name));
    drop(z);
    assert!(y.line().ends_with(" left"));
}
