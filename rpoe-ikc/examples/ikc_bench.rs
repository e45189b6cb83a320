//! IKC's overhead against plain async-nats, side by side in one run, on
//! the same nats-server (docs/performance.md, "IKC over NATS").
//!
//! - Post throughput: N small messages (a JSON u64) from one thread to
//!   another through the server. Plain: an async-nats client publishes
//!   (awaiting each publish, as its channel's back-pressure asks) and
//!   another client on another thread counts. IKC: kernel `a` posts to
//!   `b/sink/hit` (keeping at most 4,096 in its outgoing buffer) and
//!   kernel `b`, on another thread, counts its `hit` events. Time: first
//!   send to last receipt.
//! - Call round trip: M sequential request/answer pairs. Plain:
//!   `Client::request` against a subscriber that answers. IKC: `a` calls
//!   `b/sink/echo` and makes the next call from the RSVP event.
//!
//! Rounds alternate plain and IKC; the report gives each round's ratio
//! and the median, min and max.
//!
//! `cargo run --release -p rpoe-ikc --example ikc_bench -- [--n 200000]
//! [--calls 5000] [--rounds 5] [--nats URL]` (without `--nats` it starts
//! a nats-server on a free loopback port).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rpoe::{Kernel, KernelHandle, Session};
use rpoe_ikc::{CallReply, Config, Ikc, Incoming, Publish};

const PENDING_CAP: usize = 4096;

struct Args {
    n: u64,
    calls: u64,
    rounds: usize,
    nats: Option<String>,
}

fn parse() -> Args {
    let mut a = Args {
        n: 200_000,
        calls: 5000,
        rounds: 5,
        nats: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let v = it.next().expect("option value");
        match f.as_str() {
            "--n" => a.n = v.parse().unwrap(),
            "--calls" => a.calls = v.parse().unwrap(),
            "--rounds" => a.rounds = v.parse().unwrap(),
            "--nats" => a.nats = Some(v),
            _ => panic!("unknown option {f}"),
        }
    }
    a
}

fn config(name: &str, url: &str, n: u64) -> Config {
    let mut c = Config::new(name, url);
    // As async-nats's defaults for the plain clients: same channel, and
    // no slow-consumer drops during a burst.
    c.client_capacity = 2048;
    c.subscription_capacity = n as usize + 1024;
    c.max_pending = PENDING_CAP * 2;
    c.max_pending_bytes = 64 << 20;
    c
}

