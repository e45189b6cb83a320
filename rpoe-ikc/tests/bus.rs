//! IKC against a real nats-server, with kernels in separate processes
//! (`ikc-test-node`): post and call round trips between two and three
//! kernels, the queue group, the server killed and restarted
//! mid-stream, a remote session dying and a remote kernel killed, the
//! bounded buffer while the bus is down, a slow consumer, message size
//! limits, arguments that do not deserialise, credentials.
//!
//! Each test starts its own nats-server on a free loopback port. Without
//! nats-server the tests say so loudly and pass, unless
//! `RPOE_REQUIRE_NATS=1` (set by .ci/run), which makes them fail.

mod support;

use std::time::{Duration, Instant};

use support::{nats_or_skip, until, CallResults, Count, Driver, NatsServer, Node, Stat, T};

#[test]
fn two_kernels_post_and_call_round_trips() {
    if !nats_or_skip("two_kernels_post_and_call_round_trips") {
        return;
    }
    let server = NatsServer::start();
    let [mut a, _b] = Node::spawn_all(&server.url(), ["a", "b"]);
    let d = Driver::connect(&server.url());

    // a posts 500 hits to b.
    assert_eq!(d.post("a", "b/svc/hit", 500, 1), 500);
    let c = d.count_until("b", |c| c.0 == 500);
    assert_eq!(c.1, vec!["a".to_string()], "b saw who sent");
    assert_eq!(
        (c.2, c.3),
        (500, 500),
        "in order: the last one is the highest"
    );

    // a calls b: the answer comes back through a's RSVP event, with b's
    // name as the responder.
    let r = d.calls("a", "b/svc/echo", "ping", 20, 5000);
    assert_eq!(r.len(), 20);
    for x in &r {
        assert_eq!(x, &Ok((Some("b".into()), "b:ping".into())));
    }
    // And b calls a.
    let r = d.calls("b", "a/svc/echo", "pong", 1, 5000);
    assert_eq!(r, vec![Ok((Some("a".into()), "a:pong".into()))]);

    // a leaves the bus: its publications end, its IKC session closes,
    // and its kernel (nothing else left to do) returns from run.
    let bye: String = d.call("a", "ctl", "quit", &(), T).unwrap();
    assert_eq!(bye, "quitting");
    a.wait_line(|l| l == "EXIT", T);
    assert!(a.wait_exit(T).success());
    let r: Result<String, String> = d.call("a", "svc", "echo", &"x", T);
    assert!(r.unwrap_err().contains("no responders"));
}

/// Posts faster than the client's command channel takes them: the ones
/// it refuses wait (the first in the drainer, the rest in the buffer)
/// and none overtakes another. A regression test for sending from the
/// handler: with a channel of one message, most posts go the slow way.
#[test]
fn posts_under_back_pressure_arrive_all_and_in_order() {
    if !nats_or_skip("posts_under_back_pressure_arrive_all_and_in_order") {
        return;
    }
    let server = NatsServer::start();
    let _a = Node::spawn(
        &server.url(),
        "a",
        &["--client-cap", "1", "--max-pending", "100000"],
    );
    let _b = Node::spawn(&server.url(), "b", &["--sub-cap", "100000"]);
    let d = Driver::connect(&server.url());
    let n = 20_000u64;
    for first in [1, n + 1] {
        assert_eq!(d.post("a", "b/svc/hit", n, first), n);
    }
    // Until all arrived, or none arrived for a while (then the count
    // says how many were lost, rather than a bare timeout).
    let mut last = (0u64, Instant::now());
    let c: Count = until(T, || {
        let c = d.count("b");
        if c.0 != last.0 {
            last = (c.0, Instant::now());
        }
        let stalled = last.1.elapsed() > Duration::from_secs(5);
        (c.0 == 2 * n || stalled).then_some(c)
    });
    assert_eq!(c.0, 2 * n, "posts lost under back-pressure: {c:?}");
    assert_eq!((c.2, c.3), (2 * n, 2 * n), "the last one is the highest");
    assert_eq!(c.5, 0, "each followed the one before");
    let st = d.stats("a");
    assert_eq!(st.2, 0, "none dropped for lack of room");
}

