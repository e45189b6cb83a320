//! Helpers of the `FollowTail` wheel's tests (`wheel_follow_tail.rs`,
//! `wheel_follow_tail_resets.rs`): temporary paths, appends, and a
//! session that runs a script of file operations, each followed by the
//! events it must cause. Each test file uses only some of them.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rpoe::wheel::{FollowTail, FollowTailBuilder, FollowTailEvent, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session};

pub const POLL: Duration = Duration::from_millis(20);
pub const LIMIT: Duration = Duration::from_secs(20);

/// A file under the temp directory, removed (with its rotated sibling)
/// on drop.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> TempPath {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        TempPath(
            std::env::temp_dir().join(format!("rpoe-follow-tail-{}-{tag}-{n}", std::process::id())),
        )
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn rotated(&self) -> PathBuf {
        self.0.with_extension("1")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.rotated());
        let _ = std::fs::remove_dir(&self.0);
    }
}

pub fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

pub type Action = Box<dyn FnOnce()>;

/// One step of a scenario.
pub enum Step {
    /// Do something to the file, then wait for these events (none: go on).
    Do(Action, Vec<String>),
    /// Let a few polls pass (to show that nothing arrives).
    Wait(Duration),
}

pub fn act(f: impl FnOnce() + 'static, expect: &[&str]) -> Step {
    Step::Do(Box::new(f), expect.iter().map(|s| s.to_string()).collect())
}

pub struct Heap {
    pub tail: Option<FollowTail<Vec<u8>>>,
    pub steps: VecDeque<Step>,
    /// Events seen so far (shared with the test).
    pub log: Rc<RefCell<Vec<String>>>,
    /// How many events the steps done so far must have caused.
    pub target: usize,
    pub waiting: bool,
}

/// Run the next steps until one has to wait; after the last, drop the
/// wheel (which ends the session).
pub fn advance(ctx: &mut Ctx<'_, Heap>) {
    loop {
        let h = ctx.heap();
        if h.waiting || h.log.borrow().len() < h.target {
            return;
        }
        match h.steps.pop_front() {
            None => {
                h.tail = None;
                return;
            }
            Some(Step::Do(action, expect)) => {
                h.target += expect.len();
                action();
            }
            Some(Step::Wait(d)) => {
                h.waiting = true;
                ctx.delay("waited", d, ());
                return;
            }
        }
    }
}

pub fn record(ctx: &mut Ctx<'_, Heap>, line: String) {
    ctx.heap().log.borrow_mut().push(line);
    advance(ctx);
}

/// Follow the file with `configure`d options and run `steps`; returns
/// the events seen, as `line X`, `reset` or `error OP`.
pub fn scenario(
    configure: impl FnOnce(FollowTailBuilder<Vec<u8>>) -> FollowTailBuilder<Vec<u8>> + 'static,
    path: &Path,
    steps: Vec<Step>,
) -> Vec<String> {
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let path = path.to_path_buf();
    let mut kernel = Kernel::new().unwrap();
    let heap = Heap {
        tail: None,
        steps: steps.into(),
        log: log.clone(),
        target: 0,
        waiting: false,
    };
    let configure = RefCell::new(Some(configure));
    let sid = kernel.spawn(
        Session::new(heap)
            .on("_start", move |ctx| {
                let configure = configure.borrow_mut().take().unwrap();
                let builder = FollowTail::builder(&path)
                    .poll_interval(POLL)
                    .on_input("line")
                    .on_reset("reset")
                    .on_error("error");
                let tail = configure(builder).start(ctx).unwrap();
                ctx.heap().tail = Some(tail);
                advance(ctx);
            })
            .on("line", |ctx| {
                let (line, id) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                assert_eq!(Some(id), ctx.heap().tail.as_ref().map(FollowTail::id));
                record(ctx, format!("line {}", String::from_utf8_lossy(&line)));
            })
            .on("reset", |ctx| {
                let id = *ctx.arg::<WheelId>().unwrap();
                assert_eq!(Some(id), ctx.heap().tail.as_ref().map(FollowTail::id));
                record(ctx, "reset".into());
            })
            .on("error", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                record(ctx, format!("error {}", e.op));
            })
            .on("waited", |ctx| {
                ctx.heap().waiting = false;
                advance(ctx);
            })
            .on("watchdog", |ctx| ctx.stop_kernel()),
        (),
    );
    let handle = kernel.handle();
    let (done, wait) = mpsc::channel::<()>();
    let dog = thread::spawn(move || {
        let fired = wait.recv_timeout(LIMIT).is_err();
        if fired {
            let _ = handle.post(sid, "watchdog", ());
        }
        fired
    });
    kernel.run().unwrap();
    let _ = done.send(());
    let got = log.borrow().clone();
    assert!(
        !dog.join().unwrap(),
        "scenario did not finish within {LIMIT:?}; events so far: {got:?}"
    );
    got
}

pub fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub struct RenameHeap {
    pub path: PathBuf,
    pub tail: Option<FollowTail<Vec<u8>>>,
    pub log: Rc<RefCell<Vec<String>>>,
}

pub fn rename_line(ctx: &mut Ctx<'_, RenameHeap>, name: &str) -> String {
    let (l, _) = ctx.arg::<(Vec<u8>, WheelId)>().unwrap();
    let l = String::from_utf8_lossy(l).to_string();
    ctx.heap().log.borrow_mut().push(format!("{name} {l}"));
    l
}

pub fn rename(ctx: &mut Ctx<'_, RenameHeap>, which: FollowTailEvent, to: Option<&str>) {
    let ev = to.map(|n| ctx.event_id(n));
    ctx.heap().tail.as_ref().unwrap().set_event(which, ev);
}
