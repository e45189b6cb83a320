//! [`ClientTcp`]: a TCP client as one session that connects with a
//! [`SocketFactory`](crate::wheel::SocketFactory) and then talks through a [`ReadWrite`](crate::wheel::ReadWrite) wheel (POE's
//! `POE::Component::Client::TCP`).
//!
//! The callbacks run in the client's session, whose heap is a
//! [`Connection`]: the wheel while connected, the server's address and
//! your own state. The session:
//!
//! * connects when it starts (and again on a posted `"reconnect"`, or
//!   `"connect"` with a new [`SocketAddr`](std::net::SocketAddr));
//! * on success calls `on_connected`, then `on_input` for each record the
//!   server sends and `on_flushed` whenever its output buffer empties;
//! * on a failed connect (or one that outlasts the
//!   [connect timeout](ClientTcp::connect_timeout), errno `ETIMEDOUT`)
//!   calls `on_connect_error`;
//! * on a connection error — end of file is a `"read"` error with errno
//!   0 — calls `on_error`, closes the connection (at end of file, once its
//!   output is written) and calls `on_disconnected`;
//! * with [`ClientTcp::reconnect`] set, connects again after every failed
//!   attempt and every lost connection, waiting `initial`, then twice as
//!   long each time up to `max` (plus random jitter); the delay starts
//!   over only once a connection has lasted
//!   [`reconnect_reset_after`](ClientTcp::reconnect_reset_after)
//!   (default [`DEFAULT_RESET_AFTER`], one second) — a server that
//!   accepts and hangs up at once is not hammered;
//! * on [`Connection::shutdown`] (or a posted `"shutdown"`) stops
//!   reconnecting, closes the connection once its output is written and
//!   drops its alias, so the session ends;
//! * on a posted `"reconnect"` (or `"connect"`), as in POE, drops any
//!   connection or attempt in progress (calling `on_disconnected` if it
//!   was connected), cancels a shutdown, and connects now.
//!
//! Why a component: a client that must stay connected — to a database, a
//! chat network, an upstream service — needs the same connect, timeout,
//! back-off and reconnect logic every time, and getting the reconnect
//! loop wrong either hammers the server or gives up for good.
//!
//! ```
//! use std::time::Duration;
//! use rpoe::component::{ClientTcp, ServerTcp};
//! use rpoe::filter::Line;
//! use rpoe::Kernel;
//!
//! let mut kernel = Kernel::new().unwrap();
//! let echo = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::new())
//!     .on_input(|ctx, line: Vec<u8>| {
//!         let _ = ctx.heap().put(&line);
//!     })
//!     .spawn(&mut kernel)
//!     .unwrap();
//!
//! ClientTcp::new(echo.addrs[0], Line::new())
//!     .reconnect(Duration::from_millis(100), Duration::from_secs(5))
//!     .on_connected(|ctx| {
//!         let _ = ctx.heap().put(&b"hello".to_vec());
//!     })
//!     .on_input(move |ctx, line: Vec<u8>| {
//!         println!("server said {}", String::from_utf8_lossy(&line));
//!         ctx.heap().shutdown(); // done: close after the output is written
//!         ctx.post(echo.session, "shutdown", ()).unwrap();
//!     })
//!     .on_connect_error(|_ctx, e| eprintln!("connect failed: {}", e.message))
//!     .spawn(&mut kernel);
//! kernel.run().unwrap();
//! ```

// One file a job: the builder the user configures, the session's
// handlers, the reconnect policy, and the heap the callbacks see.
mod builder;
mod connection;
mod reconnect;
mod session;

pub use builder::ClientTcp;
pub use connection::Connection;
pub use reconnect::{Backoff, DEFAULT_RESET_AFTER};

use std::rc::Rc;

use crate::kernel::Ctx;
use crate::wheel::WheelError;

// The callbacks, as the builder stores them and the session calls them.
type Input<R, U> = Rc<dyn Fn(&mut Ctx<'_, Connection<R, U>>, R)>;
type Hook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Connection<R, U>>)>;
type ErrorHook<R, U> = Rc<dyn Fn(&mut Ctx<'_, Connection<R, U>>, &WheelError)>;

// The session's events. `reconnect`, `connect` and `shutdown` are also
// for users to post.
const EV_RECONNECT: &str = "reconnect";
/// The first connect and the backoff timer: like `reconnect`, but a
/// shutdown requested meanwhile wins.
const EV_RETRY: &str = "got_retry";
const EV_CONNECT: &str = "connect";
const EV_SHUTDOWN: &str = "shutdown";
const EV_OK: &str = "got_connect_success";
const EV_FAIL: &str = "got_connect_error";
const EV_TIMEOUT: &str = "got_connect_timeout";
const EV_INPUT: &str = "got_server_input";
const EV_ERROR: &str = "got_server_error";
const EV_FLUSHED: &str = "got_server_flush";
const EV_HIGH: &str = "got_high";
const EV_LOW: &str = "got_low";
