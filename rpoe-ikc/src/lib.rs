//! Kernels across processes and hosts: POE::Component::IKC's model —
//! named kernels, sessions published by alias, remote `post`, and `call`
//! answered through an RSVP event — on a NATS bus.
//!
//! Why NATS and not a protocol of our own: its subjects map one to one
//! onto `kernel/alias/event`, its request-reply is IKC's call-with-RSVP,
//! its queue groups spread a published alias over several kernels, and
//! it clusters across hosts by itself. The client is `async-nats`, run
//! inside the kernel's sessions through rpoe's tokio bridge
//! ([`rpoe::tokio::run`], [`rpoe::Ctx::spawn_future`]), as `rpoe-http`
//! runs hyper.
//!
//! # The model
//!
//! - A kernel joins the bus under a name: make an [`Ikc`] from a
//!   [`Config`] and spawn [`Ikc::session`] in the kernel, which then runs
//!   on tokio ([`rpoe::tokio::run`]).
//! - A session publishes itself under an alias, with the events it
//!   accepts and the type of each one's arguments ([`Ikc::publish`],
//!   [`Publish`]). Those events, and only those, arrive from the bus as
//!   an [`Incoming<T>`] argument, which names the sending kernel.
//! - Any session posts to `kernel/alias/event`, or to `*/alias/event` for
//!   whichever kernel serves the alias ([`Ikc::post`]); the arguments are
//!   any `serde` value, sent as JSON.
//! - [`Ikc::call`] sends a request; the answer (a [`ReplyTo::send`] on the
//!   remote side) comes back as the RSVP event named in the call, with a
//!   [`CallReply<R>`] argument whose `result` is the decoded answer or
//!   why there is none (timeout, no responders, remote error).
//! - [`Ikc::monitor`] subscribes a session to the bus's [`BusEvent`]s:
//!   connected, disconnected, reconnected, slow consumer, closed.
//! - A publication ends when its session stops (for any reason) or calls
//!   [`Ikc::unpublish`]; the kernel then unsubscribes its subjects.
//!
//! ```no_run
//! use rpoe::{Kernel, Session};
//! use rpoe_ikc::{CallReply, Config, Ikc, Incoming, Publish};
//!
//! let ikc = Ikc::new(Config::new("k1", "nats://127.0.0.1:4222")).unwrap();
//! let mut kernel = Kernel::new().unwrap();
//! kernel.spawn(ikc.session(), ());
//! let i = ikc.clone();
//! kernel.spawn(
//!     Session::new(())
//!         .on("_start", move |ctx| {
//!             // Serve `k1/calc/add` (and `*/calc/add`).
//!             i.publish(ctx, Publish::new("calc").event::<(i64, i64)>("add")).unwrap();
//!         })
//!         .on("add", |ctx| {
//!             let msg = ctx.take_arg::<Incoming<(i64, i64)>>().unwrap();
//!             let (a, b) = msg.args;
//!             if let Some(reply) = msg.reply {
//!                 let _ = reply.send(&(a + b));
//!             }
//!         }),
//!     (),
//! );
//! let i = ikc.clone();
//! kernel.spawn(
//!     Session::new(())
//!         .on("_start", move |ctx| {
//!             i.call::<_, i64, _>(ctx, "*/calc/add", &(2, 3), "sum").unwrap();
//!         })
//!         .on("sum", |ctx| {
//!             let reply = ctx.take_arg::<CallReply<i64>>().unwrap();
//!             println!("{:?} from {:?}", reply.result, reply.from);
//!         }),
//!     (),
//! );
//! rpoe::tokio::run(&mut kernel).unwrap();
//! ```
//!
//! # Subjects
//!
//! A post or call from kernel `SENDER` to `kernel/alias/event` is
//! published on the subject `PREFIX.kernel.alias.event.SENDER`
//! (`PREFIX` is [`Config::prefix`], `rpoe` by default); one to
//! `*/alias/event` on `PREFIX._any.alias.event.SENDER`. A kernel that
//! publishes `alias` with `event` subscribes to
//! `PREFIX.ITSELF.alias.event.*`, and to `PREFIX._any.alias.event.*` in
//! the queue group `ikc`, so NATS hands each `*` message to one of the
//! kernels that serve it. Names are 1 to 64 ASCII letters, digits, `_`
//! and `-`, starting with a letter or digit ([`check_name`]); anything
//! else is refused with [`Error::InvalidName`] before it reaches the
//! bus, so a name can neither add a subject token nor be a wildcard,
//! no kernel can be called `_any`, and no remote can reach `_start`,
//! `_stop` or other underscore events. Arguments are the JSON payload.
//! An answer carries the responder's name in an `Rpoe-Kernel` header,
//! and an error answer an `Rpoe-Error` header. A non-rpoe NATS client
//! can post (publish JSON to `rpoe.kernel.alias.event.SOMEONE`) and call
//! (request the same) as well.
//!
//! # Delivery semantics
//!
//! - **At most once.** NATS core has no acknowledgements or replays: a
//!   message is delivered once or not at all, never twice. Messages from
//!   one kernel to one subscription arrive in the order sent.
//! - **How an incoming message reaches its session:** as its own event,
//!   with an [`Incoming<T>`] argument, in the order received. The IKC
//!   session runs the handler at once, from its `_in` event (as POE's
//!   `call`, so `ctx.sender()` is the IKC session), rather than queueing
//!   one event per message: that saves a trip through the kernel's queue
//!   per message. A handler that fails is the kernel's to report, as
//!   for any [`rpoe::Ctx::call`]; the next messages are still delivered.
//! - **Sending:** while the bus is up and nothing waits before it, a
//!   post, call or answer goes to the client's command channel from the
//!   handler that made it. When that channel is full, it and what
//!   follows wait, in order, for a task of the IKC session to hand them
//!   over (the outgoing buffer below).
//! - **While the bus is down** (before the first connection, or while
//!   the client reconnects), posts, calls and answers wait in a bounded
//!   outgoing buffer ([`Config::max_pending`] messages and
//!   [`Config::max_pending_bytes`] bytes, plus the client's own command
//!   channel of [`Config::client_capacity`]). A post that finds it full
//!   is dropped and its sender gets the [`Config::error_event`] with
//!   [`Error::BufferFull`]; a call gets its RSVP event with that error.
//!   Memory never grows past those bounds. After reconnecting, the
//!   buffer is sent in order. (While the bus is down the kernel does not
//!   know whether a subscriber exists: buffered messages to nobody are
//!   dropped by the server after reconnecting, as any NATS message.)
//! - **A server restart loses what was in flight:** messages written to
//!   the old connection that the server had not routed yet, and messages
//!   the server held for subscribers. That loss is bounded by what was
//!   in flight at the moment of the cut (the client's write buffer and
//!   the server's outbound buffers); the integration tests measure it.
//!   Subscriptions are renewed on reconnect without any action.
//! - **A remote session that dies** unsubscribes its subjects (as does
//!   one that unpublishes): a later call to it gets
//!   [`Error::NoResponders`] at once. A call that is being handled when
//!   the session stops gets [`Error::Remote`] (its [`ReplyTo`] is dropped
//!   unanswered, which answers with an error). A call whose remote
//!   kernel dies with it gets [`Error::Timeout`] after the call's timeout
//!   ([`Config::call_timeout`] or [`Ikc::call_timeout`]), and
//!   [`Error::NoResponders`] once the server noticed the dead connection.
//!   A post to a dead or unpublished address is dropped silently: posts
//!   are fire-and-forget, as in POE.
//! - **Size:** a message (payload and headers) larger than the server's
//!   `max_payload` (1 MiB by default in nats-server) is refused before it
//!   is sent, with [`Error::TooLarge`] as an error or RSVP event.
//! - **Arguments that do not deserialise** into the type the published
//!   event declared are not delivered: the published session gets the
//!   [`Config::error_event`] with [`Error::Decode`] (and the sender of a
//!   call gets [`Error::Remote`]). A reply that does not deserialise into
//!   the caller's type is an [`Error::Decode`] in its [`CallReply`]. No
//!   panic either way.
//! - **A slow consumer:** each subscription buffers at most
//!   [`Config::subscription_capacity`] messages in the client; beyond
//!   that the client drops messages and the monitors get
//!   [`BusEvent::SlowConsumer`]. The kernel takes at most [`Config::batch`]
//!   messages per subscription per round into an inbox of at most
//!   4 × [`Config::batch`] messages, and delivers at most that many per
//!   round; the subscription tasks wait while it is full. So a flood
//!   cannot starve the kernel's other events, timers and I/O, and memory
//!   stays bounded (by the subscriptions' capacity, the inbox and one
//!   round's events).
//!
//! # Security
//!
//! - Credentials and TLS go to the NATS client: [`Auth`] (user and
//!   password, token) and [`Tls`] (require TLS, extra root certificates,
//!   a client certificate for mutual TLS, TLS-first handshake); anything
//!   else `async-nats`'s `ConnectOptions` offers is reachable through
//!   [`Config::connect_options`]. nkey seeds and `.creds` files need
//!   async-nats's `nkeys` feature, which this crate leaves off (it would
//!   add an ed25519 stack to every build): enable it in your own
//!   `Cargo.toml` and call `credentials_file` in that hook.
//! - Nothing is accepted from the bus unless a session published itself,
//!   and then only the events it published: the kernel subscribes to
//!   exactly those subjects and no wildcard.
//! - Each [`Incoming`] names the sending kernel ([`Incoming::from`]): the
//!   last token of the subject. Since the sender is part of the subject,
//!   the NATS server can vouch for it: give each kernel its own user
//!   whose publish permission is `rpoe.*.*.*.KERNEL` (plus `_INBOX.>`
//!   for answers), and no kernel can speak as another. Without such
//!   permissions the name is what the sender claims.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod address;
mod error;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::future::{poll_fn, Future};
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use async_nats::{Client, ConnectOptions, HeaderMap, Message, StatusCode, Subject, Subscriber};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use rpoe::{Ctx, Session, SessionId};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use address::{check_name, Address, Target, MAX_NAME};
pub use async_nats;
pub use error::Error;

