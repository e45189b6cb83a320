//! IKC's overhead against plain async-nats, side by side in one run, on
//! the same nats-server (docs/performance.md, "IKC over NATS").
//!
//! - Post throughput: N small messages (a JSON u64) from one thread to
//!   another through the server. Plain: an async-nats client publishes
//!   (awaiting each publish, as its channel's back-pressure asks) and
//!   another client on another thread decodes each and hands it to
//!   `handle_hit`. IKC: kernel `a` posts to `b/sink/hit` (at most
//!   `--per-event` posts per event; when the client's channel is full it
//!   waits for `Ikc::notify_drained`) and kernel `b`, on another thread,
//!   hands each `hit` event's argument to the same `handle_hit`.
//!   Time: first send to last receipt.
//! - Call round trip: M sequential request/answer pairs. Plain:
//!   `Client::request` against a subscriber that decodes, encodes and
//!   answers with IKC's `Rpoe-Kernel` header; the caller decodes the
//!   answer and reads the header. IKC: `a` calls `b/sink/echo` and makes
//!   the next call from the RSVP event.
//!
//! Fairness: the plain subjects have the same length and last token as
//! IKC's, so the bytes on the wire are the same; each side runs on
//! current-thread tokio runtimes, one per thread, as each kernel does.
//!
//! Besides wall time, it reads the CPU time the sending and the
//! receiving thread used (the scheduler's per-thread
//! `/proc/self/task/TID/schedstat`), which the other loads on the machine
//! disturb far less. Each round is cut into chunks that alternate which
//! side goes first, so both see the same background load; the report
//! gives each round's ratios and their median, min and max.
//!
//! `cargo run --release -p rpoe-ikc --example ikc_bench -- [--n 200000]
//! [--calls 5000] [--rounds 5] [--chunks 10] [--pad 0] [--per-event 128]
//! [--nats URL]`
//! (without `--nats` it starts a nats-server on a free loopback port;
//! `--pad BYTES` adds that much text to every argument, on both sides).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

mod args;
mod ikc_peers;
mod plain;
mod report;
mod shared;

use args::{parse, Args};
use ikc_peers::{kernel_a, kernel_b, AOut};
use plain::{plain_peers, PLAIN_ECHO, PLAIN_HIT};
use report::{percentile, spread, Run};
use shared::{cpu_ns, named, rt, tid, Arg};

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ikc_bench: {e}");
            std::process::exit(2);
        }
    };
    if args.pad == 0 {
        bench::<u64>(&args);
    } else {
        bench::<(u64, String)>(&args);
    }
}

