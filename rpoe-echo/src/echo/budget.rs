//! Making room: evicting the longest-idle connection when a new one
//! arrives at the cap, and closing the biggest holders when the buffered
//! bytes pass the memory budget. Both close for a server reason through
//! [`close_for`].

use rpoe::{Ctx, Time};

use super::client::{Phase, Reason};
use super::closing::close_for;
use super::Echo;
use crate::timeline::List;

/// Most over-budget closes per read event (each frees the biggest holder).
const BUDGET_BATCH: usize = 64;

/// At the cap: evict the connection idle longest — nothing received and
/// nothing pending (head of the idle list) or output not moving (head of
/// the send list) — if it has been so for `evict_idle_after`. O(1): the
/// list heads are the oldest. Returns whether a slot was freed.
pub(super) fn evict_one(ctx: &mut Ctx<'_, Echo>, now: Time) -> bool {
    let echo = ctx.heap();
    let Some(after) = echo.cfg.evict_idle_after else {
        return false;
    };
    let oldest = [List::Idle, List::Send]
        .into_iter()
        .filter_map(|l| echo.timeline.front(l))
        .min_by_key(|&(_, since)| since);
    let Some((slot, since)) = oldest else {
        return false;
    };
    if now.saturating_since(since) < after {
        return false;
    }
    let Some(Some(c)) = echo.conns.get(slot) else {
        return false;
    };
    let h = c.h;
    echo.counters.evicted();
    close_for(ctx, h, Reason::Evicted, now);
    true
}

/// Past the budget, close the connections holding the most until the
/// total is back under it. Finding the biggest is a scan of the table:
/// it runs only while over budget (an attack or too small a budget), and
/// each scan frees the largest holding, so it is not a per-read cost.
pub(super) fn enforce_budget(ctx: &mut Ctx<'_, Echo>, now: Time) {
    for _ in 0..BUDGET_BATCH {
        let echo = ctx.heap();
        if echo.buffered <= echo.cfg.max_buffered {
            return;
        }
        let biggest = echo
            .conns
            .iter()
            .flatten()
            .filter(|c| !matches!(c.phase, Phase::Lingering(_)))
            .max_by_key(|c| c.conn.held())
            .filter(|c| c.conn.held() > 0)
            .map(|c| c.h);
        let Some(h) = biggest else {
            return;
        };
        close_for(ctx, h, Reason::OverBudget, now);
        // A finishing connection closes plainly; either way its buffers
        // are gone now.
    }
}
