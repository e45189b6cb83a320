//! Graceful shutdown on SIGINT/SIGTERM: stop accepting, let each
//! connection finish what it already sent, and cut the rest at the
//! shutdown timeout. Kept apart because it changes how the other parts
//! behave (the sweep's idle timeout, accepts) for the server's last
//! seconds.

use std::sync::atomic::Ordering;

use rpoe::{Ctx, HandleId, Signal};

use super::client::End;
use super::closing::close;
use super::sweep::arm;
use super::Echo;

/// SIGINT/SIGTERM: stop accepting; keep reading each client and echoing
/// its complete lines until it sends EOF, or has had nothing more to say
/// and nothing pending for [`SHUTDOWN_QUIET`]; then close it as a
/// lingering close — all within `shutdown_timeout`. A second signal stops
/// at once.
///
/// Why a quiet period rather than the first would-block: bytes a client
/// has already written may still sit in its own send buffer, waiting for
/// the window our reads reopen; a read that would block says only that
/// none has arrived *yet* (measured on loopback: 10 clients × 1 MiB, a
/// quarter echoed if we stopped at the first would-block).
///
/// [`SHUTDOWN_QUIET`]: super::sweep::SHUTDOWN_QUIET
pub(super) fn shutdown(ctx: &mut Ctx<'_, Echo>) {
    ctx.sig_handled();
    let sig = ctx
        .arg::<Signal>()
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    if ctx.heap().shutting_down {
        tracing::warn!(signal = %sig, clients = ctx.heap().count, "second signal: stopping now");
        ctx.heap().cfg.forced.store(true, Ordering::Relaxed);
        ctx.stop_kernel();
        return;
    }
    ctx.heap().shutting_down = true;
    let timeout = ctx.heap().cfg.shutdown_timeout;
    tracing::info!(signal = %sig, clients = ctx.heap().count, timeout_ms = timeout.as_millis() as u64, "shutting down: no new connections; finishing lines already received");
    for l in std::mem::take(&mut ctx.heap().listener_handles) {
        let _ = ctx.close_handle(l);
    }
    ctx.alarm_clear("resume_accept");
    if ctx.heap().count + ctx.heap().lingering == 0 {
        ctx.alarm_clear("sweep");
        return;
    }
    ctx.delay("shutdown_deadline", timeout, ());
    // Open connections now end once quiet (see `timeout_of`): sweep now
    // to close those that already are, and set the timer for the rest.
    let now = ctx.now();
    let echo = ctx.heap();
    echo.next_due = Some(now);
    echo.sweep_at = None;
    ctx.alarm_clear("sweep");
    arm(ctx);
}

pub(super) fn shutdown_deadline(ctx: &mut Ctx<'_, Echo>) {
    let echo = ctx.heap();
    tracing::warn!(
        clients = echo.count,
        lingering = echo.lingering,
        "shutdown timeout: closing connections with output still pending"
    );
    let all: Vec<HandleId> = ctx.heap().conns.iter().flatten().map(|c| c.h).collect();
    for h in all {
        close(ctx, h, End::ShutdownTimeout);
    }
}
