//! S26: call() is re-entrant: nested calls across sessions share one
//! stack, each level sees its own SESSION/SENDER/STATE; a call to the
//! current session keeps get_active_event() on the outer event; posts made
//! inside nested calls stay FIFO.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rpoe::{Kernel, Sender, Session, SessionId};

use crate::common;

/// `%id` (name → session) and `%name` (number → name) of the script.
#[derive(Default)]
struct Names {
    id: HashMap<&'static str, SessionId>,
    name: HashMap<u64, &'static str>,
}

type Shared = Rc<RefCell<Names>>;

fn nm(names: &Shared, s: Sender) -> &'static str {
    match s {
        Sender::Kernel => "kernel",
        Sender::Session(id) => names.borrow().name[&id.number()],
    }
}

fn id(names: &Shared, n: &str) -> SessionId {
    names.borrow().id[n]
}

fn node(n: &'static str, names: &Shared) -> Session<()> {
    let (n1, n2, n3, n4) = (names.clone(), names.clone(), names.clone(), names.clone());
    Session::new(())
        .on("_start", move |ctx| {
            let mut t = n1.borrow_mut();
            t.id.insert(n, ctx.id());
            t.name.insert(ctx.id().number(), n);
        })
        .on("go", move |ctx| {
            say!("{n} go (sender {})", nm(&n2, ctx.sender()));
            let r = ctx.call(id(&n2, "B"), "enter", 1u32).unwrap();
            say!("{n} go: call returned {}", r.get::<String>().unwrap());
            let s = ctx.call(ctx.id(), "self_call", ()).unwrap();
            say!("{n} go: self call returned {}", common::value(&s));
            ctx.post(id(&n2, "B"), "note", "posted-after-calls".to_string())
                .unwrap();
        })
        .on("enter", move |ctx| {
            let depth = *ctx.arg::<u32>().unwrap();
            // get_active_session(): the session whose handler is running.
            let active = nm(&n3, Sender::Session(ctx.id()));
            say!(
                "{n} enter depth={depth} sender={} state={} active={active}",
                nm(&n3, ctx.sender()),
                ctx.event_name()
            );
            ctx.post(id(&n3, "A"), "note", format!("posted-at-depth-{depth}"))
                .unwrap();
            if depth >= 3 {
                return format!("{n}{depth}");
            }
            let other = if n == "A" { "B" } else { "A" };
            let inner = ctx.call(id(&n3, other), "enter", depth + 1).unwrap();
            let inner = inner.get::<String>().unwrap().clone();
            say!(
                "{n} enter depth={depth} got {inner}, active again {}",
                nm(&n3, Sender::Session(ctx.id()))
            );
            format!("{n}{depth}>{inner}")
        })
        .on("self_call", move |ctx| {
            // POE's get_active_event() here reports the OUTER event ('go'):
            // a call into the running session does not switch the kernel's
            // active event. rpoe's equivalent is Ctx::active_event_name.
            let active_event = ctx.active_event_name().to_string();
            say!(
                "{n} self_call state={} sender={} active_event={active_event}",
                ctx.event_name(),
                nm(&n4, ctx.sender())
            );
            "self-ok"
        })
        .on("note", move |ctx| {
            say!("{n} note {}", ctx.arg::<String>().unwrap())
        })
        .on("_stop", move |_| say!("{n} _stop"))
}

fn twin() {
    let names: Shared = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    for n in ["A", "B"] {
        kernel.spawn(node(n, &names), ());
    }
    let nd = names.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                nd.borrow_mut().name.insert(ctx.id().number(), "D");
                ctx.post(id(&nd, "A"), "go", ()).unwrap();
            })
            .on("_stop", |_| say!("D _stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s26_call_reentrancy() {
    common::check("26_call_reentrancy", twin);
}
