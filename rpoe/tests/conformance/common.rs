//! Shared plumbing for the conformance twins: a per-thread trace the
//! handlers print into, and the comparison with the recorded POE output.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use rpoe::{Ctx, Error, Sender, SessionId, Value};

thread_local! {
    static TRACE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static NAMES: RefCell<Option<HashMap<u64, String>>> = const { RefCell::new(None) };
}

/// Append one line to this thread's trace (each `#[test]` runs on its own
/// thread; [`check`] also clears the trace before the twin runs).
pub fn say(line: String) {
    TRACE.with(|t| t.borrow_mut().push(line));
}

/// `println!` into the trace.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::common::say(format!($($arg)*))
    };
}

/// Twins run one at a time: OS signals (a twin that `kill`s its own
/// process, a kernel that watches INT or TERM) and child processes are
/// process-wide, and one twin's must not reach another's kernel.
static SERIAL: Mutex<()> = Mutex::new(());

/// Run a twin and compare its trace, line by line, with
/// `conformance/perl/<name>.expected`; panic with a diff on mismatch.
pub fn check(name: &str, twin: impl FnOnce()) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    TRACE.with(|t| t.borrow_mut().clear());
    NAMES.with(|n| *n.borrow_mut() = None);
    twin();
    let got = TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()));
    let path = expected_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let expected: Vec<&str> = text.lines().collect();
    let got: Vec<&str> = got.iter().map(String::as_str).collect();
    if expected != got {
        panic!(
            "\n{name}: rpoe's trace differs from POE 1.37's ({})\n\
             --- expected (POE)  +++ got (rpoe)\n{}",
            path.display(),
            diff(&expected, &got)
        );
    }
}

fn expected_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("rpoe sits in the workspace")
        .join("conformance/perl")
        .join(format!("{name}.expected"))
}

/// A line diff (longest common subsequence), every line shown with its
/// marker: `  ` same, `- ` only expected, `+ ` only got.
fn diff(a: &[&str], b: &[&str]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}

// ----- how POE would print a few things -----

/// `$_[SENDER]` as the scripts print it: `kernel` or the session's ID.
pub fn sender(s: Sender) -> String {
    match s {
        Sender::Kernel => "kernel".to_string(),
        Sender::Session(id) => id.number().to_string(),
    }
}

/// Perl's `defined $x ? $x : 'undef'` for a handler's return value: `()`
/// is undef; strings print as themselves.
pub fn value(v: &Value) -> String {
    if v.is_unit() {
        "undef".to_string()
    } else if let Some(s) = v.get::<&str>() {
        s.to_string()
    } else if let Some(s) = v.get::<String>() {
        s.clone()
    } else if let Some(n) = v.get::<i32>() {
        n.to_string()
    } else if let Some(n) = v.get::<i64>() {
        n.to_string()
    } else if let Some(n) = v.get::<u32>() {
        n.to_string()
    } else {
        format!("{v:?}")
    }
}

/// An event's argument list joined with commas, as `join(',', @args)`:
/// `()` is the empty list, a `&str` one element, tuples of `&str` several.
pub fn args(v: &Value) -> String {
    if v.is_unit() {
        String::new()
    } else if let Some(s) = v.get::<&str>() {
        s.to_string()
    } else if let Some((a, b)) = v.get::<(&str, &str)>() {
        format!("{a},{b}")
    } else if let Some(v) = v.get::<Vec<&str>>() {
        v.join(",")
    } else {
        format!("{v:?}")
    }
}

/// An event's arguments as `join(',', @_[ARG0..$#_])`, with the same
/// layout rules as [`args`].
pub fn ctx_args<H>(ctx: &Ctx<'_, H>) -> String {
    if ctx.arg::<()>().is_ok() {
        String::new()
    } else if let Ok(s) = ctx.arg::<&str>() {
        s.to_string()
    } else if let Ok((a, b)) = ctx.arg::<(&str, &str)>() {
        format!("{a},{b}")
    } else if let Ok(v) = ctx.arg::<Vec<&str>>() {
        v.join(",")
    } else {
        "?".to_string()
    }
}

/// Remember a session's name for [`nm`] (the scripts' `%name`).
pub fn set_name(id: SessionId, name: &str) {
    NAMES.with(|n| {
        n.borrow_mut()
            .get_or_insert_with(HashMap::new)
            .insert(id.number(), name.to_string());
    });
}

/// The scripts' `nm($session)`: `kernel`, the session's name, or its ID.
pub fn nm(s: Sender) -> String {
    match s {
        Sender::Kernel => "kernel".to_string(),
        Sender::Session(id) => nm_id(id),
    }
}

/// [`nm`] for a session id.
pub fn nm_id(id: SessionId) -> String {
    NAMES
        .with(|n| {
            n.borrow()
                .as_ref()
                .and_then(|m| m.get(&id.number()).cloned())
        })
        .unwrap_or_else(|| id.number().to_string())
}

/// The scripts' `errname()`: the errno name of a failure, `0` for success.
pub fn errname<T>(r: &Result<T, Error>) -> String {
    match r {
        Ok(_) => "0".to_string(),
        Err(e) => e.errno_name().to_string(),
    }
}

/// `$! == ESRCH ? 1 : 0` and friends.
pub fn errno_is<T>(r: &Result<T, Error>, name: &str) -> u8 {
    match r {
        Err(e) if e.errno_name() == name => 1,
        _ => 0,
    }
}

/// The scripts' `fork` of a child that sleeps `secs` and exits `code`:
/// a `sh` child, returning its pid. It is deliberately not waited for
/// here — the kernel's `sig_child` reaps it, which is what is tested.
#[allow(clippy::zombie_processes)]
pub fn fork_exit(secs: &str, code: i32) -> u32 {
    std::process::Command::new("sh")
        .args(["-c", &format!("sleep {secs}; exit {code}")])
        .spawn()
        .expect("spawn sh")
        .id()
}

/// Bound a twin's run: a session that only an alias keeps (so it never
/// keeps the kernel up by itself) stops the kernel if the twin is still
/// running after `limit`, so a twin that would hang fails with a trace
/// instead. Dropping the guard disarms it.
pub fn watchdog(
    kernel: &mut rpoe::Kernel,
    alias: &'static str,
    limit: std::time::Duration,
) -> impl Drop {
    struct Guard(Option<std::sync::mpsc::Sender<()>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.take();
        }
    }
    kernel.spawn(
        rpoe::Session::new(())
            .on("_start", move |ctx| ctx.alias_set(alias).unwrap())
            .on("expire", |ctx| {
                say!("(watchdog: the twin was still running; kernel stopped)");
                ctx.stop_kernel();
            }),
        (),
    );
    let handle = kernel.handle();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if rx.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let _ = handle.post(alias, "expire", ());
        }
    });
    Guard(Some(tx))
}
