//! Black-box integration test kit for the rpoe line-echo servers.
//!
//! Three servers speak the same line-echo protocol (every complete
//! `\n`-terminated line is sent back byte for byte; a trailing fragment is
//! never echoed):
//!
//! * the `rpoe-echo` binary ([`ServerSpec::rpoe_echo`]),
//! * the `seed_server` example of the `rpoe` crate ([`ServerSpec::seed_example`]),
//! * the Perl POE seed `seed/seed_server.pl` ([`ServerSpec::perl_seed`]).
//!
//! The kit spawns a server as a real process on an ephemeral 127.0.0.1 port
//! ([`ServerSpec`] / [`Server`]), offers socket helpers with deadlines
//! ([`io`]), reads `/proc` ([`procfs`]), and contains the test cases
//! themselves, split in two groups:
//!
//! * [`well_behaved`]: the protocol as any correct echo server, the Perl seed
//!   included, implements it;
//! * [`policy`]: the limits only the rpoe servers implement (line limit,
//!   backpressure, EOF flush, connection limit, EMFILE, peer reset).
//!
//! [`differential`](mod@differential) runs the same client transcripts against two servers and
//! returns what each echoed.
//!
//! Every case is a plain function that panics with a descriptive message on
//! failure; a [`Server`] dropped while panicking prints the server's stderr.
//!
//! # Panics
//!
//! Panicking is this crate's way of failing: every public function panics
//! when what it checks does not hold, or when the environment refuses
//! what a test needs (a port, a process, a socket timeout), with a message
//! that says which. That is why the workspace's `missing_panics_doc` lint
//! is allowed here and nowhere else: a `# Panics` section on each function
//! would say the same sentence.

#![allow(clippy::missing_panics_doc)]

pub mod differential;
pub mod io;
pub mod perl;
pub mod policy;
pub mod procfs;
pub mod server;
pub mod well_behaved;

pub use differential::{differential, run_transcript, standard_transcripts, Step, Transcript};
pub use perl::{perl_poe_available, require_or_skip_perl, REQUIRE_PERL_ENV};
pub use server::{Server, ServerSpec, Startup};

/// The echo suite every staged example server must pass at its fixed
/// defaults (max line 64 KiB, high water 64 KiB, low water 16 KiB): every
/// well-behaved and policy case, the descriptor-limit cases, and the
/// differential run against the Perl POE seed. Expands to `#[test]`
/// functions; `$spec` is an expression giving the server's [`ServerSpec`]
/// (it must honour `$MAX_CONNECTIONS`, used to reach EMFILE).
#[macro_export]
macro_rules! example_echo_suite {
    ($spec:expr) => {
        fn server() -> $crate::Server {
            $spec.spawn()
        }

        // ---- well-behaved cases ----

        #[test]
        fn single_line() {
            $crate::well_behaved::single_line(server().addr());
        }

        #[test]
        fn several_lines_per_write() {
            $crate::well_behaved::several_lines_per_write(server().addr());
        }

        #[test]
        fn line_split_byte_by_byte() {
            $crate::well_behaved::line_split_byte_by_byte(server().addr());
        }

        #[test]
        fn crlf_and_binary() {
            $crate::well_behaved::crlf_and_binary(server().addr());
        }

        #[test]
        fn empty_lines() {
            $crate::well_behaved::empty_lines(server().addr());
        }

        #[test]
        fn concurrent_clients_200() {
            $crate::well_behaved::concurrent_clients(server().addr(), 200);
        }

        #[test]
        fn standard_transcripts_echo_as_expected() {
            let s = server();
            $crate::differential::assert_expected_echo(
                s.addr(),
                &$crate::differential::standard_transcripts(),
            );
        }

        // ---- policy cases (fixed defaults) ----

        #[test]
        fn half_close_flush() {
            $crate::policy::half_close_flush(server().addr());
        }

        #[test]
        fn read_after_send_everything() {
            $crate::policy::read_after_send_everything(server().addr(), 200_000);
        }

        #[test]
        fn non_reading_client() {
            let s = server();
            $crate::policy::non_reading_client(
                &s,
                32 * $crate::policy::MIB as usize,
                16 * $crate::policy::MIB,
            );
        }

        #[test]
        fn over_long_line() {
            $crate::policy::over_long_line(server().addr(), 65536);
        }

        #[test]
        fn over_long_line_20_connections() {
            let s = server();
            $crate::policy::over_long_line_many(&s, 65536, 20, 20 * $crate::policy::MIB);
        }

        #[test]
        fn peer_reset_with_output_pending() {
            $crate::policy::peer_reset_with_output_pending(&server());
        }

        #[test]
        fn emfile_pauses_accepting() {
            // Lift the connection cap so the process really runs out of descriptors.
            let s = $spec
                .env("MAX_CONNECTIONS", "100000")
                .nofile_limit(64)
                .spawn();
            $crate::policy::emfile(&s);
        }

        #[test]
        fn default_connection_cap_follows_descriptor_limit() {
            // 64 descriptors less the 32 kept in reserve: 32 clients at most.
            let s = $spec.nofile_limit(64).spawn();
            $crate::policy::max_connections(s.addr(), 32);
        }

        // ---- differential against the Perl POE seed ----

        #[test]
        fn same_echo_as_perl_seed() {
            if !$crate::require_or_skip_perl() {
                return;
            }
            let ours = server();
            let seed = $crate::ServerSpec::perl_seed().spawn();
            $crate::differential::assert_same_echo(
                ours.addr(),
                seed.addr(),
                &$crate::differential::standard_transcripts(),
            );
        }
    };
}
