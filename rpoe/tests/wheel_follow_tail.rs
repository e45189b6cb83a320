//! The `FollowTail` wheel on real files, with real short poll intervals
//! (20 ms): appended lines, a line written in pieces, many lines at once,
//! truncation and rotation (reset, then re-read from the start), a file
//! that appears later, seeking, errors, and dropping the wheel.
//!
//! Each scenario is a script of file operations run by the session
//! itself: after an operation it waits for the events it must cause
//! before doing the next one, so nothing depends on how long a poll
//! takes. A watchdog thread bounds every run.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rpoe::wheel::{FollowTail, FollowTailBuilder, FollowTailEvent, WheelError, WheelId};
use rpoe::{Ctx, Kernel, Session};

const POLL: Duration = Duration::from_millis(20);
const LIMIT: Duration = Duration::from_secs(20);

/// A file under the temp directory, removed (with its rotated sibling)
/// on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        TempPath(
            std::env::temp_dir().join(format!("rpoe-follow-tail-{}-{tag}-{n}", std::process::id())),
        )
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn rotated(&self) -> PathBuf {
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

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

type Action = Box<dyn FnOnce()>;

/// One step of a scenario.
enum Step {
    /// Do something to the file, then wait for these events (none: go on).
    Do(Action, Vec<String>),
    /// Let a few polls pass (to show that nothing arrives).
    Wait(Duration),
}

fn act(f: impl FnOnce() + 'static, expect: &[&str]) -> Step {
    Step::Do(Box::new(f), expect.iter().map(|s| s.to_string()).collect())
}

struct Heap {
    tail: Option<FollowTail<Vec<u8>>>,
    steps: VecDeque<Step>,
    /// Events seen so far (shared with the test).
    log: Rc<RefCell<Vec<String>>>,
    /// How many events the steps done so far must have caused.
    target: usize,
    waiting: bool,
}

/// Run the next steps until one has to wait; after the last, drop the
/// wheel (which ends the session).
fn advance(ctx: &mut Ctx<'_, Heap>) {
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

fn record(ctx: &mut Ctx<'_, Heap>, line: String) {
    ctx.heap().log.borrow_mut().push(line);
    advance(ctx);
}

/// Follow the file with `configure`d options and run `steps`; returns
/// the events seen, as `line X`, `reset` or `error OP`.
fn scenario(
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

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn starts_at_the_end_and_delivers_each_appended_line_once() {
    let tmp = TempPath::new("append");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "old line\nanother old line\n").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(
                move || append(&p1, b"new1\nnew2\nnew3\n"),
                &["line new1", "line new2", "line new3"],
            ),
            act(move || append(&p2, b"new4\n"), &["line new4"]),
            act(move || append(&p3, b"\n"), &["line "]),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(
        got,
        lines(&["line new1", "line new2", "line new3", "line new4", "line "])
    );
}

#[test]
fn a_line_written_in_pieces_is_delivered_once_complete() {
    let tmp = TempPath::new("pieces");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(move || append(&p1, b"hel"), &[]),
            // Several polls see the unfinished line: nothing is sent.
            Step::Wait(POLL * 5),
            act(move || append(&p2, b"lo\nwor"), &["line hello"]),
            Step::Wait(POLL * 5),
            act(move || append(&p3, b"ld\n"), &["line world"]),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(got, lines(&["line hello", "line world"]));
}

#[test]
fn many_lines_at_once_arrive_in_order_none_missing_none_repeated() {
    let tmp = TempPath::new("many");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "").unwrap();
    // Well over one poll's read budget (1 MiB).
    let n = 40_000;
    let mut blob = Vec::new();
    let mut expect = Vec::new();
    for i in 0..n {
        let line = format!("line number {i:06} {}", "x".repeat(20));
        blob.extend_from_slice(line.as_bytes());
        blob.push(b'\n');
        expect.push(format!("line {line}"));
    }
    let p1 = p.clone();
    let refs: Vec<&str> = expect.iter().map(String::as_str).collect();
    let got = scenario(
        |b| b,
        &p,
        vec![act(move || append(&p1, &blob), &refs), Step::Wait(POLL * 3)],
    );
    assert_eq!(got.len(), n);
    assert!(got == expect, "lines out of order, missing or repeated");
}

#[test]
fn truncation_resets_and_rereads_from_the_start() {
    let tmp = TempPath::new("truncate");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "old line\n").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(
                move || append(&p1, b"new1\nnew2\n"),
                &["line new1", "line new2"],
            ),
            act(
                move || {
                    let f = OpenOptions::new().write(true).open(&p2).unwrap();
                    f.set_len(0).unwrap();
                    drop(f);
                    append(&p2, b"after\n");
                },
                &["reset", "line after"],
            ),
            act(move || append(&p3, b"more\n"), &["line more"]),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(
        got,
        lines(&["line new1", "line new2", "reset", "line after", "line more"])
    );
}

