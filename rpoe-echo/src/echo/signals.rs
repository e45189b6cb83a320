//! The session's start (watching the signals) and the signals that do
//! not stop the server: SIGHUP (ignored) and SIGUSR1 (a state report).
//! SIGINT and SIGTERM are in [`super::shutdown`].

use rpoe::Ctx;

use super::Echo;

pub(super) fn start(ctx: &mut Ctx<'_, Echo>) {
    for (sig, event) in [
        ("INT", "shutdown"),
        ("TERM", "shutdown"),
        ("HUP", "hup"),
        ("USR1", "usr1"),
    ] {
        if let Err(e) = ctx.sig(sig, event) {
            tracing::warn!(signal = sig, error = %e, "cannot watch signal");
        }
    }
}

/// SIGHUP: nothing to reopen (logs go to stderr), so it is ignored.
pub(super) fn hup(ctx: &mut Ctx<'_, Echo>) {
    ctx.sig_handled();
    tracing::info!("SIGHUP ignored: logs go to stderr, there is nothing to reopen");
}

/// SIGUSR1: log this kernel's state (every worker logs its own), and on
/// worker 0 the counters summed over all workers. Cheap enough to run on
/// demand: the kernel's introspection is a scan of its tables.
pub(super) fn usr1(ctx: &mut Ctx<'_, Echo>) {
    ctx.sig_handled();
    let me = ctx.id();
    let info = ctx.session_info(me);
    let (sessions, pending) = (ctx.session_count(), ctx.pending_count());
    let echo = ctx.heap();
    tracing::info!(
        worker = echo.cfg.worker,
        sessions,
        pending_events = pending,
        handles = info.as_ref().map_or(0, |i| i.handles),
        watched_handles = info.as_ref().map_or(0, |i| i.watched_handles),
        timers = info.as_ref().map_or(0, |i| i.timers),
        clients = echo.count,
        lingering = echo.lingering,
        buffered_bytes = echo.buffered,
        shutting_down = echo.shutting_down,
        "kernel"
    );
    if echo.cfg.worker == 0 {
        let totals = echo.cfg.metrics.totals().summary();
        tracing::info!(counters = %totals, "counters");
    }
}
