//! An HTTP client component for rpoe, in the mould of POE's
//! `POE::Component::Client::HTTP`: a session you post `request` to, naming
//! the event to reply with; the response (status, headers, body) or the
//! error comes back to your session as that event.
//!
//! Why it exists: it shows the futures door and the tokio bridge at work.
//! Each request is a future of the component's session
//! ([`rpoe::Ctx::spawn_future`]) running hyper 1's HTTP/1 client over a
//! tokio socket; the kernel runs on tokio through [`rpoe::tokio::run`]
//! (or [`rpoe::tokio::drive`]). The per-request timeout is a plain kernel
//! timer that cancels the request's task, so it follows the kernel's
//! clock like any POE alarm.
//!
//! Plain `http://` only: there is no TLS (an `https://` URL is answered
//! with [`HttpError::Unsupported`]). One connection per request, closed
//! after it, as POE's component does by default; no redirects followed.
//!
//! ```no_run
//! use rpoe::{Kernel, Session};
//! use rpoe_http::{Config, Reply, Request};
//!
//! let mut kernel = Kernel::new().unwrap();
//! kernel.spawn(rpoe_http::session(Config::default()), ());
//! kernel.spawn(
//!     Session::new(())
//!         .on("_start", |ctx| {
//!             let req = Request::get("http://127.0.0.1:8080/", "got");
//!             ctx.post("http", "request", req).unwrap();
//!         })
//!         .on("got", |ctx| {
//!             let reply = ctx.take_arg::<Reply>().unwrap();
//!             match reply.result {
//!                 Ok(r) => println!("{} {}", r.status, reply.url),
//!                 Err(e) => println!("error {}: {e}", reply.url),
//!             }
//!         }),
//!     (),
//! );
//! rpoe::tokio::run(&mut kernel).unwrap();
//! ```
//!
//! # Events the component handles
//!
//! - `request`, argument [`Request`]: queue the request; the reply goes to
//!   the sending session (which the component holds alive until then) as
//!   [`Request::reply`], with a [`Reply`] argument. Requests beyond
//!   [`Config::concurrency`] wait in FIFO order; beyond
//!   [`Config::max_queued`] they are answered at once with
//!   [`HttpError::QueueFull`].
//! - `cancel`, argument the request's [`Request::tag`]: drop the request
//!   of the sender with that tag; it is answered with
//!   [`HttpError::Cancelled`].
//! - `shutdown`: answer everything queued or in flight with
//!   [`HttpError::Shutdown`], drop the alias; the session then ends.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{HeaderValue, CONNECTION, HOST};
use hyper_util::rt::TokioIo;
use rpoe::{Sender, Session, SessionId, TaskId, TimerId};

pub use hyper::{HeaderMap, Method, Uri};

/// The refcount tag under which the component holds a session waiting
/// for a reply.
const HOLD_TAG: &str = "rpoe-http::waiting";

/// How the component is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The alias requests are posted to (default `"http"`).
    pub alias: String,
    /// Requests in flight at once (default 16); more wait in a queue.
    pub concurrency: usize,
    /// Requests waiting for a free slot (default 65,536); more are refused
    /// with [`HttpError::QueueFull`], so a flood cannot grow memory
    /// without bound.
    pub max_queued: usize,
    /// The longest a request may take, from the moment it starts
    /// (connect, send, the whole response), on the kernel's clock
    /// (default 30 s).
    pub timeout: Duration,
    /// The largest response body accepted (default 8 MiB); a larger one
    /// is [`HttpError::BodyTooLarge`].
    pub max_body: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            alias: "http".into(),
            concurrency: 16,
            max_queued: 65_536,
            timeout: Duration::from_secs(30),
            max_body: 8 << 20,
        }
    }
}

/// A request for the component: post it as the `request` event's
/// argument.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method (default GET).
    pub method: Method,
    /// An absolute `http://` URL.
    pub url: String,
    /// Headers to send besides `Host` and `Connection: close`.
    pub headers: Vec<(String, String)>,
    /// The request body (empty for none).
    pub body: Vec<u8>,
    /// The event the reply comes back as, to the session that posted.
    pub reply: String,
    /// Yours: comes back in the [`Reply`], and names the request for
    /// `cancel` (POE's `tag`).
    pub tag: u64,
}

impl Request {
    /// A GET of `url`, answered with the event `reply`.
    pub fn get(url: impl Into<String>, reply: impl Into<String>) -> Request {
        Request {
            method: Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            reply: reply.into(),
            tag: 0,
        }
    }

    /// The same request with `tag`.
    pub fn tag(mut self, tag: u64) -> Request {
        self.tag = tag;
        self
    }

