//! Black-box tests of the `wheels_server` example (ListenAccept + ReadWrite): the echo suite every staged tutorial
//! server passes at fixed defaults, including the byte-for-byte comparison
//! with the Perl POE seed. Needs the example built: plain
//! `cargo test -p rpoe` builds it.

rpoe_testkit::example_echo_suite!(rpoe_testkit::ServerSpec::example("wheels_server"));
