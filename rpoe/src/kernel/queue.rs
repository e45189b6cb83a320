//! The kernel's one queue of events and timers, ordered by due time, FIFO
//! among equal times.
//!
//! POE keeps posts and timers in a single priority queue. Posts always get
//! a due time strictly after the previous post's, so they are already
//! sorted: they live in a `VecDeque` (O(1) post), and timers in a
//! [`TimerQueue`] (a heap keyed by `(due, seq)`, see its module). The two
//! are merged at the head.

use std::collections::VecDeque;

use super::caller::Caller;
use super::clock::Time;
use super::ids::{Sender, TimerId};
use super::names::EventId;
use super::payload::Payload;
pub(crate) use super::timer_queue::Timer;
use super::timer_queue::TimerQueue;

pub(crate) type SessionKey = u32;

/// The target of a signal sent to the kernel: every session.
pub(crate) const KERNEL_KEY: SessionKey = u32::MAX;

/// What a queued entry is for.
pub(crate) enum Kind {
    /// An ordinary event for the target's handler.
    Event,
    /// The kernel's check, queued after a session's creation, that lets a
    /// session with nothing to do be collected in the next round.
    GcCheck,
    /// A signal for the target and its descendants ([`KERNEL_KEY`]: all).
    Signal(std::rc::Rc<str>, std::rc::Rc<dyn std::any::Any>),
}

pub(crate) struct Queued {
    pub target: SessionKey,
    pub sender: Sender,
    pub sender_key: Option<SessionKey>,
    pub event: EventId,
    pub payload: Payload,
    pub kind: Kind,
    /// Who sent it and from where.
    pub caller: Caller,
}

struct FifoItem {
    due: Time,
    seq: u64,
    item: Queued,
}

/// The next entry to dispatch.
pub(crate) enum Next {
    Event(Queued),
    Timer(Timer),
}

#[derive(Default)]
pub(crate) struct Queue {
    fifo: VecDeque<FifoItem>,
    last_fifo_due: Time,
    timers: TimerQueue,
    next_seq: u64,
    next_timer_num: u64,
}

impl Queue {
    pub(crate) fn new() -> Self {
        Queue {
            next_timer_num: 1,
            ..Default::default()
        }
    }

    /// The sequence number the next entry will get: entries below it were
    /// queued before now. A round dispatches only those.
    pub(crate) fn seq_mark(&self) -> u64 {
        self.next_seq
    }

    fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    pub(crate) fn push(&mut self, now: Time, item: Queued) {
        let due = if now > self.last_fifo_due {
            now
        } else {
            Time(self.last_fifo_due.0 + 1)
        };
        self.last_fifo_due = due;
        let seq = self.seq();
        self.fifo.push_back(FifoItem { due, seq, item });
    }

    pub(crate) fn set_timer(
        &mut self,
        session: SessionKey,
        event: EventId,
        due: Time,
        payload: Payload,
        caller: Caller,
    ) -> TimerId {
        let seq = self.seq();
        let num = self.next_timer_num;
        self.next_timer_num += 1;
        let key = self.timers.insert(Timer {
            num,
            due,
            seq,
            session,
            event,
            payload,
            caller,
        });
        TimerId { num, key }
    }

    pub(crate) fn timer(&self, id: TimerId) -> Option<&Timer> {
        self.timers.get(id)
    }

    pub(crate) fn remove_timer(&mut self, id: TimerId) -> Option<Timer> {
        self.timers.remove(id)
    }

    /// Move a timer to a new due time; it goes behind timers already due then.
    pub(crate) fn reschedule(&mut self, id: TimerId, due: Time) -> Option<Time> {
        self.timers.get(id)?;
        let seq = self.seq();
        self.timers.reschedule(id, due, seq)
    }

    /// Ids of a session's timers, optionally only those with one name, in
    /// due order; the cost is the session's own (named) timers'.
    pub(crate) fn timers_of(&self, session: SessionKey, event: Option<EventId>) -> Vec<TimerId> {
        self.timers.ids_of(session, event)
    }

    /// [`Queue::timers_of`] in no particular order.
    pub(crate) fn timers_of_unordered(
        &self,
        session: SessionKey,
        event: Option<EventId>,
    ) -> Vec<TimerId> {
        self.timers.ids_unordered(session, event)
    }

    /// Queued events (not timers) to and from a session.
    pub(crate) fn events_involving(&self, key: SessionKey) -> (usize, usize) {
        let to = self.fifo.iter().filter(|f| f.item.target == key).count();
        let from = self
            .fifo
            .iter()
            .filter(|f| f.item.sender_key == Some(key))
            .count();
        (to, from)
    }

    /// Every event name a queued event or timer holds: its own, and its
    /// sender's active event (for [`super::names::Names`]' sweep).
    pub(crate) fn for_each_event_id(&self, mut f: impl FnMut(EventId)) {
        for q in self.fifo.iter().map(|i| &i.item) {
            f(q.event);
            if let Some(s) = q.caller.state {
                f(s);
            }
        }
        self.timers.for_each(|t| {
            f(t.event);
            if let Some(s) = t.caller.state {
                f(s);
            }
        });
    }

    /// Storage the timer store holds (for the memory tests).
    #[cfg(test)]
    pub(crate) fn timer_footprint(&self) -> usize {
        self.timers.footprint()
    }

    pub(crate) fn timer_count(&self) -> usize {
        self.timers.len()
    }

    pub(crate) fn event_count(&self) -> usize {
        self.fifo.len()
    }

    /// Due time of the earliest entry.
    pub(crate) fn next_due(&mut self) -> Option<Time> {
        let t = self.timers.peek().map(|(d, _)| d);
        let f = self.fifo.front().map(|f| f.due);
        match (t, f) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Take the earliest entry that may run now: queued before
    /// `seq_limit`, and for timers due by `now`. Posted events are always
    /// due (their forced-forward due time only orders them among timers).
    pub(crate) fn pop_due(&mut self, now: Time, seq_limit: u64) -> Option<Next> {
        let timer = self
            .timers
            .peek()
            .filter(|(due, seq)| *due <= now && *seq < seq_limit);
        let event = self
            .fifo
            .front()
            .map(|f| (f.due, f.seq))
            .filter(|(_, seq)| *seq < seq_limit);
        let take_timer = match (timer, event) {
            (Some((td, ts)), Some((fd, fs))) => (td, ts) < (fd, fs),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if take_timer {
            self.timers.pop_peeked().map(Next::Timer)
        } else {
            self.fifo.pop_front().map(|f| Next::Event(f.item))
        }
    }

    /// Remove every queued event matching `pred`, returning them.
    pub(crate) fn drain_events(&mut self, mut pred: impl FnMut(&Queued) -> bool) -> Vec<Queued> {
        let mut out = Vec::new();
        if !self.fifo.iter().any(|f| pred(&f.item)) {
            return out;
        }
        let old = std::mem::take(&mut self.fifo);
        for f in old {
            if pred(&f.item) {
                out.push(f.item);
            } else {
                self.fifo.push_back(f);
            }
        }
        out
    }

    /// Remove every timer and event, returning what was queued.
    pub(crate) fn clear(&mut self) -> (Vec<Queued>, Vec<Timer>) {
        let events = self.fifo.drain(..).map(|f| f.item).collect();
        let timers = self.timers.drain();
        (events, timers)
    }
}
