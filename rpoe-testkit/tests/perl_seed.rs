//! The well-behaved cases against the Perl POE seed (`seed/seed_server.pl`).
//! This validates the harness itself. Skips loudly when Perl POE is missing
//! (fails instead with RPOE_REQUIRE_PERL_POE=1).

use rpoe_testkit::{differential, require_or_skip_perl, well_behaved, Server, ServerSpec};

fn seed() -> Option<Server> {
    require_or_skip_perl().then(|| ServerSpec::perl_seed().spawn())
}

#[test]
fn single_line() {
    let Some(s) = seed() else { return };
    well_behaved::single_line(s.addr());
}

#[test]
fn several_lines_per_write() {
    let Some(s) = seed() else { return };
    well_behaved::several_lines_per_write(s.addr());
}

#[test]
fn line_split_byte_by_byte() {
    let Some(s) = seed() else { return };
    well_behaved::line_split_byte_by_byte(s.addr());
}

#[test]
fn crlf_and_binary() {
    let Some(s) = seed() else { return };
    well_behaved::crlf_and_binary(s.addr());
}

#[test]
fn empty_lines() {
    let Some(s) = seed() else { return };
    well_behaved::empty_lines(s.addr());
}

#[test]
fn concurrent_clients_200() {
    let Some(s) = seed() else { return };
    well_behaved::concurrent_clients(s.addr(), 200);
}

#[test]
fn standard_transcripts_echo_as_expected() {
    let Some(s) = seed() else { return };
    differential::assert_expected_echo(s.addr(), &differential::standard_transcripts());
}

#[test]
fn differential_seed_against_itself() {
    let (Some(a), Some(b)) = (seed(), seed()) else {
        return;
    };
    differential::assert_same_echo(a.addr(), b.addr(), &differential::standard_transcripts());
}

#[test]
fn server_is_killed_and_reaped_on_drop() {
    let Some(s) = seed() else { return };
    let pid = s.pid();
    assert!(s.is_alive());
    drop(s);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still exists (not killed or not reaped)"
    );
}