/// Kernel `b`: counts `hit`s (reporting when the target is reached) and
/// answers `echo`.
fn kernel_b(url: String, n: u64, ready: mpsc::Sender<KernelHandle>, done: mpsc::Sender<Instant>) {
    let ikc = Ikc::new(config("b", &url, n)).unwrap();
    let mut kernel = Kernel::new().unwrap();
    let handle = kernel.handle();
    kernel.spawn(ikc.session(), ());
    let i = ikc.clone();
    kernel.spawn(
        Session::new((0u64, 0u64))
            .on("_start", move |ctx| {
                ctx.alias_set("sink").unwrap();
                i.publish(
                    ctx,
                    Publish::new("sink")
                        .event::<u64>("hit")
                        .event::<u64>("echo")
                        .on_ready("ready"),
                )
                .unwrap();
            })
            .on("ready", move |_| ready.send(handle.clone()).unwrap())
            .on("target", |ctx| {
                let t = ctx.take_arg::<u64>().unwrap();
                *ctx.heap() = (0, t);
            })
            .on("hit", move |ctx| {
                let h = ctx.heap();
                h.0 += 1;
                if h.0 == h.1 {
                    done.send(Instant::now()).unwrap();
                }
            })
            .on("echo", |ctx| {
                let m = ctx.take_arg::<Incoming<u64>>().unwrap();
                if let Some(r) = m.reply {
                    let _ = r.send(&m.args);
                }
            })
            .on("quit", {
                let ikc = ikc.clone();
                move |ctx| ikc.shutdown(ctx)
            }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
}

enum AOut {
    Started(Instant),
    Rtts(Vec<Duration>),
}

struct Driver {
    left: u64,
    seq: u64,
    calls_left: u64,
    sent_at: Instant,
    rtts: Vec<Duration>,
}

/// Kernel `a`: posts and calls on command from the main thread.
fn kernel_a(url: String, n: u64, ready: mpsc::Sender<KernelHandle>, out: mpsc::Sender<AOut>) {
    let ikc = Ikc::new(config("a", &url, n)).unwrap();
    let mut kernel = Kernel::new().unwrap();
    let handle = kernel.handle();
    kernel.spawn(ikc.session(), ());
    let i = ikc.clone();
    let out2 = out.clone();
    kernel.spawn(
        Session::new(Driver {
            left: 0,
            seq: 0,
            calls_left: 0,
            sent_at: Instant::now(),
            rtts: Vec::new(),
        })
        .on("_start", move |ctx| {
            ctx.alias_set("driver").unwrap();
            // Stay alive between commands: a publication holds it.
            i.publish(ctx, Publish::new("driver").on_ready("ready"))
                .unwrap();
        })
        .on("ready", move |_| ready.send(handle.clone()).unwrap())
        .on("posts", move |ctx| {
            let n = ctx.take_arg::<u64>().unwrap();
            ctx.heap().left = n;
            out.send(AOut::Started(Instant::now())).unwrap();
            ctx.yield_event("more", ());
        })
        .on("more", {
            let ikc = ikc.clone();
            move |ctx| {
                let room = PENDING_CAP.saturating_sub(ikc.stats().pending) as u64;
                let k = room.min(ctx.heap().left).min(512);
                for _ in 0..k {
                    let s = ctx.heap().seq;
                    ctx.heap().seq += 1;
                    ikc.post(ctx, "b/sink/hit", &s).unwrap();
                }
                ctx.heap().left -= k;
                if ctx.heap().left > 0 {
                    ctx.yield_event("more", ());
                }
            }
        })
        .on("calls", {
            let ikc = ikc.clone();
            move |ctx| {
                let m = ctx.take_arg::<u64>().unwrap();
                let d = ctx.heap();
                d.calls_left = m;
                d.rtts = Vec::with_capacity(m as usize);
                d.sent_at = Instant::now();
                ikc.call::<_, u64, _>(ctx, "b/sink/echo", &m, "rsvp")
                    .unwrap();
            }
        })
        .on("rsvp", {
            let ikc = ikc.clone();
            move |ctx| {
                let r = ctx.take_arg::<CallReply<u64>>().unwrap();
                r.result.expect("answered");
                let d = ctx.heap();
                d.rtts.push(d.sent_at.elapsed());
                d.calls_left -= 1;
                if d.calls_left == 0 {
                    let rtts = std::mem::take(&mut d.rtts);
                    out2.send(AOut::Rtts(rtts)).unwrap();
                    return;
                }
                d.sent_at = Instant::now();
                let left = d.calls_left;
                ikc.call::<_, u64, _>(ctx, "b/sink/echo", &left, "rsvp")
                    .unwrap();
            }
        })
        .on("quit", {
            let ikc = ikc.clone();
            move |ctx| {
                ikc.unpublish(ctx, "driver");
                ikc.shutdown(ctx);
            }
        }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
}

/// Plain async-nats: a counter thread and an answering thread.
fn plain_peers(url: &str, n: u64) -> (mpsc::Sender<u64>, mpsc::Receiver<Instant>) {
    let (target_tx, target_rx) = mpsc::channel::<u64>();
    let (done_tx, done_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let u = url.to_string();
    let r1 = ready_tx.clone();
    thread::spawn(move || {
        let rt = rt();
        rt.block_on(async {
            let c = async_nats::ConnectOptions::new()
                .subscription_capacity(n as usize + 1024)
                .connect(u)
                .await
                .unwrap();
            let mut sub = c.subscribe("bench.plain.hit").await.unwrap();
            c.flush().await.unwrap();
            r1.send(()).unwrap();
            while let Ok(target) = target_rx.recv() {
                let mut got = 0;
                while got < target {
                    // Decoded, as IKC decodes each post for its session.
                    let m = sub.next().await.unwrap();
                    let _: u64 = serde_json::from_slice(&m.payload).unwrap();
                    got += 1;
                }
                done_tx.send(Instant::now()).unwrap();
            }
        });
    });
    let u = url.to_string();
    thread::spawn(move || {
        let rt = rt();
        rt.block_on(async {
            let c = async_nats::connect(u).await.unwrap();
            let mut sub = c.subscribe("bench.plain.echo").await.unwrap();
            c.flush().await.unwrap();
            ready_tx.send(()).unwrap();
            while let Some(m) = sub.next().await {
                if let Some(r) = m.reply {
                    c.publish(r, m.payload).await.unwrap();
                }
            }
        });
    });
    ready_rx.recv().unwrap();
    ready_rx.recv().unwrap();
    (target_tx, done_rx)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args = parse();
    let mut server = None;
    let url = match &args.nats {
        Some(u) => u.clone(),
        None => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            server = Some(
                std::process::Command::new("nats-server")
                    .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("start nats-server (apt-get install nats-server, or pass --nats URL)"),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "nats-server not up");
                thread::sleep(Duration::from_millis(10));
            }
            format!("nats://127.0.0.1:{port}")
        }
    };

    let (rb_tx, rb_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let (u, n) = (url.clone(), args.n);
    let tb = thread::spawn(move || kernel_b(u, n, rb_tx, done_tx));
    let b = rb_rx.recv().unwrap();
    let (ra_tx, ra_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    let u = url.clone();
    let ta = thread::spawn(move || kernel_a(u, n, ra_tx, out_tx));
    let a = ra_rx.recv().unwrap();
    let (plain_target, plain_done) = plain_peers(&url, args.n);
    let rt = rt();
    let client = rt
        .block_on(async_nats::ConnectOptions::new().connect(url.clone()))
        .unwrap();
    let wait = Duration::from_secs(120);

    println!(
        "IKC vs plain async-nats, {} posts and {} sequential calls per round, {} rounds",
        args.n, args.calls, args.rounds
    );
    println!("| round | plain posts/s | IKC posts/s | IKC/plain | plain RTT mean µs (p50/p99) | IKC RTT mean µs (p50/p99) | IKC/plain |");
    println!("|---|---|---|---|---|---|---|");
    let mut tput_ratios = Vec::new();
    let mut rtt_ratios = Vec::new();
    for round in 1..=args.rounds {
        // Plain throughput.
        plain_target.send(args.n).unwrap();
        let start = Instant::now();
        rt.block_on(async {
            for i in 0..args.n {
                let payload = serde_json::to_vec(&i).unwrap();
                client
                    .publish("bench.plain.hit", payload.into())
                    .await
                    .unwrap();
            }
            client.flush().await.unwrap();
        });
        let end = plain_done.recv_timeout(wait).expect("plain: all received");
        let plain_rate = args.n as f64 / (end - start).as_secs_f64();

        // IKC throughput.
        b.post("sink", "target", args.n).unwrap();
        a.post("driver", "posts", args.n).unwrap();
        let AOut::Started(start) = out_rx.recv_timeout(wait).unwrap() else {
            panic!("expected the start")
        };
        let end = done_rx.recv_timeout(wait).expect("IKC: all received");
        let ikc_rate = args.n as f64 / (end - start).as_secs_f64();

        // Plain round trips.
        let mut plain_rtts = Vec::with_capacity(args.calls as usize);
        rt.block_on(async {
            for i in 0..args.calls {
                let payload = serde_json::to_vec(&i).unwrap();
                let t = Instant::now();
                client
                    .request("bench.plain.echo", payload.into())
                    .await
                    .unwrap();
                plain_rtts.push(t.elapsed());
            }
        });
        // IKC round trips.
        a.post("driver", "calls", args.calls).unwrap();
        let AOut::Rtts(mut ikc_rtts) = out_rx.recv_timeout(wait).unwrap() else {
            panic!("expected round trips")
        };
        plain_rtts.sort();
        ikc_rtts.sort();
        let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() * 1e6 / v.len() as f64;
        let (pm, im) = (mean(&plain_rtts), mean(&ikc_rtts));
        let tr = plain_rate / ikc_rate;
        let rr = im / pm;
        tput_ratios.push(tr);
        rtt_ratios.push(rr);
        println!(
            "| {round} | {plain_rate:.0} | {ikc_rate:.0} | {:.2} | {pm:.1} ({:.0}/{:.0}) | {im:.1} ({:.0}/{:.0}) | {rr:.2} |",
            ikc_rate / plain_rate,
            percentile(&plain_rtts, 0.5).as_secs_f64() * 1e6,
            percentile(&plain_rtts, 0.99).as_secs_f64() * 1e6,
            percentile(&ikc_rtts, 0.5).as_secs_f64() * 1e6,
            percentile(&ikc_rtts, 0.99).as_secs_f64() * 1e6,
        );
    }
    let (tmin, tmax) = (
        tput_ratios.iter().cloned().fold(f64::MAX, f64::min),
        tput_ratios.iter().cloned().fold(0.0, f64::max),
    );
    let (rmin, rmax) = (
        rtt_ratios.iter().cloned().fold(f64::MAX, f64::min),
        rtt_ratios.iter().cloned().fold(0.0, f64::max),
    );
    println!();
    println!(
        "post time IKC/plain (>1: IKC slower): median {:.3}, min {tmin:.3}, max {tmax:.3}",
        median(&mut tput_ratios)
    );
    println!(
        "call RTT IKC/plain (>1: IKC slower): median {:.3}, min {rmin:.3}, max {rmax:.3}",
        median(&mut rtt_ratios)
    );
    a.post("driver", "quit", ()).unwrap();
    b.post("sink", "quit", ()).unwrap();
    let _ = ta.join();
    let _ = tb.join();
    if let Some(mut s) = server {
        let _ = s.kill();
        let _ = s.wait();
    }
}