/// A producer that posts while nothing is pending and otherwise waits
/// for `Ikc::notify_drained` loses nothing, even through a client
/// channel of one message and an outgoing buffer of four: without the
/// notice it would either overrun the buffer (posts dropped) or never be
/// told to go on (the `produce` call would not be answered).
#[test]
fn a_producer_waiting_for_the_buffer_to_drain_loses_nothing() {
    if !nats_or_skip("a_producer_waiting_for_the_buffer_to_drain_loses_nothing") {
        return;
    }
    let server = NatsServer::start();
    let _a = Node::spawn(
        &server.url(),
        "a",
        &["--client-cap", "1", "--max-pending", "4"],
    );
    let _b = Node::spawn(&server.url(), "b", &["--sub-cap", "100000"]);
    let d = Driver::connect(&server.url());
    let n = 5_000u64;
    let (posted, waits): (u64, u64) = d
        .call("a", "ctl", "produce", &("b/svc/hit", n, 1u64), T)
        .unwrap_or_else(|e| panic!("a/ctl/produce: {e}"));
    assert_eq!(posted, n, "every post was queued");
    assert!(waits > 0, "the producer met back-pressure and waited");
    let c: Count = until(T, || {
        let c = d.count("b");
        (c.0 == n).then_some(c)
    });
    assert_eq!((c.2, c.3, c.5), (n, n, 0), "all arrived, in order");
    let st = d.stats("a");
    assert_eq!((st.2, st.5, st.6), (0, 0, 0), "none dropped, none pending");
}

#[test]
fn three_kernels_queue_group_spreads_work() {
    if !nats_or_skip("three_kernels_queue_group_spreads_work") {
        return;
    }
    let server = NatsServer::start();
    let [_a, _b, _c] = Node::spawn_all(&server.url(), ["a", "b", "c"]);
    let d = Driver::connect(&server.url());

    // Calls to */svc/echo from a: each answered once, by b or c.
    let r = d.calls("a", "*/svc/echo", "x", 200, 10_000);
    assert_eq!(r.len(), 200);
    let mut by = std::collections::BTreeMap::<String, usize>::new();
    for x in &r {
        let (from, text) = x.as_ref().expect("answered");
        let from = from.clone().unwrap();
        assert_eq!(text, &format!("{from}:x"));
        *by.entry(from).or_default() += 1;
    }
    // The queue group includes a as well (every node publishes svc).
    assert!(by.len() >= 2, "spread over kernels: {by:?}");
    assert_eq!(by.values().sum::<usize>(), 200);

    // Posts to */svc/hit: every one delivered to exactly one kernel.
    d.post("b", "*/svc/hit", 300, 1);
    let counts: Vec<Count> = until(T, || {
        let cs: Vec<Count> = ["a", "b", "c"].iter().map(|k| d.count(k)).collect();
        (cs.iter().map(|c| c.0).sum::<u64>() == 300).then_some(cs)
    });
    let served = counts.iter().filter(|c| c.0 > 0).count();
    assert!(served >= 2, "posts spread: {counts:?}");
    for c in &counts {
        if c.0 > 0 {
            assert_eq!(c.1, vec!["b".to_string()]);
        }
    }

    // b posts to c by name: only c gets them, and sees b as the sender.
    let before = d.count("c");
    d.post("b", "c/svc/hit", 50, 1000);
    let after = d.count_until("c", |c| c.0 == before.0 + 50);
    assert_eq!(after.3, 1049);
}

#[test]
fn server_restart_mid_stream_reconnects_with_bounded_loss() {
    if !nats_or_skip("server_restart_mid_stream_reconnects_with_bounded_loss") {
        return;
    }
    let mut server = NatsServer::start();
    let [mut a, mut b] = Node::spawn_all(&server.url(), ["a", "b"]);
    let d = Driver::connect(&server.url());
    const N: u64 = 3000;
    d.stream("a", "b/svc/hit", N, 1, 1);
    // Let part of the stream through, then cut the server.
    d.count_until("b", |c| c.0 >= 300);
    server.kill();
    a.wait_line(|l| l == "BUS Disconnected", T);
    b.wait_line(|l| l == "BUS Disconnected", T);
    server.restart();
    a.wait_line(|l| l == "BUS Reconnected", T);
    b.wait_line(|l| l == "BUS Reconnected", T);
    a.wait_line(|l| l.starts_with("STREAM DONE"), Duration::from_secs(60));
    // Everything a queued after the cut is in the bounded buffer and goes
    // out after reconnecting; what is lost is what was in flight at the
    // cut, plus what a sent before b had subscribed again.
    let d = Driver::connect(&server.url());
    let c: Count = until(T, || {
        let c = d.count("b");
        let s = d.stats("a");
        (s.5 == 0 && c.3 == N).then_some(c)
    });
    let lost = N - c.0;
    eprintln!("server restart: {N} posted, {} delivered, {lost} lost", c.0);
    assert!(c.0 <= N, "never twice");
    assert!(lost < N / 4, "bounded loss: {lost} of {N}");
    assert_eq!(c.3, N, "the stream went on after the restart");
}

