//! The POE tutorial's "Mapping our server to POE", in Rust.
//!
//! One session with the tutorial's five states — `_start`, `event_accept`,
//! `event_read`, `event_write`, `event_error` — and its per-client input and
//! output buffers keyed by handle. The kernel keeps every socket: each
//! readiness event hands the handle back, as the tutorial says
//! ("POE::Kernel keeps track of it for us").
//!
//! Where the tutorial's code is wrong, this is not: sockets are
//! non-blocking, partial writes keep the unsent rest, errors are handled
//! instead of warned about, and a peer that resets ends only its own
//! connection (the Perl original dies: its `send` croaks on the reset
//! socket and the error escapes `run()`). It also applies `rpoe-echo`'s
//! policies with fixed values, so a bad client cannot hurt the others:
//!
//! * a line longer than 64 KiB closes its connection after the lines before
//!   it are echoed;
//! * a client that does not read is not read from while more than 64 KiB
//!   waits for it, and is read again below 16 KiB;
//! * at EOF every complete line is echoed, then the connection is closed;
//!   an unterminated fragment is dropped;
//! * beyond `MAX_CONNECTIONS` (or the descriptor limit) new connections are
//!   closed at once; out of descriptors, accepting pauses for 100 ms.
//!
//! Run: `cargo run --example seed_server -- [PORT]` (else `$PORT`, else
//! 12345); `$BIND` picks the address (default all interfaces) and
//! `$MAX_CONNECTIONS` overrides the connection cap.

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use memchr::{memchr, memrchr};
use mio::net::{TcpListener, TcpStream};
use rpoe::{Ctx, HandleId, Kernel, Session};

/// Longest line echoed, newline included.
const MAX_LINE: usize = 64 * 1024;
/// Stop reading a client while more output than this waits for it...
const HIGH_WATER: usize = 64 * 1024;
/// ...and read again once it is down to this.
const LOW_WATER: usize = 16 * 1024;
/// Most connections served at once (lowered to fit the descriptor limit).
const MAX_CONNECTIONS: usize = 10_000;
/// Descriptors kept free for the listener, logs and the like.
const FD_MARGIN: u64 = 32;
/// Most accepts per readiness event, so a connect storm cannot starve
/// established clients; the listener stays ready and fires again next round.
const ACCEPTS_PER_EVENT: usize = 64;
/// How long accepting pauses when the process is out of descriptors.
const EMFILE_PAUSE: Duration = Duration::from_millis(100);
/// The tutorial reads `POSIX::BUFSIZ` bytes at a time.
const BUFSIZ: usize = 8192;

#[derive(Default)]
struct Heap {
    /// Received bytes not yet forming a complete line, per client.
    inbuffer: HashMap<HandleId, Vec<u8>>,
    /// Complete lines not yet written back, per client.
    outbuffer: HashMap<HandleId, Vec<u8>>,
    /// Clients not being read because their output is above the high mark.
    paused: HashSet<HandleId>,
    /// Clients whose input is finished (EOF or over-long line): close them
    /// once their output is written.
    draining: HashSet<HandleId>,
    connections: usize,
    max_connections: usize,
    last_emfile_log: Option<Instant>,
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| die(&format!("bad port {p:?}")))
        })
        .unwrap_or(12345);
    let bind = std::env::var("BIND").unwrap_or_else(|_| "0.0.0.0".to_string());
    let addr: SocketAddr = format!("{bind}:{port}")
        .parse()
        .or_else(|_| format!("[{bind}]:{port}").parse())
        .unwrap_or_else(|_| die(&format!("bad bind address {bind:?}")));

    let heap = Heap {
        max_connections: connection_limit(),
        ..Heap::default()
    };
    let mut kernel = Kernel::new().unwrap_or_else(|e| die(&e.to_string()));
    kernel.spawn(
        Session::new(heap)
            .on("_start", server_start)
            .on("event_accept", server_accept)
            .on("event_resume_accept", server_resume_accept)
            .on("event_read", client_read)
            .on("event_write", client_write)
            .on("event_error", client_error),
        addr,
    );
    if let Err(e) = kernel.run() {
        die(&e.to_string());
    }
}

fn die(msg: &str) -> ! {
    eprintln!("seed_server: {msg}");
    std::process::exit(1)
}

/// The smaller of `MAX_CONNECTIONS` and what the descriptor limit allows.
/// `$MAX_CONNECTIONS` overrides it (the tests use that to reach EMFILE).
fn connection_limit() -> usize {
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let default = MAX_CONNECTIONS.min(soft.saturating_sub(FD_MARGIN).max(1) as usize);
    std::env::var("MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Creates the server socket and watches it; the kernel keeps it.
fn server_start(ctx: &mut Ctx<'_, Heap>) {
    let addr = *ctx.arg::<SocketAddr>().expect("_start gets the address");
    let server = TcpListener::bind(addr)
        .unwrap_or_else(|e| die(&format!("can't make server socket on {addr}: {e}")));
    let local = server
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("listening on {local}");
    let server = ctx.add_handle(server);
    if let Err(e) = ctx.select_read(server, "event_accept") {
        die(&format!("can't watch server socket: {e}"));
    }
}

/// Accepts new clients and watches each for input.
fn server_accept(ctx: &mut Ctx<'_, Heap>) {
    let Ok(&server) = ctx.arg::<HandleId>() else {
        return;
    };
    for _ in 0..ACCEPTS_PER_EVENT {
        let accepted = match ctx.handle::<TcpListener>(server) {
            Ok(listener) => listener.accept(),
            Err(_) => return,
        };
        match accepted {
            Ok((new_client, _peer)) => {
                if ctx.heap().connections >= ctx.heap().max_connections {
                    drop(new_client); // over the limit: closed at once
                    continue;
                }
                let _ = new_client.set_nodelay(true);
                ctx.heap().connections += 1;
                let client = ctx.add_handle(new_client);
                let _ = ctx.select_read(client, "event_read");
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if is_out_of_descriptors(&e) => {
                // Out of descriptors: pause accepting instead of spinning.
                let now = Instant::now();
                let heap = ctx.heap();
                if heap
                    .last_emfile_log
                    .is_none_or(|t| now.duration_since(t) > Duration::from_secs(10))
                {
                    heap.last_emfile_log = Some(now);
                    eprintln!("seed_server: accept: {e}; pausing accepts for {EMFILE_PAUSE:?}");
                }
                let _ = ctx.select_pause_read(server);
                ctx.delay("event_resume_accept", EMFILE_PAUSE, server);
                return;
            }
            Err(_) => continue, // e.g. the client gave up before we accepted
        }
    }
}

fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24) | Some(23)) // EMFILE, ENFILE
}