/// The header naming the kernel that answered a call.
pub const KERNEL_HEADER: &str = "Rpoe-Kernel";
/// The header that marks a call's answer as an error (its payload is
/// the message).
pub const ERROR_HEADER: &str = "Rpoe-Error";
/// How long [`Ikc::shutdown`] waits to hand what is queued to the bus and
/// flush it (the bus may be down).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The queue group of `*/alias/event` subscriptions.
pub const QUEUE_GROUP: &str = "ikc";

/// Credentials given to the NATS server.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// None (the default).
    #[default]
    None,
    /// A user name and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// An authentication token.
    Token(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets.
        match self {
            Auth::None => f.write_str("None"),
            Auth::UserPassword { user, .. } => write!(f, "UserPassword({user}, ***)"),
            Auth::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// TLS settings for the connection to the NATS server. A `tls://` URL
/// also turns TLS on.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Tls {
    /// Refuse a connection without TLS.
    pub required: bool,
    /// PEM files of certificate authorities to trust besides the
    /// system's.
    pub root_certificates: Vec<PathBuf>,
    /// A client certificate and its key (PEM files), for mutual TLS.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// Start TLS before the server's INFO (servers set up for
    /// `handshake_first`).
    pub tls_first: bool,
}

/// A hook that edits the client's options last (see
/// [`Config::connect_options`]).
pub type OptionsHook = Rc<dyn Fn(ConnectOptions) -> ConnectOptions>;

/// How a kernel joins the bus.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// This kernel's name on the bus ([`check_name`]).
    pub kernel: String,
    /// NATS server URLs (`nats://host:port`, `tls://...`); the client
    /// picks one and fails over to the others.
    pub servers: Vec<String>,
    /// The first token of every subject (default `rpoe`), so separate
    /// applications can share a server.
    pub prefix: String,
    /// The default timeout of [`Ikc::call`] (default 10 s), on the
    /// kernel's clock.
    pub call_timeout: Duration,
    /// Messages the outgoing buffer holds while the bus is down or slow
    /// (default 8,192).
    pub max_pending: usize,
    /// Bytes the outgoing buffer holds (default 8 MiB).
    pub max_pending_bytes: usize,
    /// The NATS client's command channel (default 1,024 messages).
    pub client_capacity: usize,
    /// Messages the client buffers per subscription before it drops them
    /// as a slow consumer (default 8,192).
    pub subscription_capacity: usize,
    /// Messages taken from one subscription per kernel round (default
    /// 256).
    pub batch: usize,
    /// The event a session gets when a post of its own, or an event for
    /// it, failed (default `ikc_error`); its argument is a [`Failed`].
    pub error_event: String,
    /// The longest wait between reconnection attempts (default 2 s; the
    /// wait grows by 50 ms per failed attempt up to it).
    pub reconnect_delay_max: Duration,
    /// How long one connection attempt may take (default 5 s).
    pub connect_timeout: Duration,
    /// Credentials.
    pub auth: Auth,
    /// TLS.
    pub tls: Tls,
    /// Applied last to the client's options, for anything this `Config`
    /// does not name (nkeys, `.creds` files, a custom TLS config...).
    pub connect_options: Option<OptionsHook>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("kernel", &self.kernel)
            .field("servers", &self.servers)
            .field("prefix", &self.prefix)
            .field("call_timeout", &self.call_timeout)
            .field("max_pending", &self.max_pending)
            .field("max_pending_bytes", &self.max_pending_bytes)
            .field("client_capacity", &self.client_capacity)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("batch", &self.batch)
            .field("error_event", &self.error_event)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A kernel named `kernel` on the server at `server`, with the
    /// defaults above.
    pub fn new(kernel: impl Into<String>, server: impl Into<String>) -> Config {
        Config {
            kernel: kernel.into(),
            servers: vec![server.into()],
            prefix: "rpoe".into(),
            call_timeout: Duration::from_secs(10),
            max_pending: 8192,
            max_pending_bytes: 8 << 20,
            client_capacity: 1024,
            subscription_capacity: 8192,
            batch: 256,
            error_event: "ikc_error".into(),
            reconnect_delay_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            auth: Auth::None,
            tls: Tls::default(),
            connect_options: None,
        }
    }

    fn client_options(
        &self,
        events: tokio::sync::mpsc::Sender<async_nats::Event>,
    ) -> ConnectOptions {
        let mut o = ConnectOptions::new()
            .name(format!("rpoe-ikc {}", self.kernel))
            .client_capacity(self.client_capacity.max(1))
            .subscription_capacity(self.subscription_capacity.max(1))
            .connection_timeout(self.connect_timeout)
            .max_reconnects(None)
            .request_timeout(None)
            .event_callback(move |ev| {
                // Bounded: bus events beyond 64 unread ones are dropped
                // (they are reports, and the state is re-read anyway).
                let _ = events.try_send(ev);
                async {}
            });
        let max = self.reconnect_delay_max;
        o = o.reconnect_delay_callback(move |attempts| {
            Duration::from_millis(50u64.saturating_mul(attempts as u64)).min(max)
        });
        o = match &self.auth {
            Auth::None => o,
            Auth::UserPassword { user, password } => {
                o.user_and_password(user.clone(), password.clone())
            }
            Auth::Token(t) => o.token(t.clone()),
        };
        if self.tls.required {
            o = o.require_tls(true);
        }
        for ca in &self.tls.root_certificates {
            o = o.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls.client_certificate {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls.tls_first {
            o = o.tls_first();
        }
        if let Some(hook) = &self.connect_options {
            o = hook(o);
        }
        o
    }
}

/// The argument of the [`Config::error_event`]: what failed, and why.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Failed {
    /// The address (`kernel/alias/event`) of a post that failed, or the
    /// published `alias/event` whose incoming message was refused.
    pub to: String,
    /// Why.
    pub error: Error,
}

/// What the bus did: the argument of the event a session chose with
/// [`Ikc::monitor`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusEvent {
    /// The first connection is up.
    Connected,
    /// The connection was lost; the client is reconnecting (outgoing
    /// messages wait in the bounded buffer meanwhile).
    Disconnected,
    /// Connected again after a loss; subscriptions were renewed.
    Reconnected,
    /// A subscription's buffer overflowed and the client dropped
    /// messages (the number is the client's subscription id).
    SlowConsumer(u64),
    /// The server is about to shut down (lame duck mode).
    LameDuck,
    /// The server or the client reported an error.
    Error(String),
    /// The first connection failed; the IKC session has ended.
    ConnectFailed(String),
    /// The IKC session shut down and closed the connection.
    Closed,
}

/// Counters, from [`Ikc::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages handed to the NATS client.
    pub sent: u64,
    /// Messages delivered to published sessions.
    pub delivered: u64,
    /// Messages dropped because the outgoing buffer was full.
    pub dropped_full: u64,
    /// Incoming messages refused because they did not deserialise.
    pub decode_errors: u64,
    /// Slow-consumer reports from the client.
    pub slow_consumer: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Messages waiting in the outgoing buffer now.
    pub pending: usize,
}

/// An event from the bus, the argument of a published event.
pub struct Incoming<T> {
    /// The sending kernel's name: the last token of the subject, which
    /// the sender chose (see "Security" in the crate's documentation).
    pub from: Rc<str>,
    /// The alias it was sent to.
    pub alias: Rc<str>,
    /// The event.
    pub event: Rc<str>,
    /// Whether it came through `*/alias/event` (the queue group) rather
    /// than to this kernel by name.
    pub via_any: bool,
    /// The arguments.
    pub args: T,
    /// For a call: how to answer it. Dropping it unanswered answers the
    /// caller with an [`Error::Remote`], so a caller never waits for a
    /// handler that forgot it.
    pub reply: Option<ReplyTo>,
}

impl<T: fmt::Debug> fmt::Debug for Incoming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("from", &self.from)
            .field("alias", &self.alias)
            .field("event", &self.event)
            .field("via_any", &self.via_any)
            .field("args", &self.args)
            .field("call", &self.reply.is_some())
            .finish()
    }
}

/// The answer to a call: the argument of its RSVP event.
#[derive(Debug)]
pub struct CallReply<R> {
    /// The address called.
    pub to: Rc<str>,
    /// The kernel that answered (for `*/...` calls, the one NATS picked);
    /// `None` for an answer from a non-rpoe responder, or no answer.
    pub from: Option<Rc<str>>,
    /// The answer, or why there is none.
    pub result: Result<R, Error>,
}

/// How to answer a call: from [`Incoming::reply`]. Answer once, from any
/// handler (it may be kept in the heap and answered later).
pub struct ReplyTo {
    /// The caller's reply subject, as it came (shared, not copied).
    subject: Subject,
    hub: Weak<Hub>,
    done: bool,
}

