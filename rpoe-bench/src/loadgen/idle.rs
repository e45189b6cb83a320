//! Idle connections: open many, hold them, and see what each costs the
//! server in resident memory.
//!
//! The server's baseline is taken after one warm-up connection has been
//! served and closed (so buffers allocated on first use are not charged
//! to the idle connections). Every held connection has echoed one line
//! before the measurement (so the server has surely accepted it) and
//! echoes another after the hold (so it surely kept it), then is closed
//! cleanly.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::engine::Engine;
use super::error::LoadError;
use super::report::IdleReport;
use super::Target;
use crate::lines::{LineMaker, MAX_CONNS};
use crate::procfs;

/// Time for the server to settle before a memory reading.
const SETTLE: Duration = Duration::from_millis(300);

/// Open `conns` connections to `target`, measure, hold them for `hold`,
/// and close them.
pub fn run(
    target: &Target,
    conns: usize,
    line_len: usize,
    hold: Duration,
) -> Result<IdleReport, LoadError> {
    let maker = LineMaker::new(line_len).map_err(LoadError::Setup)?;
    warm_up(target, &maker)?;
    std::thread::sleep(SETTLE); // let the server finish closing the warm-up connection
    let rss_before = rss(target)?;

    let t0 = Instant::now();
    let mut engine = Engine::connect(target.addr, conns, maker, target.engine_options())?;
    let connect_time = t0.elapsed();
    std::thread::sleep(SETTLE);
    let rss_after = rss(target)?;

    std::thread::sleep(hold);
    echo_one_each(&mut engine)?;
    engine.finish()?;
    Ok(IdleReport {
        conns,
        connect_time,
        rss_before,
        rss_after,
    })
}

fn echo_one_each(engine: &mut Engine) -> Result<(), LoadError> {
    let now = Instant::now();
    for i in 0..engine.conn_count() {
        engine.send_lines(i, 1, now)?;
    }
    engine.drain()
}

fn rss(target: &Target) -> Result<Option<u64>, LoadError> {
    target
        .server_pid
        .map(procfs::rss_bytes)
        .transpose()
        .map_err(LoadError::Proc)
}

/// One blocking connection: a line out, the same line back, a clean close.
fn warm_up(target: &Target, maker: &LineMaker) -> Result<(), LoadError> {
    let id = (MAX_CONNS - 1) as u32;
    let io = |op| move |e| LoadError::io(id, op, e);
    let mut s = TcpStream::connect_timeout(&target.addr, target.stall_timeout).map_err(|e| {
        LoadError::Connect {
            conn: id,
            addr: target.addr,
            source: e,
        }
    })?;
    s.set_read_timeout(Some(target.stall_timeout))
        .map_err(io("read"))?;
    let mut line = Vec::new();
    maker.push(&mut line, id, 0);
    s.write_all(&line).map_err(io("write"))?;
    let mut back = vec![0; line.len()];
    s.read_exact(&mut back).map_err(io("read"))?;
    if back != line {
        return Err(LoadError::Setup(format!(
            "warm-up connection: sent {:?}, got back {:?}",
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&back)
        )));
    }
    s.shutdown(Shutdown::Write).map_err(io("shutdown"))?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).map_err(io("read"))?;
    if !rest.is_empty() {
        return Err(LoadError::Setup(format!(
            "warm-up connection: {} unexpected byte(s) after the echo",
            rest.len()
        )));
    }
    Ok(())
}