/// Issue 13, finding 13 (second half): a truncation followed by writes
/// that take the file past the old offset before the next poll used to
/// look like an append: the start of the new content was lost (reading
/// resumed in its middle). The truncation and rewrite here happen inside
/// the handler of the last line read, so always between two polls.
#[test]
fn truncation_then_regrowth_past_the_offset_between_polls_is_a_reset() {
    let tmp = TempPath::new("regrow");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "old line\n").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(
                move || append(&p1, b"new1\nnew2\n"),
                &["line new1", "line new2"],
            ),
            // Offset 19; the new content is longer than that.
            act(
                move || {
                    let f = OpenOptions::new().write(true).open(&p2).unwrap();
                    f.set_len(0).unwrap();
                    drop(f);
                    append(&p2, b"first after the truncation\nsecond\n");
                },
                &["reset", "line first after the truncation", "line second"],
            ),
            act(move || append(&p3, b"more\n"), &["line more"]),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(
        got,
        lines(&[
            "line new1",
            "line new2",
            "reset",
            "line first after the truncation",
            "line second",
            "line more"
        ])
    );
}

/// The same rewrite before the first poll: the bytes before the starting
/// offset are remembered when the wheel starts.
#[test]
fn truncation_then_regrowth_before_the_first_poll_is_a_reset() {
    let tmp = TempPath::new("regrow-start");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "old\n").unwrap();
    let p1 = p.clone();
    let got = scenario(
        |b| b,
        &p,
        vec![
            // Runs in `_start`, right after the wheel started at offset 4.
            act(
                move || std::fs::write(&p1, "rewritten\n").unwrap(),
                &["reset", "line rewritten"],
            ),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(got, lines(&["reset", "line rewritten"]));
}

#[test]
fn rotation_by_rename_finishes_the_old_file_then_resets_to_the_new_one() {
    let tmp = TempPath::new("rotate");
    let p = tmp.path().to_path_buf();
    let rotated = tmp.rotated();
    std::fs::write(&p, "").unwrap();
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(move || append(&p1, b"first\n"), &["line first"]),
            act(
                move || {
                    // The last words of the old file, then logrotate.
                    append(&p2, b"last of old\n");
                    std::fs::rename(&p2, &rotated).unwrap();
                },
                &["line last of old"],
            ),
            // The name leads nowhere for a while: the old file is kept.
            Step::Wait(POLL * 5),
            act(
                move || append(&p3, b"fresh 1\nfresh 2\n"),
                &["reset", "line fresh 1", "line fresh 2"],
            ),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(
        got,
        lines(&[
            "line first",
            "line last of old",
            "reset",
            "line fresh 1",
            "line fresh 2"
        ])
    );
}

#[test]
fn rotation_replaced_at_once_is_seen_as_a_reset() {
    let tmp = TempPath::new("replace");
    let p = tmp.path().to_path_buf();
    let rotated = tmp.rotated();
    std::fs::write(&p, "x\n").unwrap();
    let p1 = p.clone();
    let got = scenario(
        |b| b,
        &p,
        vec![
            act(
                move || {
                    std::fs::rename(&p1, &rotated).unwrap();
                    // Longer than what was read, so only the inode tells.
                    std::fs::write(&p1, "replacement line one\n").unwrap();
                },
                &["reset", "line replacement line one"],
            ),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(got, lines(&["reset", "line replacement line one"]));
}

#[test]
fn a_file_that_appears_later_is_read_from_its_start() {
    let tmp = TempPath::new("appears");
    let p = tmp.path().to_path_buf();
    let p1 = p.clone();
    let got = scenario(
        |b| b,
        &p,
        vec![
            Step::Wait(POLL * 5),
            act(move || append(&p1, b"born\n"), &["line born"]),
            Step::Wait(POLL * 5),
        ],
    );
    assert_eq!(got, lines(&["line born"]));
}

#[test]
fn seek_start_and_seek_back_read_what_is_already_there() {
    let tmp = TempPath::new("seek");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "one\ntwo\nthree\n").unwrap();
    let got = scenario(
        |b| b.seek_start(),
        &p,
        vec![
            act(|| {}, &["line one", "line two", "line three"]),
            Step::Wait(POLL * 3),
        ],
    );
    assert_eq!(got, lines(&["line one", "line two", "line three"]));

    let got = scenario(
        |b| b.seek_back(6),
        &p,
        vec![act(|| {}, &["line three"]), Step::Wait(POLL * 3)],
    );
    assert_eq!(got, lines(&["line three"]));

    // Further back than the file is long: from the start.
    let got = scenario(
        |b| b.seek_back(1 << 20),
        &p,
        vec![act(|| {}, &["line one", "line two", "line three"])],
    );
    assert_eq!(got, lines(&["line one", "line two", "line three"]));
}

#[test]
fn a_directory_is_refused_and_reported_once() {
    let tmp = TempPath::new("dir");
    std::fs::create_dir(tmp.path()).unwrap();
    // Not a regular file: refused at every poll, reported once.
    let got = scenario(
        |b| b.seek_start(),
        tmp.path(),
        vec![act(|| {}, &["error open"]), Step::Wait(POLL * 5)],
    );
    assert_eq!(got, lines(&["error open"]));
}

/// Issue 13, finding 13 (first half): following a FIFO used to block the
/// whole kernel in `open()` (a FIFO opened for reading waits for a
/// writer). Now it is refused, at once, with a clear error event. The
/// kernel runs on a thread of its own so that the old behaviour fails the
/// test instead of hanging it.
#[test]
fn a_fifo_is_refused_without_blocking_the_kernel() {
    let tmp = TempPath::new("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let path = tmp.path().to_path_buf();
    let (tx, rx) = mpsc::channel::<WheelError>();
    let runner = thread::spawn(move || {
        let mut kernel = Kernel::new().unwrap();
        kernel.spawn(
            Session::new(None::<FollowTail<Vec<u8>>>)
                .on("_start", move |ctx| {
                    let tail = FollowTail::builder(&path)
                        .poll_interval(POLL)
                        .on_error("error")
                        .start(ctx)
                        .unwrap();
                    *ctx.heap() = Some(tail);
                })
                .on("error", move |ctx| {
                    tx.send(ctx.take_arg::<WheelError>().unwrap()).unwrap();
                    *ctx.heap() = None;
                }),
            (),
        );
        kernel.run().unwrap();
    });
    match rx.recv_timeout(LIMIT) {
        Ok(e) => {
            runner.join().unwrap();
            assert_eq!((e.op, e.errno), ("open", 22), "{e}");
            assert!(e.message.contains("not a regular file (a FIFO)"), "{e}");
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match runner.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => panic!("the kernel ended without an error event"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            // Let the blocked open() return before failing: a writer.
            let nonblock = rustix::fs::OFlags::NONBLOCK.bits() as i32;
            let _writer = OpenOptions::new()
                .write(true)
                .custom_flags(nonblock)
                .open(tmp.path());
            panic!("no error event within {LIMIT:?}: blocked in open() on a FIFO");
        }
    }
}

#[test]
fn dropping_the_wheel_ends_polling_and_the_session_at_once() {
    let tmp = TempPath::new("drop");
    std::fs::write(tmp.path(), "").unwrap();
    let path = tmp.path().to_path_buf();
    let mut kernel = Kernel::new().unwrap();
    let polls_after_drop = Rc::new(RefCell::new(0));
    let count = polls_after_drop.clone();
    kernel.spawn(
        Session::new(None::<FollowTail<Vec<u8>>>)
            .on("_start", move |ctx| {
                let tail = FollowTail::builder(&path)
                    .poll_interval(Duration::from_secs(30))
                    .on_input("line")
                    .start(ctx)
                    .unwrap();
                *ctx.heap() = Some(tail);
                ctx.yield_event("drop", ());
            })
            .on("drop", |ctx| *ctx.heap() = None)
            .on("line", move |_| *count.borrow_mut() += 1),
        (),
    );
    let began = Instant::now();
    kernel.run().unwrap();
    // The 30 s poll timer went with the wheel.
    assert!(began.elapsed() < Duration::from_secs(10));
    assert_eq!(*polls_after_drop.borrow(), 0);
}

#[test]
fn a_custom_filter_and_tell() {
    let tmp = TempPath::new("filter");
    let p = tmp.path().to_path_buf();
    std::fs::write(&p, "").unwrap();
    let log: Rc<RefCell<Vec<(String, u64)>>> = Rc::default();
    let l = log.clone();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(None::<FollowTail<Vec<u8>>>)
            .on("_start", move |ctx| {
                let tail = FollowTail::builder(&p)
                    .filter(rpoe::filter::Line::literal(b";"))
                    .poll_interval(POLL)
                    .on_input("rec")
                    .start(ctx)
                    .unwrap();
                assert_eq!(tail.tell(), 0);
                *ctx.heap() = Some(tail);
                append(&p, b"a;bb;c");
            })
            .on("rec", move |ctx| {
                let (rec, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                let pos = ctx.heap().as_ref().unwrap().tell();
                l.borrow_mut()
                    .push((String::from_utf8_lossy(&rec).into_owned(), pos));
                if rec == b"bb" {
                    *ctx.heap() = None;
                }
            }),
        (),
    );
    kernel.run().unwrap();
    // `tell` counts the unfinished "c" too.
    assert_eq!(*log.borrow(), [("a".to_string(), 6), ("bb".to_string(), 6)]);
}

struct RenameHeap {
    path: PathBuf,
    tail: Option<FollowTail<Vec<u8>>>,
    log: Rc<RefCell<Vec<String>>>,
}

fn rename_line(ctx: &mut Ctx<'_, RenameHeap>, name: &str) -> String {
    let (l, _) = ctx.arg::<(Vec<u8>, WheelId)>().unwrap();
    let l = String::from_utf8_lossy(l).to_string();
    ctx.heap().log.borrow_mut().push(format!("{name} {l}"));
    l
}

fn rename(ctx: &mut Ctx<'_, RenameHeap>, which: FollowTailEvent, to: Option<&str>) {
    let ev = to.map(|n| ctx.event_id(n));
    ctx.heap().tail.as_ref().unwrap().set_event(which, ev);
}

#[test]
fn set_event_renames_and_silences_input_and_reset() {
    let tmp = TempPath::new("rename");
    std::fs::write(tmp.path(), "").unwrap();
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(RenameHeap {
            path: tmp.path().to_path_buf(),
            tail: None,
            log: log.clone(),
        })
        .on("_start", |ctx| {
            let path = ctx.heap().path.clone();
            let t = FollowTail::builder(&path)
                .poll_interval(POLL)
                .on_input("in_one")
                .on_reset("reset_one")
                .start(ctx)
                .unwrap();
            ctx.heap().tail = Some(t);
            append(&path, b"a\n");
        })
        .on("in_one", |ctx| {
            rename_line(ctx, "in_one");
            rename(ctx, FollowTailEvent::Input, Some("in_two"));
            append(&ctx.heap().path.clone(), b"b\n");
        })
        .on("in_two", |ctx| {
            let l = rename_line(ctx, "in_two");
            let path = ctx.heap().path.clone();
            if l == "b" {
                rename(ctx, FollowTailEvent::Reset, Some("reset_two"));
                let f = OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(0).unwrap();
                drop(f);
                append(&path, b"c\n");
            } else {
                rename(ctx, FollowTailEvent::Input, None);
                append(&path, b"d\n");
                ctx.delay("done", POLL * 10, ());
            }
        })
        .on("reset_one", |ctx| {
            ctx.heap().log.borrow_mut().push("reset_one".into())
        })
        .on("reset_two", |ctx| {
            ctx.heap().log.borrow_mut().push("reset_two".into())
        })
        .on("done", |ctx| {
            let h = ctx.heap();
            let tell = h.tail.as_ref().unwrap().tell();
            h.log.borrow_mut().push(format!("done tell={tell}"));
            h.tail = None;
        }),
        (),
    );
    kernel.run().unwrap();
    // "d" was read (tell counts it) but not delivered.
    assert_eq!(
        *log.borrow(),
        lines(&[
            "in_one a",
            "in_two b",
            "reset_two",
            "in_two c",
            "done tell=4"
        ])
    );
}