impl fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("subject", &self.subject)
            .finish()
    }
}

impl ReplyTo {
    /// Answer with `value` (serialised as JSON).
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] if `value` does not serialise, and what queuing
    /// the answer can fail with: [`Error::BufferFull`],
    /// [`Error::TooLarge`], [`Error::Shutdown`]. The call is then answered
    /// with an error instead, so the caller is not left waiting.
    pub fn send<A: Serialize + ?Sized>(mut self, value: &A) -> Result<(), Error> {
        self.done = true;
        let Some(hub) = self.hub.upgrade() else {
            return Err(Error::Shutdown);
        };
        let payload = match serde_json::to_vec(value) {
            Ok(p) => p,
            Err(e) => {
                let err = Error::Encode(e.to_string());
                let _ = hub.answer_error(&self.subject, &err.to_string());
                return Err(err);
            }
        };
        let r = hub.enqueue(
            self.subject.clone(),
            None,
            Some((hub.headers.clone(), hub.header_bytes)),
            payload.into(),
            None,
        );
        if let Err(e) = &r {
            if !matches!(e, Error::BufferFull { .. } | Error::Shutdown) {
                let _ = hub.answer_error(&self.subject, &e.to_string());
            }
        }
        r
    }

    /// Answer with an error: the caller's [`CallReply::result`] is
    /// [`Error::Remote`] with `message`.
    ///
    /// # Errors
    ///
    /// As [`ReplyTo::send`].
    pub fn fail(mut self, message: &str) -> Result<(), Error> {
        self.done = true;
        let hub = self.hub.upgrade().ok_or(Error::Shutdown)?;
        hub.answer_error(&self.subject, message)
    }
}

impl Drop for ReplyTo {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(hub) = self.hub.upgrade() {
            let _ = hub.answer_error(
                &self.subject,
                "the remote session did not answer (its reply was dropped)",
            );
        }
    }
}

/// Decodes an incoming payload and runs the published session's handler
/// with it.
type Deliver = Box<dyn Fn(&mut Ctx<'_, HubHeap>, Meta, &[u8]) -> Result<(), DeliverError>>;

/// What a delivery knows besides the payload.
struct Meta {
    target: SessionId,
    /// The event's interned id in this kernel (posting by id skips
    /// hashing its name).
    id: rpoe::EventId,
    from: Rc<str>,
    alias: Rc<str>,
    event: Rc<str>,
    via_any: bool,
    reply: Option<ReplyTo>,
}

enum DeliverError {
    Decode(String, Option<ReplyTo>),
    Gone,
}

/// A session's publication, before it is made: the alias and the events
/// it accepts from the bus, each with the type its arguments decode to.
pub struct Publish {
    alias: String,
    events: Vec<(String, Deliver)>,
    ready: Option<String>,
}

impl fmt::Debug for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("alias", &self.alias)
            .field(
                "events",
                &self.events.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("ready", &self.ready)
            .finish()
    }
}

impl Publish {
    /// A publication under `alias`, with no events yet.
    pub fn new(alias: impl Into<String>) -> Publish {
        Publish {
            alias: alias.into(),
            events: Vec::new(),
            ready: None,
        }
    }

    /// Accept `event` from the bus, its arguments decoded as `T`: the
    /// session gets `event` with an [`Incoming<T>`] argument. Arguments
    /// that do not decode as `T` become the [`Config::error_event`].
    pub fn event<T: DeserializeOwned + 'static>(mut self, event: impl Into<String>) -> Publish {
        let deliver: Deliver = Box::new(|ctx, meta, payload| {
            let args: T = match serde_json::from_slice(payload) {
                Ok(a) => a,
                Err(e) => return Err(DeliverError::Decode(e.to_string(), meta.reply)),
            };
            let id = meta.id;
            let incoming = Incoming {
                from: meta.from,
                alias: meta.alias,
                event: meta.event,
                via_any: meta.via_any,
                args,
                reply: meta.reply,
            };
            // Run the handler now rather than queue the event: the
            // message is already one of this round's bounded share, and
            // a queued event would cost a second trip through the
            // kernel's queue per message.
            match ctx.call(meta.target, id, incoming) {
                Err(rpoe::Error::NoSuchSession(_)) => Err(DeliverError::Gone),
                _ => Ok(()),
            }
        });
        self.events.push((event.into(), deliver));
        self
    }

    /// Post `event` (argument: the alias, a `String`) to the session once
    /// every subject of the publication is subscribed on the server, so
    /// that posts from other kernels reach it from then on.
    pub fn on_ready(mut self, event: impl Into<String>) -> Publish {
        self.ready = Some(event.into());
        self
    }
}

/// A live publication.
struct Pub {
    alias: Rc<str>,
    session: SessionId,
    events: Vec<(Rc<str>, Deliver)>,
    /// The events' interned ids, filled when the subscriptions start.
    ids: RefCell<Vec<rpoe::EventId>>,
    ready: Option<String>,
    dead: Cell<bool>,
    started: Cell<bool>,
    subscribed: Cell<usize>,
    /// Wakers of the pump tasks (two per event: by name, then `*`) and,
    /// last, of the lease.
    wakers: RefCell<Vec<Option<Waker>>>,
}

impl Pub {
    fn kill(&self) {
        if self.dead.replace(true) {
            return;
        }
        let wakers: Vec<Waker> = self
            .wakers
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    fn set_waker(&self, slot: usize, w: &Waker) {
        let mut ws = self.wakers.borrow_mut();
        match &mut ws[slot] {
            Some(old) => old.clone_from(w),
            empty => *empty = Some(w.clone()),
        }
    }
}

/// The task that holds a published session alive while it is published
/// (the bus is one of its event sources, as a wheel is), and whose drop
/// — when the session stops — ends the publication.
struct Lease {
    publication: Rc<Pub>,
}

impl Future for Lease {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let p = &self.publication;
        if p.dead.get() {
            return Poll::Ready(());
        }
        let last = p.events.len() * 2;
        p.set_waker(last, cx.waker());
        Poll::Pending
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.publication.kill();
    }
}

/// A call waiting for its answer.
#[derive(Default)]
struct CallSlot {
    answer: RefCell<Option<Result<Message, Error>>>,
    waker: RefCell<Option<Waker>>,
}

impl CallSlot {
    fn fill(&self, r: Result<Message, Error>) {
        *self.answer.borrow_mut() = Some(r);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// Removes a call's slot when its task ends (answered, timed out or
/// cancelled with its session).
struct CallGuard {
    hub: Weak<Hub>,
    token: u64,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            if let Ok(mut st) = hub.st.try_borrow_mut() {
                st.calls.remove(&self.token);
            }
        }
    }
}

/// A message waiting to be handed to the client.
struct Outbound {
    subject: Subject,
    reply: Option<String>,
    headers: Option<HeaderMap>,
    payload: Bytes,
    size: usize,
    origin: Option<Origin>,
}

/// Handing one message to the client: the future of its publish.
type PublishFut = Pin<Box<dyn Future<Output = Result<(), async_nats::PublishError>>>>;

/// A message the client's command channel has not taken yet.
struct InFlight {
    fut: PublishFut,
    size: usize,
    origin: Option<Origin>,
}

/// The publish of one message, owning what it needs. Outside tokio's
/// cooperative budget: it is polled from kernel handlers, where an
/// exhausted budget would turn every send after the 128th of a turn
/// into a detour through the drainer.
fn publish(
    client: Rc<Client>,
    subject: Subject,
    reply: Option<String>,
    headers: Option<HeaderMap>,
    payload: Bytes,
) -> PublishFut {
    Box::pin(tokio::task::unconstrained(async move {
        match (reply, headers) {
            (Some(reply), Some(h)) => {
                client
                    .publish_with_reply_and_headers(subject, Subject::from(reply), h, payload)
                    .await
            }
            (Some(reply), None) => {
                client
                    .publish_with_reply(subject, Subject::from(reply), payload)
                    .await
            }
            (None, Some(h)) => client.publish_with_headers(subject, h, payload).await,
            (None, None) => client.publish(subject, payload).await,
        }
    }))
}

/// The crate's error for a failed publish of `size` bytes on the wire.
fn publish_error(e: &async_nats::PublishError, size: usize, max: Option<usize>) -> Error {
    match e.kind() {
        async_nats::client::PublishErrorKind::MaxPayloadExceeded => Error::TooLarge {
            size,
            max: max.unwrap_or(0),
        },
        _ => Error::Nats(e.to_string()),
    }
}

/// What became of a post offered to [`Hub::send_now`].
enum SendNow {
    /// The client took it.
    Sent,
    /// It cannot be sent (shut down, too large, the client refused it).
    Failed(Error),
    /// Something waits before it (or the bus is not up): queue it.
    NotNow(Subject, Bytes),
    /// The client's channel is full; the message is gone with the
    /// future: make it again and queue it.
    Later,
}

/// Whom to tell when a queued post fails later.
struct Origin {
    session: SessionId,
    to: Rc<str>,
}

/// Where an incoming message goes.
enum Route {
    /// Event `idx` of a publication, by name (`any == false`) or `*`.
    Pub(Rc<Pub>, usize, bool),
    /// The reply inbox of this kernel's calls.
    Replies,
}

