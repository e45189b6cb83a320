//! A session that posts to an alias again and again has its last look-up
//! remembered (issue 12): it must never outlive a change of who holds the
//! alias. Here a sender posts to "target" while the alias moves from one
//! session to another, is removed, and its holder stops.

use std::cell::RefCell;
use std::rc::Rc;

use rpoe::{Error, Kernel, Session};

#[test]
fn a_remembered_alias_follows_its_holder() {
    let got: Rc<RefCell<Vec<(&'static str, u32)>>> = Rc::default();
    let errors: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let holder = |name: &'static str, got: Rc<RefCell<Vec<(&'static str, u32)>>>| {
        Session::new(())
            .on("hit", move |ctx| {
                got.borrow_mut().push((name, *ctx.arg::<u32>().unwrap()));
            })
            .on("take", |ctx| {
                ctx.alias_set("target").unwrap();
            })
            .on("drop", |ctx| {
                ctx.alias_remove("target").unwrap();
            })
    };
    let first = kernel.spawn(holder("first", got.clone()), ());
    let second = kernel.spawn(holder("second", got.clone()), ());
    let errs = errors.clone();
    let errs2 = errors.clone();
    kernel.spawn(
        Session::new(())
            .on("_start", move |ctx| {
                ctx.call(first, "take", ()).unwrap();
                ctx.post("target", "hit", 1u32).unwrap();
                ctx.post("target", "hit", 2u32).unwrap();
                // The alias moves to the second session.
                ctx.call(first, "drop", ()).unwrap();
                if let Err(e) = ctx.post("target", "hit", 3u32) {
                    errs.borrow_mut().push(e.to_string());
                }
                ctx.call(second, "take", ()).unwrap();
                ctx.post("target", "hit", 4u32).unwrap();
                // The second lets go; the first takes it back.
                ctx.call(second, "drop", ()).unwrap();
                ctx.call(first, "take", ()).unwrap();
                ctx.post("target", "hit", 5u32).unwrap();
                // Its holder is killed (the signal is queued after hit 5);
                // by `later` it is gone, and its alias with it.
                ctx.signal(first, "KILL", ()).unwrap();
                ctx.yield_event("later", ());
            })
            .on("later", move |ctx| match ctx.post("target", "hit", 6u32) {
                Err(Error::NoSuchSession(_)) => {}
                other => errs2.borrow_mut().push(format!("after stop: {other:?}")),
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(
        *got.borrow(),
        vec![("first", 1), ("first", 2), ("second", 4), ("first", 5)]
    );
    assert_eq!(errors.borrow().len(), 1, "{:?}", errors.borrow());
    assert!(
        errors.borrow()[0].contains("target"),
        "{:?}",
        errors.borrow()
    );
}
