//! The soak's clients, one thread each, all blocking sockets with
//! timeouts so that every step is bounded in time.
//!
//! Well-behaved clients (lockstep, streamers) must lose nothing; anything
//! they miss is a *loss*. Churn clients that close properly (FIN,
//! half-close) and the over-long-line client check the server's
//! guarantees (complete lines echoed before a close); a wrong or missing
//! byte there is a *violation*. Hostile clients (slowloris, non-readers,
//! idle, RST) are expected to be cut off: they only count what happened.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest any single read or write of a well-behaved client may wait: far
/// above any pause the soak causes on purpose (an EMFILE episode holds
/// new connections ~3 s), so reaching it means the server stalled.
pub const STALL: Duration = Duration::from_secs(20);

/// How long a connect may take (a full accept queue during an episode
/// delays it, a refused one fails at once).
const CONNECT: Duration = Duration::from_secs(5);

/// The timeouts the server runs with, which the hostile clients wait out.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// `--max-line`.
    pub max_line: usize,
    /// `--idle-timeout`.
    pub idle: Duration,
    /// `--line-timeout`.
    pub line: Duration,
    /// `--send-timeout`.
    pub send: Duration,
    /// `--linger`.
    pub linger: Duration,
}

/// What the clients saw, updated as they go.
#[derive(Default, Debug)]
pub struct Tally {
    /// Lines a lockstep client got back intact.
    pub lockstep_lines: AtomicU64,
    /// Bytes streamers sent (complete lines) and got back, verified by
    /// hash when each stream ends.
    pub stream_bytes: AtomicU64,
    /// Streams whose hash and length matched at the end.
    pub streams_ok: AtomicU64,
    /// FIN churn connections that got every line back.
    pub fin_ok: AtomicU64,
    /// Half-close churn connections that got every complete line and EOF.
    pub half_ok: AtomicU64,
    /// RST churn connections (reset by the client after sending).
    pub rst: AtomicU64,
    /// Churn connections closed by the server before any echo (refused at
    /// --max-connections or evicted during a storm): allowed.
    pub churn_refused: AtomicU64,
    /// Slowloris and idle connections closed by the server soon after
    /// connecting (refused at the cap, or evicted).
    pub hostile_refused: AtomicU64,
    /// Slowloris connections cut by the server.
    pub slowloris_cut: AtomicU64,
    /// Idle connections cut by the server.
    pub idle_cut: AtomicU64,
    /// Non-reading connections that got blocked and were then dropped.
    pub nonreader_cycles: AtomicU64,
    /// Over-long-line connections whose earlier line came back, then EOF.
    pub overlong_ok: AtomicU64,
    /// Well-behaved clients' losses: each a description.
    pub losses: Mutex<Vec<String>>,
    /// Broken guarantees seen by churn and over-long-line clients.
    pub violations: Mutex<Vec<String>>,
}

impl Tally {
    fn loss(&self, what: String) {
        eprintln!("rpoe-bench soak: LOSS: {what}");
        if let Ok(mut v) = self.losses.lock() {
            v.push(what);
        }
    }

    fn violation(&self, what: String) {
        eprintln!("rpoe-bench soak: VIOLATION: {what}");
        if let Ok(mut v) = self.violations.lock() {
            v.push(what);
        }
    }
}

/// What every client thread shares.
#[derive(Clone)]
pub struct Ctx {
    /// The echo server.
    pub addr: SocketAddr,
    /// Set when the clients should finish.
    pub stop: Arc<AtomicBool>,
    /// The results.
    pub tally: Arc<Tally>,
    /// The server's timeouts.
    pub limits: ServerLimits,
}

impl Ctx {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleep up to `d`, returning early (true) when stopping, so that no
    /// client delays the end by more than a poll step.
    fn nap(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stopping() {
                return true;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
        }
        self.stopping()
    }
}

/// How many clients of each kind run for the whole soak.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Lockstep request/response clients.
    pub lockstep: usize,
    /// Streamers (writer and reader threads each).
    pub streamers: usize,
    /// Churn threads (FIN, half-close, RST in turn).
    pub churn: usize,
    /// Slowloris threads.
    pub slowloris: usize,
    /// Non-reading client threads.
    pub nonreaders: usize,
    /// Idle client threads.
    pub idle: usize,
}

