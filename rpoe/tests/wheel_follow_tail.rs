//! The `FollowTail` wheel on real files, with real short poll intervals
//! (20 ms): appended lines, a line written in pieces, many lines at once,
//! a file that appears later, seeking, errors, and dropping the wheel.
//! Truncation and rotation are in `wheel_follow_tail_resets.rs`.
//!
//! Each scenario is a script of file operations run by the session
//! itself: after an operation it waits for the events it must cause
//! before doing the next one, so nothing depends on how long a poll
//! takes. A watchdog thread bounds every run.

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rpoe::wheel::{FollowTail, FollowTailEvent, WheelError, WheelId};
use rpoe::{Kernel, Session};

mod tail_support;
use tail_support::*;

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