    /// The same request with another header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A response.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body (at most [`Config::max_body`] bytes).
    pub body: Vec<u8>,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL could not be parsed, or has no host.
    InvalidUrl(String),
    /// Not plain `http://` (this component has no TLS).
    Unsupported(String),
    /// The connection could not be made (refused, unreachable, no such
    /// host).
    Connect(String),
    /// The exchange failed after connecting (reset, bad response...).
    Protocol(String),
    /// No complete response within [`Config::timeout`].
    Timeout,
    /// The body was longer than [`Config::max_body`].
    BodyTooLarge(usize),
    /// [`Config::max_queued`] requests were already waiting.
    QueueFull,
    /// Cancelled by a `cancel` event.
    Cancelled,
    /// The component was shut down first.
    Shutdown,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidUrl(m) => write!(f, "invalid URL: {m}"),
            HttpError::Unsupported(m) => write!(f, "unsupported: {m}"),
            HttpError::Connect(m) => write!(f, "connect failed: {m}"),
            HttpError::Protocol(m) => write!(f, "HTTP exchange failed: {m}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::BodyTooLarge(n) => write!(f, "response body larger than {n} bytes"),
            HttpError::QueueFull => f.write_str("too many requests queued"),
            HttpError::Cancelled => f.write_str("cancelled"),
            HttpError::Shutdown => f.write_str("the HTTP component shut down"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The argument of the reply event.
#[derive(Debug)]
pub struct Reply {
    /// [`Request::tag`].
    pub tag: u64,
    /// [`Request::url`].
    pub url: String,
    /// The response, or why there is none.
    pub result: Result<Response, HttpError>,
}

/// A request waiting or in flight, with whom to answer.
struct Pending {
    req: Request,
    requester: SessionId,
}

struct InFlight {
    pending: Pending,
    task: TaskId,
    timer: TimerId,
}

/// The component's heap.
struct State {
    config: Config,
    queue: VecDeque<Pending>,
    /// Slots by request number.
    in_flight: Vec<(u64, InFlight)>,
    next: u64,
    shut: bool,
}

/// The component's session; spawn it with [`rpoe::Kernel::spawn`] or
/// [`rpoe::Ctx::spawn`] (argument `()`), then post requests to
/// [`Config::alias`]. The kernel must run on tokio
/// ([`rpoe::tokio::run`]).
pub fn session(config: Config) -> Session<impl Sized + 'static> {
    Session::new(State {
        config,
        queue: VecDeque::new(),
        in_flight: Vec::new(),
        next: 0,
        shut: false,
    })
    .on("_start", |ctx| {
        let alias = ctx.heap().config.alias.clone();
        if let Err(e) = ctx.alias_set(&alias) {
            tracing_free_warn(&format!("rpoe-http: alias {alias}: {e}"));
        }
    })
    .on("request", |ctx| {
        let Ok(req) = ctx.take_arg::<Request>() else {
            return;
        };
        let Sender::Session(requester) = ctx.sender() else {
            // Nobody to answer: requests must come from a session.
            return;
        };
        let pending = Pending { req, requester };
        let st = ctx.heap();
        if st.shut {
            answer(ctx, pending, Err(HttpError::Shutdown), false);
            return;
        }
        if st.queue.len() >= st.config.max_queued {
            answer(ctx, pending, Err(HttpError::QueueFull), false);
            return;
        }
        let _ = ctx.refcount_increment(requester, HOLD_TAG);
        ctx.heap().queue.push_back(pending);
        pump(ctx);
    })
    .on("_done", |ctx| {
        let Ok((n, result)) = ctx.take_arg::<(u64, Result<Response, HttpError>)>() else {
            return;
        };
        if let Some(f) = take_in_flight(ctx.heap(), n) {
            let _ = ctx.alarm_remove(f.timer);
            answer(ctx, f.pending, result, true);
        }
        pump(ctx);
    })
    .on("_timeout", |ctx| {
        let Ok(n) = ctx.take_arg::<u64>() else {
            return;
        };
        if let Some(f) = take_in_flight(ctx.heap(), n) {
            ctx.task_cancel(f.task);
            answer(ctx, f.pending, Err(HttpError::Timeout), true);
        }
        pump(ctx);
    })
    .on("cancel", |ctx| {
        let (Ok(&tag), Sender::Session(who)) = (ctx.arg::<u64>(), ctx.sender()) else {
            return;
        };
        let st = ctx.heap();
        let queued = st
            .queue
            .iter()
            .position(|p| p.requester == who && p.req.tag == tag);
        if let Some(i) = queued {
            if let Some(p) = ctx.heap().queue.remove(i) {
                answer(ctx, p, Err(HttpError::Cancelled), true);
            }
            return;
        }
        let flying = st
            .in_flight
            .iter()
            .find(|(_, f)| f.pending.requester == who && f.pending.req.tag == tag)
            .map(|(n, _)| *n);
        if let Some(f) = flying.and_then(|n| take_in_flight(ctx.heap(), n)) {
            ctx.task_cancel(f.task);
            let _ = ctx.alarm_remove(f.timer);
            answer(ctx, f.pending, Err(HttpError::Cancelled), true);
            pump(ctx);
        }
    })
    .on("shutdown", |ctx| {
        let st = ctx.heap();
        st.shut = true;
        let alias = st.config.alias.clone();
        let queued: Vec<Pending> = st.queue.drain(..).collect();
        let flying: Vec<InFlight> = st.in_flight.drain(..).map(|(_, f)| f).collect();
        let _ = ctx.alias_remove(&alias);
        for f in flying {
            ctx.task_cancel(f.task);
            let _ = ctx.alarm_remove(f.timer);
            answer(ctx, f.pending, Err(HttpError::Shutdown), true);
        }
        for p in queued {
            answer(ctx, p, Err(HttpError::Shutdown), true);
        }
    })
}

/// Without a logging dependency: the component's only complaint goes to
/// standard error.
fn tracing_free_warn(msg: &str) {
    eprintln!("{msg}");
}

fn take_in_flight(st: &mut State, n: u64) -> Option<InFlight> {
    let i = st.in_flight.iter().position(|(k, _)| *k == n)?;
    Some(st.in_flight.swap_remove(i).1)
}

/// Send the reply to the requester and let go of it.
fn answer(
    ctx: &mut rpoe::Ctx<'_, State>,
    p: Pending,
    result: Result<Response, HttpError>,
    held: bool,
) {
    let reply = Reply {
        tag: p.req.tag,
        url: p.req.url,
        result,
    };
    let _ = ctx.post(p.requester, p.req.reply.as_str(), reply);
    if held {
        let _ = ctx.refcount_decrement(p.requester, HOLD_TAG);
    }
}

/// Start queued requests while slots are free.
fn pump(ctx: &mut rpoe::Ctx<'_, State>) {
    loop {
        let st = ctx.heap();
        if st.in_flight.len() >= st.config.concurrency.max(1) {
            return;
        }
        let Some(pending) = st.queue.pop_front() else {
            return;
        };
        let (timeout, max_body) = (st.config.timeout, st.config.max_body);
        let n = st.next;
        st.next += 1;
        let fetch = match prepare(&pending.req) {
            Ok(f) => f,
            Err(e) => {
                answer(ctx, pending, Err(e), true);
                continue;
            }
        };
        let task = ctx.spawn_future("_done", async move { (n, fetch.run(max_body).await) });
        let timer = ctx.delay_add("_timeout", timeout, n);
        ctx.heap().in_flight.push((
            n,
            InFlight {
                pending,
                task,
                timer,
            },
        ));
    }
}

/// A request checked and ready to go.
struct Fetch {
    host: String,
    port: u16,
    request: hyper::Request<Full<Bytes>>,
}

fn prepare(req: &Request) -> Result<Fetch, HttpError> {
    let uri: Uri = req
        .url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| HttpError::InvalidUrl(e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(HttpError::Unsupported(format!(
                "{other}:// (plain http only, no TLS)"
            )))
        }
        None => return Err(HttpError::InvalidUrl("no scheme".into())),
    }
    let host = uri
        .host()
        .ok_or_else(|| HttpError::InvalidUrl("no host".into()))?;
    // An IPv6 literal comes bracketed in the URL.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut builder = hyper::Request::builder()
        .method(req.method.clone())
        .uri(path);
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let mut request = builder
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
    let headers = request.headers_mut();
    let host_value =
        HeaderValue::from_str(&authority).map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
    headers.insert(HOST, host_value);
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    Ok(Fetch {
        host,
        port,
        request,
    })
}

impl Fetch {
    /// Connect, send, read the whole response. Runs as a task of the
    /// component's session, inside the tokio runtime the kernel runs on.
    async fn run(self, max_body: usize) -> Result<Response, HttpError> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| HttpError::Connect(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| HttpError::Protocol(e.to_string()))?;
        let request = self.request;
        let exchange = async move {
            let resp = sender
                .send_request(request)
                .await
                .map_err(|e| HttpError::Protocol(e.to_string()))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<LengthLimitError>().is_some() {
                        HttpError::BodyTooLarge(max_body)
                    } else {
                        HttpError::Protocol(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: body.to_vec(),
            })
        };
        // The connection is driven in the same task as the exchange (no
        // runtime spawn): cancelling the task closes both.
        let mut exchange = pin!(exchange);
        let mut conn = pin!(conn);
        let mut conn_done = false;
        poll_fn(|cx| {
            if let Poll::Ready(r) = exchange.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            if !conn_done {
                if let Poll::Ready(r) = conn.as_mut().poll(cx) {
                    conn_done = true;
                    if let Err(e) = r {
                        return Poll::Ready(Err(HttpError::Protocol(e.to_string())));
                    }
                    // Closed cleanly: the exchange finishes (or fails) on
                    // what it already has.
                    return exchange.as_mut().poll(cx);
                }
            }
            Poll::Pending
        })
        .await
    }
}
