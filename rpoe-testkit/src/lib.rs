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
//! [`differential`] runs the same client transcripts against two servers and
//! returns what each echoed.
//!
//! Every case is a plain function that panics with a descriptive message on
//! failure; a [`Server`] dropped while panicking prints the server's stderr.

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
