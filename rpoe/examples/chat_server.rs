//! A line chat server: every line a client sends goes to all the other
//! clients (not back to the sender) as `ADDR: line`, and the others see
//! `* ADDR joined` / `* ADDR left` as clients come and go.
//!
//! Built from the wheels directly: a [`SocketFactory`] in listen mode
//! accepts, and each connection is a session of its own with a
//! [`ReadWrite`] wheel and a `say` event; the sessions of the room post
//! each other `say`. Lines end with `\n` (a `\r` before it is dropped) and
//! may be 64 KiB long; empty lines are not relayed. A client that lets
//! more than 1 MiB of chat pile up unread is disconnected.
//!
//! Run: `cargo run --example chat_server -- [PORT]` (else `$PORT`, else
//! 12346); `$BIND` picks the address (default 0.0.0.0). Try it with a few
//! `nc localhost 12346`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use mio::net::TcpStream;
use rpoe::filter::Line;
use rpoe::wheel::{Endpoint, ReadWrite, SocketFactory, TcpConnected, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session, SessionId};

/// Longest line accepted; a longer one ends the connection.
const MAX_LINE: usize = 64 * 1024;
/// Unread chat a client may accumulate before it is dropped.
const MAX_PENDING: usize = 1024 * 1024;

/// Who is in the room: session number → session.
type Room = Rc<RefCell<BTreeMap<u64, SessionId>>>;

/// A chat message, shared by all its recipients.
type Message = Rc<Vec<u8>>;

struct Member {
    wheel: Option<ReadWrite<Vec<u8>>>,
    name: String,
    room: Room,
}

impl Member {
    /// Leave the room (telling the others) and close the connection.
    fn leave(ctx: &mut Ctx<'_, Member>) {
        let id = ctx.id().number();
        let m = ctx.heap();
        m.wheel = None;
        let was_in = m.room.borrow_mut().remove(&id).is_some();
        if was_in {
            let note = format!("* {} left", ctx.heap().name);
            broadcast(ctx, note.into_bytes());
        }
    }
}

/// Post `text` to every member of the room but the running one.
fn broadcast(ctx: &mut Ctx<'_, Member>, text: Vec<u8>) {
    let me = ctx.id().number();
    let others: Vec<SessionId> = ctx
        .heap()
        .room
        .borrow()
        .iter()
        .filter(|(n, _)| **n != me)
        .map(|(_, id)| *id)
        .collect();
    let msg: Message = Rc::new(text);
    for id in others {
        let _ = ctx.post(id, "say", msg.clone());
    }
}

/// The session of one connection.
fn member(room: Room, peer: SocketAddr) -> Session<Member> {
    Session::new(Member {
        wheel: None,
        name: peer.to_string(),
        room,
    })
    .on("_start", |ctx| {
        let stream = ctx.take_arg::<TcpStream>().unwrap();
        let _ = stream.set_nodelay(true);
        let wheel = ReadWrite::builder(stream, Line::literal(b"\n").max_length(MAX_LINE))
            .on_input("line")
            .on_error("error")
            .start(ctx);
        match wheel {
            Ok(w) => ctx.heap().wheel = Some(w),
            Err(e) => {
                eprintln!("cannot start a connection: {e}");
                return;
            }
        }
        let (id, m) = (ctx.id(), ctx.heap());
        m.room.borrow_mut().insert(id.number(), id);
        let note = format!("* {} joined", m.name);
        broadcast(ctx, note.into_bytes());
    })
    .on("line", |ctx| {
        let (mut line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            return;
        }
        let mut text = format!("{}: ", ctx.heap().name).into_bytes();
        text.extend_from_slice(&line);
        broadcast(ctx, text);
    })
    .on("say", |ctx| {
        let msg = ctx.take_arg::<Message>().unwrap();
        let m = ctx.heap();
        let Some(w) = &m.wheel else {
            return;
        };
        let _ = w.put(&msg);
        if w.pending() > MAX_PENDING {
            eprintln!("{}: too much unread chat; disconnecting", m.name);
            Member::leave(ctx);
        }
    })
    .on("error", |ctx| {
        let e = ctx.take_arg::<WheelError>().unwrap();
        if !e.is_eof() {
            eprintln!("{}: {e}", ctx.heap().name);
        }
        Member::leave(ctx);
    })
    .on("_stop", |ctx| {
        // Stopped some other way (the kernel stopping): just leave the
        // room; a stopping session cannot post.
        let id = ctx.id().number();
        ctx.heap().room.borrow_mut().remove(&id);
    })
}

struct Server {
    factory: Option<SocketFactory>,
    room: Room,
    failed: Rc<RefCell<Option<String>>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args().nth(1).or(std::env::var("PORT").ok());
    let port: u16 = port.as_deref().unwrap_or("12346").parse()?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "0.0.0.0".into());
    let addr: SocketAddr = format!("{bind}:{port}").parse()?;

    let failed = Rc::new(RefCell::new(None));
    let mut kernel = Kernel::new()?;
    kernel.spawn(
        Session::new(Server {
            factory: None,
            room: Rc::default(),
            failed: failed.clone(),
        })
        .on("_start", move |ctx| {
            let factory = SocketFactory::listen(addr)
                .on_success("accepted")
                .on_failure("failed")
                .start(ctx)
                .expect("watch the listener");
            if let Some(Endpoint::Tcp(a)) = factory.local_addr() {
                println!("listening on {a}");
            }
            ctx.heap().factory = Some(factory);
        })
        .on("accepted", |ctx| {
            let c = ctx.take_arg::<TcpConnected>().unwrap();
            let room = ctx.heap().room.clone();
            ctx.spawn(member(room, c.peer), c.stream);
        })
        .on("failed", move |ctx| {
            let e = ctx.take_arg::<WheelError>().unwrap();
            if e.op == "accept" {
                // Out of descriptors (or similar): pause instead of spinning.
                eprintln!("accept failed: {}; pausing", e.message);
                if let Some(f) = &ctx.heap().factory {
                    f.pause_accept();
                }
                ctx.delay("resume", Duration::from_millis(100), ());
            } else {
                *ctx.heap().failed.borrow_mut() =
                    Some(format!("{addr}: {} failed: {}", e.op, e.message));
                ctx.heap().factory = None;
            }
        })
        .on("resume", |ctx| {
            if let Some(f) = &ctx.heap().factory {
                f.resume_accept();
            }
        }),
        (),
    );
    kernel.run()?;
    let failure = failed.borrow_mut().take();
    match failure {
        Some(why) => Err(why.into()),
        None => Ok(()),
    }
}
