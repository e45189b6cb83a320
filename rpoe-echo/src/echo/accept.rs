//! The listeners: taking them over from the main thread, accepting in
//! batches, the connection cap, and pausing accepts when out of file
//! descriptors.

use std::io::ErrorKind;
use std::sync::atomic::Ordering;

use mio::net::TcpListener;
use rpoe::{Ctx, HandleId};

use super::budget::evict_one;
use super::client::{Client, Phase};
use super::sweep::arm;
use super::Echo;
use crate::conn::Conn;
use crate::timeline::List;

/// Take the listeners and start accepting.
pub(super) fn listen(ctx: &mut Ctx<'_, Echo>) {
    let Ok(listeners) = ctx.take_arg::<Vec<TcpListener>>() else {
        return;
    };
    for listener in listeners {
        let h = ctx.add_handle(listener);
        ctx.heap().listener_handles.push(h);
        if let Err(e) = ctx.select_read(h, "accept") {
            tracing::error!(error = %e, "cannot watch a listener");
        }
    }
}

pub(super) fn accept(ctx: &mut Ctx<'_, Echo>) {
    let Some((listener, _)) = ctx.io() else {
        return;
    };
    let now = ctx.now();
    for _ in 0..ctx.heap().cfg.accept_batch {
        let accepted = match ctx.handle::<TcpListener>(listener) {
            Ok(l) => l.accept(),
            Err(_) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let echo = ctx.heap();
                let clients = echo.cfg.clients.load(Ordering::Relaxed);
                if clients >= echo.cfg.max_connections && !evict_one(ctx, now) {
                    let echo = ctx.heap();
                    echo.counters.rejected();
                    if let Some(quiet) = echo.full_log.due() {
                        tracing::warn!(%peer, max = echo.cfg.max_connections, suppressed = quiet, "connection limit reached and no connection idle long enough to evict; closing new connections");
                    }
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let h = ctx.add_handle(stream);
                let ev = ctx.heap().ev_read;
                if let Err(e) = ctx.select_read(h, ev) {
                    tracing::warn!(%peer, error = %e, "cannot watch a new connection");
                    let _ = ctx.close_handle(h);
                    continue;
                }
                let echo = ctx.heap();
                if echo.conns.len() <= h.index() {
                    echo.conns.resize_with(h.index() + 1, || None);
                }
                echo.conns[h.index()] = Some(Client {
                    h,
                    conn: Conn::default(),
                    phase: Phase::Open,
                    read_off: false,
                    discarded: 0,
                    peer,
                    since: now,
                    received: 0,
                    reason: None,
                });
                echo.counters.accepted();
                echo.stamp(h.index(), List::Idle, now);
                echo.count += 1;
                echo.cfg.clients.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, handle = %h, clients = echo.count, "connected");
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                ctx.heap().counters.accept_error(&e);
                // EMFILE / ENFILE: pause instead of spinning on a listener
                // that stays readable; keep it, and retry shortly.
                let pause = ctx.heap().cfg.emfile_pause;
                if let Some(quiet) = ctx.heap().emfile_log.due() {
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, suppressed = quiet, "out of file descriptors; pausing accepts");
                }
                let _ = ctx.select_pause_read(listener);
                ctx.delay_add("resume_accept", pause, listener);
                break;
            }
            Err(e) => {
                // The client gave up before we accepted it, or similar.
                ctx.heap().counters.accept_error(&e);
                tracing::debug!(error = %e, "accept failed");
            }
        }
    }
    arm(ctx);
}

pub(super) fn resume_accept(ctx: &mut Ctx<'_, Echo>) {
    if let Ok(&listener) = ctx.arg::<HandleId>() {
        let _ = ctx.select_resume_read(listener);
    }
}
