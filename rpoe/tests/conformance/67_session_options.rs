//! S67: session options (POE's `option()`): set at construction with
//! `Session::option`, read with `Ctx::option`, changed with
//! `Ctx::set_option`, which returns the previous value. `Default` reports
//! events with no handler and no `_default`; `Trace` every event received;
//! `Debug` a handler replaced with `state`. POE warns on STDERR; rpoe
//! reports through `tracing` (target `rpoe::session`, WARN), which this
//! twin captures into its trace, normalising file and line as the script
//! does.

use std::io::Write;

use rpoe::{Kernel, Session, SessionOption};

use crate::common;

/// A `tracing` writer that hands each report to the trace as a WARN line.
struct Reports(Vec<u8>);

impl Write for Reports {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Reports {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0).to_string();
        for line in text.lines() {
            say!("WARN: {}", normalise(line.trim()));
        }
    }
}

/// This file as "here", a line number after "at " as "N".
fn normalise(line: &str) -> String {
    let line = line.replace(file!(), "here");
    let mut out = String::new();
    let mut rest = line.as_str();
    while let Some(i) = rest.find(" at ") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

fn b01(on: bool) -> u8 {
    u8::from(on)
}

fn twin() {
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("rpoe::session=warn")
        .with_writer(|| Reports(Vec::new()))
        .without_time()
        .with_target(false)
        .with_level(false)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut kernel = Kernel::new().unwrap();
        kernel.spawn(
            Session::new(())
                .option(SessionOption::Default, true)
                .on("_start", |ctx| {
                    say!(
                        "A default at start={}",
                        b01(ctx.option(SessionOption::Default))
                    );
                    say!("A trace at start={}", b01(ctx.option(SessionOption::Trace)));
                    ctx.yield_event("nobody_home", ());
                    let me = ctx.id();
                    let r = ctx.call(me, "nor_here", ());
                    say!(
                        "A call to missing: {}",
                        if r.is_ok() { "value" } else { "undef" }
                    );
                    ctx.yield_event("quiet", ());
                })
                .on("quiet", |ctx| {
                    let was = ctx.set_option(SessionOption::Default, false);
                    say!("A option(default => 0) returned {}", b01(was));
                    ctx.yield_event("not_reported", ());
                    let was = ctx.set_option(SessionOption::Trace, true);
                    say!("A option(trace => 1) returned {}", b01(was));
                    ctx.yield_event("traced", ());
                })
                .on("traced", |ctx| {
                    say!("A traced runs");
                    let was = ctx.set_option(SessionOption::Trace, false);
                    say!("A option(trace => 0) returned {}", b01(was));
                    let was = ctx.set_option(SessionOption::Debug, true);
                    say!("A option(debug => 1) returned {}", b01(was));
                    ctx.state("traced", |_| say!("A new traced"));
                    ctx.state("fresh", |_| say!("A fresh"));
                    let was = ctx.set_option(SessionOption::Debug, false);
                    say!("A option(debug => 0) returned {}", b01(was));
                    ctx.state("traced", |_| say!("A newer traced"));
                    ctx.yield_event("traced", ());
                })
                .on("_stop", |_| say!("A _stop")),
            (),
        );
        kernel.run().unwrap();
    });
    say!("main: after run");
}

#[test]
fn s67_session_options() {
    common::check("67_session_options", twin);
}
