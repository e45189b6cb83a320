//! Creating the listening sockets.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections the OS may queue per listener.
const BACKLOG: i32 = 1024;

/// Bind every requested address, or by default all IPv4 and all IPv6
/// interfaces (an IPv6 failure is then only a warning: the host may lack
/// IPv6). Explicit addresses that fail are errors.
pub fn bind_all(addrs: &[IpAddr], port: u16, reuse_port: bool) -> io::Result<Vec<TcpListener>> {
    if addrs.is_empty() {
        let v4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
        let mut out = vec![bind_one(v4, reuse_port)?];
        match bind_one(
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
            reuse_port,
        ) {
            Ok(l) => out.push(l),
            Err(e) => tracing::warn!(error = %e, "not listening on IPv6 ([::]:{port})"),
        }
        return Ok(out);
    }
    addrs
        .iter()
        .map(|ip| {
            let addr = SocketAddr::new(*ip, port);
            bind_one(addr, reuse_port).map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))
        })
        .collect()
}

/// More listeners on exactly these addresses (ports included), for further
/// workers sharing them through SO_REUSEPORT.
pub fn bind_again(addrs: &[SocketAddr]) -> io::Result<Vec<TcpListener>> {
    addrs.iter().map(|a| bind_one(*a, true)).collect()
}

/// A non-blocking listener with SO_REUSEADDR (and SO_REUSEPORT for
/// several workers), IPv6 sockets v6-only so the IPv4 and IPv6 wildcards
/// can share a port.
fn bind_one(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}
