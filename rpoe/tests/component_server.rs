//! Black-box tests of the `component_server` example (ServerTcp): the echo suite every staged tutorial
//! server passes at fixed defaults, including the byte-for-byte comparison
//! with the Perl POE seed. Needs the example built: plain
//! `cargo test -p rpoe` builds it.

rpoe_testkit::example_echo_suite!(rpoe_testkit::ServerSpec::example("component_server"));