/// What the subscription tasks hand the IKC session, in order.
enum Arrival {
    /// A subscription is in place (the server answered a PING after it).
    Subscribed(Rc<Route>),
    /// Subscribing failed.
    Failed(Rc<Route>, String),
    /// A message for a publication.
    Message(Rc<Route>, Inbound),
}

/// What delivery needs of a message: smaller than the client's
/// [`Message`], so that moving it through the inbox costs less.
struct Inbound {
    subject: Subject,
    reply: Option<Subject>,
    payload: Bytes,
}

impl From<Message> for Inbound {
    fn from(m: Message) -> Inbound {
        let Message {
            subject,
            reply,
            payload,
            ..
        } = m;
        Inbound {
            subject,
            reply,
            payload,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Idle,
    Connecting,
    Up,
    Down,
    Shut,
}

/// An address's subject (with this kernel as sender) and its text.
type SubjectOf = (Subject, Rc<str>);

struct State {
    session: Option<SessionId>,
    client: Option<Client>,
    phase: Phase,
    /// The reply subscription is in place and the drainer runs.
    ready: bool,
    ever_connected: bool,
    max_payload: Option<usize>,
    outbound: VecDeque<Outbound>,
    outbound_bytes: usize,
    /// A message the client's channel did not take at once; the drainer
    /// sends it before `outbound`.
    in_flight: Option<InFlight>,
    /// The drainer is sending a message it took from `outbound`.
    busy: bool,
    /// The client, for the fast path of [`Hub::enqueue`].
    sender: Option<Rc<Client>>,
    drainer_waker: Option<Waker>,
    pubs: BTreeMap<String, Rc<Pub>>,
    monitors: Vec<(SessionId, String)>,
    calls: HashMap<u64, Rc<CallSlot>>,
    next_token: u64,
    inbox: String,
    stats: Stats,
    /// Messages taken from the subscriptions, for the IKC session; at
    /// most [`Hub::inbox_cap`].
    arrivals: VecDeque<Arrival>,
    /// The IKC session has an `_in` event coming.
    rung: bool,
    bell: Option<rpoe::Postback>,
    /// Subscription tasks waiting for room in `arrivals`.
    room: Vec<Waker>,
    /// Subjects of recent addresses (cleared when it grows past 1,024).
    subjects: HashMap<Box<str>, SubjectOf>,
    /// The address posted to last, checked before the map.
    last_subject: Option<(Box<str>, SubjectOf)>,
    /// The last sender seen, shared by the events from it.
    last_from: Option<Rc<str>>,
    /// Where outgoing posts are serialised (see [`Hub::encode`]).
    out_buf: BytesMut,
}

/// The block [`Hub::encode`] serialises into, and the room below which it
/// takes a new one (or reclaims its block, if no message holds it).
const OUT_BUF_BLOCK: usize = 8 * 1024;
const OUT_BUF_LOW: usize = 256;

/// What the kernel's [`Ikc`] handles share.
struct Hub {
    cfg: Config,
    /// The headers of every message: the sending kernel's name.
    headers: HeaderMap,
    header_bytes: usize,
    st: RefCell<State>,
}

/// The size of headers on the wire (for the buffer's byte bound and the
/// max_payload check): `NATS/1.0\r\n`, `Name: value\r\n` each, `\r\n`.
fn header_size(h: &HeaderMap) -> usize {
    12 + h
        .iter()
        .map(|(k, vs)| {
            vs.iter()
                .map(|v| k.to_string().len() + v.as_str().len() + 4)
                .sum::<usize>()
        })
        .sum::<usize>()
}

impl Hub {
    /// Queue a message for the drainer. `headers`: with their size on
    /// the wire (answers carry the responder's name; posts and calls
    /// name their sender in the subject, and need none).
    fn enqueue(
        &self,
        subject: Subject,
        reply: Option<String>,
        headers: Option<(HeaderMap, usize)>,
        payload: Bytes,
        origin: Option<Origin>,
    ) -> Result<(), Error> {
        let (headers, header_bytes) = match headers {
            Some((h, n)) => (Some(h), n),
            None => (None, 0),
        };
        let size = payload.len() + header_bytes;
        let mut st = self.st.borrow_mut();
        if st.phase == Phase::Shut {
            return Err(Error::Shutdown);
        }
        if let Some(max) = st.max_payload {
            if size > max {
                return Err(Error::TooLarge { size, max });
            }
        }
        let wire = size + subject.len() + reply.as_ref().map_or(0, String::len);
        // The fast path: nothing is queued before this message, so it may
        // go to the client's command channel at once, from the handler,
        // without a hop through the buffer and the drainer task.
        if st.outbound.is_empty()
            && st.in_flight.is_none()
            && !st.busy
            && st.ready
            && st.phase == Phase::Up
        {
            if let Some(client) = st.sender.clone() {
                drop(st);
                let mut fut = publish(client, subject, reply, headers, payload);
                // One poll: the client's channel takes it now, or the
                // future (which keeps its place in the channel's queue)
                // goes to the drainer, ahead of anything queued after it.
                let polled = fut
                    .as_mut()
                    .poll(&mut std::task::Context::from_waker(Waker::noop()));
                let mut st = self.st.borrow_mut();
                match polled {
                    Poll::Ready(Ok(())) => st.stats.sent += 1,
                    Poll::Ready(Err(e)) => return Err(publish_error(&e, wire, st.max_payload)),
                    Poll::Pending => {
                        st.in_flight = Some(InFlight {
                            fut,
                            size: wire,
                            origin,
                        });
                        if let Some(w) = st.drainer_waker.take() {
                            drop(st);
                            w.wake();
                        }
                    }
                }
                return Ok(());
            }
        }
        if st.outbound.len() >= self.cfg.max_pending
            || st.outbound_bytes + wire > self.cfg.max_pending_bytes
        {
            st.stats.dropped_full += 1;
            return Err(Error::BufferFull {
                messages: st.outbound.len(),
                bytes: st.outbound_bytes,
            });
        }
        st.outbound_bytes += wire;
        st.outbound.push_back(Outbound {
            subject,
            reply,
            headers,
            payload,
            size: wire,
            origin,
        });
        if let Some(w) = st.drainer_waker.take() {
            drop(st);
            w.wake();
        }
        Ok(())
    }

    /// A post's fast path: hand `subject` and `payload` to the client at
    /// once if nothing waits before them, with the publish future pinned
    /// on the stack and polled once, not boxed and not cloned into.
    fn send_now(&self, subject: Subject, payload: Bytes) -> SendNow {
        let size = payload.len();
        let st = self.st.borrow_mut();
        if st.phase == Phase::Shut {
            return SendNow::Failed(Error::Shutdown);
        }
        if let Some(max) = st.max_payload {
            if size > max {
                return SendNow::Failed(Error::TooLarge { size, max });
            }
        }
        let client = match &st.sender {
            Some(c)
                if st.outbound.is_empty()
                    && st.in_flight.is_none()
                    && !st.busy
                    && st.ready
                    && st.phase == Phase::Up =>
            {
                c.clone()
            }
            _ => return SendNow::NotNow(subject, payload),
        };
        drop(st);
        let wire = size + subject.len();
        let polled = {
            let fut = std::pin::pin!(tokio::task::unconstrained(client.publish(subject, payload)));
            fut.poll(&mut std::task::Context::from_waker(Waker::noop()))
        };
        let mut st = self.st.borrow_mut();
        match polled {
            Poll::Ready(Ok(())) => {
                st.stats.sent += 1;
                SendNow::Sent
            }
            Poll::Ready(Err(e)) => SendNow::Failed(publish_error(&e, wire, st.max_payload)),
            // The client's channel is full. The future is dropped: its
            // send takes the message only once it has a permit, so
            // nothing was sent, and nothing was queued meanwhile.
            Poll::Pending => SendNow::Later,
        }
    }

    /// `value` as JSON, written into the kernel's output buffer and split
    /// off it: no vector of its own per message (the buffer's block is
    /// reused once every message cut from it is gone).
    fn encode<A: Serialize + ?Sized>(&self, value: &A) -> Result<Bytes, Error> {
        let mut st = self.st.borrow_mut();
        let buf = &mut st.out_buf;
        if buf.capacity() - buf.len() < OUT_BUF_LOW {
            buf.reserve(OUT_BUF_BLOCK);
        }
        match serde_json::to_writer(buf.writer(), value) {
            Ok(()) => Ok(buf.split().freeze()),
            Err(e) => {
                buf.clear();
                Err(Error::Encode(e.to_string()))
            }
        }
    }

    fn answer_error(&self, subject: &Subject, message: &str) -> Result<(), Error> {
        let mut headers = self.headers.clone();
        headers.insert(ERROR_HEADER, "1");
        let header_bytes = header_size(&headers);
        self.enqueue(
            subject.clone(),
            None,
            Some((headers, header_bytes)),
            Bytes::copy_from_slice(message.as_bytes()),
            None,
        )
    }

    fn hub_session(&self) -> Option<SessionId> {
        self.st.borrow().session
    }

    /// The subject of `to` with this kernel as the sender, and the
    /// address as text; cached, so a kernel that posts to the same
    /// addresses does not parse and format them each time.
    fn subject_of(&self, to: &str) -> Result<(Subject, Rc<str>), Error> {
        {
            let st = self.st.borrow();
            if let Some((last, hit)) = &st.last_subject {
                if **last == *to {
                    return Ok(hit.clone());
                }
            }
        }
        let found = self.st.borrow().subjects.get(to).cloned();
        if let Some(hit) = found {
            self.st.borrow_mut().last_subject = Some((to.into(), hit.clone()));
            return Ok(hit);
        }
        let addr: Address = to.parse()?;
        let subject = Subject::from(format!(
            "{}.{}",
            addr.subject(&self.cfg.prefix),
            self.cfg.kernel
        ));
        let entry = (subject, Rc::<str>::from(addr.to_string()));
        let mut st = self.st.borrow_mut();
        if st.subjects.len() >= 1024 {
            st.subjects.clear();
        }
        st.subjects.insert(to.into(), entry.clone());
        st.last_subject = Some((to.into(), entry.clone()));
        Ok(entry)
    }

    /// How many arrivals the IKC session holds before the subscription
    /// tasks wait (and the client's per-subscription buffers take over).
    fn inbox_cap(&self) -> usize {
        self.cfg.batch.max(1) * 4
    }

    /// [`Hub::arrive`] from a subscription task, in the same borrow
    /// telling whether there is room for another (if not, `waker` is
    /// woken when there is).
    fn arrive_at(&self, a: Arrival, cap: usize, waker: &Waker) -> bool {
        let (bell, room) = {
            let mut st = self.st.borrow_mut();
            st.arrivals.push_back(a);
            let room = st.arrivals.len() < cap;
            if !room {
                st.room.push(waker.clone());
            }
            let bell = if std::mem::replace(&mut st.rung, true) {
                None
            } else {
                st.bell.clone()
            };
            (bell, room)
        };
        if let Some(b) = bell {
            b.post(());
        }
        room
    }

    /// Hand an arrival to the IKC session, ringing its bell if it is not
    /// rung yet.
    fn arrive(&self, a: Arrival) {
        let bell = {
            let mut st = self.st.borrow_mut();
            st.arrivals.push_back(a);
            if std::mem::replace(&mut st.rung, true) {
                None
            } else {
                st.bell.clone()
            }
        };
        if let Some(b) = bell {
            b.post(());
        }
    }
}

/// A kernel's membership of the bus: cheap to clone (a handle), used
/// from the handlers of the kernel's sessions. Not `Send`: it belongs to
/// its kernel's thread.
#[derive(Clone)]
pub struct Ikc {
    hub: Rc<Hub>,
}

impl fmt::Debug for Ikc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ikc")
            .field("kernel", &self.hub.cfg.kernel)
            .field("phase", &self.hub.st.borrow().phase)
            .finish()
    }
}

