//! S68: what DIE says about a failure — `DieInfo::from_state`, `file` and
//! `line` give where the failed event was sent from (POE's `from_state`,
//! `file`, `line`), `panic_location` where the handler panicked (the
//! " at FILE line N." Perl's `die` appends to `error_str`). A Perl `die`
//! whose message ends in a newline has no location: its twin is an
//! `on_try` handler returning `Err`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use rpoe::{DieInfo, Kernel, Session, Signal};

use crate::common;

thread_local! {
    static AT: RefCell<BTreeMap<&'static str, u32>> = const { RefCell::new(BTreeMap::new()) };
}

fn mark(label: &'static str, line: u32) {
    AT.with(|m| m.borrow_mut().insert(label, line));
}

fn place(file: Option<&str>, line: Option<u32>) -> String {
    if file != Some(file!()) {
        return "kernel:-".to_string();
    }
    let label = AT.with(|m| {
        m.borrow()
            .iter()
            .find(|(_, l)| Some(**l) == line)
            .map(|(k, _)| (*k).to_string())
    });
    format!("here:{}", label.unwrap_or_else(|| "other".to_string()))
}

fn twin() {
    AT.with(|m| m.borrow_mut().clear());
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.sig("DIE", "on_die").unwrap();
                mark("sent_boom", line!() + 1);
                ctx.yield_event("boom", 1u8);
            })
            .on_try("boom", |ctx| {
                mark("sent_tick", line!() + 1);
                ctx.delay("tick", Duration::from_secs_f64(0.1), ());
                mark("died_boom", line!() + 1);
                if *ctx.arg::<u8>()? == 1 {
                    return Err(rpoe::Error::Invalid("boom failed".into()));
                }
                Ok(())
            })
            .on("tick", |_| {
                mark("died_tick", line!() + 1);
                panic!("tick failed");
            })
            .on("on_die", |ctx| {
                let d: DieInfo = ctx
                    .arg::<Signal>()
                    .unwrap()
                    .arg::<DieInfo>()
                    .unwrap()
                    .clone();
                let died = match &d.panic_location {
                    Some((f, l)) => place(Some(f), Some(*l)),
                    None => "none".to_string(),
                };
                // rpoe's Error::Invalid prints as "invalid: …"; the text
                // after the prefix is the handler's own.
                let err = d.message.rsplit(": ").next().unwrap_or("").to_string();
                say!(
                    "DIE in {}: from_state={} sent_from={} error={err} died_at={died}",
                    d.event,
                    d.from_state.as_deref().unwrap_or("undef"),
                    place(d.file, d.line)
                );
                ctx.sig_handled();
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s68_die_origin() {
    common::check("68_die_origin", twin);
}
