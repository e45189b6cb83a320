//! Keeping a connection's watchers and timeout lists in line with its
//! state after each read or write: write watching while output is
//! pending, read pausing at the water marks, and the moves to closing
//! and lingering once output is flushed.

use rpoe::{Ctx, EventId, HandleId, Time};

use super::client::{Client, End, Phase};
use super::closing::{close, linger};
use super::io::Next;
use super::Echo;
use crate::timeline::List;

/// Bring the connection's lists and watchers in line with its state:
/// finishing and flushed closes it, closing and flushed starts lingering;
/// write watcher on while output is pending; reading paused above the
/// high mark and resumed at the low one while open, on while closing
/// (input is discarded), off once the client sent EOF.
pub(super) fn settle(ctx: &mut Ctx<'_, Echo>, h: HandleId, next: Next, now: Time) {
    if let Next::Close(why) = next {
        return close(ctx, h, why);
    }
    let echo = ctx.heap();
    let (high, low, ev_write) = (echo.cfg.high_water, echo.cfg.low_water, echo.ev_write);
    let idx = h.index();
    let Some(Some(client)) = echo.conns.get(idx) else {
        return;
    };
    let (phase, pending) = (client.phase, client.conn.pending());
    match phase {
        Phase::Finishing if pending == 0 => return close(ctx, h, End::Eof),
        Phase::Closing(reason) if pending == 0 => return linger(ctx, h, reason, now),
        Phase::Lingering(_) => return,
        _ => {}
    }
    // Pending output: the send list; open with nothing pending: the idle list.
    if pending > 0 {
        if !echo.timeline.member(idx, List::Send) {
            echo.stamp(idx, List::Send, now);
        }
    } else if !echo.timeline.member(idx, List::Idle) {
        echo.stamp(idx, List::Idle, now);
    }
    let Some(Some(Client {
        conn,
        read_off,
        phase,
        ..
    })) = echo.conns.get_mut(idx)
    else {
        return;
    };
    let mut ops: [Option<Op>; 2] = [None, None];
    if pending > 0 && !conn.write_watched {
        conn.write_watched = true;
        ops[0] = Some(Op::WriteOn);
    } else if pending == 0 && conn.write_watched {
        conn.write_watched = false;
        ops[0] = Some(Op::WriteOff);
    }
    match phase {
        Phase::Finishing => {
            if !*read_off {
                *read_off = true;
                ops[1] = Some(Op::ReadOff);
            }
        }
        Phase::Closing(_) => {
            if conn.read_paused {
                conn.read_paused = false;
                ops[1] = Some(Op::ResumeRead);
            }
        }
        _ => {
            if pending > high && !conn.read_paused {
                conn.read_paused = true;
                ops[1] = Some(Op::PauseRead);
                echo.counters.paused();
            } else if pending <= low && conn.read_paused {
                conn.read_paused = false;
                ops[1] = Some(Op::ResumeRead);
            }
        }
    }
    apply(ctx, h, ev_write, ops);
}

pub(super) fn apply(ctx: &mut Ctx<'_, Echo>, h: HandleId, ev_write: EventId, ops: [Option<Op>; 2]) {
    for op in ops.into_iter().flatten() {
        let r = match op {
            Op::WriteOn => ctx.select_write(h, ev_write),
            Op::WriteOff => ctx.select_write_off(h),
            Op::PauseRead => ctx.select_pause_read(h),
            Op::ResumeRead => ctx.select_resume_read(h),
            Op::ReadOff => ctx.select_read_off(h),
        };
        if let Err(e) = r {
            tracing::warn!(handle = %h, error = %e, "watcher change failed");
        }
    }
}

#[derive(Clone, Copy)]
pub(super) enum Op {
    WriteOn,
    WriteOff,
    PauseRead,
    ResumeRead,
    ReadOff,
}