/// The IKC session's heap.
pub struct HubHeap {
    hub: Rc<Hub>,
    /// The long-lived tasks, cancelled when the session closes (the
    /// publications' tasks end with their publications).
    bus: Option<rpoe::TaskId>,
    replies: Option<rpoe::TaskId>,
    drainer: Option<rpoe::TaskId>,
}

enum DrainOut {
    Failed(Option<Origin>, Error),
    Done,
}

/// A subscription task: subscribe, then move messages into the IKC
/// session's bounded inbox until the route ends. At most
/// [`Config::batch`] messages per poll, so one busy subscription cannot
/// keep the kernel from its other work.
async fn pump(hub: Rc<Hub>, client: Client, route: Rc<Route>, subject: String) {
    let r = match &*route {
        Route::Pub(_, _, true) => {
            client
                .queue_subscribe(subject, QUEUE_GROUP.to_string())
                .await
        }
        _ => client.subscribe(subject).await,
    };
    let mut sub: Subscriber = match r {
        Ok(s) => s,
        Err(e) => {
            hub.arrive(Arrival::Failed(route, e.to_string()));
            return;
        }
    };
    // The server has the subscription once it answered a PING sent after
    // it.
    match client.flush().await {
        Ok(()) => hub.arrive(Arrival::Subscribed(route.clone())),
        Err(e) => hub.arrive(Arrival::Failed(route.clone(), e.to_string())),
    }
    let batch = hub.cfg.batch.max(1);
    let cap = hub.inbox_cap();
    // true: the publication ended; false: the subscription closed.
    let ended = poll_fn(|cx| {
        if let Route::Pub(p, idx, any) = &*route {
            if p.dead.get() {
                return Poll::Ready(true);
            }
            p.set_waker(idx * 2 + usize::from(*any), cx.waker());
        }
        let mut n = 0;
        {
            let mut st = hub.st.borrow_mut();
            if st.arrivals.len() >= cap {
                st.room.push(cx.waker().clone());
                return Poll::Pending;
            }
        }
        loop {
            match sub.poll_next_unpin(cx) {
                Poll::Ready(Some(m)) if matches!(*route, Route::Replies) => {
                    // An answer wakes its call's task directly: no event
                    // of the IKC session in between.
                    answer_call(&hub, m);
                }
                Poll::Ready(Some(m)) => {
                    let room = hub.arrive_at(
                        Arrival::Message(route.clone(), Inbound::from(m)),
                        cap,
                        cx.waker(),
                    );
                    if !room {
                        // Woken by the IKC session once it took some.
                        return Poll::Pending;
                    }
                    n += 1;
                    if n >= batch {
                        // Come back next round.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Poll::Ready(None) => return Poll::Ready(false),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    if ended && hub.st.borrow().phase != Phase::Shut {
        // Unsubscribe and take what the server sent before it saw the
        // UNSUB (the client closes the stream once the server answered
        // the PING after it), so that calls among them are answered with
        // an error rather than left to time out. At most the
        // subscription's capacity, and for at most 2 s (the bus may be
        // down), so that the task cannot hold the IKC session forever.
        let collect = async {
            if sub.drain().await.is_ok() {
                while let Some(m) = sub.next().await {
                    hub.arrive(Arrival::Message(route.clone(), Inbound::from(m)));
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), collect).await;
    }
}

/// Hand queued messages to the client, in order, until shut down.
async fn drain(hub: Rc<Hub>, client: Client) -> DrainOut {
    // Once shutting down, what is left must be handed over and flushed
    // by this deadline: the bus may be down, and the IKC session must
    // end all the same.
    let mut deadline: Option<tokio::time::Instant> = None;
    let sender = Rc::new(client.clone());
    loop {
        let next = poll_fn(|cx| {
            let mut st = hub.st.borrow_mut();
            st.busy = false;
            if let Some(f) = st.in_flight.take() {
                st.busy = true;
                return Poll::Ready(Some(f));
            }
            if let Some(o) = st.outbound.pop_front() {
                st.outbound_bytes -= o.size;
                st.busy = true;
                return Poll::Ready(Some(InFlight {
                    fut: publish(sender.clone(), o.subject, o.reply, o.headers, o.payload),
                    size: o.size,
                    origin: o.origin,
                }));
            }
            if st.phase == Phase::Shut {
                return Poll::Ready(None);
            }
            match &mut st.drainer_waker {
                Some(w) => w.clone_from(cx.waker()),
                empty => *empty = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await;
        if deadline.is_none() && hub.st.borrow().phase == Phase::Shut {
            deadline = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
        }
        let Some(f) = next else {
            if let Some(d) = deadline {
                let _ = tokio::time::timeout_at(d, client.flush()).await;
            }
            return DrainOut::Done;
        };
        let r = match deadline {
            None => f.fut.await,
            Some(d) => match tokio::time::timeout_at(d, f.fut).await {
                Ok(r) => r,
                // Out of time: what is still queued is dropped.
                Err(_) => return DrainOut::Done,
            },
        };
        match r {
            Ok(()) => hub.st.borrow_mut().stats.sent += 1,
            Err(e) => {
                hub.st.borrow_mut().busy = false;
                let err = publish_error(&e, f.size, Some(client.max_payload()));
                return DrainOut::Failed(f.origin, err);
            }
        }
    }
}

/// Append `n` in decimal (without the formatting machinery, on the call
/// path).
fn push_u64(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

fn header_str(m: &Message, name: &str) -> Option<Rc<str>> {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| Rc::from(v.as_str()))
}

impl Ikc {
    /// Check `config` and make the handle; then spawn [`Ikc::session`]
    /// in the kernel that will run on tokio.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a bad kernel name or prefix,
    /// [`Error::Connect`] for an empty server list.
    pub fn new(config: Config) -> Result<Ikc, Error> {
        check_name("kernel", &config.kernel)?;
        check_name("prefix", &config.prefix)?;
        check_name("error event", &config.error_event)?;
        if config.servers.is_empty() {
            return Err(Error::Connect("no server given".into()));
        }
        let mut headers = HeaderMap::new();
        headers.insert(KERNEL_HEADER, config.kernel.as_str());
        Ok(Ikc {
            hub: Rc::new(Hub {
                cfg: config,
                header_bytes: header_size(&headers),
                headers,
                st: RefCell::new(State {
                    session: None,
                    client: None,
                    phase: Phase::Idle,
                    ready: false,
                    ever_connected: false,
                    max_payload: None,
                    outbound: VecDeque::new(),
                    outbound_bytes: 0,
                    in_flight: None,
                    busy: false,
                    sender: None,
                    drainer_waker: None,
                    pubs: BTreeMap::new(),
                    monitors: Vec::new(),
                    calls: HashMap::new(),
                    next_token: 1,
                    inbox: String::new(),
                    stats: Stats::default(),
                    arrivals: VecDeque::new(),
                    rung: false,
                    bell: None,
                    room: Vec::new(),
                    subjects: HashMap::new(),
                    last_subject: None,
                    last_from: None,
                    out_buf: BytesMut::new(),
                }),
            }),
        })
    }

    /// This kernel's name on the bus.
    pub fn kernel_name(&self) -> &str {
        &self.hub.cfg.kernel
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.hub.cfg
    }

    /// Whether the bus is connected now.
    pub fn is_connected(&self) -> bool {
        self.hub.st.borrow().phase == Phase::Up
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let st = self.hub.st.borrow();
        Stats {
            pending: st.outbound.len() + usize::from(st.in_flight.is_some()),
            ..st.stats
        }
    }

    /// Messages waiting in the outgoing buffer now ([`Stats::pending`]
    /// alone, without copying the counters): a producer that posts in a
    /// loop can stop when it is above 0, letting the kernel turn and the
    /// client catch up, as awaiting each publish would.
    pub fn pending(&self) -> usize {
        let st = self.hub.st.borrow();
        st.outbound.len() + usize::from(st.in_flight.is_some())
    }

    /// The IKC session: spawn it once, in the kernel this handle is used
    /// in (argument `()`). It connects, keeps the subscriptions of the
    /// kernel's publications, hands outgoing messages to the client and
    /// delivers incoming ones. It lives until [`Ikc::shutdown`] (or the
    /// first connection fails).
    pub fn session(&self) -> Session<HubHeap> {
        Session::new(HubHeap {
            hub: self.hub.clone(),
            bus: None,
            replies: None,
            drainer: None,
        })
        .on("_start", hub_start)
        .on("_connected", hub_connected)
        .on("_bus", hub_bus)
        .on("_in", hub_in)
        .on("_pump_end", |_| {})
        .on("_drained", hub_drained)
        .on("_publish", hub_publish)
        .on("_shutdown", hub_shutdown)
        .on("_stop", |ctx| {
            let hub = ctx.heap().hub.clone();
            close(&hub, Error::Shutdown);
        })
    }

    /// Post `event` with `args` to the session published as `alias` on
    /// `kernel`, or on any kernel that serves it: `to` is
    /// `kernel/alias/event` or `*/alias/event`. Fire and forget, as POE's
    /// post: nothing says whether anybody received it.
    ///
    /// # Errors
    ///
    /// Only for bad input, synchronously: [`Error::InvalidAddress`],
    /// [`Error::InvalidName`], [`Error::Encode`]. What fails later or for
    /// lack of room ([`Error::BufferFull`], [`Error::TooLarge`],
    /// [`Error::Shutdown`]) comes to the posting session as the
    /// [`Config::error_event`] with a [`Failed`] argument.
    pub fn post<H: 'static, A: Serialize + ?Sized>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &str,
        args: &A,
    ) -> Result<(), Error> {
        let (subject, to_rc) = self.hub.subject_of(to)?;
        let payload = self.hub.encode(args)?;
        let (subject, payload) = match self.hub.send_now(subject, payload) {
            SendNow::Sent => return Ok(()),
            SendNow::Failed(error) => {
                ctx.yield_event(
                    self.hub.cfg.error_event.as_str(),
                    Failed {
                        to: to_rc.to_string(),
                        error,
                    },
                );
                return Ok(());
            }
            SendNow::NotNow(subject, payload) => (subject, payload),
            // Rare (back-pressure): serialising again costs less than
            // copying every post in case it is needed.
            SendNow::Later => (self.hub.subject_of(to)?.0, self.hub.encode(args)?),
        };
        let to = to_rc;
        let origin = Origin {
            session: ctx.id(),
            to: to.clone(),
        };
        if let Err(error) = self.hub.enqueue(subject, None, None, payload, Some(origin)) {
            ctx.yield_event(
                self.hub.cfg.error_event.as_str(),
                Failed {
                    to: to.to_string(),
                    error,
                },
            );
        }
        Ok(())
    }

    /// [`Ikc::post`] to a parsed [`Address`].
    ///
    /// # Errors
    ///
    /// As [`Ikc::post`].
    pub fn post_to<H: 'static, A: Serialize + ?Sized>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &Address,
        args: &A,
    ) -> Result<(), Error> {
        self.post(ctx, &to.to_string(), args)
    }

    /// Call `to` (`kernel/alias/event` or `*/alias/event`) with `args`,
    /// POE::Component::IKC's call with RSVP: the answer comes back to
    /// this session as `rsvp`, with a [`CallReply<R>`] argument, after at
    /// most [`Config::call_timeout`]. The calling session is held alive
    /// until then (the wait is one of its tasks).
    ///
    /// # Errors
    ///
    /// Only for bad input, synchronously: [`Error::InvalidAddress`],
    /// [`Error::InvalidName`], [`Error::Encode`]. Every other failure is
    /// the RSVP event's `result`.
    pub fn call<A: Serialize + ?Sized, R: DeserializeOwned + 'static, H: 'static>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &str,
        args: &A,
        rsvp: &str,
    ) -> Result<(), Error> {
        self.call_timeout::<A, R, H>(ctx, to, args, rsvp, self.hub.cfg.call_timeout)
    }

    /// [`Ikc::call`] with its own timeout.
    ///
    /// # Errors
    ///
    /// As [`Ikc::call`].
    pub fn call_timeout<A: Serialize + ?Sized, R: DeserializeOwned + 'static, H: 'static>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &str,
        args: &A,
        rsvp: &str,
        timeout: Duration,
    ) -> Result<(), Error> {
        let (subject, to) = self.hub.subject_of(to)?;
        let payload = serde_json::to_vec(args).map_err(|e| Error::Encode(e.to_string()))?;
        let (token, reply) = {
            let mut st = self.hub.st.borrow_mut();
            let t = st.next_token;
            st.next_token += 1;
            // Until connected the inbox is not known: the reply subject
            // is `?TOKEN`, completed when the connection is made (before
            // anything is sent). Built in place, without copying the
            // inbox first.
            let mut reply = String::with_capacity(st.inbox.len() + 21);
            if st.inbox.is_empty() {
                reply.push('?');
            } else {
                reply.push_str(&st.inbox);
                reply.push('.');
            }
            push_u64(&mut reply, t);
            (t, reply)
        };
        if let Err(error) = self
            .hub
            .enqueue(subject, Some(reply), None, payload.into(), None)
        {
            ctx.yield_event(
                rsvp,
                CallReply::<R> {
                    to,
                    from: None,
                    result: Err(error),
                },
            );
            return Ok(());
        }
        let slot = Rc::new(CallSlot::default());
        self.hub.st.borrow_mut().calls.insert(token, slot.clone());
        let guard = CallGuard {
            hub: Rc::downgrade(&self.hub),
            token,
        };
        let mut sleep = ctx.sleep(timeout);
        ctx.spawn_future(rsvp, async move {
            let _guard = guard;
            let answer = poll_fn(|cx| {
                if let Some(r) = slot.answer.borrow_mut().take() {
                    return Poll::Ready(Some(r));
                }
                if Pin::new(&mut sleep).poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                *slot.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            let (from, result) = match answer {
                None => (None, Err(Error::Timeout(timeout))),
                Some(Err(e)) => (None, Err(e)),
                Some(Ok(m)) => {
                    let from = header_str(&m, KERNEL_HEADER);
                    let result = if m.status == Some(StatusCode::NO_RESPONDERS) {
                        Err(Error::NoResponders(to.to_string()))
                    } else if header_str(&m, ERROR_HEADER).is_some() {
                        Err(Error::Remote(
                            String::from_utf8_lossy(&m.payload).into_owned(),
                        ))
                    } else {
                        serde_json::from_slice::<R>(&m.payload)
                            .map_err(|e| Error::Decode(e.to_string()))
                    };
                    (from, result)
                }
            };
            CallReply { to, from, result }
        });
        Ok(())
    }

    /// Publish the running session: from now on, the events of `p` sent
    /// to `THIS-KERNEL/alias/event` or `*/alias/event` come to it. The
    /// session is held alive while published (the bus is one of its event
    /// sources); the publication ends when it stops, whatever the reason,
    /// or calls [`Ikc::unpublish`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a bad alias or event name,
    /// [`Error::AlreadyPublished`] if another live publication of this
    /// kernel has the alias, [`Error::Shutdown`] after shutdown.
    pub fn publish<H: 'static>(&self, ctx: &mut Ctx<'_, H>, p: Publish) -> Result<(), Error> {
        check_name("alias", &p.alias)?;
        for (e, _) in &p.events {
            check_name("event", e)?;
        }
        if let Some(r) = &p.ready {
            check_name("event", r)?;
        }
        let hub_session = {
            let st = self.hub.st.borrow();
            if st.phase == Phase::Shut {
                return Err(Error::Shutdown);
            }
            if st.pubs.get(&p.alias).is_some_and(|old| !old.dead.get()) {
                return Err(Error::AlreadyPublished(p.alias));
            }
            st.session
        };
        let n = p.events.len();
        let publication = Rc::new(Pub {
            alias: Rc::from(p.alias.as_str()),
            session: ctx.id(),
            events: p
                .events
                .into_iter()
                .map(|(n, d)| (Rc::from(n), d))
                .collect(),
            ids: RefCell::new(Vec::new()),
            ready: p.ready,
            dead: Cell::new(false),
            started: Cell::new(false),
            subscribed: Cell::new(0),
            wakers: RefCell::new(vec![None; n * 2 + 1]),
        });
        self.hub
            .st
            .borrow_mut()
            .pubs
            .insert(p.alias, publication.clone());
        ctx.spawn_future(
            "_ikc_unpublished",
            Lease {
                publication: publication.clone(),
            },
        );
        if let Some(hub) = hub_session {
            // Subscribes now if connected, else when connected.
            let _ = ctx.post(hub, "_publish", ());
        }
        Ok(())
    }

    /// End the publication of `alias` made by the running session: its
    /// subjects are unsubscribed and the session no longer held alive by
    /// it. Returns false if the session has no such publication.
    pub fn unpublish<H: 'static>(&self, ctx: &mut Ctx<'_, H>, alias: &str) -> bool {
        let me = ctx.id();
        let found = {
            let mut st = self.hub.st.borrow_mut();
            match st.pubs.get(alias) {
                Some(p) if p.session == me && !p.dead.get() => st.pubs.remove(alias),
                _ => None,
            }
        };
        match found {
            Some(p) => {
                p.kill();
                true
            }
            None => false,
        }
    }

    /// Send the running session `event` with a [`BusEvent`] argument
    /// whenever the bus connects, disconnects, reconnects or reports a
    /// problem (POE::Component::IKC's monitor of the connection). A
    /// session that is gone is forgotten.
    pub fn monitor<H: 'static>(&self, ctx: &mut Ctx<'_, H>, event: &str) {
        let me = ctx.id();
        let mut st = self.hub.st.borrow_mut();
        st.monitors.retain(|(s, _)| *s != me);
        st.monitors.push((me, event.to_string()));
    }

    /// Stop monitoring for the running session.
    pub fn unmonitor<H: 'static>(&self, ctx: &mut Ctx<'_, H>) {
        let me = ctx.id();
        self.hub.st.borrow_mut().monitors.retain(|(s, _)| *s != me);
    }

    /// Leave the bus: what is queued is handed to the client and flushed
    /// (for at most [`SHUTDOWN_GRACE`]: while the bus is down, what is
    /// left then is dropped), publications end, calls still waiting get
    /// [`Error::Shutdown`], monitors get [`BusEvent::Closed`], and the IKC
    /// session ends.
    pub fn shutdown<H: 'static>(&self, ctx: &mut Ctx<'_, H>) {
        if let Some(hub) = self.hub.hub_session() {
            let _ = ctx.post(hub, "_shutdown", ());
        }
    }
}

/// Fail everything that waits, end publications (shutdown or a failed
/// first connection).
fn close(hub: &Hub, error: Error) {
    let (calls, pubs, outbound) = {
        let mut st = hub.st.borrow_mut();
        st.phase = Phase::Shut;
        st.client = None;
        st.sender = None;
        st.in_flight = None;
        let calls: Vec<Rc<CallSlot>> = st.calls.drain().map(|(_, s)| s).collect();
        let pubs: Vec<Rc<Pub>> = std::mem::take(&mut st.pubs).into_values().collect();
        let outbound: Vec<Outbound> = st.outbound.drain(..).collect();
        st.outbound_bytes = 0;
        // The bell is a postback, which holds the IKC session alive.
        st.bell = None;
        st.arrivals.clear();
        st.room.clear();
        (calls, pubs, outbound)
    };
    for c in calls {
        c.fill(Err(error.clone()));
    }
    for p in pubs {
        p.kill();
    }
    drop(outbound);
}

fn tell_monitors(ctx: &mut Ctx<'_, HubHeap>, ev: &BusEvent) {
    let monitors = ctx.heap().hub.st.borrow().monitors.clone();
    let mut gone = Vec::new();
    for (s, event) in monitors {
        if ctx.post(s, event.as_str(), ev.clone()).is_err() {
            gone.push(s);
        }
    }
    if !gone.is_empty() {
        ctx.heap()
            .hub
            .st
            .borrow_mut()
            .monitors
            .retain(|(s, _)| !gone.contains(s));
    }
}

fn hub_start(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    {
        let mut st = hub.st.borrow_mut();
        if st.session.is_some() {
            tracing_free_warn(
                "rpoe-ikc: Ikc::session() spawned twice; the second one does nothing",
            );
            return;
        }
        st.session = Some(ctx.id());
        st.phase = Phase::Connecting;
    }
    // The subscription tasks ring this when they hand over messages.
    let bell = ctx.postback("_in", ());
    hub.st.borrow_mut().bell = Some(bell);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let options = hub.cfg.client_options(tx);
    let servers = hub.cfg.servers.clone();
    let t = ctx.spawn_future("_bus", bus_events(rx));
    ctx.heap().bus = Some(t);
    ctx.spawn_future("_connected", async move {
        options.connect(servers).await.map_err(|e| e.to_string())
    });
}

async fn bus_events(
    mut rx: tokio::sync::mpsc::Receiver<async_nats::Event>,
) -> (
    tokio::sync::mpsc::Receiver<async_nats::Event>,
    Option<async_nats::Event>,
) {
    let ev = rx.recv().await;
    (rx, ev)
}

fn tracing_free_warn(msg: &str) {
    eprintln!("{msg}");
}

fn hub_connected(ctx: &mut Ctx<'_, HubHeap>) {
    let Ok(r) = ctx.take_arg::<Result<Client, String>>() else {
        return;
    };
    let hub = ctx.heap().hub.clone();
    match r {
        Ok(client) => {
            if hub.st.borrow().phase == Phase::Shut {
                return;
            }
            let inbox = client.new_inbox();
            {
                let mut st = hub.st.borrow_mut();
                st.inbox = inbox.clone();
                st.max_payload = Some(client.server_info().max_payload).filter(|m| *m > 0);
                st.client = Some(client.clone());
                st.sender = Some(Rc::new(client.clone()));
                st.phase = Phase::Up;
                // Calls queued before the inbox existed get their reply
                // subjects now.
                for o in st.outbound.iter_mut() {
                    if let Some(r) = &mut o.reply {
                        if let Some(token) = r.strip_prefix('?') {
                            *r = format!("{inbox}.{token}");
                        }
                    }
                }
            }
            let t = ctx.spawn_future(
                "_pump_end",
                pump(
                    hub.clone(),
                    client,
                    Rc::new(Route::Replies),
                    format!("{inbox}.*"),
                ),
            );
            ctx.heap().replies = Some(t);
        }
        Err(e) => {
            close(&hub, Error::Connect(e.clone()));
            tell_monitors(ctx, &BusEvent::ConnectFailed(e));
            cancel_tasks(ctx);
        }
    }
}

fn cancel_tasks(ctx: &mut Ctx<'_, HubHeap>) {
    let h = ctx.heap();
    let tasks = [h.bus.take(), h.replies.take(), h.drainer.take()];
    for t in tasks.into_iter().flatten() {
        ctx.task_cancel(t);
    }
}

fn hub_bus(ctx: &mut Ctx<'_, HubHeap>) {
    type Rx = tokio::sync::mpsc::Receiver<async_nats::Event>;
    let Ok((rx, ev)) = ctx.take_arg::<(Rx, Option<async_nats::Event>)>() else {
        return;
    };
    let Some(ev) = ev else {
        return;
    };
    let hub = ctx.heap().hub.clone();
    if hub.st.borrow().phase == Phase::Shut {
        return;
    }
    let t = ctx.spawn_future("_bus", bus_events(rx));
    ctx.heap().bus = Some(t);
    let bus = {
        let mut st = hub.st.borrow_mut();
        match ev {
            async_nats::Event::Connected => {
                st.phase = Phase::Up;
                if std::mem::replace(&mut st.ever_connected, true) {
                    st.stats.reconnects += 1;
                    BusEvent::Reconnected
                } else {
                    BusEvent::Connected
                }
            }
            async_nats::Event::Disconnected => {
                st.phase = Phase::Down;
                BusEvent::Disconnected
            }
            async_nats::Event::SlowConsumer(sid) => {
                st.stats.slow_consumer += 1;
                BusEvent::SlowConsumer(sid)
            }
            async_nats::Event::LameDuckMode => BusEvent::LameDuck,
            async_nats::Event::Closed => BusEvent::Closed,
            other => BusEvent::Error(other.to_string()),
        }
    };
    tell_monitors(ctx, &bus);
}

/// Start the subscriptions of publications that have none yet.
fn start_pubs(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    let (client, todo) = {
        let mut st = hub.st.borrow_mut();
        if !st.ready {
            return;
        }
        let Some(client) = st.client.clone() else {
            return;
        };
        st.pubs.retain(|_, p| !p.dead.get());
        let todo: Vec<Rc<Pub>> = st
            .pubs
            .values()
            .filter(|p| !p.started.replace(true))
            .cloned()
            .collect();
        (client, todo)
    };
    let prefix = hub.cfg.prefix.clone();
    for p in todo {
        let ids: Vec<rpoe::EventId> = p.events.iter().map(|(e, _)| ctx.event_id(e)).collect();
        *p.ids.borrow_mut() = ids;
        for (i, (event, _)) in p.events.iter().enumerate() {
            for any in [false, true] {
                let kernel = if any {
                    address::ANY_TOKEN
                } else {
                    hub.cfg.kernel.as_str()
                };
                // The last token names the sender.
                let subject = format!("{prefix}.{kernel}.{}.{event}.*", p.alias);
                let route = Rc::new(Route::Pub(p.clone(), i, any));
                ctx.spawn_future(
                    "_pump_end",
                    pump(hub.clone(), client.clone(), route, subject),
                );
            }
        }
        if p.events.is_empty() {
            if let Some(r) = &p.ready {
                let _ = ctx.post(p.session, r.as_str(), p.alias.clone());
            }
        }
    }
}

fn hub_publish(ctx: &mut Ctx<'_, HubHeap>) {
    start_pubs(ctx);
}

/// The bell: take a bounded number of arrivals and deliver them.
fn hub_in(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    let cap = hub.inbox_cap();
    let (items, room, shut) = {
        let mut st = hub.st.borrow_mut();
        // This round's share, taken one by one below (no copy into a
        // vector of its own).
        let n = st.arrivals.len().min(cap);
        let room = std::mem::take(&mut st.room);
        (n, room, st.phase == Phase::Shut)
    };
    for w in room {
        w.wake();
    }
    if shut {
        let mut st = hub.st.borrow_mut();
        st.arrivals.clear();
        st.rung = false;
        return;
    }
    let mut delivered = 0;
    let mut decode_errors = 0;
    for _ in 0..items {
        let Some(a) = hub.st.borrow_mut().arrivals.pop_front() else {
            break;
        };
        match a {
            Arrival::Subscribed(route) => subscribed(ctx, &hub, &route),
            Arrival::Failed(route, e) => match &*route {
                Route::Replies => tell_monitors(ctx, &BusEvent::Error(format!("reply inbox: {e}"))),
                Route::Pub(p, idx, _) => {
                    let _ = ctx.post(
                        p.session,
                        hub.cfg.error_event.as_str(),
                        Failed {
                            to: format!("{}/{}", p.alias, p.events[*idx].0),
                            error: Error::Nats(e),
                        },
                    );
                }
            },
            Arrival::Message(route, m) => match &*route {
                // Never: answers go to their calls from the pump.
                Route::Replies => {}
                Route::Pub(p, idx, any) => {
                    if p.dead.get() {
                        refuse_call(&hub, p, *idx, &m);
                        continue;
                    }
                    match deliver(ctx, &hub, p, *idx, *any, m) {
                        Ok(()) => delivered += 1,
                        Err(DeliverError::Decode(why, reply)) => {
                            decode_errors += 1;
                            if let Some(mut r) = reply {
                                r.done = true;
                                let _ = hub.answer_error(
                                    &r.subject,
                                    &format!("cannot deserialise the arguments: {why}"),
                                );
                            }
                            let _ = ctx.post(
                                p.session,
                                hub.cfg.error_event.as_str(),
                                Failed {
                                    to: format!("{}/{}", p.alias, p.events[*idx].0),
                                    error: Error::Decode(why),
                                },
                            );
                        }
                        Err(DeliverError::Gone) => {
                            // The session stopped (its lease is being
                            // dropped); a call among these was answered
                            // by its ReplyTo's drop.
                            p.kill();
                        }
                    }
                }
            },
        }
    }
    let mut st = hub.st.borrow_mut();
    st.stats.delivered += delivered;
    st.stats.decode_errors += decode_errors;
    st.pubs.retain(|_, p| !p.dead.get());
    if st.arrivals.is_empty() {
        st.rung = false;
    } else {
        drop(st);
        // More than one round's worth: go on next round, after the
        // kernel's other events.
        ctx.yield_event("_in", ());
    }
}

/// Hand an answer to the call waiting for it (its token is the last
/// token of the reply subject); an answer after the call ended is
/// dropped.
fn answer_call(hub: &Hub, m: Message) {
    let token = m
        .subject
        .as_str()
        .rsplit('.')
        .next()
        .and_then(|t| t.parse::<u64>().ok());
    let slot = token.and_then(|t| hub.st.borrow_mut().calls.remove(&t));
    if let Some(slot) = slot {
        slot.fill(Ok(m));
    }
}

/// A subscription is in place.
fn subscribed(ctx: &mut Ctx<'_, HubHeap>, hub: &Rc<Hub>, route: &Route) {
    match route {
        Route::Replies => {
            // Replies can arrive: let outgoing messages go.
            let client = {
                let mut st = hub.st.borrow_mut();
                st.ready = true;
                st.client.clone()
            };
            if let Some(client) = client {
                let t = ctx.spawn_future("_drained", drain(hub.clone(), client));
                ctx.heap().drainer = Some(t);
            }
            start_pubs(ctx);
        }
        Route::Pub(p, _, _) => {
            let n = p.subscribed.get() + 1;
            p.subscribed.set(n);
            if n == p.events.len() * 2 {
                if let Some(r) = &p.ready {
                    let _ = ctx.post(p.session, r.as_str(), p.alias.to_string());
                }
            }
        }
    }
}

/// Decode a message for event `idx` of `p` and post it to the session.
fn deliver(
    ctx: &mut Ctx<'_, HubHeap>,
    hub: &Rc<Hub>,
    p: &Pub,
    idx: usize,
    any: bool,
    m: Inbound,
) -> Result<(), DeliverError> {
    let reply = m.reply.map(|subject| ReplyTo {
        subject,
        hub: Rc::downgrade(hub),
        done: false,
    });
    let sender = m.subject.as_str().rsplit('.').next().unwrap_or("");
    let from = {
        let mut st = hub.st.borrow_mut();
        match &st.last_from {
            Some(f) if &**f == sender => f.clone(),
            _ => {
                let f: Rc<str> = Rc::from(sender);
                st.last_from = Some(f.clone());
                f
            }
        }
    };
    let Some(id) = p.ids.borrow().get(idx).copied() else {
        return Err(DeliverError::Gone);
    };
    let meta = Meta {
        target: p.session,
        id,
        from,
        alias: p.alias.clone(),
        event: p.events[idx].0.clone(),
        via_any: any,
        reply,
    };
    (p.events[idx].1)(ctx, meta, &m.payload)
}

/// Answer a call that reached a publication after it ended (before the
/// server saw its unsubscription) with an error.
fn refuse_call(hub: &Hub, p: &Pub, idx: usize, m: &Inbound) {
    if let Some(r) = &m.reply {
        let _ = hub.answer_error(
            r,
            &format!("{}/{} is no longer published", p.alias, p.events[idx].0),
        );
    }
}

fn hub_drained(ctx: &mut Ctx<'_, HubHeap>) {
    let Ok(out) = ctx.take_arg::<DrainOut>() else {
        return;
    };
    let hub = ctx.heap().hub.clone();
    match out {
        DrainOut::Failed(origin, error) => {
            if let Some(o) = origin {
                let _ = ctx.post(
                    o.session,
                    hub.cfg.error_event.as_str(),
                    Failed {
                        to: o.to.to_string(),
                        error,
                    },
                );
            }
            let client = hub.st.borrow().client.clone();
            if let Some(client) = client {
                let t = ctx.spawn_future("_drained", drain(hub.clone(), client));
                ctx.heap().drainer = Some(t);
            }
        }
        DrainOut::Done => {
            close(&hub, Error::Shutdown);
            tell_monitors(ctx, &BusEvent::Closed);
            cancel_tasks(ctx);
        }
    }
}

fn hub_shutdown(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    let draining = {
        let mut st = hub.st.borrow_mut();
        if st.phase == Phase::Shut {
            return;
        }
        let draining = st.ready;
        st.phase = Phase::Shut;
        if let Some(w) = st.drainer_waker.take() {
            drop(st);
            w.wake();
        }
        draining
    };
    if !draining {
        close(&hub, Error::Shutdown);
        tell_monitors(ctx, &BusEvent::Closed);
        cancel_tasks(ctx);
    } else {
        // End publications and calls now; the drainer sends what is
        // queued, flushes, and its `_drained` closes the rest.
        let (calls, pubs) = {
            let mut st = hub.st.borrow_mut();
            let calls: Vec<Rc<CallSlot>> = st.calls.drain().map(|(_, s)| s).collect();
            let pubs: Vec<Rc<Pub>> = std::mem::take(&mut st.pubs).into_values().collect();
            (calls, pubs)
        };
        for c in calls {
            c.fill(Err(Error::Shutdown));
        }
        for p in pubs {
            p.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages cut from the shared output buffer stay intact while
    /// later ones are written, across its blocks, and a value that fails
    /// to serialise leaves nothing behind for the next message.
    #[test]
    fn encoded_posts_are_independent_across_blocks_and_failures() {
        let ikc = Ikc::new(Config::new("k", "nats://127.0.0.1:4222")).unwrap();
        let hub = &ikc.hub;
        let mut kept = Vec::new();
        for i in 0..2_000u64 {
            let text = "x".repeat((i % 700) as usize);
            kept.push((i, text.clone(), hub.encode(&(i, text)).unwrap()));
            if i % 97 == 0 {
                // A map with non-string keys does not serialise to JSON,
                // after part of it was written.
                let bad: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
                assert!(matches!(hub.encode(&bad), Err(Error::Encode(_))));
            }
        }
        let big = "y".repeat(3 * OUT_BUF_BLOCK);
        let b = hub.encode(&big).unwrap();
        assert_eq!(serde_json::from_slice::<String>(&b).unwrap(), big);
        for (i, text, bytes) in kept {
            let back: (u64, String) = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, (i, text));
        }
    }
}
