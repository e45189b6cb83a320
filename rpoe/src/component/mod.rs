//! Components: ready-made sessions built from wheels (POE's
//! `POE::Component::*`).
//!
//! Why: a TCP server written with wheels (`examples/wheels_server.rs`)
//! is still mostly the same code in every program — accept, one wheel per
//! connection, close on end of file, limits, backpressure. A component
//! packages such a session (or family of sessions) behind a builder with
//! callbacks, so the program supplies only what is its own: what to do
//! with a record. It is the last stage of POE's tutorial, where the whole
//! echo server shrinks to a few lines (`examples/component_server.rs`).
//!
//! | component | POE | sessions |
//! |---|---|---|
//! | [`ServerTcp`] | `POE::Component::Server::TCP` | one listener, plus one per connection (heap: [`Client`]) |
//! | [`ClientTcp`] | `POE::Component::Client::TCP` | one, across reconnections (heap: [`Connection`]) |
//!
//! The callbacks run inside the component's sessions, with their `ctx`:
//! they may post, set timers, spawn, and reach the connection through the
//! heap.
//!
//! Both components bound what a peer can make them hold: unframed input
//! to [`DEFAULT_MAX_INPUT`] (64 KiB) per connection whatever the filter
//! allows, pending output by watermarks. Change the first with
//! `max_input`.
//!
//! ```
//! use rpoe::component::{ClientTcp, ServerTcp};
//! use rpoe::filter::Line;
//! use rpoe::Kernel;
//!
//! let mut kernel = Kernel::new().unwrap();
//! // An echo server on a free port ...
//! let server = ServerTcp::new("127.0.0.1:0".parse().unwrap(), Line::literal("\n"))
//!     .alias("echo")
//!     .on_input(|ctx, line: Vec<u8>| {
//!         let _ = ctx.heap().put(&line);
//!     })
//!     .spawn(&mut kernel)
//!     .unwrap();
//! // ... and a client of it, which stops both once it has its answer.
//! ClientTcp::new(server.addrs[0], Line::literal("\n"))
//!     .on_connected(|ctx| {
//!         let _ = ctx.heap().put(&b"hello".to_vec());
//!     })
//!     .on_input(|ctx, line: Vec<u8>| {
//!         assert_eq!(line, b"hello");
//!         ctx.heap().shutdown(); // close once the output is written
//!         ctx.post("echo", "shutdown", ()).unwrap(); // stop listening
//!     })
//!     .spawn(&mut kernel);
//! kernel.run().unwrap(); // returns once every session is done
//! ```

pub mod client_tcp;
pub mod server_tcp;

/// The most input a component's connection holds without completing a
/// record, by default: 64 KiB (set with [`ServerTcp::max_input`] and
/// [`ClientTcp::max_input`]).
///
/// Why a component default and not only the filter's: the filter is the
/// caller's, and POE's [`Line`](crate::filter::Line) defaults
/// (64 MiB lines, 512 MiB buffer) are far too generous for a network
/// peer — four clients each sending 60 MiB without a newline made a
/// `ServerTcp` with `Line::literal(b"\n")` hold 250 MB. With this cap a
/// peer that never ends its record costs at most 64 KiB plus one read
/// (64 KiB), then its connection is closed (after the records it
/// completed before). For a `Line` filter this is a 64 KiB line limit
/// (terminator not counted); a protocol with bigger records (large
/// [`Block`](crate::filter::Block)s, serialized
/// [`Reference`](crate::filter::Reference) values) raises it.
pub const DEFAULT_MAX_INPUT: usize = 64 * 1024;

pub use client_tcp::{Backoff, ClientTcp, Connection};
pub use server_tcp::{Client, ServerListener, ServerTcp, ServerTcpInfo};
