//! The public wheel door (`EventSource`, `SourceCtx`, `SourceHandle`,
//! `TimerGuard`, `Ctx::call_value`) as a crate outside rpoe sees it.

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use rpoe::mio::net::UnixStream;
use rpoe::{
    Error, EventSource, IoMode, Kernel, PostAction, Session, SourceCtx, SourceHandle, Value,
};

/// Reads one byte per call and asks to be called again at once: the
/// session sees each byte before the next is read, and can stop the
/// source between two of them.
struct OneByte;

impl EventSource for OneByte {
    type Io = UnixStream;

    fn ready(&mut self, cx: &mut SourceCtx<'_, UnixStream>, _: IoMode) -> PostAction {
        let mut b = [0u8; 1];
        match cx.io().read(&mut b) {
            Ok(1) => {
                cx.emit("byte", b[0]);
                PostAction::Again
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => PostAction::Drained,
            _ => PostAction::Remove,
        }
    }
}

#[test]
fn again_lets_the_session_stop_a_source_between_items() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((
            None::<SourceHandle<OneByte>>,
            Vec::<u8>::new(),
            None::<UnixStream>,
        ))
        .on("_start", |ctx| {
            let (near, mut far) = UnixStream::pair().unwrap();
            far.write_all(b"abcdef").unwrap();
            let h = ctx.add_source(near, OneByte).unwrap();
            let heap = ctx.heap();
            heap.0 = Some(h);
            heap.2 = Some(far); // keep the peer open: no end of file
        })
        .on("byte", |ctx| {
            let b = ctx.take_arg::<u8>().unwrap();
            let heap = ctx.heap();
            heap.1.push(b);
            if b == b'c' {
                heap.0 = None; // stop: nothing more is read or sent
                heap.2 = None;
            }
        })
        .on("_stop", |ctx| assert_eq!(ctx.heap().1, b"abc")),
        (),
    );
    kernel.run().unwrap();
}

/// Waits for writability, then hands its socket back to the session.
struct HandOver;

impl EventSource for HandOver {
    type Io = UnixStream;

    fn ready(&mut self, cx: &mut SourceCtx<'_, UnixStream>, mode: IoMode) -> PostAction {
        assert_eq!(mode, IoMode::Write);
        let stream = cx.take_io().unwrap();
        assert!(!cx.is_open());
        cx.emit("mine", stream); // last words are still delivered
        PostAction::Continue
    }
}

#[test]
fn a_source_can_start_with_write_interest_and_hand_its_object_back() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((None::<SourceHandle<HandOver>>, None::<UnixStream>, false))
            .on("_start", |ctx| {
                let (near, far) = UnixStream::pair().unwrap();
                let h = ctx
                    .add_source_for(near, HandOver, &[IoMode::Write])
                    .unwrap();
                ctx.heap().0 = Some(h);
                ctx.heap().1 = Some(far);
            })
            .on("mine", |ctx| {
                let mut stream = ctx.take_arg::<UnixStream>().unwrap();
                stream.write_all(b"x").unwrap();
                let mut far = ctx.heap().1.take().unwrap();
                let mut b = [0u8; 1];
                far.read_exact(&mut b).unwrap();
                assert_eq!(&b, b"x");
                let heap = ctx.heap();
                assert!(!heap.0.as_ref().unwrap().is_open());
                heap.0 = None;
                heap.2 = true;
            })
            .on("_stop", |ctx| assert!(ctx.heap().2)),
        (),
    );
    kernel.run().unwrap();
}

#[test]
fn dropping_a_timer_guard_removes_its_timer() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(None::<rpoe::TimerId>)
            .on("_start", |ctx| {
                // An hour away: if the guard did not remove it, the
                // session would live (and the test hang) for an hour.
                let id = ctx.delay_add("never", Duration::from_secs(3600), ());
                let guard = ctx.timer_guard(id);
                assert_eq!(guard.id(), Some(id));
                drop(guard);
                *ctx.heap() = Some(id);
                ctx.yield_event("check", ());
            })
            .on("check", |ctx| {
                let id = ctx.heap().unwrap();
                assert!(matches!(ctx.alarm_remove(id), Err(Error::NoSuchTimer(_))));
            })
            .on("never", |_| panic!("the guarded timer fired")),
        (),
    );
    kernel.run().unwrap();
}

