//! IKC's overhead against plain async-nats, side by side in one run, on
//! the same nats-server (docs/performance.md, "IKC over NATS").
//!
//! - Post throughput: N small messages (a JSON u64) from one thread to
//!   another through the server. Plain: an async-nats client publishes
//!   (awaiting each publish, as its channel's back-pressure asks) and
//!   another client on another thread decodes each and hands it to
//!   `handle_hit`. IKC: kernel `a` posts to `b/sink/hit` (keeping at
//!   most 4,096 in its outgoing buffer) and kernel `b`, on another
//!   thread, hands each `hit` event's argument to the same `handle_hit`.
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
//! [--calls 5000] [--rounds 5] [--chunks 10] [--nats URL]` (without `--nats` it starts
//! a nats-server on a free loopback port).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rpoe::{Kernel, KernelHandle, Session};
use rpoe_ikc::{CallReply, Config, Ikc, Incoming, Publish};

/// Posts per `more` event at most.
const PER_EVENT: u64 = 4096;

struct Args {
    n: u64,
    calls: u64,
    rounds: usize,
    chunks: u64,
    nats: Option<String>,
}

/// What `--help` prints.
const USAGE: &str = "\
ikc_bench: rpoe-ikc against plain async-nats on the same nats-server

Usage: ikc_bench [--n N] [--calls N] [--rounds N] [--chunks N] [--nats URL]

Options:
  --n N        posts per round (default: 200000)
  --calls N    sequential calls per round (default: 5000)
  --rounds N   rounds; the report gives each and their median (default: 5)
  --chunks N   each round is cut into N chunks that alternate which side
               goes first (default: 10)
  --nats URL   an existing NATS server (default: start nats-server on a
               free loopback port; it must be on the PATH)
  -h, --help   print this help

Ratios are IKC over plain (above 1: IKC costs more). Build with --release.
";

/// The options, or why they are wrong.
fn parse() -> Result<Args, String> {
    let mut a = Args {
        n: 200_000,
        calls: 5000,
        rounds: 5,
        chunks: 10,
        nats: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        if f == "--help" || f == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{f} needs a value (see --help)"))?;
        let num = |what: &str| -> Result<u64, String> {
            match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{what} must be a positive integer, not {v:?}")),
            }
        };
        match f.as_str() {
            "--n" => a.n = num("--n")?,
            "--calls" => a.calls = num("--calls")?,
            "--rounds" => a.rounds = num("--rounds")? as usize,
            "--chunks" => a.chunks = num("--chunks")?,
            "--nats" => a.nats = Some(v),
            _ => return Err(format!("unknown option {f} (see --help)")),
        }
    }
    if a.chunks > a.n.min(a.calls) {
        return Err(format!(
            "--chunks {} is more than --n or --calls: each chunk needs at least one",
            a.chunks
        ));
    }
    Ok(a)
}

fn config(name: &str, url: &str, n: u64) -> Config {
    let mut c = Config::new(name, url);
    // As async-nats's defaults for the plain clients: same channel, and
    // no slow-consumer drops during a burst.
    c.client_capacity = 2048;
    c.subscription_capacity = n as usize + 1024;
    c.max_pending = PER_EVENT as usize * 2;
    c.max_pending_bytes = 64 << 20;
    c
}