#[test]
fn remote_session_dying_and_kernel_killed_give_error_events() {
    if !nats_or_skip("remote_session_dying_and_kernel_killed_give_error_events") {
        return;
    }
    let server = NatsServer::start();
    let [_a, mut b] = Node::spawn_all(&server.url(), ["a", "b"]);
    let d = Driver::connect(&server.url());

    // A call that b's session drops unanswered (it stalls, then dies):
    // the caller gets a remote error, not a hang.
    let r = d.calls("a", "b/svc/die", "", 1, 5000);
    // "die" takes `()`: a string argument does not decode.
    assert!(matches!(&r[0], Err(e) if e.contains("Remote")), "{r:?}");
    // b's published session got the error event for it.
    b.wait_line(|l| l.starts_with("ERROR svc/die: cannot deserialise"), T);

    // Now kill b's svc session for real: it answers, then stops.
    let bye: String = d.call("b", "svc", "die", &(), T).unwrap();
    assert_eq!(bye, "bye");
    b.wait_line(|l| l == "SVC STOPPED", T);
    // Its subjects are unsubscribed as it stops: a call that still
    // reaches b meanwhile is answered with a remote error (the session
    // is gone), then calls get no responders, at once.
    let mut answers = Vec::new();
    until(T, || {
        let r = d.calls("a", "b/svc/echo", "x", 1, 5000);
        let e = r[0].clone().unwrap_err();
        let done = e.starts_with("NoResponders");
        answers.push(e);
        done.then_some(())
    });
    for e in &answers[..answers.len() - 1] {
        assert!(e.starts_with("Remote"), "{answers:?}");
    }

    // A kernel killed while a call waits: the caller times out.
    let mut c = Node::spawn(&server.url(), "c", &[]);
    let (tx, rx) = std::sync::mpsc::channel();
    let url = server.url();
    let t = std::thread::spawn(move || {
        let d = Driver::connect(&url);
        tx.send(d.calls("a", "c/svc/stall", "", 1, 1500)).unwrap();
    });
    // Wait until c holds the call, then kill the process.
    c.wait_line(|l| l == "STALLED", T);
    c.kill();
    let r = rx.recv_timeout(T).unwrap();
    t.join().unwrap();
    assert!(
        matches!(&r[0], Err(e) if e.starts_with("Timeout") || e.starts_with("NoResponders")),
        "{r:?}"
    );
    // And once the server dropped c's connection: no responders.
    let r: CallResults = until(T, || {
        let r = d.calls("a", "c/svc/echo", "x", 1, 5000);
        matches!(&r[0], Err(e) if e.starts_with("NoResponders")).then_some(r)
    });
    assert_eq!(r.len(), 1);
}

#[test]
fn posts_while_the_bus_is_down_fill_a_bounded_buffer_then_error() {
    if !nats_or_skip("posts_while_the_bus_is_down_fill_a_bounded_buffer_then_error") {
        return;
    }
    let mut server = NatsServer::start();
    let mut a = Node::spawn(
        &server.url(),
        "a",
        &["--max-pending", "100", "--client-cap", "16"],
    );
    let _b = Node::spawn(&server.url(), "b", &[]);
    let d = Driver::connect(&server.url());
    // a streams 1000 posts at one per ms; the server dies early on.
    d.stream("a", "b/svc/hit", 1000, 1, 1);
    d.count_until("b", |c| c.0 >= 50);
    server.kill();
    a.wait_line(|l| l == "BUS Disconnected", T);
    // Keep it down until the stream ended.
    a.wait_line(|l| l.starts_with("STREAM DONE"), Duration::from_secs(60));
    server.restart();
    a.wait_line(|l| l == "BUS Reconnected", T);
    let d = Driver::connect(&server.url());
    let s: Stat = until(T, || Some(d.stats("a")).filter(|s| s.5 == 0));
    // Posts beyond the buffer (100) and the client's channel (16) failed
    // with an error event each, and were counted as dropped.
    eprintln!("bus down: {} posts refused with BufferFull", s.6);
    assert!(s.6 > 0, "some posts were refused: {s:?}");
    assert_eq!(s.6, s.2, "one error event per dropped post");
    assert!(s.6 <= 1000 - 100, "the buffer held at least 100: {s:?}");
}

