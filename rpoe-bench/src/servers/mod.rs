//! **Benchmark-only code.** Comparison echo servers for `rpoe-bench
//! compare`, run as `rpoe-bench serve-mio`, `rpoe-bench serve-tokio` and
//! `rpoe-bench serve-tokio-framed`.
//!
//! They speak the same protocol as `rpoe-echo` (every complete
//! `\n`-terminated line echoed byte for byte, in order; at EOF the complete
//! lines are echoed and the connection closed) and print `listening on
//! ADDR` once listening. They exist to measure `rpoe-echo` against: they
//! are not products, have no configuration, and serve until killed.
//!
//! - [`mio_echo`]: hand-written on mio, edge-triggered, one shared read
//!   buffer, per-connection buffers allocated only while they hold bytes —
//!   about the practical limit of one thread;
//! - [`tokio_echo`]: idiomatic tokio, a current-thread runtime with a task
//!   per connection, `read_until` into a buffered writer that is flushed
//!   when no complete line is left in the read buffer;
//! - [`tokio_framed`]: tokio's framed layer, `Framed` + `LinesCodec`, the
//!   peer of rpoe's upper layers (wheels, components).

pub mod mio_echo;
pub mod tokio_echo;
pub mod tokio_framed;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Longest unterminated line `mio_echo` carries, newline excluded (as
/// `rpoe-echo`'s default limit); beyond it the connection is closed.
pub const MAX_LINE: usize = 64 * 1024;

/// Announce the listening address on stdout, as `rpoe-echo` does.
fn announce(addr: SocketAddr) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

/// Pending connections the OS may queue, as `rpoe-echo` asks for.
const BACKLOG: i32 = 1024;

/// A non-blocking listener bound as `rpoe-echo` binds its own
/// (SO_REUSEADDR, backlog 1024), so that connection storms meet the same
/// accept queue.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The accept loop both tokio servers share, so that they differ only in
/// how a connection is served: a current-thread runtime, the listener
/// bound by [`listen`] and announced, and a task per accepted connection
/// running `client` (its result ignored: a client that fails is simply
/// gone). `name` prefixes accept errors on stderr.
fn serve_tokio<C, F>(addr: SocketAddr, name: &str, client: C) -> std::io::Result<()>
where
    C: Fn(tokio::net::TcpStream) -> F,
    F: Future + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listen(addr)?)?;
        announce(listener.local_addr()?)?;
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let served = client(stream);
                    tokio::spawn(async move {
                        let _ = served.await;
                    });
                }
                // Out of descriptors or similar; benchmarks never get here.
                Err(e) => eprintln!("{name}: accept: {e}"),
            }
        }
    })
}
