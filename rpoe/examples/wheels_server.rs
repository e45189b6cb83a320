//! The tutorial's wheels stage: the seed's echo server with its buffer
//! bookkeeping handed to wheels — a `ListenAccept` for the listener and one
//! `ReadWrite` (with a byte-exact `Line` filter) per client, kept in the
//! heap by wheel id. Same protocol and policies as `rpoe-echo`.
//!
//! Run: `cargo run --example wheels_server -- [PORT]` (else `$PORT`, else
//! 12345); `$BIND` picks the address; `$MAX_CONNECTIONS` overrides the
//! connection cap.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use rpoe::filter::{Bytes, Line};
use rpoe::wheel::{Accepted, ListenAccept, ReadWrite, ReadWriteEvent, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session};

const MAX_LINE: usize = 64 * 1024;
const HIGH_WATER: usize = 64 * 1024;
const LOW_WATER: usize = 16 * 1024;

struct Client {
    wheel: ReadWrite<Bytes>,
    /// Input is over: close once the output is written.
    closing: bool,
}

struct Heap {
    listener: Option<ListenAccept>,
    clients: HashMap<WheelId, Client>,
    max_clients: usize,
}

fn main() {
    let port = std::env::args().nth(1).or(std::env::var("PORT").ok());
    let port: u16 = port.as_deref().unwrap_or("12345").parse().expect("port");
    let bind = std::env::var("BIND").unwrap_or_else(|_| "0.0.0.0".into());
    let addr: SocketAddr = format!("{bind}:{port}").parse().expect("bind address");
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let max_clients = std::env::var("MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000.min(soft.saturating_sub(32).max(1) as usize));

    let heap = Heap {
        listener: None,
        clients: HashMap::new(),
        max_clients,
    };
    let mut kernel = Kernel::new().expect("kernel");
    kernel.spawn(
        Session::new(heap)
            .on("_start", server_start)
            .on("accepted", client_accepted)
            .on("accept_error", accept_error)
            .on("resume_accept", resume_accept)
            .on("input", client_input)
            .on("high", client_high)
            .on("low", client_low)
            .on("flushed", client_flushed)
            .on("error", client_error),
        addr,
    );
    kernel.run().expect("kernel run");
}

fn server_start(ctx: &mut Ctx<'_, Heap>) {
    let addr = *ctx.arg::<SocketAddr>().expect("address");
    let listener = TcpListener::bind(addr).expect("can't make server socket");
    println!(
        "listening on {}",
        listener.local_addr().expect("local address")
    );
    let wheel = ListenAccept::new(ctx, listener, "accepted", "accept_error");
    ctx.heap().listener = Some(wheel.expect("listener wheel"));
}

fn client_accepted(ctx: &mut Ctx<'_, Heap>) {
    let Ok(a) = ctx.take_arg::<Accepted<TcpStream, SocketAddr>>() else {
        return;
    };
    if ctx.heap().clients.len() >= ctx.heap().max_clients {
        return; // over the limit: dropping the stream closes it
    }
    let _ = a.stream.set_nodelay(true);
    // Lines as slices of one buffer per read, all of a read's lines in
    // one event: no allocation and no event per line.
    let line = Line::literal(b"\n").max_length(MAX_LINE).bytes();
    let wheel = ReadWrite::builder(a.stream, line)
        .on_input_batch("input")
        .on_error("error")
        // No flushed event until one is awaited (client_error): a wheel
        // that reports flushes writes on the next writable readiness, as
        // POE's does; without, a reply leaves in the round it is put.
        .on_high(HIGH_WATER, "high")
        .on_low(LOW_WATER, "low")
        .start(ctx);
    if let Ok(wheel) = wheel {
        let client = Client {
            wheel,
            closing: false,
        };
        ctx.heap().clients.insert(client.wheel.id(), client);
    }
}

/// Out of descriptors (or another accept failure): pause briefly.
fn accept_error(ctx: &mut Ctx<'_, Heap>) {
    if let Some(l) = &ctx.heap().listener {
        l.pause_accept();
    }
    ctx.delay("resume_accept", Duration::from_millis(100), ());
}

fn resume_accept(ctx: &mut Ctx<'_, Heap>) {
    if let Some(l) = &ctx.heap().listener {
        l.resume_accept();
    }
}

fn client_input(ctx: &mut Ctx<'_, Heap>) {
    let Ok((lines, id)) = ctx.take_arg::<(Vec<Bytes>, WheelId)>() else {
        return;
    };
    if let Some(c) = ctx.heap().clients.get(&id) {
        let mut high = false;
        for line in &lines {
            // Above the high mark put() says so: stop reading until "low".
            high |= c.wheel.put(line) == Ok(true);
        }
        if high {
            c.wheel.pause_input();
        }
    }
}

fn client_high(ctx: &mut Ctx<'_, Heap>) {
    if let Ok(&id) = ctx.arg::<WheelId>() {
        if let Some(c) = ctx.heap().clients.get(&id) {
            c.wheel.pause_input();
        }
    }
}

fn client_low(ctx: &mut Ctx<'_, Heap>) {
    if let Ok(&id) = ctx.arg::<WheelId>() {
        if let Some(c) = ctx.heap().clients.get(&id).filter(|c| !c.closing) {
            c.wheel.resume_input();
        }
    }
}

fn client_flushed(ctx: &mut Ctx<'_, Heap>) {
    let Ok(&id) = ctx.arg::<WheelId>() else {
        return;
    };
    if ctx.heap().clients.get(&id).is_some_and(|c| c.closing) {
        ctx.heap().clients.remove(&id); // dropping the wheel closes it
    }
}

/// End of input or a failure: close now if nothing is owed, else once
/// flushed; a write failure closes at once.
fn client_error(ctx: &mut Ctx<'_, Heap>) {
    let Ok(e) = ctx.take_arg::<WheelError>() else {
        return;
    };
    let flushed = ctx.event_id("flushed");
    let clients = &mut ctx.heap().clients;
    match clients.get_mut(&e.wheel) {
        Some(c) if e.op != "write" && c.wheel.is_flushing() => {
            c.closing = true;
            c.wheel.set_event(ReadWriteEvent::Flushed, Some(flushed));
        }
        _ => {
            clients.remove(&e.wheel);
        }
    }
}