#[test]
fn slow_consumer_stays_bounded_and_keeps_answering() {
    if !nats_or_skip("slow_consumer_stays_bounded_and_keeps_answering") {
        return;
    }
    let server = NatsServer::start();
    let _a = Node::spawn(&server.url(), "a", &[]);
    let mut b = Node::spawn(&server.url(), "b", &["--sub-cap", "64", "--slow-ms", "5"]);
    let d = Driver::connect(&server.url());
    let rss_before = rpoe_testkit_rss(b.pid());
    // 5000 posts to a consumer that takes 5 ms each (25 s of work): it
    // cannot keep up, its client drops beyond 64 queued.
    d.post("a", "b/svc/slow", 5000, 1);
    b.wait_line(|l| l.starts_with("BUS SlowConsumer"), T);
    // It still answers (the kernel takes a bounded batch per round).
    let c: Count = d
        .call("b", "svc", "count", &(), Duration::from_secs(30))
        .unwrap();
    assert!(
        c.0 < 5000,
        "messages were dropped, not queued without bound: {c:?}"
    );
    let rss_after = rpoe_testkit_rss(b.pid());
    eprintln!(
        "slow consumer: {} of 5000 handled; rss {} -> {} KiB",
        c.0,
        rss_before / 1024,
        rss_after / 1024
    );
    assert!(
        rss_after < rss_before + 32 * 1024 * 1024,
        "memory bounded: {rss_before} -> {rss_after}"
    );
}

fn rpoe_testkit_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn oversize_messages_and_bad_arguments_are_error_events() {
    if !nats_or_skip("oversize_messages_and_bad_arguments_are_error_events") {
        return;
    }
    let server = NatsServer::start_with(&[], Some("max_payload: 4096\n"));
    let [mut a, mut b] = Node::spawn_all(&server.url(), ["a", "b"]);
    let d = Driver::connect(&server.url());
    // A call whose argument exceeds the server's max_payload: refused
    // before sending, as the RSVP's error.
    let r = d.calls("a", "b/svc/echo", "@big:5000", 1, 5000);
    assert!(
        matches!(&r[0], Err(e) if e.starts_with("TooLarge")),
        "{r:?}"
    );
    // A post that is too large: an error event for the poster.
    let queued: bool = d
        .call("a", "ctl", "postbig", &("b/svc/echo", 5000u64), T)
        .unwrap();
    assert!(queued, "accepted for sending; the failure is an event");
    a.wait_line(
        |l| l.starts_with("ERROR b/svc/echo: message of") && l.contains("max_payload of 4096"),
        T,
    );
    // Just under the limit goes through.
    let r = d.calls("a", "b/svc/echo", "@big:3000", 1, 5000);
    assert!(matches!(&r[0], Ok((_, s)) if s.len() == 3002), "{r:?}");
    // A raw publish of something that is not a u64 to b's hit: b's
    // session gets an error event, no panic, and goes on.
    d.publish_raw("rpoe.b.svc.hit.raw", b"\"not a number\"");
    b.wait_line(|l| l.starts_with("ERROR svc/hit: cannot deserialise"), T);
    d.publish_raw("rpoe.b.svc.hit.raw", b"{broken json");
    let c = d.count_until("b", |c| c.4 == 2);
    assert_eq!(c.0, 0);
    // An event b did not publish: not delivered (no subscriber at all).
    let r: Result<String, String> = d.call("b", "svc", "nope", &(), T);
    assert!(r.unwrap_err().contains("no responders"));
    // Names that cannot be subjects are refused before the bus.
    let r = d.calls("a", "b/svc/a.b", "x", 1, 5000);
    assert!(
        matches!(&r[0], Err(e) if e.starts_with("InvalidName")),
        "{r:?}"
    );
    a.wait_line(
        |l| l.starts_with("CALL REFUSED invalid event name \"a.b\""),
        T,
    );
}

