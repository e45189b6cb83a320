//! `tail -f` over TCP: every connected client receives each line appended
//! to a file from the moment it connects, as the file grows. One
//! `FollowTail` wheel follows the file (through truncation and rotation)
//! in a session with the alias `tail`; each connection (a `ServerTcp`
//! session) subscribes to it and gets the lines posted. What clients send
//! is ignored.
//!
//! A client that reads too slowly to keep up (more than 1 MiB unread)
//! misses lines rather than making the server buffer without end.
//!
//! Run: `cargo run --example tail_server -- [PORT] FILE` (the port is
//! else `$PORT`, else 12345); `$BIND` picks the address, `$POLL_MS` the
//! poll interval (default 100 ms).

use std::time::Duration;

use rpoe::component::ServerTcp;
use rpoe::filter::Line;
use rpoe::wheel::{FollowTail, WheelError, WheelId};
use rpoe::{Kernel, Session, SessionId};

/// Lines are dropped for a client with this much output unread.
const MAX_BACKLOG: usize = 1024 * 1024;

struct Tail {
    wheel: Option<FollowTail<Vec<u8>>>,
    clients: Vec<SessionId>,
}

fn tail_session(path: String, poll: Duration) -> Session<Tail> {
    Session::new(Tail {
        wheel: None,
        clients: Vec::new(),
    })
    .on("_start", move |ctx| {
        ctx.alias_set("tail").expect("alias");
        let wheel = FollowTail::builder(&path)
            .poll_interval(poll)
            .on_input("line")
            .on_reset("reset")
            .on_error("error")
            .start(ctx)
            .expect("follow the file");
        ctx.heap().wheel = Some(wheel);
    })
    .on("subscribe", |ctx| {
        if let Some(client) = ctx.sender().session() {
            ctx.heap().clients.push(client);
        }
    })
    .on("line", |ctx| {
        let Ok((line, _)) = ctx.take_arg::<(Vec<u8>, WheelId)>() else {
            return;
        };
        let clients = std::mem::take(&mut ctx.heap().clients);
        let mut alive = Vec::with_capacity(clients.len());
        for c in clients {
            // A client that has gone cannot be posted to: forget it.
            if ctx.post(c, "tail_line", line.clone()).is_ok() {
                alive.push(c);
            }
        }
        ctx.heap().clients = alive;
    })
    .on("reset", |ctx| {
        let path = ctx.heap().wheel.as_ref().map(|w| w.path());
        eprintln!("tail_server: {path:?} was truncated or replaced; following from its start");
    })
    .on("error", |ctx| {
        if let Ok(e) = ctx.take_arg::<WheelError>() {
            eprintln!("tail_server: {e}");
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: tail_server [PORT] FILE";
    let file = args.pop().ok_or(usage)?;
    let port = args.pop().or(std::env::var("PORT").ok());
    let port: u16 = port.as_deref().unwrap_or("12345").parse()?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "0.0.0.0".into());
    let addr = format!("{bind}:{port}").parse()?;
    let poll_ms: u64 = match std::env::var("POLL_MS") {
        Ok(v) => v.parse()?,
        Err(_) => 100,
    };

    let mut kernel = Kernel::new()?;
    kernel.spawn(tail_session(file, Duration::from_millis(poll_ms)), ());
    let server = ServerTcp::new(addr, Line::literal(b"\n").max_length(4096))
        .on_connected(|ctx| {
            ctx.state("tail_line", |ctx| {
                let Ok(line) = ctx.take_arg::<Vec<u8>>() else {
                    return;
                };
                let client = ctx.heap();
                if client.wheel().is_some_and(|w| w.pending() < MAX_BACKLOG) {
                    let _ = client.put(&line);
                }
            });
            let _ = ctx.post("tail", "subscribe", ());
        })
        .spawn(&mut kernel)?;
    for a in &server.addrs {
        println!("listening on {a}");
    }
    kernel.run()?;
    Ok(())
}
