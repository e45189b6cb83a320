//! What both sides share: the user code run for each post, their
//! threads and runtimes, and the per-thread CPU clock.

use std::thread;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What each post and call carries: a bare sequence number (the default),
/// or with `--pad BYTES` the number and that many bytes of text, the same
/// type on both sides.
pub(crate) trait Arg: Serialize + DeserializeOwned + 'static {
    /// What is sent for number `n`: borrowed from the padding, so that
    /// making it costs neither side an allocation.
    type Out<'a>: Serialize;
    fn out(n: u64, pad: &str) -> Self::Out<'_>;
    /// The number it carries.
    fn n(&self) -> u64;
}

impl Arg for u64 {
    type Out<'a> = u64;
    fn out(n: u64, _: &str) -> u64 {
        n
    }
    fn n(&self) -> u64 {
        *self
    }
}

impl Arg for (u64, String) {
    type Out<'a> = (u64, &'a str);
    fn out(n: u64, pad: &str) -> (u64, &str) {
        (n, pad)
    }
    fn n(&self) -> u64 {
        self.0
    }
}

/// The user code both subscribers run for each post: count it, sum its
/// argument and look at its sender (as a handler of `Incoming` would).
/// Returns the count.
#[inline(never)]
pub(crate) fn handle_hit(count: &mut u64, sum: &mut u64, from: &str, v: u64) -> u64 {
    *count += 1;
    *sum = sum.wrapping_add(v).wrapping_add(from.len() as u64);
    *count
}

/// This thread's id (to read its CPU time from another thread).
pub(crate) fn tid() -> u64 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// CPU time a thread of this process has used so far (ns on a CPU,
/// from the scheduler's /proc/self/task/TID/schedstat).
pub(crate) fn cpu_ns(tid: u64) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A thread with a name, so that per-thread tools (`perf`, `top -H`)
/// tell the four sides apart.
pub(crate) fn named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .expect("spawn a thread")
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
