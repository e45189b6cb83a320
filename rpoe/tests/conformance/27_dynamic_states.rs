//! S27: dynamic handlers with state(): state(ev, code) adds or replaces a
//! handler at run time; state(ev) removes it (events then fall to
//! `_default`); object and class handlers can be installed too.

use rpoe::{Ctx, Kernel, Session};

use crate::common::{self, ctx_args};

/// The script's `Greeter` package.
struct Greeter {
    who: String,
}

impl Greeter {
    /// Perl's class name, the invocant of a class-method handler.
    const CLASS: &'static str = "Greeter";

    fn new(who: &str) -> Greeter {
        Greeter {
            who: who.to_string(),
        }
    }

    /// An object method handler: `$k->state(obj => $object, 'hello')`.
    fn hello<H>(&self, ctx: &mut Ctx<'_, H>) {
        say!(
            "Greeter({})->hello state={} arg={}",
            self.who,
            ctx.event_name(),
            ctx.arg::<u32>().unwrap()
        );
    }

    /// A class method handler: `$k->state(cls => 'Greeter', 'bye')`.
    fn bye<H>(ctx: &mut Ctx<'_, H>) {
        say!(
            "Greeter::bye class method arg={} object={}",
            ctx.arg::<u32>().unwrap(),
            Self::CLASS
        );
    }
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                ctx.state("dyn", |ctx| {
                    say!("dyn v1 arg={}", ctx.arg::<u32>().unwrap())
                });
                ctx.yield_event("dyn", 1u32);
                ctx.yield_event("swap", ());
            })
            .on("swap", |ctx| {
                ctx.state("dyn", |ctx| {
                    say!("dyn v2 arg={}", ctx.arg::<u32>().unwrap())
                });
                ctx.yield_event("dyn", 2u32);
                ctx.yield_event("remove", ());
            })
            .on("remove", |ctx| {
                ctx.state_remove("dyn");
                ctx.yield_event("dyn", 3u32);
                // Rust's object and class handlers: a closure that owns the
                // object and calls its method, or calls the associated fn.
                let greeter = Greeter::new("ann");
                ctx.state("obj", move |ctx| greeter.hello(ctx));
                ctx.yield_event("obj", 4u32);
                ctx.state("cls", Greeter::bye);
                ctx.yield_event("cls", 5u32);
            })
            .on("_default", |ctx| {
                let ev = ctx.original_event_name().unwrap().to_string();
                let args = match ctx.arg::<u32>() {
                    Ok(n) => n.to_string(),
                    Err(_) => ctx_args(ctx),
                };
                say!("_default got {ev} args=[{args}]");
            })
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s27_dynamic_states() {
    common::check("27_dynamic_states", twin);
}
