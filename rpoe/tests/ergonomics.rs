//! Issue 10, items 4 and 5: what porting real POE programs showed a new
//! user needs, one test per point, written as a program outside the crate
//! would (only `rpoe::` paths). The source scans at the end check the
//! points that are about the API's shape (grouped `Ctx`, `# Errors`,
//! `#[non_exhaustive]`, `#[must_use]`, one lint set).

#[path = "support/sources.rs"]
mod sources;

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use rpoe::component::ServerTcp;
use rpoe::filter::Line;
use rpoe::{
    ChildExit, DieInfo, Error, HandleId, Kernel, Sender, Session, SessionId, Signal, Spawner,
};

use sources::rust_files;

type Log = Rc<RefCell<Vec<String>>>;

fn say(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

/// Item 4: "replying to the sender without matching on `Sender`".
#[test]
fn reply_to_the_sender_without_matching_on_it() {
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let l = log.clone();
    let server = kernel.spawn(
        Session::new(()).on("ping", |ctx| {
            let n = *ctx.arg::<u32>().unwrap();
            let from = ctx.sender();
            assert!(matches!(from, Sender::Session(_)));
            ctx.post(from, "pong", n + 1).unwrap(); // a Sender is a destination
        }),
        (),
    );
    kernel.spawn(
        Session::new(l)
            .on("_start", move |ctx| ctx.post(server, "ping", 1u32).unwrap())
            .on("pong", |ctx| {
                let n = *ctx.arg::<u32>().unwrap();
                say(ctx.heap(), format!("pong {n}"));
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(*log.borrow(), ["pong 2"]);
}

/// Item 4: "addressing a session by number without spelling out
/// `Dest::Number`".
#[test]
fn address_a_session_by_its_number() {
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    let l = log.clone();
    let target = kernel.spawn(
        Session::new(l).on("hello", |ctx| {
            let from = *ctx.arg::<u64>().unwrap();
            say(ctx.heap(), format!("hello from {from}"));
        }),
        (),
    );
    let number: u64 = target.number();
    kernel.spawn(
        Session::new(()).on("_start", move |ctx| {
            let me = ctx.id().number();
            ctx.post(number, "hello", me).unwrap(); // a plain u64
        }),
        (),
    );
    kernel.post(number, "hello", 0u64).unwrap(); // from main too
    kernel.run().unwrap();
    let mut got = log.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        [
            "hello from 0",
            format!("hello from {}", number + 1).as_str()
        ]
    );
}

/// Item 4: "a signal's arguments and its watcher's extras read like event
/// arguments": `ctx.arg` reads the signal's argument (what `signal` sent, a
/// `ChildExit`, a `DieInfo`) and `ctx.extra` the watcher's extras, for
/// signal, child and I/O watchers alike.
#[test]
#[allow(clippy::zombie_processes)] // the kernel reaps it (sig_child_with)
fn signal_arguments_and_watcher_extras_read_like_event_arguments() {
    let log: Log = Rc::default();
    let child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    drop(child); // the kernel reaps it
    let (near, mut far) = rpoe::mio::net::UnixStream::pair().unwrap();
    far.write_all(b"x").unwrap();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((log.clone(), Some(near), Some(far)))
            .on("_start", move |ctx| {
                ctx.sig_with("PING", "pinged", "ping extra").unwrap();
                ctx.sig_child_with(pid, "reaped", 7u8).unwrap();
                let near = ctx.heap().1.take().unwrap();
                let h = ctx.add_handle(near);
                ctx.select_read_with(h, "readable", ('r', 1i64)).unwrap();
                let me = ctx.id();
                ctx.signal(me, "PING", 42u32).unwrap();
            })
            .on("pinged", |ctx| {
                let name = ctx.arg::<Signal>().unwrap().name().to_string();
                let arg = *ctx.arg::<u32>().unwrap();
                let extra = *ctx.extra::<&str>().unwrap();
                // The wrong type is the same error as for an event.
                assert!(matches!(ctx.extra::<u32>(), Err(Error::ArgType { .. })));
                assert!(matches!(ctx.arg::<String>(), Err(Error::ArgType { .. })));
                say(&ctx.heap().0, format!("{name} {arg} {extra}"));
                ctx.sig_remove("PING");
            })
            .on("reaped", move |ctx| {
                let exit = *ctx.arg::<ChildExit>().unwrap();
                let extra = *ctx.extra::<u8>().unwrap();
                assert_eq!(exit.pid, pid);
                say(&ctx.heap().0, format!("CHLD {:?} {extra}", exit.code()));
            })
            .on("readable", |ctx| {
                let h = *ctx.arg::<HandleId>().unwrap();
                let (c, n) = *ctx.extra::<(char, i64)>().unwrap();
                say(&ctx.heap().0, format!("read {c} {n}"));
                ctx.close_handle(h).unwrap();
                ctx.heap().2 = None;
            }),
        (),
    );
    kernel.run().unwrap();
    let mut got = log.borrow().clone();
    got.sort();
    assert_eq!(got, ["CHLD Some(0) 7", "PING 42 ping extra", "read r 1"]);
}

/// Item 4: an event without watcher extras says so, with the same error.
#[test]
fn an_event_without_extras_says_so() {
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(()).on("_start", |ctx| {
            let e = ctx.extra::<u8>().unwrap_err();
            assert!(e.to_string().contains("no extra arguments"), "{e}");
        }),
        (),
    );
    kernel.run().unwrap();
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Item 4: "an argument asked for with the wrong type names both types
/// ... and is also logged".
#[test]
fn the_wrong_argument_type_names_both_types_and_is_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("rpoe::dispatch=warn")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let message = Rc::new(RefCell::new(String::new()));
    let m = message.clone();
    tracing::subscriber::with_default(subscriber, || {
        let mut kernel = Kernel::new().unwrap();
        kernel.spawn(
            Session::new(())
                .on("_start", |ctx| ctx.yield_event("typed", 5u16))
                .on("typed", move |ctx| {
                    // Dropped with `.ok()`: the log still shows the bug.
                    let e = ctx.arg::<String>().unwrap_err();
                    *m.borrow_mut() = e.to_string();
                    assert!(ctx.arg::<String>().ok().is_none());
                }),
            (),
        );
        kernel.run().unwrap();
    });
    let message = message.borrow();
    assert!(message.contains("argument is u16"), "{message}");
    assert!(message.contains("not alloc::string::String"), "{message}");
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        logged
            .matches("argument asked for with the wrong type")
            .count(),
        2,
        "{logged}"
    );
    assert!(logged.contains("WARN"), "{logged}");
    assert!(
        logged.contains("argument is u16, not alloc::string::String"),
        "{logged}"
    );
}