#[test]
fn a_disarmed_guard_leaves_its_timer() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(false)
            .on("_start", |ctx| {
                let id = ctx.delay_add("fire", Duration::ZERO, ());
                assert_eq!(ctx.timer_guard(id).disarm(), Some(id));
            })
            .on("fire", |ctx| *ctx.heap() = true)
            .on("_stop", |ctx| assert!(*ctx.heap())),
        (),
    );
    kernel.run().unwrap();
}

#[test]
fn call_value_hands_over_what_the_value_holds() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(())
            .on("_start", |ctx| {
                let me = ctx.id();
                // Arguments of different types, gathered in one list.
                let pending = vec![("n", Value::new(7u32)), ("s", Value::new("seven"))];
                for (event, args) in pending {
                    ctx.call_value(me, event, args).unwrap();
                }
                let back = ctx.call_value(me, "echo", Value::new(3i64)).unwrap();
                assert_eq!(back.take::<i64>().ok(), Some(3));
            })
            .on("n", |ctx| assert_eq!(ctx.take_arg::<u32>().unwrap(), 7))
            .on("s", |ctx| {
                assert_eq!(ctx.take_arg::<&str>().unwrap(), "seven")
            })
            .on("echo", |ctx| ctx.take_arg::<i64>().unwrap()),
        (),
    );
    kernel.run().unwrap();
}

/// One constructor from `main` and from a handler: `ServerTcp::start`
/// takes the kernel or a handler's context (`Spawner`); from a handler the
/// server is a child of the running session.
#[test]
fn a_component_starts_from_main_and_from_a_handler() {
    use rpoe::component::ServerTcp;
    use rpoe::filter::Line;

    let mut kernel = Kernel::new().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let top = ServerTcp::new(addr, Line::new())
        .start(&mut kernel)
        .unwrap();
    assert_eq!(top.addrs.len(), 1);
    kernel.post(top.session, "shutdown", ()).unwrap();
    kernel.spawn(
        Session::new(0usize)
            .on("_start", move |ctx| {
                let info = ServerTcp::new(addr, Line::new()).start(ctx).unwrap();
                assert!(ctx.children().contains(&info.session));
                *ctx.heap() = info.addrs[0].port() as usize;
                ctx.post(info.session, "shutdown", ()).unwrap();
            })
            .on("_stop", |ctx| assert_ne!(*ctx.heap(), 0)),
        (),
    );
    kernel.run().unwrap();
}

/// A source that does nothing: the test drives it through `defer`.
struct Idle;

impl EventSource for Idle {
    type Io = UnixStream;

    fn ready(&mut self, _: &mut SourceCtx<'_, UnixStream>, _: IoMode) -> PostAction {
        PostAction::Continue
    }
}

/// `SourceCtx::watches_child` follows the session's `sig_child` watcher,
/// and `SourceHandle::defer` runs its work even when the handle is dropped
/// right after (what a process wheel's drop relies on to reap its child).
#[test]
fn watches_child_and_work_deferred_by_a_dropped_handle() {
    use std::cell::RefCell;
    use std::rc::Rc;
    type Seen = Rc<RefCell<Vec<(&'static str, bool)>>>;
    let seen: Seen = Rc::default();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut kernel = Kernel::new().unwrap();
    let (s1, s2) = (seen.clone(), seen.clone());
    kernel.spawn(
        Session::new((None::<SourceHandle<Idle>>, None::<UnixStream>))
            .on("_start", move |ctx| {
                let (near, far) = UnixStream::pair().unwrap();
                ctx.sig_child(pid, "exited").unwrap();
                let h = ctx.add_source(near, Idle).unwrap();
                let s1 = s1.clone();
                h.defer(move |_, cx| {
                    s1.borrow_mut().push(("watched", cx.watches_child(pid)));
                    s1.borrow_mut()
                        .push(("other pid", cx.watches_child(pid + 1)));
                    PostAction::Continue
                });
                *ctx.heap() = (Some(h), Some(far));
                ctx.yield_event("next", ());
            })
            .on("next", move |ctx| {
                ctx.sig_child_remove(pid);
                let h = ctx.heap().0.take().unwrap();
                let s2 = s2.clone();
                h.defer(move |_, cx| {
                    s2.borrow_mut().push(("removed", cx.watches_child(pid)));
                    // The handle was dropped after this was deferred: the
                    // work still runs, but what it emits is not delivered.
                    cx.emit("never", ());
                    PostAction::Continue
                });
                drop(h);
                ctx.heap().1 = None;
            })
            .on("never", |_| {
                panic!("a dropped source's events are not delivered")
            }),
        (),
    );
    kernel.run().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        *seen.borrow(),
        [("watched", true), ("other pid", false), ("removed", false)]
    );
}
