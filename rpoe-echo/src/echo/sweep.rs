//! Timeouts: connections sit in [`Timeline`] lists stamped with when they
//! entered, and one `sweep` timer, set for the earliest deadline, closes
//! what is due; a timer per connection would cost a kernel timer each.

use std::time::Duration;

use rpoe::{Ctx, Time};

use super::client::{End, Reason};
use super::closing::{close, close_for};
use super::{Config, Echo};
use crate::timeline::{List, Timeline};

/// Most expired connections handled per list per sweep; the rest wait for
/// the next round, so a mass expiry cannot stall everyone else.
const SWEEP_BATCH: usize = 1024;
/// How long an open connection must have been silent, with nothing
/// pending, for a graceful shutdown to consider it finished: long enough
/// for data the client already wrote to cross a reopened TCP window.
pub(super) const SHUTDOWN_QUIET: Duration = Duration::from_millis(250);

/// The timeline with what [`Echo::stamp`] needs, borrowed apart from the
/// connection table.
pub(super) struct Lists<'a> {
    pub(super) timeline: &'a mut Timeline,
    pub(super) next_due: &'a mut Option<Time>,
    pub(super) cfg: &'a Config,
    pub(super) shutting_down: bool,
}

impl Lists<'_> {
    /// Put `slot` at the tail of `list` stamped `now`, and note its
    /// deadline for the sweep timer.
    pub(super) fn stamp(&mut self, slot: usize, list: List, now: Time) {
        self.timeline.push(slot, list, now);
        if let Some(t) = timeout_of(self.cfg, self.shutting_down, list) {
            let due = now + t + slack(t);
            if self.next_due.is_none_or(|d| due < d) {
                *self.next_due = Some(due);
            }
        }
    }
}

impl Echo {
    pub(super) fn stamp(&mut self, slot: usize, list: List, now: Time) {
        Lists {
            timeline: &mut self.timeline,
            next_due: &mut self.next_due,
            cfg: &self.cfg,
            shutting_down: self.shutting_down,
        }
        .stamp(slot, list, now);
    }
}

/// How long an entry may stay at the head of `list`. While shutting
/// down, an open connection that has received nothing and has nothing
/// pending for [`SHUTDOWN_QUIET`] is done.
fn timeout_of(cfg: &Config, shutting_down: bool, list: List) -> Option<Duration> {
    match list {
        List::Idle if shutting_down => Some(
            cfg.idle_timeout
                .map_or(SHUTDOWN_QUIET, |t| t.min(SHUTDOWN_QUIET)),
        ),
        List::Idle => cfg.idle_timeout,
        List::Send => cfg.send_timeout,
        List::Line => cfg.line_timeout,
        List::Linger => Some(cfg.linger),
    }
}

/// How late a timeout may fire, so that deadlines close together are
/// handled by one sweep: 1/32 of it, between 1 ms and 1 s.
fn slack(timeout: Duration) -> Duration {
    (timeout / 32).clamp(Duration::from_millis(1), Duration::from_secs(1))
}

/// The sweep timer: close what is due in each list (oldest first, at most
/// [`SWEEP_BATCH`] per list), then set the timer for the next deadline.
pub(super) fn sweep(ctx: &mut Ctx<'_, Echo>) {
    let now = ctx.now();
    let echo = ctx.heap();
    echo.sweep_at = None;
    echo.next_due = None;
    let mut more = false;
    for list in [List::Linger, List::Idle, List::Line, List::Send] {
        let echo = ctx.heap();
        let Some(timeout) = timeout_of(&echo.cfg, echo.shutting_down, list) else {
            continue;
        };
        let mut done = 0;
        while let Some((slot, since)) = ctx.heap().timeline.front(list) {
            if now.saturating_since(since) < timeout {
                break;
            }
            if done == SWEEP_BATCH {
                more = true;
                break;
            }
            done += 1;
            let echo = ctx.heap();
            let Some(h) = echo.conns.get(slot).and_then(|c| c.as_ref()).map(|c| c.h) else {
                // Cannot happen (closing removes from every list); do not spin.
                echo.timeline.remove(slot, list);
                continue;
            };
            match list {
                List::Linger => close(ctx, h, End::LingerOver),
                List::Idle if ctx.heap().shutting_down => close_for(ctx, h, Reason::Shutdown, now),
                List::Idle => close_for(ctx, h, Reason::IdleTimeout, now),
                List::Line => close_for(ctx, h, Reason::LineTimeout, now),
                List::Send => close_for(ctx, h, Reason::SendTimeout, now),
            }
            // Whatever happened, the entry left the head of this list.
            if ctx.heap().timeline.front(list).map(|(s, _)| s) == Some(slot) {
                ctx.heap().timeline.remove(slot, list);
            }
        }
    }
    let echo = ctx.heap();
    let mut due = more.then_some(now);
    for list in [List::Linger, List::Idle, List::Line, List::Send] {
        let timeout = timeout_of(&echo.cfg, echo.shutting_down, list);
        if let (Some(t), Some((_, since))) = (timeout, echo.timeline.front(list)) {
            let d = since + t + slack(t);
            due = Some(due.map_or(d, |x: Time| x.min(d)));
        }
    }
    echo.next_due = due;
    arm(ctx);
}

/// Set the sweep timer if a deadline entered since is earlier than it.
pub(super) fn arm(ctx: &mut Ctx<'_, Echo>) {
    let echo = ctx.heap();
    let Some(due) = echo.next_due else {
        return;
    };
    if echo.shutting_down && echo.count + echo.lingering == 0 {
        return;
    }
    if echo.sweep_at.is_none_or(|at| due < at) {
        echo.sweep_at = Some(due);
        ctx.alarm("sweep", due, ());
    }
}
