//! A connection's reads and writes: reading and echoing complete lines
//! (or discarding input once closing), and flushing pending output. What
//! follows from the new state is left to [`settle`].

use std::io::{ErrorKind, Read};

use mio::net::TcpStream;
use rpoe::{Ctx, HandleId, Time};

use super::budget::enforce_budget;
use super::client::{Client, End, Phase, Reason};
use super::closing::{begin_closing, log_close};
use super::sweep::{arm, Lists};
use super::watchers::settle;
use super::Echo;
use crate::conn::Fed;
use crate::timeline::List;

/// Most reads from one client per event before others get a turn (the
/// watcher is level-triggered, so what is left is read next round).
const READS_PER_EVENT: usize = 8;

/// Most input discarded from one closing connection before it is closed
/// anyway: the time bound (`--linger`, the send timeout) is what protects
/// the client's data; this bounds the CPU a peer that ignores our EOF and
/// keeps sending can make us spend.
const DISCARD_MAX: usize = 16 * 1024 * 1024;

/// What a read or write handler decided for its connection.
pub(super) enum Next {
    Continue,
    Close(End),
}

pub(super) fn read(ctx: &mut Ctx<'_, Echo>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let now = ctx.now();
    let peer_closed = ctx.io_peer_closed();
    let (next, drained) = read_some(ctx, h, peer_closed, now);
    if drained {
        // Drained: the OS will report new data by itself, so the kernel
        // need not re-arm the socket.
        ctx.io_drained();
    }
    settle(ctx, h, next, now);
    enforce_budget(ctx, now);
    arm(ctx);
}

/// Read and echo what the client sent (or discard it, once closing), up to
/// [`READS_PER_EVENT`] reads. Also says whether the socket was drained.
/// Unless `peer_closed`, a short read proves it (later data or EOF raises
/// a new event), which saves the read that would only return `WouldBlock`.
fn read_some(ctx: &mut Ctx<'_, Echo>, h: HandleId, peer_closed: bool, now: Time) -> (Next, bool) {
    let Ok((echo, stream)) = ctx.heap_and_handle::<TcpStream>(h) else {
        return (Next::Continue, false);
    };
    let idx = h.index();
    let Echo {
        cfg,
        conns,
        rbuf,
        timeline,
        buffered,
        next_due,
        shutting_down,
        close_log,
        counters,
        ..
    } = echo;
    let mut lists = Lists {
        timeline,
        next_due,
        cfg,
        shutting_down: *shutting_down,
    };
    let Some(Some(client)) = conns.get_mut(idx) else {
        return (Next::Continue, false);
    };
    for _ in 0..READS_PER_EVENT {
        let n = match stream.read(rbuf) {
            Ok(0) => {
                match client.phase {
                    Phase::Open => {
                        let before = client.conn.held();
                        client.conn.drop_partial();
                        *buffered -= before - client.conn.held();
                        client.phase = Phase::Finishing;
                        lists.timeline.remove(idx, List::Line);
                    }
                    Phase::Closing(_) => client.phase = Phase::Finishing,
                    Phase::Lingering(_) => return (Next::Close(End::ClientClosed), true),
                    Phase::Finishing => {}
                }
                return (Next::Continue, true);
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (Next::Continue, true),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return (Next::Close(End::ReadError), false),
        };
        client.received += n as u64;
        if client.phase != Phase::Open {
            counters.received(n, 0);
            client.discarded += n;
            if client.discarded > DISCARD_MAX {
                return (Next::Close(End::DiscardLimit), false);
            }
        } else {
            let conn = &mut client.conn;
            let (held0, partial0, pending0) = (conn.held(), conn.partial_len(), conn.pending());
            let (lines0, sent0) = (conn.lines, conn.sent);
            let fed = conn.feed(&rbuf[..n], cfg.max_line, stream);
            counters.received(n, conn.lines - lines0);
            counters.sent((conn.sent - sent0) as usize);
            *buffered = *buffered + conn.held() - held0;
            match fed {
                Ok(Fed::Ok) => {
                    let partial = conn.partial_len();
                    if partial == 0 {
                        lists.timeline.remove(idx, List::Line);
                    } else if partial0 == 0 || partial != partial0 + n {
                        // A new line began in this chunk.
                        lists.stamp(idx, List::Line, now);
                    }
                    if conn.pending() == 0 {
                        lists.stamp(idx, List::Idle, now);
                    } else if pending0 == 0 {
                        lists.stamp(idx, List::Send, now);
                    }
                }
                Ok(Fed::TooLong) => {
                    log_close(close_log, h, Reason::LineTooLong);
                    begin_closing(client, buffered, Reason::LineTooLong);
                    lists.timeline.remove(idx, List::Line);
                }
                Err(_) => return (Next::Close(End::WriteError), false),
            }
        }
        if n < rbuf.len() && !peer_closed {
            return (Next::Continue, true);
        }
        if client.phase == Phase::Open && client.conn.pending() > cfg.high_water {
            break;
        }
    }
    (Next::Continue, false)
}

pub(super) fn write(ctx: &mut Ctx<'_, Echo>) {
    let Some((h, _)) = ctx.io() else {
        return;
    };
    let now = ctx.now();
    let next = match ctx.heap_and_handle::<TcpStream>(h) {
        Ok((echo, stream)) => match echo.conns.get_mut(h.index()) {
            Some(Some(Client { conn, .. })) => {
                let (held0, pending0, sent0) = (conn.held(), conn.pending(), conn.sent);
                let r = conn.flush(stream);
                echo.counters.sent((conn.sent - sent0) as usize);
                echo.buffered = echo.buffered + conn.held() - held0;
                match r {
                    Ok(left) if left > 0 && left < pending0 => {
                        // Output moved: the send timeout starts again.
                        echo.stamp(h.index(), List::Send, now);
                        Next::Continue
                    }
                    Ok(_) => Next::Continue,
                    Err(_) => Next::Close(End::WriteError),
                }
            }
            _ => Next::Continue,
        },
        Err(_) => Next::Continue,
    };
    // flush writes until WouldBlock or nothing is left (then the watcher
    // goes off): either way no re-arm is needed.
    ctx.io_drained();
    settle(ctx, h, next, now);
    arm(ctx);
}
