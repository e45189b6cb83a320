//! Components: ready-made sessions built from wheels (POE's
//! `POE::Component::*`).

pub mod client_tcp;
pub mod server_tcp;

pub use client_tcp::{Backoff, ClientTcp, Connection};
pub use server_tcp::{Client, ServerTcp, ServerTcpInfo};
