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
//!   one event per message: the messages waiting in a subscription go
//!   to the session as one [`rpoe::Ctx::call_each`] run, which saves a
//!   trip through the kernel's queue and most of a call's cost per
//!   message. A handler that fails is the kernel's to report, as for
//!   any [`rpoe::Ctx::call`]; the next messages are still delivered.
//! - **Sending:** while the bus is up and nothing waits before it, a
//!   post, call or answer goes to the client's command channel from the
//!   handler that made it. When that channel is full, it and what
//!   follows wait, in order, for a task of the IKC session to hand them
//!   over (the outgoing buffer below). A producer that posts in a loop
//!   follows that back-pressure with [`Ikc::pending`] (stop when it is
//!   above 0) and [`Ikc::notify_drained`] (an event once the buffer is
//!   empty again), and loses nothing to a full buffer.
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
//!   [`BusEvent::SlowConsumer`]. The kernel takes messages straight from
//!   those buffers, at most [`Config::batch`] per subscription and
//!   4 × [`Config::batch`] in all per round, delivering each as it takes
//!   it. So a flood cannot starve the kernel's other events, timers and
//!   I/O, and memory stays bounded (by the subscriptions' capacity and
//!   one round's events).
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
mod call;
mod config;
mod error;
mod hub;
mod ikc;
mod publish;
mod pump;
mod report;
mod session;

use std::time::Duration;

pub use address::{check_name, Address, Target, MAX_NAME};
pub use async_nats;
pub use call::CallReply;
pub use config::{Auth, Config, OptionsHook, Tls};
pub use error::Error;
pub use ikc::Ikc;
pub use publish::{Incoming, Publish, ReplyTo};
pub use report::{BusEvent, Failed, Stats};
pub use session::HubHeap;

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
