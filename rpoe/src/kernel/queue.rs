//! The kernel's one queue of events and timers, ordered by due time, FIFO
//! among equal times.
//!
//! POE keeps posts and timers in a single priority queue. Posts always get
//! a due time strictly after the previous post's, so they are already
//! sorted: they live in a `VecDeque` (O(1) post), and timers in a
//! [`TimerQueue`] (a heap keyed by `(due, seq)`, see its module). The two
//! are merged at the head.

use std::collections::VecDeque;
use std::panic::Location;

use super::caller::Caller;
use super::clock::Time;
use super::ids::{Sender, SessionId, TimerId};
use super::names::EventId;
use super::payload::Payload;
pub(crate) use super::timer_queue::Timer;
use super::timer_queue::TimerQueue;

pub(crate) type SessionKey = u32;

/// The target of a signal sent to the kernel: every session.
pub(crate) const KERNEL_KEY: SessionKey = u32::MAX;

/// What a queued entry is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// An ordinary event for the target's handler.
    Event,
    /// The kernel's check, queued after a session's creation, that lets a
    /// session with nothing to do be collected in the next round.
    GcCheck,
    /// A signal for the target and its descendants ([`KERNEL_KEY`]: all);
    /// its name and arguments are the payload, a [`QueuedSignal`].
    Signal,
}

/// The payload of a [`Kind::Signal`] entry (boxed: signals are rare, and
/// keeping them out of line keeps every entry small).
pub(crate) struct QueuedSignal {
    pub name: std::rc::Rc<str>,
    pub args: std::rc::Rc<dyn std::any::Any>,
}

/// No session slot: an entry that holds no sender.
const NO_KEY: SessionKey = u32::MAX;
/// No event: an entry the kernel sent on its own has no caller state.
const NO_EVENT: EventId = EventId(u32::MAX);

/// A queued event: 64 bytes, moved twice per event (in, out), so it is
/// kept flat — the sender and the caller are packed into plain fields
/// rather than their enums (which would each add padding), and what only
/// signals carry lives in their payload.
pub(crate) struct Queued {
    pub target: SessionKey,
    pub event: EventId,
    pub kind: Kind,
    /// The sending session's slot when this entry holds a reference on it
    /// (released when the entry is dequeued or purged), else `NO_KEY`.
    hold: SessionKey,
    /// `SENDER` as the handler will see it: the session's public number
    /// and slot, or number 0 for the kernel. Not always `hold`: a
    /// postback's sender may already be gone.
    sender_num: u64,
    sender_slot: u32,
    /// [`Caller::state`], `NO_EVENT` for none.
    caller_state: EventId,
    caller_location: Option<&'static Location<'static>>,
    pub payload: Payload,
}

impl Queued {
    pub(crate) fn new(
        target: SessionKey,
        event: EventId,
        kind: Kind,
        sender: Sender,
        hold: Option<SessionKey>,
        caller: Caller,
        payload: Payload,
    ) -> Self {
        let (sender_num, sender_slot) = match sender {
            Sender::Kernel => (0, 0),
            Sender::Session(id) => (id.num, id.key),
        };
        Queued {
            target,
            event,
            kind,
            hold: hold.unwrap_or(NO_KEY),
            sender_num,
            sender_slot,
            caller_state: caller.state.unwrap_or(NO_EVENT),
            caller_location: caller.location,
            payload,
        }
    }

    /// The session this entry holds besides its target, if any.
    pub(crate) fn sender_key(&self) -> Option<SessionKey> {
        (self.hold != NO_KEY).then_some(self.hold)
    }

    /// Who sent it (POE's `SENDER`).
    pub(crate) fn sender(&self) -> Sender {
        if self.sender_num == 0 {
            Sender::Kernel
        } else {
            Sender::Session(SessionId {
                num: self.sender_num,
                key: self.sender_slot,
            })
        }
    }

