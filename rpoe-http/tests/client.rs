//! The HTTP client component against a real HTTP server on loopback,
//! started by each test: many concurrent requests under the concurrency
//! limit, a server too slow for the timeout, a body over the limit, a
//! refused connection.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rpoe::{Kernel, Session};
use rpoe_http::{Config, HttpError, Reply, Request};

/// A small HTTP/1.1 server: one thread per connection. `/n/<i>` answers
/// `hello <i>`; `/big` a body of 100,000 bytes; `/slow` never answers
/// (until the server is dropped). It records the most connections it had
/// open before answering at once.
struct Server {
    addr: SocketAddr,
    max_active: Arc<AtomicUsize>,
    /// Dropped with the server: releases the `/slow` handlers.
    _release: mpsc::Sender<()>,
}

fn server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let active = Arc::new(AtomicUsize::new(0));
    let max_active = Arc::new(AtomicUsize::new(0));
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(released));
    let (a, m) = (active.clone(), max_active.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            let (a, released) = (a.clone(), released.clone());
            std::thread::spawn(move || handle(conn, &a, &released));
        }
    });
    Server {
        addr,
        max_active,
        _release: release,
    }
}

fn handle(conn: TcpStream, active: &AtomicUsize, released: &std::sync::Mutex<mpsc::Receiver<()>>) {
    let mut reader = BufReader::new(&conn);
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        active.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    // Counted out before answering: the client may reuse the slot as soon
    // as it has the answer.
    active.fetch_sub(1, Ordering::SeqCst);
    let body: Vec<u8> = if let Some(i) = path.strip_prefix("/n/") {
        format!("hello {i}").into_bytes()
    } else if path == "/big" {
        vec![b'x'; 100_000]
    } else if path == "/slow" {
        // Hold the connection without answering until the test ends.
        let _ = released.lock().map(|r| r.recv());
        return;
    } else {
        b"not found".to_vec()
    };
    let status = if path.starts_with("/n/") || path == "/big" {
        "200 OK"
    } else {
        "404 Not Found"
    };
    let mut conn = conn;
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nX-Test: yes\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

type Replies = Rc<RefCell<Vec<Reply>>>;

/// Run a kernel on tokio with the component and one session that posts
/// `requests` and collects the replies.
fn fetch_all(config: Config, requests: Vec<Request>) -> Vec<Reply> {
    let replies: Replies = Replies::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(rpoe_http::session(config), ());
    kernel.spawn(
        Session::new(replies.clone())
            .on("_start", move |ctx| {
                for r in &requests {
                    ctx.post("http", "request", r.clone()).unwrap();
                }
            })
            .on("got", |ctx| {
                let r = ctx.take_arg::<Reply>().unwrap();
                ctx.heap().borrow_mut().push(r);
            }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
    let mut out = replies.take();
    out.sort_by_key(|r| r.tag);
    out
}

#[test]
fn a_hundred_concurrent_requests_under_the_limit() {
    let srv = server();
    let requests = (0..100)
        .map(|i| Request::get(format!("http://{}/n/{i}", srv.addr), "got").tag(i))
        .collect();
    let config = Config {
        concurrency: 8,
        ..Config::default()
    };
    let replies = fetch_all(config, requests);
    assert_eq!(replies.len(), 100);
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r.tag, i as u64);
        let resp = r.result.as_ref().unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, format!("hello {i}").as_bytes());
        assert_eq!(resp.headers.get("x-test").unwrap(), "yes");
    }
    let max = srv.max_active.load(Ordering::SeqCst);
    assert!(max <= 8, "server saw {max} connections at once");
}

#[test]
fn all_hundred_at_once_without_a_tight_limit() {
    let srv = server();
    let requests = (0..100)
        .map(|i| Request::get(format!("http://{}/n/{i}", srv.addr), "got").tag(i))
        .collect();
    let config = Config {
        concurrency: 100,
        ..Config::default()
    };
    let replies = fetch_all(config, requests);
    assert_eq!(replies.len(), 100);
    assert!(replies
        .iter()
        .all(|r| r.result.as_ref().is_ok_and(|r| r.status == 200)));
}

#[test]
fn a_slow_server_trips_the_timeout_and_others_still_complete() {
    let srv = server();
    let requests = vec![
        Request::get(format!("http://{}/slow", srv.addr), "got").tag(0),
        Request::get(format!("http://{}/n/1", srv.addr), "got").tag(1),
    ];
    let config = Config {
        timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let replies = fetch_all(config, requests);
    assert_eq!(replies[0].result.as_ref().unwrap_err(), &HttpError::Timeout);
    assert_eq!(replies[1].result.as_ref().unwrap().status, 200);
}

#[test]
fn a_body_over_the_limit_is_an_error() {
    let srv = server();
    let requests = vec![
        Request::get(format!("http://{}/big", srv.addr), "got").tag(0),
        Request::get(format!("http://{}/nothing", srv.addr), "got").tag(1),
    ];
    let config = Config {
        max_body: 10_000,
        ..Config::default()
    };
    let replies = fetch_all(config, requests);
    assert_eq!(
        replies[0].result.as_ref().unwrap_err(),
        &HttpError::BodyTooLarge(10_000)
    );
    assert_eq!(replies[1].result.as_ref().unwrap().status, 404);
}

#[test]
fn refused_connections_and_bad_urls_are_errors() {
    // A port nobody listens on any more.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let requests = vec![
        Request::get(format!("http://{addr}/"), "got").tag(0),
        Request::get("https://example.invalid/", "got").tag(1),
        Request::get("not a url", "got").tag(2),
    ];
    let replies = fetch_all(Config::default(), requests);
    assert!(matches!(replies[0].result, Err(HttpError::Connect(_))));
    assert!(matches!(replies[1].result, Err(HttpError::Unsupported(_))));
    assert!(matches!(replies[2].result, Err(HttpError::InvalidUrl(_))));
}

#[test]
fn shutdown_answers_what_is_in_flight() {
    let srv = server();
    let slow = Request::get(format!("http://{}/slow", srv.addr), "got").tag(7);
    let replies: Replies = Replies::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(rpoe_http::session(Config::default()), ());
    kernel.spawn(
        Session::new(replies.clone())
            .on("_start", move |ctx| {
                ctx.post("http", "request", slow.clone()).unwrap();
                ctx.yield_event("stop_it", ());
            })
            .on("stop_it", |ctx| ctx.post("http", "shutdown", ()).unwrap())
            .on("got", |ctx| {
                let r = ctx.take_arg::<Reply>().unwrap();
                ctx.heap().borrow_mut().push(r);
            }),
        (),
    );
    rpoe::tokio::run(&mut kernel).unwrap();
    let replies = replies.take();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].tag, 7);
    assert_eq!(
        replies[0].result.as_ref().unwrap_err(),
        &HttpError::Shutdown
    );
}

#[test]
fn the_fetch_example_prints_a_status_line_per_url() {
    // `cargo test` builds the package's examples next to the tests.
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap()
        .join("examples")
        .join("fetch");
    assert!(
        path.exists(),
        "build it: cargo build -p rpoe-http --example fetch"
    );
    let srv = server();
    let mut child = std::process::Command::new(path)
        .args(["--concurrency", "2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = format!(
        "http://{a}/n/1\nhttp://{a}/missing\nhttps://example.invalid/\n",
        a = srv.addr
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("200 http://{}/n/1 (7 bytes)", srv.addr),
            format!("404 http://{}/missing (9 bytes)", srv.addr),
            "error https://example.invalid/: unsupported: https:// (plain http only, no TLS)"
                .to_string(),
        ]
    );
}