/// Item 4: "record the sent type's name with the payload; `_default` can
/// then describe its arguments too".
#[test]
fn default_can_describe_its_arguments() {
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(log.clone())
            .on("_start", |ctx| {
                ctx.yield_event("tuple", (1u8, String::from("two")));
                ctx.yield_event("nothing", ());
                ctx.yield_event("number", 3.5f64);
            })
            .on("_default", |ctx| {
                let line = format!(
                    "{}: {}",
                    ctx.original_event_name().unwrap(),
                    ctx.arg_type_name()
                );
                say(ctx.heap(), line);
            })
            .on("_stop", |_| ()), // else _stop lands in _default too
        (),
    );
    kernel.run().unwrap();
    assert_eq!(
        *log.borrow(),
        [
            "tuple: (u8, alloc::string::String)",
            "nothing: ()",
            "number: f64"
        ]
    );
}

/// Item 4: "a way to raise DIE from a handler without the process-wide
/// panic hook printing every trapped panic": `Ctx::die` raises DIE with no
/// panic at all (so `panic_location` is empty), and the DIE handler reads
/// the `DieInfo` like any argument.
#[test]
fn die_from_a_handler_without_a_panic() {
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new(log.clone())
            .on("_start", |ctx| {
                ctx.sig("DIE", "died").unwrap();
                ctx.yield_event("work", ());
            })
            .on("work", |ctx| ctx.die("disk full"))
            .on("died", |ctx| {
                let info: &DieInfo = ctx.arg::<DieInfo>().unwrap();
                assert!(info.panic_location.is_none(), "no panic happened");
                let line = format!("{} in {}", info.message, info.event);
                say(ctx.heap(), line);
                ctx.sig_handled();
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(*log.borrow(), ["disk full in work"]);
}

/// Item 4: "builders whose order matters can't be misused silently".
#[test]
fn a_builder_used_in_the_wrong_order_is_refused() {
    let mut kernel = Kernel::new().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let wrong = ServerTcp::new(addr, Line::new())
        .on_connected(|_ctx| unreachable!("set before state(): would never run"))
        .state(|| 0u32)
        .spawn(&mut kernel);
    match wrong {
        Err(Error::Invalid(why)) => assert!(why.contains("on_connected"), "{why}"),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

/// Item 4: "one way to create a session that works both from `main` and
/// from inside a handler, so a POE-style constructor can be called from
/// anywhere, components included".
#[test]
fn one_constructor_from_main_and_from_a_handler() {
    fn daemon(on: &mut impl Spawner, log: Log, name: &'static str) -> SessionId {
        on.spawn_session(
            Session::new(log).on("_start", move |ctx| say(ctx.heap(), format!("{name} up"))),
            (),
        )
    }
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    daemon(&mut kernel, log.clone(), "from main");
    let l = log.clone();
    kernel.spawn(
        Session::new(()).on("_start", move |ctx| {
            let child = daemon(ctx, l.clone(), "from a handler");
            assert!(ctx.children().contains(&child));
            // A component's constructor takes the same Spawner.
            let addr = "127.0.0.1:0".parse().unwrap();
            let info = ServerTcp::new(addr, Line::new()).start(ctx).unwrap();
            assert!(ctx.children().contains(&info.session));
            ctx.signal(info.session, "SHUTDOWN", ()).ok();
            ctx.post(info.session, "shutdown", ()).ok();
        }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(*log.borrow(), ["from main up", "from a handler up"]);
}

/// Item 4: "bare sockets without a direct `mio` dependency (re-export it,
/// and let `add_handle` take std sockets, making them non-blocking)".
#[test]
fn bare_std_sockets_without_a_mio_dependency() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.write_all(b"hi").unwrap();
    let log: Log = Rc::default();
    let mut kernel = Kernel::new().unwrap();
    kernel.spawn(
        Session::new((log.clone(), Some(listener), Some(client)))
            .on("_start", |ctx| {
                let listener = ctx.heap().1.take().unwrap();
                let h = ctx.add_std_handle(listener).unwrap();
                ctx.select_read(h, "accept").unwrap();
            })
            .on("accept", |ctx| {
                let h = *ctx.arg::<HandleId>().unwrap();
                // The re-exported mio names the type; it is non-blocking.
                let l = ctx.handle::<rpoe::mio::net::TcpListener>(h).unwrap();
                let (_peer, from) = l.accept().unwrap();
                let again = l.accept().map(|_| ()).unwrap_err();
                assert_eq!(again.kind(), std::io::ErrorKind::WouldBlock);
                say(&ctx.heap().0, format!("accepted {}", from.ip()));
                ctx.close_handle(h).unwrap();
                ctx.heap().2 = None;
            }),
        (),
    );
    kernel.run().unwrap();
    assert_eq!(*log.borrow(), ["accepted 127.0.0.1"]);
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The library crates' sources (`src/` of every workspace member).
fn library_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for member in [
        "rpoe",
        "rpoe-udp",
        "rpoe-http",
        "rpoe-testkit",
        "rpoe-bench",
        "rpoe-echo",
    ] {
        rust_files(&workspace().join(member).join("src"), &mut files);
    }
    assert!(files.len() > 40, "found only {} files", files.len());
    files
}

/// Item 5: "`Ctx`'s methods grouped so rustdoc shows the groups": every
/// `impl` block of `Ctx` has a doc comment opening with a `# Heading`.
#[test]
fn ctx_methods_are_grouped_under_headings() {
    let mut files = Vec::new();
    rust_files(&workspace().join("rpoe/src/kernel"), &mut files);
    let mut groups = Vec::new();
    let mut bare = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // Inherent blocks only (a trait impl is documented by its trait).
            if !(line.starts_with("impl") && line.contains(" Ctx<")) || line.contains(" for ") {
                continue;
            }
            // The doc comment right above, up to the previous item.
            let heading = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with("///") || l.starts_with("#["))
                .find_map(|l| l.strip_prefix("/// # "));
            match heading {
                Some(h) => groups.push(h.to_string()),
                None => bare.push(format!("{}:{}", file.display(), i + 1)),
            }
        }
    }
    assert!(
        bare.is_empty(),
        "Ctx impl blocks without a heading: {bare:?}"
    );
    assert!(groups.len() >= 8, "only {groups:?}");
    for expected in ["Events", "I/O", "Aliases", "Wheels"] {
        assert!(
            groups.iter().any(|g| g == expected),
            "{expected} not in {groups:?}"
        );
    }
}

/// Item 5: "`# Errors` on every fallible method" and "`[workspace.lints]`
/// so every crate gets the same lint set": clippy's `missing_errors_doc`
/// (and `missing_panics_doc`) are in the workspace lint set and every
/// member opts in, so `cargo clippy -D warnings` enforces the sections.
#[test]
fn one_lint_set_enforces_errors_sections() {
    let root = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let clippy = root
        .split("[workspace.lints.clippy]")
        .nth(1)
        .expect("a [workspace.lints.clippy] table");
    for lint in ["missing_errors_doc", "missing_panics_doc"] {
        assert!(
            clippy
                .lines()
                .any(|l| l.starts_with(lint) && (l.contains("warn") || l.contains("deny"))),
            "{lint} not set"
        );
    }
    for member in [
        "rpoe",
        "rpoe-echo",
        "rpoe-testkit",
        "rpoe-bench",
        "rpoe-udp",
        "rpoe-http",
    ] {
        let manifest =
            std::fs::read_to_string(workspace().join(member).join("Cargo.toml")).unwrap();
        let lints = manifest.split("[lints]").nth(1).unwrap_or("");
        assert!(
            lints.trim_start().starts_with("workspace = true"),
            "{member} does not use the workspace lints"
        );
    }
}

/// Item 5: "`#[non_exhaustive]` on public error enums".
#[test]
fn public_error_enums_are_non_exhaustive() {
    let mut checked = Vec::new();
    let mut open = Vec::new();
    for file in library_sources() {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("pub enum ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.ends_with("Error") {
                continue;
            }
            let attrs = lines[..i].iter().rev().take_while(|l| {
                l.trim_start().starts_with("#[") || l.trim_start().starts_with("///")
            });
            if attrs.clone().any(|l| l.contains("non_exhaustive")) {
                checked.push(name);
            } else {
                open.push(format!("{name} ({})", file.display()));
            }
        }
    }
    assert!(
        open.is_empty(),
        "public error enums without #[non_exhaustive]: {open:?}"
    );
    for expected in [
        "Error",
        "FilterError",
        "TryPostError",
        "PutError",
        "HttpError",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} not in {checked:?}"
        );
    }
}