    /// Who sent it and from where.
    pub(crate) fn caller(&self) -> Caller {
        Caller {
            state: (self.caller_state != NO_EVENT).then_some(self.caller_state),
            location: self.caller_location,
        }
    }
}

/// Entries of capacity the FIFO keeps however empty it gets: 1,024
/// entries of 80 bytes, 80 KiB, the slack a drained queue may hold.
const FIFO_KEEP: usize = 1024;

struct FifoItem {
    due: Time,
    seq: u64,
    item: Queued,
}

/// Which entry may run next, as [`Queue::peek_due`] finds it.
pub(crate) enum Due {
    /// Nothing queued before the mark is due.
    Nothing,
    /// The FIFO's oldest event.
    Event,
    /// The earliest timer (on top of the timer store).
    Timer,
}

/// The next entry to dispatch.
#[cfg(test)]
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
            .filter(|f| f.item.sender_key() == Some(key))
            .count();
        (to, from)
    }

    /// Every event name a queued event or timer holds: its own, and its
    /// sender's active event (for [`super::names::Names`]' sweep).
    pub(crate) fn for_each_event_id(&self, mut f: impl FnMut(EventId)) {
        for q in self.fifo.iter().map(|i| &i.item) {
            f(q.event);
            if let Some(s) = q.caller().state {
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
    #[cfg(test)]
    pub(crate) fn pop_due(&mut self, now: Time, seq_limit: u64) -> Option<Next> {
        match self.peek_due(now, seq_limit) {
            Due::Nothing => None,
            Due::Event => self.pop_event().map(Next::Event),
            Due::Timer => self.take_timer().map(Next::Timer),
        }
    }

    /// Which entry is due next (what the tests' `pop_due` takes), without
    /// taking it: the kernel then takes it with [`Queue::pop_event`] or
    /// [`Queue::take_timer`], straight into where it is used, rather than
    /// moving it through an enum (every move of an 80-byte entry through
    /// the stack costs, in stalls, more than the rest of the queue's work).
    #[inline]
    pub(crate) fn peek_due(&mut self, now: Time, seq_limit: u64) -> Due {
        if self.timers.len() == 0 {
            // No timer pending: the FIFO's head is the answer, no merge.
            return match self.fifo.front() {
                Some(f) if f.seq < seq_limit => Due::Event,
                _ => Due::Nothing,
            };
        }
        let timer = self
            .timers
            .peek()
            .filter(|(due, seq)| *due <= now && *seq < seq_limit);
        let event = self
            .fifo
            .front()
            .map(|f| (f.due, f.seq))
            .filter(|(_, seq)| *seq < seq_limit);
        match (timer, event) {
            (Some((td, ts)), Some((fd, fs))) if (td, ts) < (fd, fs) => Due::Timer,
            (Some(_), None) => Due::Timer,
            (_, Some(_)) => Due::Event,
            (None, None) => Due::Nothing,
        }
    }

    /// Take the timer [`Queue::peek_due`] named (it is on top of the
    /// timer store, which `peek_due` has just cleaned).
    pub(crate) fn take_timer(&mut self) -> Option<Timer> {
        self.timers.pop_peeked()
    }

    /// Take the oldest queued event. Once a burst has drained, the FIFO
    /// gives back what it grew to: whenever it is less than a quarter
    /// full and above [`FIFO_KEEP`] entries of capacity, it shrinks to
    /// twice what it holds. The factor between the two keeps the cost
    /// amortised O(1) per event, even for a queue that swings around one
    /// size; below the floor nothing is ever reallocated.
    #[inline]
    pub(crate) fn pop_event(&mut self) -> Option<Queued> {
        let f = self.fifo.pop_front()?;
        let cap = self.fifo.capacity();
        if cap > FIFO_KEEP && self.fifo.len() < cap / 4 {
            self.shrink_fifo();
        }
        Some(f.item)
    }

    #[cold]
    #[inline(never)]
    fn shrink_fifo(&mut self) {
        let want = (self.fifo.len() * 2).max(FIFO_KEEP);
        self.fifo.shrink_to(want);
    }

    /// The FIFO's capacity, in entries (for tests of its memory).
    #[cfg(test)]
    pub(crate) fn fifo_capacity(&self) -> usize {
        self.fifo.capacity()
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
        if self.fifo.capacity() > FIFO_KEEP && self.fifo.len() < self.fifo.capacity() / 4 {
            self.shrink_fifo();
        }
        out
    }

    /// Remove every timer and event, returning what was queued.
    pub(crate) fn clear(&mut self) -> (Vec<Queued>, Vec<Timer>) {
        let events = self.fifo.drain(..).map(|f| f.item).collect();
        self.shrink_fifo();
        let timers = self.timers.drain();
        (events, timers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> Queued {
        Queued::new(
            n,
            EventId(n),
            Kind::Event,
            Sender::Kernel,
            None,
            Caller::KERNEL,
            Payload::new(u64::from(n)),
        )
    }

    #[test]
    fn a_drained_burst_gives_its_memory_back() {
        let mut q = Queue::new();
        const BURST: u32 = 1_000_000;
        for n in 0..BURST {
            q.push(Time(0), event(n));
        }
        let peak = q.fifo_capacity();
        assert!(peak >= BURST as usize);
        let mark = q.seq_mark();
        let mut popped = 0;
        let mut most_late = 0;
        while let Some(Next::Event(e)) = q.pop_due(Time(0), mark) {
            assert_eq!(e.target, popped, "still in order");
            popped += 1;
            // Less than a fifth left: below the quarter mark.
            if popped > BURST / 5 * 4 {
                most_late = most_late.max(q.fifo_capacity());
            }
        }
        assert_eq!(popped, BURST);
        // Shrinking starts while the burst drains, not only at the end...
        assert!(most_late <= peak / 2, "{most_late} of {peak}");
        // ...and what stays is the floor, whatever the burst was.
        assert_eq!(q.event_count(), 0);
        assert!(
            q.fifo_capacity() <= 2 * FIFO_KEEP,
            "capacity {} after the drain",
            q.fifo_capacity()
        );
    }

    #[test]
    fn events_and_due_timers_merge_in_due_order() {
        let mut q = Queue::new();
        q.push(Time(10), event(1));
        let t = q.set_timer(7, EventId(7), Time(15), Payload::Empty, Caller::KERNEL);
        q.push(Time(20), event(2));
        let _late = q.set_timer(8, EventId(8), Time(99), Payload::Empty, Caller::KERNEL);
        let mark = q.seq_mark();
        let mut order = Vec::new();
        while let Some(next) = q.pop_due(Time(50), mark) {
            order.push(match next {
                Next::Event(e) => format!("e{}", e.target),
                Next::Timer(timer) => format!("t{}", timer.session),
            });
        }
        // The timer due at 99 is not due at 50.
        assert_eq!(order, ["e1", "t7", "e2"]);
        assert!(q.timer(t).is_none());
    }

    #[test]
    fn a_small_queue_is_never_reallocated() {
        let mut q = Queue::new();
        for round in 0..100 {
            for n in 0..64 {
                q.push(Time(0), event(n));
            }
            let cap = q.fifo_capacity();
            let mark = q.seq_mark();
            while q.pop_due(Time(0), mark).is_some() {}
            assert_eq!(q.fifo_capacity(), cap, "round {round}");
        }
    }

    #[test]
    fn purging_and_clearing_shrink_too() {
        let mut q = Queue::new();
        for n in 0..100_000 {
            q.push(Time(0), event(n % 2));
        }
        let gone = q.drain_events(|e| e.target == 1);
        assert_eq!(gone.len(), 50_000);
        let (events, _) = q.clear();
        assert_eq!(events.len(), 50_000);
        assert!(q.fifo_capacity() <= 2 * FIFO_KEEP);
    }
}