/// The moderate default: about 1,000 lines/s and 1 MB/s in total, so a
/// loaded 2-CPU machine keeps up and nothing stalls by accident.
pub const MIX: Mix = Mix {
    lockstep: 8,
    streamers: 4,
    churn: 2,
    slowloris: 3,
    nonreaders: 2,
    idle: 2,
};

/// Start every client thread.
pub fn start(ctx: &Ctx, mix: Mix) -> Result<Vec<JoinHandle<()>>, String> {
    let mut threads = Vec::new();
    let mut spawn = |name: String, f: Box<dyn FnOnce() + Send>| -> Result<(), String> {
        let t = std::thread::Builder::new()
            .name(name.clone())
            .spawn(f)
            .map_err(|e| format!("cannot start thread {name}: {e}"))?;
        threads.push(t);
        Ok(())
    };
    for i in 0..mix.lockstep {
        let c = ctx.clone();
        spawn(format!("lockstep-{i}"), Box::new(move || lockstep(&c, i)))?;
    }
    for i in 0..mix.streamers {
        let c = ctx.clone();
        spawn(format!("stream-{i}"), Box::new(move || streamer(&c, i)))?;
    }
    for i in 0..mix.churn {
        let c = ctx.clone();
        spawn(format!("churn-{i}"), Box::new(move || churn(&c, i)))?;
    }
    for i in 0..mix.slowloris {
        let c = ctx.clone();
        spawn(format!("slowloris-{i}"), Box::new(move || slowloris(&c)))?;
    }
    for i in 0..mix.nonreaders {
        let c = ctx.clone();
        spawn(format!("nonreader-{i}"), Box::new(move || nonreader(&c)))?;
    }
    for i in 0..mix.idle {
        let c = ctx.clone();
        spawn(format!("idle-{i}"), Box::new(move || idle(&c)))?;
    }
    let c = ctx.clone();
    spawn("overlong".into(), Box::new(move || overlong(&c)))?;
    Ok(threads)
}

/// A connection with both directions bounded by `timeout`.
pub fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, CONNECT)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A small, fast, reproducible generator for line contents (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeded; a zero seed is replaced (xorshift would stay at zero).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo) as u64) as usize
    }
}

/// A distinct line: a tag, a sequence number, then printable padding up
/// to `len` bytes, newline included.
fn make_line(tag: &str, seq: u64, len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut line = format!("{tag} {seq} ").into_bytes();
    while line.len() + 1 < len {
        line.push(b'!' + (rng.next() % 94) as u8);
    }
    line.push(b'\n');
    line
}

/// FNV-1a, 64 bits: a running hash that does not depend on how the
/// stream was split into reads, so sent and received bytes can be
/// compared without keeping them.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Hash more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn value(self) -> u64 {
        self.0
    }
}

/// One line in flight at a time, each checked byte for byte; at the end
/// the client half-closes and must read EOF with nothing extra.
fn lockstep(ctx: &Ctx, id: usize) {
    let who = format!("lockstep-{id}");
    let stream = match connect(ctx.addr, STALL) {
        Ok(s) => s,
        Err(e) => return ctx.tally.loss(format!("{who}: connect: {e}")),
    };
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(e) => return ctx.tally.loss(format!("{who}: {e}")),
    };
    let mut reader = BufReader::new(stream);
    let mut rng = Rng::new(id as u64 + 1);
    let mut got = Vec::new();
    let mut seq = 0u64;
    while !ctx.stopping() {
        let line = make_line(&who, seq, rng.range(16, 300), &mut rng);
        if let Err(e) = writer.write_all(&line) {
            return ctx.tally.loss(format!("{who}: write of line {seq}: {e}"));
        }
        got.clear();
        match reader.read_until(b'\n', &mut got) {
            Ok(_) if got == line => {}
            Ok(0) => return ctx.tally.loss(format!("{who}: EOF waiting for line {seq}")),
            Ok(_) => {
                return ctx.tally.loss(format!(
                    "{who}: line {seq}: sent {:?}, got {:?}",
                    String::from_utf8_lossy(&line),
                    String::from_utf8_lossy(&got)
                ))
            }
            Err(e) => return ctx.tally.loss(format!("{who}: reading line {seq}: {e}")),
        }
        ctx.tally.lockstep_lines.fetch_add(1, Ordering::Relaxed);
        seq += 1;
        // About 100 round trips a second each: a steady, moderate load.
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = writer.shutdown(Shutdown::Write);
    got.clear();
    match reader.read_to_end(&mut got) {
        Ok(0) => {}
        Ok(n) => ctx
            .tally
            .loss(format!("{who}: {n} unexpected bytes after the last line")),
        Err(e) => ctx.tally.loss(format!("{who}: waiting for EOF: {e}")),
    }
}