/// Item 5: "`#[must_use]` where dropping a value is a bug": the guards,
/// handles and wheels whose drop cancels something, and the builders that
/// do nothing until started.
#[test]
fn values_whose_drop_cancels_something_are_must_use() {
    let wanted = [
        ("rpoe/src/kernel/source.rs", "pub struct SourceHandle"),
        ("rpoe/src/kernel/source.rs", "pub struct TimerGuard"),
        ("rpoe/src/kernel/source.rs", "pub enum PostAction"),
        ("rpoe/src/kernel/builder.rs", "pub struct KernelBuilder"),
        ("rpoe/src/wheel/read_write/mod.rs", "pub struct ReadWrite<"),
        (
            "rpoe/src/wheel/read_write/mod.rs",
            "pub struct ReadWriteBuilder",
        ),
        (
            "rpoe/src/wheel/listen_accept.rs",
            "pub struct ListenAccept ",
        ),
        (
            "rpoe/src/wheel/socket_factory/mod.rs",
            "pub struct SocketFactory ",
        ),
        (
            "rpoe/src/wheel/socket_factory/mod.rs",
            "pub struct SocketFactoryBuilder",
        ),
        (
            "rpoe/src/wheel/follow_tail/mod.rs",
            "pub struct FollowTail<",
        ),
        (
            "rpoe/src/wheel/follow_tail/mod.rs",
            "pub struct FollowTailBuilder",
        ),
        ("rpoe/src/wheel/run/mod.rs", "pub struct Run<"),
        ("rpoe/src/wheel/run/builder.rs", "pub struct RunBuilder"),
        (
            "rpoe/src/component/server_tcp/builder.rs",
            "pub struct ServerTcp<",
        ),
        (
            "rpoe/src/component/client_tcp/builder.rs",
            "pub struct ClientTcp<",
        ),
        ("rpoe-udp/src/lib.rs", "pub struct Udp<"),
        ("rpoe-udp/src/lib.rs", "pub struct UdpBuilder"),
    ];
    let mut missing = Vec::new();
    for (file, item) in wanted {
        let text = std::fs::read_to_string(workspace().join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.starts_with(item))
            .unwrap_or_else(|| panic!("{item} not found in {file}"));
        let marked = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
            .any(|l| l.starts_with("#[must_use"));
        if !marked {
            missing.push(item);
        }
    }
    assert!(missing.is_empty(), "not #[must_use]: {missing:?}");
}
