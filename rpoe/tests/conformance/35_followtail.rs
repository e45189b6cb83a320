//! S35: POE::Wheel::FollowTail on a plain file. It starts at the end
//! (existing content is skipped), sends one input event per complete line
//! appended later, and when the file shrinks (truncation) sends the reset
//! event and reads from the start again.
//!
//! The script's writer steps run from a 0.3 s `delay` in the same session,
//! and the tail polls every 0.05 s, as in the script.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use rpoe::wheel::{FollowTail, WheelError, WheelId};
use rpoe::{Kernel, Session};

use crate::common;

/// `tempfile(UNLINK => 1)`: a file removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

type Step = Box<dyn FnOnce()>;

struct Heap {
    tail: Option<FollowTail<Vec<u8>>>,
    steps: VecDeque<Step>,
}

fn twin() {
    let tmp = TempFile(std::env::temp_dir().join(format!(
        "rpoe-conformance-35-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )));
    let path = tmp.0.clone();
    let fh = Rc::new(RefCell::new(
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .unwrap(),
    ));
    // Unbuffered writes: the script's autoflush.
    fh.borrow_mut().write_all(b"old line\n").unwrap();

    let (f1, f2) = (fh.clone(), fh.clone());
    let steps: VecDeque<Step> = VecDeque::from(vec![
        Box::new(move || {
            say!("writer appends two lines");
            f1.borrow_mut().write_all(b"new1\nnew2\n").unwrap();
        }) as Step,
        Box::new(move || {
            say!("writer truncates and writes");
            let mut f = f2.borrow_mut();
            let file: &mut File = &mut f;
            file.set_len(0).unwrap();
            file.seek(SeekFrom::Start(0)).unwrap();
            file.write_all(b"after\n").unwrap();
        }),
        Box::new(|| say!("writer done")),
    ]);

    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap { tail: None, steps })
            .on("_start", move |ctx| {
                let tail = FollowTail::builder(&path)
                    .poll_interval(Duration::from_secs_f64(0.05))
                    .on_input("line")
                    .on_reset("reset")
                    .on_error("error")
                    .start(ctx)
                    .unwrap();
                ctx.heap().tail = Some(tail);
                ctx.delay("step", Duration::from_secs_f64(0.3), ());
            })
            .on("step", |ctx| {
                let s = ctx.heap().steps.pop_front().unwrap();
                s();
                if ctx.heap().steps.is_empty() {
                    ctx.heap().tail = None;
                } else {
                    ctx.delay("step", Duration::from_secs_f64(0.3), ());
                }
            })
            .on("line", |ctx| {
                let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                say!("tail line [{}]", String::from_utf8_lossy(&line));
            })
            .on("reset", |_| say!("tail reset"))
            .on("error", |ctx| {
                let e = ctx.take_arg::<WheelError>().unwrap();
                say!("tail error {} {}", e.op, e.errno);
            })
            .on("_stop", |_| say!("_stop")),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
    drop(fh);
    drop(tmp);
}

#[test]
fn s35_followtail() {
    common::check("35_followtail", twin);
}
