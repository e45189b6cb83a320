//! S75: renaming ListenAccept's and FollowTail's events at run time, as
//! `ListenAccept::set_event` and `FollowTail::set_event`: the next
//! connection goes to the renamed accept event; the next line to the
//! renamed input event; the next truncation to the renamed reset event;
//! a reset event set to `None` is not sent and the following line still
//! arrives.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mio::net::TcpListener;
use rpoe::wheel::{FollowTail, FollowTailEvent, ListenAccept, ListenAcceptEvent, WheelId};
use rpoe::{Ctx, Kernel, Session};

use crate::common;

/// The script's `tempdir(CLEANUP => 1)` file, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct Heap {
    path: PathBuf,
    addr: Option<SocketAddr>,
    clients: Vec<StdTcpStream>,
    la: Option<ListenAccept>,
    ft: Option<FollowTail<Vec<u8>>>,
}

fn append_line(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

fn truncate_file(path: &Path) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

fn connect_one(ctx: &mut Ctx<'_, Heap>) {
    let addr = ctx.heap().addr.unwrap();
    let c = StdTcpStream::connect(addr).unwrap();
    ctx.heap().clients.push(c);
}

fn twin() {
    let tmp = TempFile(std::env::temp_dir().join(format!(
        "rpoe-conformance-75-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )));
    std::fs::write(&tmp.0, format!("{}\n", "x".repeat(60))).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();

    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(Heap {
            path: tmp.0.clone(),
            addr: Some(addr),
            clients: Vec::new(),
            la: None,
            ft: None,
        })
        .on("_start", |ctx| {
            let listener = ctx.take_arg::<TcpListener>().unwrap();
            let la = ListenAccept::new(ctx, listener, "acc_one", "").unwrap();
            ctx.heap().la = Some(la);
            connect_one(ctx);
        })
        .on("acc_one", |ctx| {
            say!("acc_one");
            let ev = ctx.event_id("acc_two");
            ctx.heap()
                .la
                .as_ref()
                .unwrap()
                .set_event(ListenAcceptEvent::Accept, Some(ev));
            connect_one(ctx);
        })
        .on("acc_two", |ctx| {
            say!("acc_two");
            ctx.heap().la = None;
            let path = ctx.heap().path.clone();
            let ft = FollowTail::builder(&path)
                .poll_interval(Duration::from_secs_f64(0.05))
                .on_input("in_one")
                .on_reset("reset_one")
                .start(ctx)
                .unwrap();
            ctx.heap().ft = Some(ft);
            append_line(&path, b"a\n");
        })
        .on("in_one", |ctx| {
            let (l, _) = ctx.arg::<(Vec<u8>, WheelId)>().unwrap();
            say!("in_one [{}]", String::from_utf8_lossy(l));
            let ev = ctx.event_id("in_two");
            let h = ctx.heap();
            h.ft.as_ref()
                .unwrap()
                .set_event(FollowTailEvent::Input, Some(ev));
            append_line(&h.path, b"b\n");
        })
        .on("in_two", |ctx| {
            let (l, _) = ctx.arg::<(Vec<u8>, WheelId)>().unwrap();
            let line = String::from_utf8_lossy(l).to_string();
            say!("in_two [{line}]");
            let reset_two = ctx.event_id("reset_two");
            let h = ctx.heap();
            if line == "b" {
                h.ft.as_ref()
                    .unwrap()
                    .set_event(FollowTailEvent::Reset, Some(reset_two));
                truncate_file(&h.path);
                append_line(&h.path, b"c\n");
            } else if line == "c" {
                h.ft.as_ref()
                    .unwrap()
                    .set_event(FollowTailEvent::Reset, None);
                truncate_file(&h.path);
                ctx.delay("more", Duration::from_secs_f64(0.5), ());
            } else {
                h.ft = None;
            }
        })
        .on("more", |ctx| append_line(&ctx.heap().path, b"e\n"))
        .on("reset_one", |_| say!("reset_one"))
        .on("reset_two", |_| say!("reset_two"))
        .on("_stop", |_| say!("_stop")),
        listener,
    );
    kernel.run().unwrap();
    say!("main: after run");
}

#[test]
fn s75_wheel_event_rename_more() {
    common::check("75_wheel_event_rename_more", twin);
}
