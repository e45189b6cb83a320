//! The tutorial's last stage: the echo server as a component
//! (POE::Component::Server::TCP). Same protocol and policies as
//! `rpoe-echo`: 64 KiB lines, backpressure at 64/16 KiB, EOF flush,
//! connection cap, EMFILE pause — all ServerTcp defaults.
//!
//! Run: `cargo run --example component_server -- [PORT]` (else `$PORT`,
//! else 12345); `$BIND` picks the address, `$MAX_CONNECTIONS` the cap.

use rpoe::component::ServerTcp;
use rpoe::filter::{Bytes, Line};
use rpoe::Kernel;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args().nth(1).or(std::env::var("PORT").ok());
    let port: u16 = port.as_deref().unwrap_or("12345").parse()?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "0.0.0.0".into());
    let addr = format!("{bind}:{port}").parse()?;

    let mut kernel = Kernel::new()?;
    // `.bytes()`: each line a slice of one buffer per read, not a Vec.
    let lines = Line::literal(b"\n").max_length(64 * 1024).bytes();
    let mut server = ServerTcp::new(addr, lines).on_input(|ctx, line: Bytes| {
        let _ = ctx.heap().put(&line);
    });
    if let Some(n) = std::env::var("MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        server = server.max_clients(n); // the tests lift the cap to reach EMFILE
    }
    let server = server.spawn(&mut kernel)?;
    for a in &server.addrs {
        println!("listening on {a}");
    }
    kernel.run()?;
    Ok(())
}
