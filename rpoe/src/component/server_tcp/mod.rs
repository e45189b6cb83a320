//! [`ServerTcp`]: a TCP server as one listening session plus one session
//! per connection, each with a [`ReadWrite`](crate::wheel::ReadWrite) wheel (POE's
//! `POE::Component::Server::TCP`).
//!
//! The callbacks run in the connection's session, whose heap is a
//! [`Client`]: the wheel, the peer's address and your own per-connection
//! state. The server applies the policies a deployed server needs:
//!
//! * a client that sends more than [`ServerTcp::max_input`] bytes
//!   (default [`DEFAULT_MAX_INPUT`](super::DEFAULT_MAX_INPUT), 64 KiB)
//!   without completing a record, or breaks the filter's own limits
//!   (e.g. [`crate::filter::Line::max_length`]), has its connection
//!   closed, after the records before it;
//! * backpressure: a client whose pending output is above the high mark
//!   is not read from until it drains to the low mark;
//! * at end of file (or an error) the connection closes once its output
//!   is written;
//! * beyond the connection limit new connections are closed at once;
//! * out of file descriptors, accepting pauses briefly instead of spinning;
//! * a callback that panics (or a handler added with [`ServerTcp::on`]
//!   that fails) costs only its own connection: see [below](#a-failing-handler).
//!
//! Those policies are the reason to use the component rather than copy a
//! wheels server: each is a few lines that are easy to forget, and a
//! server missing one fails only under load or under attack.
//!
//! # A failing handler
//!
//! In POE a `die` in a handler becomes a DIE signal; if nobody handles
//! it, every session it reaches is stopped and `run` rethrows the error.
//! For a server that would mean one client whose line trips a bug
//! (a panic in `on_input`, say) takes the listener and every other
//! connection down with it — a one-line denial of service. So each
//! connection session watches DIE, as a POE program would with
//! `sig(DIE => ...)` and `sig_handled`: when one of *its own* handlers
//! failed, the connection is closed at once — output still pending is
//! discarded, since the handler stopped half-way and what it put may be
//! incomplete (what it put before failing may already be written: the
//! wheel writes when a handler returns, failed or not) — records the
//! wheel still had for `on_input` are dropped,
//! `on_disconnected` runs, the failure is logged at `error` level
//! (target `rpoe::server_tcp`) and counted in
//! [`ServerTcpInfo::handler_failures`], and the server goes on serving
//! the other connections and accepting new ones. A DIE that started in
//! another session (the listener, a parent) is left alone. Not covered:
//! a failure in `_stop` (hence in an `on_disconnected` run from it),
//! which the kernel reports from `run`, and one in the
//! [`state`](ServerTcp::state) factory, which runs in the listener's
//! session when a connection is accepted.

// One file a job: the builder the user configures, what `spawn` hands
// back, the listening session, and the connection's heap and session.
mod builder;
mod client;
mod connection;
mod info;
mod listener;

pub use builder::ServerTcp;
pub use client::Client;
pub use info::ServerTcpInfo;
pub use listener::ServerListener;

use std::rc::Rc;

use crate::kernel::Ctx;
use crate::wheel::WheelError;

// The connection callbacks, as the builder stores them and the connection
// sessions call them.
type Input<R, U> = Rc<dyn Fn(&mut Ctx<'_, Client<R, U>>, R)>;
type Hook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Client<R, U>>)>;
type ErrorHook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Client<R, U>>, &WheelError)>;
