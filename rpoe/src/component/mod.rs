//! Components: ready-made sessions built from wheels (POE's
//! `POE::Component::*`).

pub mod server_tcp;

pub use server_tcp::{Client, ServerTcp, ServerTcpInfo};
