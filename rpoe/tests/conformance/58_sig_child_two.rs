//! S58: two sig_child watchers in one session, children exiting 2 and 5;
//! each delivers its own pid and status; the session lives until both are
//! reaped (results printed sorted at `_stop`).

use std::collections::HashMap;

use rpoe::{ChildExit, Kernel, Session, Signal};

use crate::common;

#[derive(Default)]
struct Heap {
    /// pid -> name, to check that each watcher's extra argument (POE's
    /// `sig_child($pid, $event, $name)`) came with its own child.
    tag: HashMap<u32, &'static str>,
    got: Vec<String>,
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap::default())
            .on("_start", |ctx| {
                for (name, code, secs) in [("first", 2, "0.1"), ("second", 5, "0.2")] {
                    let child = common::fork_exit(secs, code);
                    ctx.heap().tag.insert(child, name);
                    ctx.sig_child_with(child, "reaped", name).unwrap();
                }
                say!("S forked two children");
            })
            .on("reaped", |ctx| {
                let s = ctx.arg::<Signal>().unwrap();
                let ex = *s.arg::<ChildExit>().unwrap();
                let name = s.name().to_string();
                let extra = *s.extra::<&'static str>().unwrap();
                let h = ctx.heap();
                let tag = h.tag.get(&ex.pid).copied().unwrap_or("?");
                h.got.push(format!(
                    "{extra}: sig={name} pid_matches={} exit={}",
                    u8::from(tag == extra),
                    ex.status >> 8
                ));
            })
            .on("_stop", |ctx| {
                let mut got = std::mem::take(&mut ctx.heap().got);
                got.sort();
                say!("S _stop, reaped {} (sorted):", got.len());
                for g in got {
                    say!("  {g}");
                }
            }),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s58_sig_child_two() {
    common::check("58_sig_child_two", twin);
}
