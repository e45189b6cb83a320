//! S31: POE::Wheel::Run. put() feeds the child's stdin (StdinEvent once
//! flushed), stdout/stderr come back line by line per stream, CloseEvent
//! fires when the child's outputs close, sig_child reaps it with its exit
//! code. Close vs. reap timing varies, so `_stop` prints each stream in
//! order and the other events sorted, as the script does.
//!
//! The script's child is a Perl one-liner (`$^X -e ...`); the twin runs
//! the same program in `sh` (upper-case each stdin line to stdout, echo it
//! to stderr as "saw LINE", exit 7 at end of input), so it does not need
//! Perl.

use std::process::Command;

use rpoe::wheel::{Run, RunError, WheelId};
use rpoe::{ChildExit, Kernel, Session, Signal};

use crate::common;

const CHILD: &str = r#"while IFS= read -r l; do printf '%s\n' "$l" | tr '[:lower:]' '[:upper:]'; printf 'saw %s\n' "$l" >&2; done; exit 7"#;

#[derive(Default)]
struct Heap {
    w: Option<Run<Vec<u8>>>,
    out: Vec<String>,
    err: Vec<String>,
    misc: Vec<String>,
}

fn twin() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap::default())
            .on("_start", |ctx| {
                let mut program = Command::new("sh");
                program.args(["-c", CHILD]);
                let w = Run::builder(program)
                    .on_stdin("stdin_flushed")
                    .on_stdout("stdout")
                    .on_stderr("stderr")
                    .on_close("closed")
                    .on_error("error")
                    .start(ctx)
                    .unwrap();
                let pid = w.pid();
                ctx.heap().w = Some(w);
                // As the script does (the wheel already watches the pid;
                // this names the event).
                ctx.sig_child(pid, "reaped").unwrap();
                let w = ctx.heap().w.as_ref().unwrap();
                w.put(&b"hello".to_vec()).unwrap();
                w.put(&b"world".to_vec()).unwrap();
            })
            .on("stdin_flushed", |ctx| {
                let misc = &mut ctx.heap().misc;
                if !misc.iter().any(|m| m == "stdin flushed") {
                    misc.push("stdin flushed".into());
                }
            })
            .on("stdout", |ctx| {
                let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                let h = ctx.heap();
                h.out.push(String::from_utf8_lossy(&line).into_owned());
                if h.out.len() == 2 {
                    if let Some(w) = &h.w {
                        w.shutdown_stdin();
                    }
                }
            })
            .on("stderr", |ctx| {
                let (line, _) = ctx.take_arg::<(Vec<u8>, WheelId)>().unwrap();
                ctx.heap()
                    .err
                    .push(String::from_utf8_lossy(&line).into_owned());
            })
            // Read EOF on the stdout/stderr pipes is reported here (errno 0).
            .on("error", |ctx| {
                let _ = ctx.take_arg::<RunError>();
            })
            .on("closed", |ctx| {
                let h = ctx.heap();
                h.misc.push("closed".into());
                h.w = None;
            })
            .on("reaped", |ctx| {
                let status = ctx
                    .arg::<Signal>()
                    .ok()
                    .and_then(|s| s.arg::<ChildExit>())
                    .map_or(-1, |e| e.status);
                ctx.heap().misc.push(format!("reaped exit={}", status >> 8));
            })
            .on("_stop", |ctx| {
                let h = ctx.heap();
                for l in &h.out {
                    say!("stdout: {l}");
                }
                for l in &h.err {
                    say!("stderr: {l}");
                }
                h.misc.sort();
                for m in &h.misc {
                    say!("event: {m}");
                }
            }),
        (),
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s31_wheel_run() {
    common::check("31_wheel_run", twin);
}
