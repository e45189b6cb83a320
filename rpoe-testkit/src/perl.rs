//! Detecting Perl POE, needed by the Perl seed server.

use std::io::Write;
use std::process::{Command, Stdio};

/// Environment variable that turns a missing Perl POE from a loud skip into a failure.
pub const REQUIRE_PERL_ENV: &str = "RPOE_REQUIRE_PERL_POE";

/// Whether `perl -MPOE -e1` succeeds (Perl with the POE module, Debian `libpoe-perl`).
pub fn perl_poe_available() -> bool {
    Command::new("perl")
        .args(["-MPOE", "-e1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Returns true when Perl POE is available. Otherwise prints a loud
/// `SKIPPED:` banner to the process's stderr (not captured by the test
/// harness) and returns false (the caller returns early), or
/// panics when `RPOE_REQUIRE_PERL_POE=1` is set.
pub fn require_or_skip_perl() -> bool {
    if perl_poe_available() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_string();
    if std::env::var(REQUIRE_PERL_ENV).as_deref() == Ok("1") {
        panic!(
            "Perl POE (libpoe-perl) not installed (`perl -MPOE -e1` fails) but \
             {REQUIRE_PERL_ENV}=1 requires it (test {test}); install with `apt-get install -y libpoe-perl`"
        );
    }
    // Straight to the process's stderr: the test harness captures `eprintln!`
    // of passing tests, and this must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n********************************************************************\n\
         SKIPPED: Perl POE (libpoe-perl) not installed: `perl -MPOE -e1` fails.\n\
         Test `{test}` did NOT run. Install with `apt-get install -y libpoe-perl`,\n\
         or set {REQUIRE_PERL_ENV}=1 to make this a failure.\n\
         ********************************************************************"
    );
    false
}