/// Lines of random length written continuously (about 200 KB/s) by one
/// thread and read by another; the running hashes and lengths of what
/// was sent and received must match once the writer half-closes.
fn streamer(ctx: &Ctx, id: usize) {
    let who = format!("stream-{id}");
    let stream = match connect(ctx.addr, STALL) {
        Ok(s) => s,
        Err(e) => return ctx.tally.loss(format!("{who}: connect: {e}")),
    };
    let mut reader = match stream.try_clone() {
        Ok(r) => r,
        Err(e) => return ctx.tally.loss(format!("{who}: {e}")),
    };
    let read_thread = std::thread::Builder::new()
        .name(format!("{who}-read"))
        .spawn(move || {
            let mut hash = Fnv::default();
            let mut n = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => return Ok((hash.value(), n)),
                    Ok(k) => {
                        hash.update(&buf[..k]);
                        n += k as u64;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("after {n} bytes: {e}")),
                }
            }
        });
    let read_thread = match read_thread {
        Ok(t) => t,
        Err(e) => {
            return ctx
                .tally
                .loss(format!("{who}: cannot start its reader: {e}"))
        }
    };
    let mut writer = stream;
    let mut rng = Rng::new(1000 + id as u64);
    let mut hash = Fnv::default();
    let mut sent = 0u64;
    let mut seq = 0u64;
    let mut chunk = Vec::with_capacity(8192);
    let mut write_error = None;
    while !ctx.stopping() {
        chunk.clear();
        while chunk.len() < 4096 {
            let len = rng.range(1, 1000);
            chunk.extend_from_slice(&make_line(&who, seq, len, &mut rng));
            seq += 1;
        }
        if let Err(e) = writer.write_all(&chunk) {
            write_error = Some(format!("{who}: write after {sent} bytes: {e}"));
            break;
        }
        hash.update(&chunk);
        sent += chunk.len() as u64;
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.shutdown(Shutdown::Write);
    let read = read_thread
        .join()
        .unwrap_or_else(|_| Err("reader panicked".into()));
    if let Some(e) = write_error {
        return ctx.tally.loss(e);
    }
    match read {
        Ok((h, n)) if h == hash.value() && n == sent => {
            ctx.tally.stream_bytes.fetch_add(sent, Ordering::Relaxed);
            ctx.tally.streams_ok.fetch_add(1, Ordering::Relaxed);
        }
        Ok((h, n)) => ctx.tally.loss(format!(
            "{who}: sent {sent} bytes (hash {:016x}), received {n} (hash {h:016x})",
            hash.value()
        )),
        Err(e) => ctx.tally.loss(format!("{who}: reading: {e}")),
    }
}

/// Short connections in turn: FIN (send, read every echo, close),
/// half-close (send lines and a fragment, shut the write side, read to
/// EOF: every complete line and nothing more), RST (send, then reset).
fn churn(ctx: &Ctx, id: usize) {
    let mut rng = Rng::new(2000 + id as u64);
    let mut n = 0u64;
    while !ctx.stopping() {
        let who = format!("churn-{id}-{n}");
        let lines: Vec<Vec<u8>> = (0..rng.range(1, 20))
            .map(|i| {
                let len = rng.range(8, 200);
                make_line(&who, i as u64, len, &mut rng)
            })
            .collect();
        let expected: Vec<u8> = lines.concat();
        match n % 3 {
            0 => churn_fin(ctx, &who, &expected),
            1 => churn_half(ctx, &who, &expected),
            _ => churn_rst(ctx, &expected),
        }
        n += 1;
        if ctx.nap(Duration::from_millis(100)) {
            break;
        }
    }
}