#[test]
fn undecodable_messages_amid_a_burst_cost_only_themselves() {
    if !nats_or_skip("undecodable_messages_amid_a_burst_cost_only_themselves") {
        return;
    }
    let server = NatsServer::start();
    let [mut b] = Node::spawn_all(&server.url(), ["b"]);
    let d = Driver::connect(&server.url());
    // One burst, so that the messages wait in b's subscription together
    // and are handed to the session as one run: each bad one ends a run
    // and is reported, and the good ones after it still arrive, in order.
    let burst: Vec<Vec<u8>> = (1..=40u64)
        .map(|i| match i % 10 {
            3 => b"\"not a number\"".to_vec(),
            7 => b"{broken json".to_vec(),
            _ => i.to_string().into_bytes(),
        })
        .collect();
    let burst: Vec<&[u8]> = burst.iter().map(Vec::as_slice).collect();
    d.publish_raw_all("rpoe.b.svc.hit.raw", &burst);
    let c = d.count_until("b", |c| c.0 + c.4 == 40);
    assert_eq!((c.0, c.4), (32, 8), "32 numbers, 8 undecodable");
    // The sequence numbers skip only where a bad message was: 8 breaks
    // (after 2, 6, 12, 16, ...), none from reordering or loss.
    assert_eq!(c.3, 40);
    assert_eq!(c.5, 8);
    b.wait_line(|l| l.starts_with("ERROR svc/hit: cannot deserialise"), T);
}

#[test]
fn credentials_are_passed_to_the_server() {
    if !nats_or_skip("credentials_are_passed_to_the_server") {
        return;
    }
    let server = NatsServer::start_with(&["--user", "kern", "--pass", "s3cret"], None);
    // Right credentials (Config::auth): connects, and works.
    let _a = Node::spawn(
        &server.url(),
        "a",
        &["--user", "kern", "--password", "s3cret"],
    );
    let _b = Node::spawn(
        &server.url(),
        "b",
        &["--user", "kern", "--password", "s3cret"],
    );
    let d = Driver::connect_with(
        &server.url(),
        async_nats::ConnectOptions::with_user_and_password("kern".into(), "s3cret".into()),
    );
    let r = d.calls("a", "b/svc/echo", "hi", 1, 5000);
    assert_eq!(r, vec![Ok((Some("b".into()), "b:hi".into()))]);
    // Wrong ones: the first connection fails, and the node says so.
    let (text, st) = Node::run_to_end(
        &server.url(),
        "z",
        &["--user", "kern", "--password", "wrong"],
    );
    assert!(text.contains("BUS ConnectFailed"), "{text}");
    assert!(text.contains("EXIT"), "{text}");
    assert!(st.success());

    // A token (Auth::Token), right and wrong.
    let server = NatsServer::start_with(&["--auth", "t0ken"], None);
    let _a = Node::spawn(&server.url(), "a", &["--token", "t0ken"]);
    let (text, _) = Node::run_to_end(&server.url(), "z", &["--token", "nope"]);
    assert!(text.contains("BUS ConnectFailed"), "{text}");
}

#[test]
fn shutdown_while_the_bus_is_down_still_ends_the_kernel() {
    if !nats_or_skip("shutdown_while_the_bus_is_down_still_ends_the_kernel") {
        return;
    }
    let mut server = NatsServer::start();
    let mut a = Node::spawn(&server.url(), "a", &["--quit-after-ms", "1500"]);
    server.kill();
    a.wait_line(|l| l == "BUS Disconnected", T);
    // The node leaves the bus on its timer while the server is down:
    // nothing can be flushed, and the kernel must end all the same.
    a.wait_line(|l| l == "QUITTING", T);
    a.wait_line(|l| l == "EXIT", T);
    assert!(a.wait_exit(T).success());
}

#[test]
fn tls_is_passed_to_the_client() {
    if !nats_or_skip("tls_is_passed_to_the_client") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let file = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let server = NatsServer::start_with(
        &[
            "--tls",
            "--tlscert",
            &file("server.pem"),
            "--tlskey",
            &file("server-key.pem"),
        ],
        None,
    );
    // With the test CA (Config::tls): connects over TLS, and works.
    let ca = file("ca.pem");
    let _a = Node::spawn(&server.url(), "a", &["--tls-ca", &ca]);
    let _b = Node::spawn(&server.url(), "b", &["--tls-ca", &ca]);
    let d = Driver::connect_with(
        &server.url(),
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(dir.join("ca.pem")),
    );
    let r = d.calls("a", "b/svc/echo", "sealed", 1, 5000);
    assert_eq!(r, vec![Ok((Some("b".into()), "b:sealed".into()))]);
    // Without it, the server's certificate is not trusted: the first
    // connection fails and the node ends.
    let (text, st) = Node::run_to_end(&server.url(), "z", &[]);
    assert!(text.contains("BUS ConnectFailed"), "{text}");
    assert!(st.success());
}
