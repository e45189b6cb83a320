//! The `chat_server` example of rpoe, sharded across processes (named
//! `ikc_chat_server`: examples of one workspace share a directory): each process is a kernel on the
//! NATS bus with its own TCP port, and clients connected to any of them
//! see each other's lines.
//!
//! Each process runs the chat of `rpoe/examples/chat_server.rs` (a
//! session per connection with a ReadWrite wheel; a line goes to every
//! other member of the room as `ADDR: line`, with `* ADDR joined` / `*
//! ADDR left` notices) and adds one published session, `room`, with one
//! event, `line`. A line from a local client is also posted to
//! `PEER/room/line` for every peer kernel; a line from the bus goes to
//! every local member. Lines name the shard: `a/127.0.0.1:4711: hi`.
//!
//! Run (with a nats-server on 127.0.0.1:4222):
//!
//! ```text
//! cargo run -p rpoe-ikc --example ikc_chat_server -- --name a --port 12346 --peer b
//! cargo run -p rpoe-ikc --example ikc_chat_server -- --name b --port 12347 --peer a
//! nc localhost 12346    # and in another terminal: nc localhost 12347
//! ```
//!
//! Options: `--nats URL` (default `nats://127.0.0.1:4222`), `--bind ADDR`
//! (default 127.0.0.1), `--port N` (0: any free port), `--peer NAME`
//! (repeat for more shards). It prints `listening on ADDR` once it is on
//! the bus and its room is subscribed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;

use rpoe::filter::Line;
use rpoe::mio::net::TcpStream;
use rpoe::wheel::{Endpoint, ReadWrite, SocketFactory, TcpConnected, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session, SessionId};
use rpoe_ikc::{BusEvent, Config, Failed, Ikc, Incoming, Publish};

/// Longest line accepted; a longer one ends the connection.
const MAX_LINE: usize = 64 * 1024;
/// Unread chat a client may accumulate before it is dropped.
const MAX_PENDING: usize = 1024 * 1024;

/// Who is in the room on this shard: session number → session.
type Room = Rc<RefCell<BTreeMap<u64, SessionId>>>;

/// The shard's view of the bus: its handle and its peers.
#[derive(Clone)]
struct Bus {
    ikc: Ikc,
    peers: Rc<Vec<String>>,
}

struct Member {
    wheel: Option<ReadWrite<Vec<u8>>>,
    name: String,
    room: Room,
    bus: Bus,
}

/// Send `text` to the local members but `except`.
fn local_broadcast<H: 'static>(ctx: &mut Ctx<'_, H>, room: &Room, except: Option<u64>, text: &str) {
    let targets: Vec<SessionId> = room
        .borrow()
        .iter()
        .filter(|(n, _)| Some(**n) != except)
        .map(|(_, id)| *id)
        .collect();
    let msg = Rc::new(text.as_bytes().to_vec());
    for id in targets {
        let _ = ctx.post(id, "say", msg.clone());
    }
}

/// A line from a local member: to the other local members and to every
/// peer shard.
fn say(ctx: &mut Ctx<'_, Member>, text: String) {
    let me = ctx.id().number();
    let (room, bus) = (ctx.heap().room.clone(), ctx.heap().bus.clone());
    local_broadcast(ctx, &room, Some(me), &text);
    for peer in bus.peers.iter() {
        if let Err(e) = bus.ikc.post(ctx, &format!("{peer}/room/line"), &text) {
            eprintln!("cannot post to {peer}: {e}");
        }
    }
}

fn leave(ctx: &mut Ctx<'_, Member>) {
    let id = ctx.id().number();
    let m = ctx.heap();
    m.wheel = None;
    let was_in = m.room.borrow_mut().remove(&id).is_some();
    if was_in {
        let note = format!("* {} left", ctx.heap().name);
        say(ctx, note);
    }
}

fn member(room: Room, bus: Bus, name: String) -> Session<Member> {
    Session::new(Member {
        wheel: None,
        name,
        room,
        bus,
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
        say(ctx, note);
    })
    .on("line", |ctx| {
        let (mut line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            return;
        }
        let text = format!("{}: {}", ctx.heap().name, String::from_utf8_lossy(&line));
        say(ctx, text);
    })
    .on("say", |ctx| {
        let msg = ctx.take_arg::<Rc<Vec<u8>>>().unwrap();
        let m = ctx.heap();
        let Some(w) = &m.wheel else {
            return;
        };
        let _ = w.put(&msg);
        if w.pending() > MAX_PENDING {
            eprintln!("{}: too much unread chat; disconnecting", m.name);
            leave(ctx);
        }
    })
    .on("error", |ctx| {
        let e = ctx.take_arg::<WheelError>().unwrap();
        if !e.is_eof() {
            eprintln!("{}: {e}", ctx.heap().name);
        }
        leave(ctx);
    })
    .on("_stop", |ctx| {
        let id = ctx.id().number();
        ctx.heap().room.borrow_mut().remove(&id);
    })
}