/// Whether an outcome means the server closed the connection before
/// echoing anything: refused at --max-connections (closed at once, maybe
/// with a reset), which the soak provokes on purpose.
fn refused(got: &[u8], err: Option<&std::io::Error>) -> bool {
    got.is_empty()
        && err.is_none_or(|e| {
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::BrokenPipe
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
            )
        })
}

/// Read until EOF, an error or `limit` bytes; what was read and the error.
fn read_all(s: &mut TcpStream, limit: usize) -> (Vec<u8>, Option<std::io::Error>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(k) => {
                got.extend_from_slice(&buf[..k]);
                if got.len() > limit {
                    return (got, None);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (got, Some(e)),
        }
    }
}

fn churn_fin(ctx: &Ctx, who: &str, expected: &[u8]) {
    let Ok(mut s) = connect(ctx.addr, STALL) else {
        ctx.tally.churn_refused.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let wrote = s.write_all(expected);
    let mut got = vec![0u8; expected.len()];
    let mut have = 0;
    let mut err = wrote.err();
    while err.is_none() && have < got.len() {
        match s.read(&mut got[have..]) {
            Ok(0) => break,
            Ok(k) => have += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => err = Some(e),
        }
    }
    got.truncate(have);
    if got == expected {
        ctx.tally.fin_ok.fetch_add(1, Ordering::Relaxed);
    } else if refused(&got, err.as_ref()) {
        ctx.tally.churn_refused.fetch_add(1, Ordering::Relaxed);
    } else {
        ctx.tally.violation(format!(
            "{who} (FIN): sent {} bytes, got {} back{}",
            expected.len(),
            got.len(),
            err.map(|e| format!(" then {e}")).unwrap_or_default()
        ));
    }
}

fn churn_half(ctx: &Ctx, who: &str, expected: &[u8]) {
    let Ok(mut s) = connect(ctx.addr, STALL) else {
        ctx.tally.churn_refused.fetch_add(1, Ordering::Relaxed);
        return;
    };
    // A trailing fragment without a newline: dropped at EOF by design.
    let sent = [expected, b"fragment-without-newline"].concat();
    let wrote = s
        .write_all(&sent)
        .and_then(|()| s.shutdown(Shutdown::Write));
    let (got, err) = read_all(&mut s, sent.len() + 1);
    if wrote.is_ok() && err.is_none() && got == expected {
        ctx.tally.half_ok.fetch_add(1, Ordering::Relaxed);
    } else if refused(&got, err.as_ref().or(wrote.as_ref().err())) {
        ctx.tally.churn_refused.fetch_add(1, Ordering::Relaxed);
    } else {
        ctx.tally.violation(format!(
            "{who} (half-close): expected {} bytes then EOF, got {}{}",
            expected.len(),
            got.len(),
            err.or(wrote.err())
                .map(|e| format!(" then {e}"))
                .unwrap_or_default()
        ));
    }
}

fn churn_rst(ctx: &Ctx, expected: &[u8]) {
    let Ok(mut s) = connect(ctx.addr, STALL) else {
        ctx.tally.churn_refused.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = s.write_all(expected);
    // Read part of the echo, so the reset meets output in both states.
    let mut some = [0u8; 16];
    let _ = s.read(&mut some);
    reset(s);
    ctx.tally.rst.fetch_add(1, Ordering::Relaxed);
}

/// Close with a reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    let sock = socket2::Socket::from(s);
    let _ = sock.set_linger(Some(Duration::ZERO));
    drop(sock);
}

/// Read with a short timeout until EOF or an error (true), or until
/// `within` passes (false); sends `drip` (if any) between reads.
fn wait_for_close(ctx: &Ctx, s: &mut TcpStream, within: Duration, drip: Option<&[u8]>) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(1000)));
    let end = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < end && !ctx.stopping() {
        if let Some(d) = drip {
            if s.write_all(d).is_err() {
                return true;
            }
        }
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    false
}

/// One byte a second, never a newline: the line timeout must cut it.
fn slowloris(ctx: &Ctx) {
    hold_until_cut(ctx, ctx.limits.line, Some(b"x"), &ctx.tally.slowloris_cut);
}

