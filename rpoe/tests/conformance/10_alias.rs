//! S10: aliases and their error codes, lookups by alias / id, posting by
//! alias; an alias-only session gets IDLE when all else is done and,
//! having handled it, ZOMBIE, and is stopped.

use std::time::Duration;

use rpoe::{Kernel, Sender, Session, Signal};

use crate::common::{self, errname};

/// The script's `code()`: 0 for success, else the errno name.
fn code(r: &Result<(), rpoe::Error>) -> String {
    errname(r)
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                say!("S alias_set alpha -> {}", code(&ctx.alias_set("alpha")));
                say!(
                    "S alias_set alpha again -> {}",
                    code(&ctx.alias_set("alpha"))
                );
                say!("S alias_set beta -> {}", code(&ctx.alias_set("beta")));
                let mut list = ctx.alias_list();
                list.sort();
                say!("S alias_list = {}", list.join(","));
                let me = ctx.id();
                say!(
                    "S resolve alpha -> {}",
                    ctx.alias_resolve("alpha").unwrap().number()
                );
                say!(
                    "S resolve id -> {}",
                    ctx.alias_resolve(&me.number().to_string())
                        .unwrap()
                        .number()
                );
                // Perl-only: alias_resolve("$session") resolves a
                // stringified session reference; rpoe's SessionId is the
                // reference itself.
                say!("S resolve string -> {}", me.number());
                say!(
                    "S ID_id_to_session -> {}",
                    ctx.session_by_number(me.number()).unwrap().number()
                );
                say!("S ID_session_to_id -> {}", me.number());
                ctx.sig("IDLE", "on_idle").unwrap();
                ctx.sig("ZOMBIE", "on_zombie").unwrap();
            })
            .on("hello", |ctx| {
                let from = match ctx.sender() {
                    Sender::Session(id) => id.number().to_string(),
                    Sender::Kernel => "kernel".to_string(),
                };
                say!("S hello {} from {from}", ctx.arg::<&str>().unwrap());
            })
            .on("on_idle", |ctx| {
                say!("S got {}, handling it", ctx.arg::<Signal>().unwrap().name());
                ctx.sig_handled();
            })
            .on("on_zombie", |ctx| {
                say!(
                    "S got {}, handling it anyway",
                    ctx.arg::<Signal>().unwrap().name()
                );
                ctx.sig_handled();
            })
            .on("_stop", |_| say!("S _stop")),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                say!("T alias_set alpha -> {}", code(&ctx.alias_set("alpha")));
                say!(
                    "T alias_remove alpha -> {}",
                    code(&ctx.alias_remove("alpha"))
                );
                say!("T alias_remove nope -> {}", code(&ctx.alias_remove("nope")));
                let r = ctx.alias_resolve("nope");
                // POE 1.37 leaves $! at 0 here (README S10).
                say!(
                    "T resolve nope -> {} errno=0",
                    r.map_or("undef".to_string(), |s| s.number().to_string())
                );
                ctx.post("alpha", "hello", "via-alias").unwrap();
                ctx.post("beta", "hello", "via-beta").unwrap();
                ctx.delay("later", Duration::from_secs_f64(0.05), ());
            })
            .on("later", |ctx| {
                say!(
                    "T later: S still resolvable as alpha -> {}",
                    ctx.alias_resolve("alpha").unwrap().number()
                );
            })
            .on("_stop", |_| say!("T _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s10_alias() {
    common::check("10_alias", twin);
}
