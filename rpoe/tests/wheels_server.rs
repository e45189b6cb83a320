//! Black-box tests of the `wheels_server` example (ListenAccept + ReadWrite): the echo suite every staged
//! tutorial server passes (fixed defaults: max line 64 KiB, high water
//! 64 KiB, low water 16 KiB), and a differential run against the Perl POE
//! seed. Needs the example built: plain `cargo test -p rpoe` builds it.

use rpoe_testkit::policy::{self, MIB};
use rpoe_testkit::{differential, require_or_skip_perl, well_behaved, Server, ServerSpec};

fn server() -> Server {
    ServerSpec::example("wheels_server").spawn()
}

// ---- well-behaved cases ----

#[test]
fn single_line() {
    well_behaved::single_line(server().addr());
}

#[test]
fn several_lines_per_write() {
    well_behaved::several_lines_per_write(server().addr());
}

#[test]
fn line_split_byte_by_byte() {
    well_behaved::line_split_byte_by_byte(server().addr());
}

#[test]
fn crlf_and_binary() {
    well_behaved::crlf_and_binary(server().addr());
}

#[test]
fn empty_lines() {
    well_behaved::empty_lines(server().addr());
}

#[test]
fn concurrent_clients_200() {
    well_behaved::concurrent_clients(server().addr(), 200);
}

#[test]
fn standard_transcripts_echo_as_expected() {
    let s = server();
    differential::assert_expected_echo(s.addr(), &differential::standard_transcripts());
}

// ---- policy cases (fixed defaults) ----

#[test]
fn half_close_flush() {
    policy::half_close_flush(server().addr());
}

#[test]
fn read_after_send_everything() {
    policy::read_after_send_everything(server().addr(), 200_000);
}

#[test]
fn non_reading_client() {
    let s = server();
    policy::non_reading_client(&s, 32 * MIB as usize, 16 * MIB);
}

#[test]
fn over_long_line() {
    policy::over_long_line(server().addr(), 65536);
}

#[test]
fn over_long_line_20_connections() {
    let s = server();
    policy::over_long_line_many(&s, 65536, 20, 20 * MIB);
}

#[test]
fn peer_reset_with_output_pending() {
    policy::peer_reset_with_output_pending(&server());
}

#[test]
fn emfile_pauses_accepting() {
    // Lift the connection cap so the process really runs out of descriptors.
    let s = ServerSpec::example("wheels_server")
        .env("MAX_CONNECTIONS", "100000")
        .nofile_limit(64)
        .spawn();
    policy::emfile(&s);
}

#[test]
fn default_connection_cap_follows_descriptor_limit() {
    // 64 descriptors less the 32 kept in reserve: 32 clients at most.
    let s = ServerSpec::example("wheels_server")
        .nofile_limit(64)
        .spawn();
    policy::max_connections(s.addr(), 32);
}

// ---- differential against the Perl POE seed ----

#[test]
fn same_echo_as_perl_seed() {
    if !require_or_skip_perl() {
        return;
    }
    let ours = server();
    let seed = ServerSpec::perl_seed().spawn();
    differential::assert_same_echo(
        ours.addr(),
        seed.addr(),
        &differential::standard_transcripts(),
    );
}