/// Connects and says nothing: the idle timeout (or an eviction) must cut it.
fn idle(ctx: &Ctx) {
    hold_until_cut(ctx, ctx.limits.idle, None, &ctx.tally.idle_cut);
}

/// Connect, drip (or not), wait for the server to close; again. A close
/// much sooner than `timeout` is a refusal at the cap (during a storm) or
/// an eviction: it is not counted as a cut, and the next connect waits a
/// moment so that refusals cannot turn into a busy loop.
fn hold_until_cut(ctx: &Ctx, timeout: Duration, drip: Option<&[u8]>, cut: &AtomicU64) {
    while !ctx.stopping() {
        let Ok(mut s) = connect(ctx.addr, STALL) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        let opened = Instant::now();
        if wait_for_close(ctx, &mut s, timeout * 3, drip) {
            if opened.elapsed() >= timeout / 2 {
                cut.fetch_add(1, Ordering::Relaxed);
            } else {
                ctx.tally.hostile_refused.fetch_add(1, Ordering::Relaxed);
                ctx.nap(Duration::from_secs(1));
            }
        }
        drop(s);
    }
}

/// Sends lines and never reads the echoes until its writes block (the
/// server stops reading at --high-water); then waits out the send timeout
/// and the linger, and resets the connection (unread data is pending).
fn nonreader(ctx: &Ctx) {
    let mut rng = Rng::new(3000);
    let mut seq = 0u64;
    while !ctx.stopping() {
        let Ok(mut s) = connect(ctx.addr, Duration::from_secs(1)) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        let started = Instant::now();
        let mut chunk = Vec::new();
        // Bounded: writes time out after 1 s once the server stops reading.
        while !ctx.stopping() && started.elapsed() < ctx.limits.send * 3 {
            chunk.clear();
            while chunk.len() < 16 * 1024 {
                chunk.extend_from_slice(&make_line("nonreader", seq, 200, &mut rng));
                seq += 1;
            }
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
        ctx.nap(ctx.limits.send + ctx.limits.linger + Duration::from_secs(3));
        reset(s);
        ctx.tally.nonreader_cycles.fetch_add(1, Ordering::Relaxed);
    }
}

/// A good line, then a line longer than --max-line: the good line must
/// come back, then EOF (a lingering close, not a reset).
fn overlong(ctx: &Ctx) {
    let mut n = 0u64;
    while !ctx.stopping() {
        let who = format!("overlong-{n}");
        n += 1;
        let Ok(mut s) = connect(ctx.addr, STALL) else {
            ctx.nap(Duration::from_secs(1));
            continue;
        };
        let good = format!("{who} is fine\n").into_bytes();
        let long = vec![b'y'; ctx.limits.max_line + 100];
        // The server may close before taking all of the long line.
        let _ = s.write_all(&good).and_then(|()| s.write_all(&long));
        let (got, err) = read_all(&mut s, good.len() + 1);
        if got == good && err.is_none() {
            ctx.tally.overlong_ok.fetch_add(1, Ordering::Relaxed);
        } else if !refused(&got, err.as_ref()) {
            ctx.tally.violation(format!(
                "{who}: expected its good line back then EOF, got {:?}{}",
                String::from_utf8_lossy(&got),
                err.map(|e| format!(" then {e}")).unwrap_or_default()
            ));
        }
        drop(s);
        ctx.nap(Duration::from_secs(1));
    }
}

/// An open-and-hold connection for the eviction and EMFILE episodes.
pub fn hold(addr: SocketAddr) -> Option<TcpStream> {
    connect(addr, Duration::from_secs(2)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_does_not_depend_on_splitting() {
        let mut a = Fnv::default();
        a.update(b"hello world\n");
        let mut b = Fnv::default();
        b.update(b"hello");
        b.update(b" world\n");
        assert_eq!(a.value(), b.value());
        assert_ne!(a.value(), Fnv::default().value());
    }

    #[test]
    fn lines_are_distinct_and_terminated() {
        let mut rng = Rng::new(7);
        let a = make_line("t", 1, 40, &mut rng);
        let b = make_line("t", 2, 40, &mut rng);
        assert_ne!(a, b);
        assert_eq!(a.len(), 40);
        assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 1);
        assert_eq!(a.last(), Some(&b'\n'));
    }
}
