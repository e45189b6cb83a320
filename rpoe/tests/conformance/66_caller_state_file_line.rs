//! S66: who sent an event, and from where — POE's CALLER_STATE,
//! CALLER_FILE and CALLER_LINE as `Ctx::caller_state`, `caller_file` and
//! `caller_line`. Lines are checked against a marker taken just before
//! each sending call; the file is "here" (this twin) or "kernel" (none:
//! rpoe reports no file for events the kernel sends itself, where POE
//! names its own Kernel.pm).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use rpoe::{Ctx, Kernel, Session};

use crate::common;

thread_local! {
    static AT: RefCell<HashMap<&'static str, u32>> = RefCell::new(HashMap::new());
}

fn mark(label: &'static str, line: u32) {
    AT.with(|m| m.borrow_mut().insert(label, line));
}

fn origin<H>(label: Option<&str>, ctx: &Ctx<'_, H>) -> String {
    let state = ctx.caller_state().unwrap_or("undef").to_string();
    let here = ctx.caller_file() == Some(file!());
    let file = if here { "here" } else { "kernel" };
    let marked = label.and_then(|l| AT.with(|m| m.borrow().get(l).copied()));
    let line = match (here, marked) {
        (false, _) | (true, None) => "line=-",
        (true, Some(m)) if ctx.caller_line() == Some(m) => "line=marked",
        (true, Some(_)) => "line=other",
    };
    format!("caller_state={state} file={file} {line}")
}

fn label<H>(ctx: &Ctx<'_, H>) -> Option<String> {
    ctx.arg::<&str>().ok().map(|s| (*s).to_string())
}

fn twin() {
    AT.with(|m| m.borrow_mut().clear());
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                say!("A _start: {}", origin(None, ctx));
                ctx.alias_set("a").unwrap();
                mark("y", line!() + 1);
                ctx.yield_event("first", "y");
            })
            .on("first", |ctx| {
                let l = label(ctx);
                say!("A first: {}", origin(l.as_deref(), ctx));
                mark("p", line!() + 1);
                ctx.post("b", "hello", "p").unwrap();
                mark("d", line!() + 1);
                ctx.delay("tick", Duration::from_secs_f64(0.1), "d");
                let me = ctx.id();
                mark("c", line!() + 1);
                ctx.call(me, "inner", "c").unwrap();
            })
            .on("inner", |ctx| {
                let l = label(ctx);
                say!("A inner (call): {}", origin(l.as_deref(), ctx));
                mark("c2", line!() + 1);
                ctx.call("b", "called", "c2").unwrap();
            })
            .on("tick", |ctx| {
                let l = label(ctx);
                say!("A tick (timer): {}", origin(l.as_deref(), ctx));
                mark("u", line!() + 1);
                ctx.post("b", "unknown_ev", "u").unwrap();
            })
            .on("back", |ctx| {
                let l = label(ctx);
                say!("A back: {}", origin(l.as_deref(), ctx));
                ctx.alias_remove("a").unwrap();
            })
            .on("_stop", |ctx| say!("A _stop: {}", origin(None, ctx))),
        (),
    );
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| ctx.alias_set("b").unwrap())
            .on("hello", |ctx| {
                let l = label(ctx);
                say!("B hello (post): {}", origin(l.as_deref(), ctx));
            })
            .on("called", |ctx| {
                let l = label(ctx);
                say!("B called (call from a call): {}", origin(l.as_deref(), ctx));
            })
            .on("_default", |ctx| {
                let ev = ctx.original_event_name().unwrap_or("?").to_string();
                let l = label(ctx);
                say!("B _default({ev}): {}", origin(l.as_deref(), ctx));
                mark("b", line!() + 1);
                ctx.post("a", "back", "b").unwrap();
                ctx.alias_remove("b").unwrap();
            })
            .on("_stop", |_| say!("B _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s66_caller_state_file_line() {
    common::check("66_caller_state_file_line", twin);
}
