//! Black-box tests of the `rpoe-echo` binary: every well-behaved case, every
//! policy case, `--help`, and a differential run against the Perl POE seed.
//! Each test starts its own server on an ephemeral 127.0.0.1 port.

mod common;

use rpoe_testkit::policy::{self, MIB};
use rpoe_testkit::{differential, io, require_or_skip_perl, well_behaved, ServerSpec};

use common::{echo, EXE};

// ---- well-behaved cases, default settings ----

#[test]
fn single_line() {
    well_behaved::single_line(echo(&[]).addr());
}

#[test]
fn several_lines_per_write() {
    well_behaved::several_lines_per_write(echo(&[]).addr());
}

#[test]
fn line_split_byte_by_byte() {
    well_behaved::line_split_byte_by_byte(echo(&[]).addr());
}

#[test]
fn crlf_and_binary() {
    well_behaved::crlf_and_binary(echo(&[]).addr());
}

#[test]
fn empty_lines() {
    well_behaved::empty_lines(echo(&[]).addr());
}

#[test]
fn concurrent_clients_200() {
    well_behaved::concurrent_clients(echo(&[]).addr(), 200);
}

#[test]
fn standard_transcripts_echo_as_expected() {
    let s = echo(&[]);
    differential::assert_expected_echo(s.addr(), &differential::standard_transcripts());
}

#[test]
fn two_bind_addresses() {
    let s = ServerSpec::new(EXE)
        .args(["--bind", "127.0.0.1", "--bind", "127.0.0.2", "--port", "0"])
        .listeners(2)
        .spawn();
    assert_eq!(s.addrs().len(), 2);
    for addr in s.addrs() {
        io::assert_echo(&io::connect(*addr), format!("via {addr}\n").as_bytes());
    }
}

#[test]
fn ipv6_and_ipv4_together() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED ipv6_and_ipv4_together: this host cannot bind [::1]");
        return;
    }
    let s = ServerSpec::new(EXE)
        .args(["--bind", "::1", "--bind", "127.0.0.1", "--port", "0"])
        .listeners(2)
        .spawn();
    assert!(s.addrs().iter().any(|a| a.is_ipv6()), "{:?}", s.addrs());
    for addr in s.addrs() {
        io::assert_echo(&io::connect(*addr), format!("via {addr}\n").as_bytes());
    }
}

// ---- policy cases ----

#[test]
fn half_close_flush() {
    policy::half_close_flush(echo(&[]).addr());
}

#[test]
fn read_after_send_everything() {
    policy::read_after_send_everything(echo(&[]).addr(), 200_000);
}

#[test]
fn non_reading_client_defaults() {
    let s = echo(&[]);
    policy::non_reading_client(&s, 32 * MIB as usize, 16 * MIB);
}

#[test]
fn non_reading_client_small_watermarks() {
    let s = echo(&["--high-water", "8192", "--low-water", "2048"]);
    policy::non_reading_client(&s, 8 * MIB as usize, 16 * MIB);
}

#[test]
fn over_long_line_defaults() {
    policy::over_long_line(echo(&[]).addr(), 65536);
}

#[test]
fn over_long_line_small_limit() {
    policy::over_long_line(echo(&["--max-line", "1024"]).addr(), 1024);
}

#[test]
fn over_long_line_20_connections() {
    let s = echo(&[]);
    policy::over_long_line_many(&s, 65536, 20, 20 * MIB);
}

#[test]
fn peer_reset_with_output_pending() {
    policy::peer_reset_with_output_pending(&echo(&[]));
}

#[test]
fn max_connections() {
    policy::max_connections(echo(&["--max-connections", "3"]).addr(), 3);
}

#[test]
fn emfile_pauses_accepting() {
    // Lift the connection cap so the process really runs out of descriptors.
    let s = ServerSpec::rpoe_echo(EXE)
        .args(["--max-connections", "100000"])
        .nofile_limit(64)
        .spawn();
    policy::emfile(&s);
}

#[test]
fn default_connection_cap_follows_descriptor_limit() {
    // 64 descriptors less the 32 kept in reserve: 32 clients at most.
    let s = ServerSpec::rpoe_echo(EXE).nofile_limit(64).spawn();
    policy::max_connections(s.addr(), 32);
}

// ---- command line ----

#[test]
fn help_exits_0_and_mentions_every_flag() {
    let text = common::help();
    for flag in [
        "--bind",
        "--port",
        "--max-line",
        "--high-water",
        "--low-water",
        "--max-connections",
        "--idle-timeout",
        "--line-timeout",
        "--send-timeout",
        "--evict-idle-after",
        "--max-buffered",
        "--linger",
        "--shutdown-timeout-ms",
    ] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}:\n{text}"
        );
    }
}

// ---- differential against the Perl POE seed ----

#[test]
fn same_echo_as_perl_seed() {
    if !require_or_skip_perl() {
        return;
    }
    let ours = echo(&[]);
    let seed = ServerSpec::perl_seed().spawn();
    differential::assert_same_echo(
        ours.addr(),
        seed.addr(),
        &differential::standard_transcripts(),
    );
}
