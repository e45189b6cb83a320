//! Setup shared by the `rpoe-echo` integration tests: the binary, a server
//! on an ephemeral 127.0.0.1 port, `--help`, the metrics endpoint
//! ([`metrics`]) and a server whose log is read as it is written
//! ([`logged`]). One copy, so that every suite starts and reads the server
//! the same way.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod logged;
pub mod metrics;

use rpoe_testkit::{Server, ServerSpec};

/// The binary under test, built by Cargo for the integration tests.
pub const EXE: &str = env!("CARGO_BIN_EXE_rpoe-echo");

/// `rpoe-echo --bind 127.0.0.1 --port 0` plus `flags`, once listening.
pub fn echo(flags: &[&str]) -> Server {
    ServerSpec::rpoe_echo(EXE).args(flags).spawn()
}

/// `rpoe-echo --help`'s stdout; panics unless it exits 0.
pub fn help() -> String {
    let out = std::process::Command::new(EXE)
        .arg("--help")
        .output()
        .expect("run rpoe-echo --help");
    assert!(out.status.success(), "--help exited with {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}