/// The whole run, with arguments of type `A` on both sides.
fn bench<A: Arg>(args: &Args) {
    let pad = "x".repeat(args.pad);
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
                    .unwrap_or_else(|e| {
                        eprintln!(
                            "ikc_bench: cannot start nats-server ({e}): apt-get install nats-server, or pass --nats URL"
                        );
                        std::process::exit(2)
                    }),
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
    let tb = named("ikc-b", move || kernel_b::<A>(u, n, rb_tx, done_tx));
    let (b, b_tid) = rb_rx.recv().unwrap();
    let (ra_tx, ra_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    let (u, p, per) = (url.clone(), pad.clone(), args.per_event);
    let ta = named("ikc-a", move || kernel_a::<A>(u, n, p, per, ra_tx, out_tx));
    let (a, a_tid) = ra_rx.recv().unwrap();
    let plain = plain_peers::<A>(&url, args.n);
    let main_tid = tid();
    let rt = rt();
    let client = rt
        .block_on(async_nats::ConnectOptions::new().connect(url.clone()))
        .unwrap();
    let wait = Duration::from_secs(120);
    let expect_sum = |k: u64| (0..k).sum::<u64>().wrapping_add(k);

    let plain_posts = |k: u64| {
        plain.target.send(k).unwrap();
        let (s0, r0) = (cpu_ns(main_tid), cpu_ns(plain.counter_tid));
        let start = Instant::now();
        rt.block_on(async {
            for i in 0..k {
                let payload = serde_json::to_vec(&A::out(i, &pad)).unwrap();
                client.publish(PLAIN_HIT, payload.into()).await.unwrap();
            }
            client.flush().await.unwrap();
        });
        let s1 = cpu_ns(main_tid);
        let (end, sum) = plain.done.recv_timeout(wait).expect("plain: all received");
        assert_eq!(sum, expect_sum(k), "plain: every post handled");
        Run {
            wall: (end - start).as_secs_f64(),
            send_cpu: (s1 - s0) as f64,
            recv_cpu: (cpu_ns(plain.counter_tid) - r0) as f64,
        }
    };
    let ikc_posts = |k: u64| {
        b.post("sink", "target", k).unwrap();
        let (s0, r0) = (cpu_ns(a_tid), cpu_ns(b_tid));
        a.post("driver", "posts", k).unwrap();
        let AOut::Started(start) = out_rx.recv_timeout(wait).unwrap() else {
            panic!("expected the start")
        };
        let (end, sum) = done_rx.recv_timeout(wait).expect("IKC: all received");
        assert_eq!(sum, expect_sum(k), "IKC: every post handled");
        // Kernel a's CPU includes sending its outgoing buffer's tail
        // after the last post, all of which b has received by now.
        Run {
            wall: (end - start).as_secs_f64(),
            send_cpu: (cpu_ns(a_tid) - s0) as f64,
            recv_cpu: (cpu_ns(b_tid) - r0) as f64,
        }
    };
    let plain_calls = |k: u64| {
        let mut rtts = Vec::with_capacity(k as usize);
        let (s0, r0) = (cpu_ns(main_tid), cpu_ns(plain.echo_tid));
        rt.block_on(async {
            for i in 0..k {
                let payload = serde_json::to_vec(&A::out(i, &pad)).unwrap();
                let t = Instant::now();
                let m = client.request(PLAIN_ECHO, payload.into()).await.unwrap();
                // Decoded, and its responder read, as IKC's CallReply.
                let _from = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(rpoe_ikc::KERNEL_HEADER))
                    .map(|v| std::rc::Rc::<str>::from(v.as_str()));
                let v: A = serde_json::from_slice(&m.payload).unwrap();
                assert_eq!(v.n(), i);
                rtts.push(t.elapsed());
            }
        });
        let run = Run {
            wall: rtts.iter().sum::<Duration>().as_secs_f64(),
            send_cpu: (cpu_ns(main_tid) - s0) as f64,
            recv_cpu: (cpu_ns(plain.echo_tid) - r0) as f64,
        };
        (run, rtts)
    };
    let ikc_calls = |k: u64| {
        let (s0, r0) = (cpu_ns(a_tid), cpu_ns(b_tid));
        a.post("driver", "calls", k).unwrap();
        let AOut::Rtts(rtts) = out_rx.recv_timeout(wait).unwrap() else {
            panic!("expected round trips")
        };
        let run = Run {
            wall: rtts.iter().sum::<Duration>().as_secs_f64(),
            send_cpu: (cpu_ns(a_tid) - s0) as f64,
            recv_cpu: (cpu_ns(b_tid) - r0) as f64,
        };
        (run, rtts)
    };

    println!(
        "IKC vs plain async-nats, {} posts and {} sequential calls per round, {} rounds, \
         each in {} chunks alternating which side goes first; IKC's producer posts at most {} \
         per event; arguments: {}",
        args.n,
        args.calls,
        args.rounds,
        args.chunks,
        args.per_event,
        if args.pad == 0 {
            "a bare number".to_string()
        } else {
            format!("a number and {} bytes of text", args.pad)
        }
    );
    println!(
        "CPU: ns per message on the sending / receiving thread (for calls: caller / responder)"
    );
    println!("| round | plain posts/s | IKC posts/s | time IKC/plain | plain CPU ns/post | IKC CPU ns/post | CPU IKC/plain | plain RTT µs (p50/p99) | IKC RTT µs (p50/p99) | RTT IKC/plain | plain CPU ns/call | IKC CPU ns/call | CPU IKC/plain |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ratios: [Vec<f64>; 8] = Default::default();
    for round in 1..=args.rounds {
        // Each round is cut into chunks that alternate which side goes
        // first, so that both sides see the same background load.
        let (mut pp, mut ip, mut pc, mut ic) = (
            Run::default(),
            Run::default(),
            Run::default(),
            Run::default(),
        );
        let (mut prtt, mut irtt) = (Vec::new(), Vec::new());
        let chunks = args.chunks.max(1);
        for c in 0..chunks {
            let plain_first = (round + c as usize) % 2 == 1;
            let k = args.n / chunks + u64::from(c < args.n % chunks);
            let (p, i) = in_turn(plain_first, || plain_posts(k), || ikc_posts(k));
            pp.add(&p);
            ip.add(&i);
            let k = args.calls / chunks + u64::from(c < args.calls % chunks);
            let ((p, pr), (i, ir)) = in_turn(plain_first, || plain_calls(k), || ikc_calls(k));
            pc.add(&p);
            ic.add(&i);
            prtt.extend(pr);
            irtt.extend(ir);
        }
        prtt.sort();
        irtt.sort();
        let n = args.n as f64;
        let m = args.calls as f64;
        let cpu = |r: &Run, k: f64| (r.send_cpu + r.recv_cpu) / k;
        let row = [
            ip.wall / pp.wall,
            cpu(&ip, n) / cpu(&pp, n),
            ic.wall / pc.wall,
            cpu(&ic, m) / cpu(&pc, m),
            ip.send_cpu / pp.send_cpu,
            ip.recv_cpu / pp.recv_cpu,
            ic.send_cpu / pc.send_cpu,
            ic.recv_cpu / pc.recv_cpu,
        ];
        for (v, r) in ratios.iter_mut().zip(row) {
            v.push(r);
        }
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| {round} | {:.0} | {:.0} | {:.2} | {:.0}/{:.0} | {:.0}/{:.0} | {:.2} | {:.1} ({:.0}/{:.0}) | {:.1} ({:.0}/{:.0}) | {:.2} | {:.0}/{:.0} | {:.0}/{:.0} | {:.2} |",
            n / pp.wall,
            n / ip.wall,
            row[0],
            pp.send_cpu / n,
            pp.recv_cpu / n,
            ip.send_cpu / n,
            ip.recv_cpu / n,
            row[1],
            pc.wall * 1e6 / m,
            us(percentile(&prtt, 0.5)),
            us(percentile(&prtt, 0.99)),
            ic.wall * 1e6 / m,
            us(percentile(&irtt, 0.5)),
            us(percentile(&irtt, 0.99)),
            row[2],
            pc.send_cpu / m,
            pc.recv_cpu / m,
            ic.send_cpu / m,
            ic.recv_cpu / m,
            row[3],
        );
    }
    println!();
    println!("IKC/plain (>1: IKC costs more), median [min, max] over the rounds:");
    let names = [
        "post time",
        "post CPU (both sides)",
        "call RTT",
        "call CPU (both sides)",
        "post CPU, sender",
        "post CPU, receiver",
        "call CPU, caller",
        "call CPU, responder",
    ];
    for (name, v) in names.iter().zip(&ratios) {
        let (mid, lo, hi) = spread(v);
        println!("  {name:<22} {mid:.3} [{lo:.3}, {hi:.3}]");
    }
    a.post("driver", "quit", ()).unwrap();
    b.post("sink", "quit", ()).unwrap();
    let _ = ta.join();
    let _ = tb.join();
    if let Some(mut s) = server {
        let _ = s.kill();
        let _ = s.wait();
    }
}

/// Run both sides of one chunk, `plain` first or `ikc` first, and give
/// their results in that order whichever ran first.
fn in_turn<P, I>(plain_first: bool, plain: impl FnOnce() -> P, ikc: impl FnOnce() -> I) -> (P, I) {
    if plain_first {
        let p = plain();
        (p, ikc())
    } else {
        let i = ikc();
        (plain(), i)
    }
}
