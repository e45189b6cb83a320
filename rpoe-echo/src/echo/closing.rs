//! The ways a connection ends: a server-side close for a reason
//! (Closing), the lingering close once output is written, and closing
//! the socket with its count and log line. Kept in one place because
//! every other part ends connections through these.

use std::net::Shutdown;
use std::sync::atomic::Ordering;

use mio::net::TcpStream;
use rpoe::{Ctx, HandleId, Time};

use super::client::{Client, End, Phase, Reason};
use super::io::Next;
use super::ratelimit::RateLimit;
use super::watchers::{apply, settle, Op};
use super::Echo;
use crate::metrics;
use crate::timeline::List;

/// Move an open (or finishing) connection to Closing: its unfinished line
/// is dropped, and its pending output too if `reason` says so.
pub(super) fn begin_closing(client: &mut Client, buffered: &mut usize, reason: Reason) {
    let before = client.conn.held();
    client.conn.drop_partial();
    if reason.drops_output() {
        client.conn.drop_output();
    }
    *buffered -= before - client.conn.held();
    if matches!(client.phase, Phase::Open | Phase::Closing(_)) {
        client.phase = Phase::Closing(reason);
    }
    if client.reason.is_none() {
        client.reason = Some(reason);
    }
}

pub(super) fn log_close(logs: &mut [RateLimit; Reason::COUNT], h: HandleId, reason: Reason) {
    if let Some(quiet) = logs[reason as usize].due() {
        tracing::info!(handle = %h, reason = reason.as_str(), suppressed = quiet, "closing connection");
    }
    tracing::debug!(handle = %h, reason = reason.as_str(), "closing connection");
}

/// Start a server-side close of `h` for `reason`, then bring it on.
pub(super) fn close_for(ctx: &mut Ctx<'_, Echo>, h: HandleId, reason: Reason, now: Time) {
    let echo = ctx.heap();
    let Some(Some(client)) = echo.conns.get_mut(h.index()) else {
        return;
    };
    if matches!(client.phase, Phase::Lingering(_)) {
        return;
    }
    begin_closing(client, &mut echo.buffered, reason);
    echo.timeline.remove(h.index(), List::Line);
    log_close(&mut echo.close_log, h, reason);
    match reason {
        Reason::IdleTimeout => echo.counters.timed_out(metrics::Timeout::Idle),
        Reason::LineTimeout => echo.counters.timed_out(metrics::Timeout::Line),
        Reason::SendTimeout => echo.counters.timed_out(metrics::Timeout::Send),
        _ => {}
    }
    settle(ctx, h, Next::Continue, now);
}

/// Output written: shut the write side (the client reads EOF after the
/// last echoed byte) and discard input until the client closes or
/// `--linger` passes. The connection no longer counts against the cap;
/// lingering ones are bounded by the cap too (the oldest is closed first).
pub(super) fn linger(ctx: &mut Ctx<'_, Echo>, h: HandleId, reason: Reason, now: Time) {
    let shut = match ctx.handle::<TcpStream>(h) {
        Ok(s) => s.shutdown(Shutdown::Write),
        Err(_) => return,
    };
    if shut.is_err() {
        // Not connected any more (reset by the peer): nothing to protect.
        return close(ctx, h, End::WriteSideGone);
    }
    let echo = ctx.heap();
    let ev_write = echo.ev_write;
    let idx = h.index();
    let Some(Some(client)) = echo.conns.get_mut(idx) else {
        return;
    };
    client.phase = Phase::Lingering(reason);
    let mut ops: [Option<Op>; 2] = [None, None];
    if client.conn.write_watched {
        client.conn.write_watched = false;
        ops[0] = Some(Op::WriteOff);
    }
    if client.conn.read_paused {
        client.conn.read_paused = false;
        ops[1] = Some(Op::ResumeRead);
    }
    echo.count -= 1;
    echo.cfg.clients.fetch_sub(1, Ordering::Relaxed);
    echo.lingering += 1;
    echo.timeline.remove(idx, List::Line);
    echo.stamp(idx, List::Linger, now);
    tracing::debug!(handle = %h, reason = reason.as_str(), "write side shut; lingering");
    let oldest = (echo.lingering > echo.cfg.max_connections)
        .then(|| echo.timeline.front(List::Linger))
        .flatten()
        .and_then(|(slot, _)| echo.conns.get(slot).and_then(|c| c.as_ref()).map(|c| c.h));
    apply(ctx, h, ev_write, ops);
    if let Some(old) = oldest {
        close(ctx, old, End::TooManyLingering);
    }
}

/// Close the socket now (the peer finished, failed, or its linger ended),
/// count it under its reason and log its one close line (at debug: with
/// many clients an info line per close would be the busiest thing the
/// server does).
pub(super) fn close(ctx: &mut Ctx<'_, Echo>, h: HandleId, end: End) {
    let now = ctx.now();
    let echo = ctx.heap();
    if let Some(slot) = echo.conns.get_mut(h.index()) {
        if let Some(client) = slot.take() {
            let reason = client.reason.map_or(end.closed(), Reason::closed);
            echo.counters.closed(reason);
            tracing::debug!(
                peer = %client.peer,
                handle = %h,
                duration_ms = now.saturating_since(client.since).as_millis() as u64,
                bytes_in = client.received,
                bytes_out = client.conn.sent,
                lines = client.conn.lines,
                reason = reason.name(),
                detail = end.detail(),
                "connection closed"
            );
            if matches!(client.phase, Phase::Lingering(_)) {
                echo.lingering -= 1;
            } else {
                echo.count -= 1;
                echo.cfg.clients.fetch_sub(1, Ordering::Relaxed);
            }
            echo.buffered -= client.conn.held();
            echo.timeline.remove_all(h.index());
        }
    }
    let (clients, lingering) = (echo.count, echo.lingering);
    let done = echo.shutting_down && clients + lingering == 0;
    let _ = ctx.close_handle(h);
    tracing::trace!(handle = %h, clients, lingering, "closed");
    if done {
        ctx.alarm_clear("shutdown_deadline");
        ctx.alarm_clear("sweep");
        ctx.heap().sweep_at = None;
        tracing::info!("shutdown complete");
    }
}