struct Shard {
    factory: Option<SocketFactory>,
    room: Room,
    bus: Bus,
    addr: SocketAddr,
    shard: String,
}

/// What `--help` prints.
const USAGE: &str = "\
ikc_chat_server: a line chat sharded over processes joined by a NATS bus

Usage: ikc_chat_server [--name NAME] [--port N] [--peer NAME]... [--nats URL] [--bind ADDR]

Options:
  --name NAME   this shard's kernel name on the bus (default: a)
  --port N      TCP port for chat clients, 0 for any free port (default: 12346)
  --peer NAME   another shard's kernel name; repeat for more shards
  --nats URL    the NATS server (default: nats://127.0.0.1:4222)
  --bind ADDR   address to listen on (default: 127.0.0.1)
  -h, --help    print this help

Prints `listening on ADDR` once it is on the bus and its room is subscribed.
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut name = String::from("a");
    let mut nats = String::from("nats://127.0.0.1:4222");
    let mut bind = String::from("127.0.0.1");
    let mut port: u16 = 12346;
    let mut peers = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            return Ok(());
        }
        let value = args
            .next()
            .ok_or(format!("{flag} needs a value (see --help)"))?;
        match flag.as_str() {
            "--name" => name = value,
            "--nats" => nats = value,
            "--bind" => bind = value,
            "--port" => port = value.parse()?,
            "--peer" => peers.push(value),
            other => return Err(format!("unknown option {other} (see --help)").into()),
        }
    }
    let addr: SocketAddr = format!("{bind}:{port}").parse()?;
    let ikc = Ikc::new(Config::new(name.as_str(), nats))?;
    let bus = Bus {
        ikc: ikc.clone(),
        peers: Rc::new(peers),
    };

    let mut kernel = Kernel::new()?;
    kernel.spawn(ikc.session(), ());
    kernel.spawn(
        Session::new(Shard {
            factory: None,
            room: Rc::default(),
            bus,
            addr,
            shard: name,
        })
        .on("_start", |ctx| {
            let ikc = ctx.heap().bus.ikc.clone();
            ikc.monitor(ctx, "bus");
            // Lines from the other shards; listen once they can arrive.
            ikc.publish(
                ctx,
                Publish::new("room")
                    .event::<String>("line")
                    .on_ready("published"),
            )
            .expect("publish the room");
        })
        .on("published", |ctx| {
            let addr = ctx.heap().addr;
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
        .on("line", |ctx| {
            // From another shard (its lines name it already): to every
            // local member.
            let m = ctx.take_arg::<Incoming<String>>().unwrap();
            let room = ctx.heap().room.clone();
            local_broadcast(ctx, &room, None, &m.args);
        })
        .on("accepted", |ctx| {
            let c = ctx.take_arg::<TcpConnected>().unwrap();
            let s = ctx.heap();
            let (room, bus) = (s.room.clone(), s.bus.clone());
            let who = format!("{}/{}", s.shard, c.peer);
            ctx.spawn(member(room, bus, who), c.stream);
        })
        .on("failed", |ctx| {
            let e = ctx.take_arg::<WheelError>().unwrap();
            eprintln!("{} failed: {}", e.op, e.message);
            if e.op != "accept" {
                ctx.heap().factory = None;
                let ikc = ctx.heap().bus.ikc.clone();
                ikc.shutdown(ctx);
            }
        })
        .on("bus", |ctx| {
            let ev = ctx.take_arg::<BusEvent>().unwrap();
            eprintln!("bus: {ev:?}");
            if matches!(ev, BusEvent::ConnectFailed(_)) {
                ctx.heap().factory = None;
            }
        })
        .on("ikc_error", |ctx| {
            let f = ctx.take_arg::<Failed>().unwrap();
            eprintln!("{}: {}", f.to, f.error);
        }),
        (),
    );
    rpoe::tokio::run(&mut kernel)?;
    Ok(())
}
