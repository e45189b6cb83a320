//! S70: as S69 for `stop_kernel` called in a handler: every `_stop` runs
//! (the caller's too), then the heaps are dropped in the order the
//! sessions stopped.

use rpoe::Kernel;

use crate::common;
use crate::s69_stop_all_then_free::tree;

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    tree(&mut kernel, "calls stop", |ctx| ctx.stop_kernel());
    let _ = kernel.run();
    say!("main: after run");
}

#[test]
fn s70_stop_then_free() {
    common::check("70_stop_then_free", twin);
}