/// Kernel `b`: counts `hit`s (reporting when the target is reached) and
/// answers `echo`.
fn kernel_b(
    url: String,
    n: u64,
    ready: mpsc::Sender<(KernelHandle, u64)>,
    done: mpsc::Sender<(Instant, u64)>,
) {
    let ikc = Ikc::new(config("b", &url, n)).unwrap();
    let mut kernel = Kernel::new().unwrap();
    let handle = kernel.handle();
    kernel.spawn(ikc.session(), ());
    let i = ikc.clone();
    kernel.spawn(
        Session::new((0u64, 0u64, 0u64))
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
            .on("ready", move |_| {
                ready.send((handle.clone(), tid())).unwrap()
            })
            .on("target", |ctx| {
                let t = ctx.take_arg::<u64>().unwrap();
                *ctx.heap() = (0, t, 0);
            })
            .on("hit", move |ctx| {
                // The same user code as the plain subscriber's.
                let m = ctx.take_arg::<Incoming<u64>>().unwrap();
                let h = ctx.heap();
                if handle_hit(&mut h.0, &mut h.2, &m.from, m.args) == h.1 {
                    done.send((Instant::now(), h.2)).unwrap();
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
fn kernel_a(
    url: String,
    n: u64,
    ready: mpsc::Sender<(KernelHandle, u64)>,
    out: mpsc::Sender<AOut>,
) {
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
        .on("ready", move |_| {
            ready.send((handle.clone(), tid())).unwrap()
        })
        .on("posts", move |ctx| {
            let n = ctx.take_arg::<u64>().unwrap();
            ctx.heap().left = n;
            ctx.heap().seq = 0;
            out.send(AOut::Started(Instant::now())).unwrap();
            ctx.yield_event("more", ());
        })
        .on("more", {
            let ikc = ikc.clone();
            move |ctx| {
                // As the plain publisher awaits each publish: go on while
                // the client's channel takes each post at once, and give
                // the kernel (and the client's writer) a turn when it is
                // full (a post then waits in IKC's buffer). At most
                // PER_EVENT per event, so the kernel's other events run.
                let mut k = 0;
                while k < ctx.heap().left.min(PER_EVENT) {
                    let s = ctx.heap().seq;
                    ctx.heap().seq += 1;
                    ikc.post(ctx, "b/sink/hit", &s).unwrap();
                    k += 1;
                    if ikc.pending() > 0 {
                        break;
                    }
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

/// The user code both subscribers run for each post: count it, sum its
/// argument and look at its sender (as a handler of `Incoming` would).
/// Returns the count.
#[inline(never)]
fn handle_hit(count: &mut u64, sum: &mut u64, from: &str, v: u64) -> u64 {
    *count += 1;
    *sum = sum.wrapping_add(v).wrapping_add(from.len() as u64);
    *count
}

/// This thread's id (to read its CPU time from another thread).
fn tid() -> u64 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// CPU time a thread of this process has used so far (ns on a CPU,
/// from the scheduler's /proc/self/task/TID/schedstat).
fn cpu_ns(tid: u64) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Same length as `rpoe.b.sink.hit.a`, IKC's subject, and the same
/// sender token at its end.
const PLAIN_HIT: &str = "rpoe.p.sink.hit.a";
const PLAIN_ECHO: &str = "rpoe.p.sink.echo.a";

struct Plain {
    target: mpsc::Sender<u64>,
    done: mpsc::Receiver<(Instant, u64)>,
    counter_tid: u64,
    echo_tid: u64,
}

/// Plain async-nats: a counter thread and an answering thread, each on
/// its own current-thread runtime as each IKC kernel is.
fn plain_peers(url: &str, n: u64) -> Plain {
    let (target_tx, target_rx) = mpsc::channel::<u64>();
    let (done_tx, done_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let u = url.to_string();
    let r1 = ready_tx.clone();
    named("plain-count", move || {
        let rt = rt();
        rt.block_on(async {
            let c = async_nats::ConnectOptions::new()
                .subscription_capacity(n as usize + 1024)
                .connect(u)
                .await
                .unwrap();
            let mut sub = c.subscribe(PLAIN_HIT).await.unwrap();
            c.flush().await.unwrap();
            r1.send((0, tid())).unwrap();
            while let Ok(target) = target_rx.recv() {
                let (mut count, mut sum) = (0, 0);
                loop {
                    // Decoded and handed to the same user code as IKC's.
                    let m = sub.next().await.unwrap();
                    let v: u64 = serde_json::from_slice(&m.payload).unwrap();
                    let from = m.subject.as_str().rsplit('.').next().unwrap_or("");
                    if handle_hit(&mut count, &mut sum, from, v) == target {
                        break;
                    }
                }
                done_tx.send((Instant::now(), sum)).unwrap();
            }
        });
    });
    let u = url.to_string();
    named("plain-echo", move || {
        let rt = rt();
        rt.block_on(async {
            let c = async_nats::connect(u).await.unwrap();
            let mut sub = c.subscribe(PLAIN_ECHO).await.unwrap();
            c.flush().await.unwrap();
            ready_tx.send((1, tid())).unwrap();
            // The same header IKC's answers carry (the answering kernel).
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(rpoe_ikc::KERNEL_HEADER, "p");
            while let Some(m) = sub.next().await {
                // Decoded and encoded again, as IKC's `echo` does.
                let v: u64 = serde_json::from_slice(&m.payload).unwrap();
                let out = serde_json::to_vec(&v).unwrap();
                if let Some(r) = m.reply {
                    c.publish_with_headers(r, headers.clone(), out.into())
                        .await
                        .unwrap();
                }
            }
        });
    });
    let (mut counter_tid, mut echo_tid) = (0, 0);
    for _ in 0..2 {
        match ready_rx.recv().unwrap() {
            (0, t) => counter_tid = t,
            (_, t) => echo_tid = t,
        }
    }
    Plain {
        target: target_tx,
        done: done_rx,
        counter_tid,
        echo_tid,
    }
}

/// A thread with a name, so that per-thread tools (`perf`, `top -H`)
/// tell the four sides apart.
fn named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .expect("spawn a thread")
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

/// Median, min and max.
fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (mid, v[0], v[v.len() - 1])
}

/// One side's measurement of one phase: wall time, and CPU ns of the
/// sending and the receiving thread.
#[derive(Clone, Copy, Default)]
struct Run {
    wall: f64,
    send_cpu: f64,
    recv_cpu: f64,
}

impl Run {
    fn add(&mut self, o: &Run) {
        self.wall += o.wall;
        self.send_cpu += o.send_cpu;
        self.recv_cpu += o.recv_cpu;
    }
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ikc_bench: {e}");
            std::process::exit(2);
        }
    };
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
    let tb = named("ikc-b", move || kernel_b(u, n, rb_tx, done_tx));
    let (b, b_tid) = rb_rx.recv().unwrap();
    let (ra_tx, ra_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    let u = url.clone();
    let ta = named("ikc-a", move || kernel_a(u, n, ra_tx, out_tx));
    let (a, a_tid) = ra_rx.recv().unwrap();
    let plain = plain_peers(&url, args.n);
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
                let payload = serde_json::to_vec(&i).unwrap();
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
                let payload = serde_json::to_vec(&i).unwrap();
                let t = Instant::now();
                let m = client.request(PLAIN_ECHO, payload.into()).await.unwrap();
                // Decoded, and its responder read, as IKC's CallReply.
                let _from = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(rpoe_ikc::KERNEL_HEADER))
                    .map(|v| std::rc::Rc::<str>::from(v.as_str()));
                let v: u64 = serde_json::from_slice(&m.payload).unwrap();
                assert_eq!(v, i);
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
         each in {} chunks alternating which side goes first",
        args.n, args.calls, args.rounds, args.chunks
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
            let k = args.n / chunks + u64::from(c < args.n % chunks);
            let (p, i) = if (round + c as usize) % 2 == 1 {
                let p = plain_posts(k);
                (p, ikc_posts(k))
            } else {
                let i = ikc_posts(k);
                (plain_posts(k), i)
            };
            pp.add(&p);
            ip.add(&i);
            let k = args.calls / chunks + u64::from(c < args.calls % chunks);
            let ((p, pr), (i, ir)) = if (round + c as usize) % 2 == 1 {
                let p = plain_calls(k);
                (p, ikc_calls(k))
            } else {
                let i = ikc_calls(k);
                (plain_calls(k), i)
            };
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
