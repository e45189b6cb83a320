//! The run loop's questions to [`Core`]: take the next due entry and
//! dispatch it (an event, a GC check, a signal or a timer), whether the
//! kernel is idle, and how long the poll may block. `Kernel::run` strings
//! these together into rounds.

use std::time::Duration;

use super::super::clock::Time;
use super::super::dispatch::Delivery;
use super::super::error::Error;
use super::super::ids::Sender;
use super::super::queue::{Due, Kind, Queued, QueuedSignal, Timer};
use super::Core;

impl Core {
    /// Take the next due entry and dispatch it.
    pub(crate) fn dispatch_next(&mut self, now: Time, mark: u64) -> bool {
        match self.queue.peek_due(now, mark) {
            Due::Nothing => false,
            Due::Timer => {
                if let Some(t) = self.queue.take_timer() {
                    self.fire_timer(t);
                }
                true
            }
            Due::Event => {
                if let Some(q) = self.queue.pop_event() {
                    self.dispatch_queued(q);
                }
                true
            }
        }
    }

    /// Dispatch a dequeued event (or GC check, or signal).
    #[inline(always)]
    fn dispatch_queued(&mut self, q: Queued) {
        let (sender, hold, caller) = (q.sender(), q.sender_key(), q.caller());
        let Queued {
            target,
            event,
            kind,
            mut payload,
            ..
        } = q;
        self.release(target, hold);
        match kind {
            Kind::Event => {
                let r = self.deliver_inline(
                    None,
                    target,
                    Delivery {
                        event,
                        sender,
                        payload,
                        active: None,
                        caller,
                    },
                );
                if let Err(e @ Error::NoHandler { .. }) = r {
                    // POE drops these silently; say so at debug.
                    tracing::debug!(target: "rpoe::dispatch", "event dropped: {e}");
                }
            }
            Kind::GcCheck => {}
            Kind::Signal => {
                if let Some(s) = payload.take::<QueuedSignal>() {
                    self.dispatch_signal(target, s.name, s.args);
                }
            }
        }
    }

    fn fire_timer(&mut self, t: Timer) {
        self.sessions.dec(t.session);
        if t.event == self.tasks.wake_event {
            return self.fire_wake(t.payload);
        }
        if let Some(id) = self.sessions.id_of(t.session) {
            let _ = self.deliver(
                None,
                t.session,
                Delivery {
                    event: t.event,
                    sender: Sender::Session(id),
                    payload: t.payload,
                    active: None,
                    caller: t.caller,
                },
            );
        }
    }

    /// True when nothing but aliases keeps any session alive: POE's IDLE.
    pub(crate) fn is_idle(&self) -> bool {
        self.sessions.len() > 0
            && self.queue.event_count() == 0
            && self.queue.timer_count() == 0
            && self.handles.watched_count() == 0
            && self.sessions.extrefs_live() == 0
            && self.signals.no_child_watchers()
    }

    /// How long the poll may block.
    pub(crate) fn poll_timeout(&mut self) -> Result<Option<Duration>, Error> {
        if self.queue.event_count() > 0
            || !self.local.is_empty()
            || self.tasks.has_ready()
            || self
                .remote
                .pending
                .load(std::sync::atomic::Ordering::Acquire)
        {
            // Work is waiting, including cross-thread posts left in the
            // inbox by the per-round cap (no waker will announce those).
            return Ok(Some(Duration::ZERO));
        }
        let now = self.clock.now();
        match self.queue.next_due() {
            Some(due) if due <= now => Ok(Some(Duration::ZERO)),
            Some(due) => {
                if self.clock.is_manual() {
                    if self.handles.watched_count() == 0 {
                        return Err(Error::ClockStalled(due.since_start()));
                    }
                    Ok(None)
                } else {
                    // epoll waits in whole milliseconds (mio rounds up): a
                    // timer less than 1 ms away is waited for by polling
                    // without blocking, so timers keep sub-millisecond
                    // resolution at the cost of that last millisecond's CPU.
                    let wait = due.saturating_since(now);
                    if wait < Duration::from_millis(1) {
                        Ok(Some(Duration::ZERO))
                    } else {
                        Ok(Some(wait))
                    }
                }
            }
            None => Ok(None),
        }
    }
}