fn server_resume_accept(ctx: &mut Ctx<'_, Heap>) {
    if let Ok(&server) = ctx.arg::<HandleId>() {
        let _ = ctx.select_resume_read(server);
    }
}

/// Reads what the client sent, moves every complete line to its output
/// buffer, and watches for writability while output is pending.
fn client_read(ctx: &mut Ctx<'_, Heap>) {
    let Ok(&client) = ctx.arg::<HandleId>() else {
        return;
    };
    let mut data = [0u8; BUFSIZ];
    let received = match ctx.handle::<TcpStream>(client) {
        Ok(stream) => stream.read(&mut data),
        Err(_) => return,
    };
    let n = match received {
        Ok(0) => return end_of_input(ctx, client), // EOF: flush, then close
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => return,
        Err(_) => return ctx.yield_event("event_error", client),
    };

    let heap = ctx.heap();
    let inbuffer = heap.inbuffer.entry(client).or_default();
    let scanned = inbuffer.len(); // no newline before here
    inbuffer.extend_from_slice(&data[..n]);
    let mut too_long = false;
    let mut line_start = 0;
    let mut pos = scanned;
    while let Some(nl) = memchr(b'\n', &inbuffer[pos..]) {
        let end = pos + nl + 1;
        if end - line_start > MAX_LINE {
            too_long = true;
            break;
        }
        line_start = end;
        pos = end;
    }
    // An unterminated line already this long can no longer end in time.
    if !too_long && inbuffer.len() - line_start >= MAX_LINE {
        too_long = true;
    }
    let complete = if too_long {
        line_start
    } else {
        memrchr(b'\n', inbuffer).map_or(0, |i| i + 1)
    };
    let lines: Vec<u8> = inbuffer.drain(..complete).collect();
    if inbuffer.is_empty() || too_long {
        heap.inbuffer.remove(&client);
    }
    if !lines.is_empty() {
        heap.outbuffer
            .entry(client)
            .or_default()
            .extend_from_slice(&lines);
    }
    let pending = heap.outbuffer.get(&client).map_or(0, Vec::len);

    if too_long {
        // Over-long line: echo what came before it, then hang up.
        return end_of_input(ctx, client);
    }
    if pending > 0 {
        let _ = ctx.select_write(client, "event_write");
    }
    if pending > HIGH_WATER && ctx.heap().paused.insert(client) {
        let _ = ctx.select_pause_read(client);
    }
}

/// The client's input is over: stop reading, drop any unterminated
/// fragment, and close once the output already owed has been written.
fn end_of_input(ctx: &mut Ctx<'_, Heap>, client: HandleId) {
    let heap = ctx.heap();
    heap.inbuffer.remove(&client);
    heap.paused.remove(&client);
    if heap.outbuffer.contains_key(&client) {
        heap.draining.insert(client);
        let _ = ctx.select_read_off(client);
        let _ = ctx.select_write(client, "event_write");
    } else {
        ctx.yield_event("event_error", client);
    }
}

/// Writes as much pending output as the socket takes; whatever is not
/// written stays for the next time.
fn client_write(ctx: &mut Ctx<'_, Heap>) {
    let Ok(&client) = ctx.arg::<HandleId>() else {
        return;
    };
    let Some(mut out) = ctx.heap().outbuffer.remove(&client) else {
        let _ = ctx.select_write_off(client);
        return;
    };
    let written = match ctx.handle::<TcpStream>(client) {
        Ok(stream) => stream.write(&out),
        Err(_) => return,
    };
    match written {
        Ok(n) => {
            out.drain(..n);
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
        Err(_) => return ctx.yield_event("event_error", client), // reset or broken peer
    }
    let left = out.len();
    if left > 0 {
        ctx.heap().outbuffer.insert(client, out);
    }
    if left <= LOW_WATER && ctx.heap().paused.remove(&client) {
        let _ = ctx.select_resume_read(client);
    }
    if left == 0 {
        if ctx.heap().draining.contains(&client) {
            ctx.yield_event("event_error", client);
        } else {
            let _ = ctx.select_write_off(client);
        }
    }
}

/// Forgets the client's buffers, stops watching it and closes it.
fn client_error(ctx: &mut Ctx<'_, Heap>) {
    let Ok(&client) = ctx.arg::<HandleId>() else {
        return;
    };
    let heap = ctx.heap();
    heap.inbuffer.remove(&client);
    heap.outbuffer.remove(&client);
    heap.paused.remove(&client);
    heap.draining.remove(&client);
    if ctx.close_handle(client).is_ok() {
        ctx.heap().connections -= 1;
    }
}
