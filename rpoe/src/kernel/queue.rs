//! The kernel's one queue of events and timers, ordered by due time, FIFO
//! among equal times.
//!
//! POE keeps posts and timers in a single priority queue. Posts always get
//! a due time strictly after the previous post's, so they are already
//! sorted: they live in a `VecDeque` (O(1) post), and timers in a binary
//! heap keyed by `(due, seq)` with a slab beside it for O(1) cancel by id.
//! The two are merged at the head. A cancelled timer leaves a stale heap
//! entry that is skipped when it surfaces; the heap is rebuilt when stale
//! entries outnumber live ones, so memory stays proportional to live timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::panic::Location;

use slab::Slab;

use super::caller::Caller;
use super::clock::Time;
use super::ids::{Sender, SessionId, TimerId};
use super::names::EventId;
use super::payload::Payload;

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

pub(crate) struct Timer {
    pub num: u64,
    pub due: Time,
    pub seq: u64,
    pub session: SessionKey,
    pub event: EventId,
    pub payload: Payload,
    /// Who set it and from where.
    pub caller: Caller,
}

/// Which entry may run next, as [`Queue::peek_due`] finds it.
pub(crate) enum Due {
    /// Nothing queued before the mark is due.
    Nothing,
    /// The FIFO's oldest event.
    Event,
    /// The timer in this slot.
    Timer(u32),
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
    heap: BinaryHeap<Reverse<(Time, u64, u32)>>,
    timers: Slab<Timer>,
    stale: usize,
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
        }) as u32;
        self.heap.push(Reverse((due, seq, key)));
        TimerId { num, key }
    }

    pub(crate) fn timer(&self, id: TimerId) -> Option<&Timer> {
        self.timers.get(id.key as usize).filter(|t| t.num == id.num)
    }

    pub(crate) fn remove_timer(&mut self, id: TimerId) -> Option<Timer> {
        self.timer(id)?;
        self.stale += 1;
        let t = self.timers.remove(id.key as usize);
        self.maybe_compact();
        Some(t)
    }

    /// Move a timer to a new due time; it goes behind timers already due then.
    pub(crate) fn reschedule(&mut self, id: TimerId, due: Time) -> Option<Time> {
        self.timer(id)?;
        let seq = self.seq();
        let t = &mut self.timers[id.key as usize];
        t.due = due;
        t.seq = seq;
        self.heap.push(Reverse((due, seq, id.key)));
        self.stale += 1;
        self.maybe_compact();
        Some(due)
    }

    /// Ids of a session's timers, optionally only those with one name, in
    /// due order.
    pub(crate) fn timers_of(&self, session: SessionKey, event: Option<EventId>) -> Vec<TimerId> {
        let mut v: Vec<(Time, u64, TimerId)> = self
            .timers
            .iter()
            .filter(|(_, t)| t.session == session && event.is_none_or(|e| e == t.event))
            .map(|(k, t)| {
                (
                    t.due,
                    t.seq,
                    TimerId {
                        num: t.num,
                        key: k as u32,
                    },
                )
            })
            .collect();
        v.sort_unstable_by_key(|(d, s, _)| (*d, *s));
        v.into_iter().map(|(_, _, id)| id).collect()
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

    pub(crate) fn timer_count(&self) -> usize {
        self.timers.len()
    }

    pub(crate) fn event_count(&self) -> usize {
        self.fifo.len()
    }

    fn maybe_compact(&mut self) {
        if self.stale > 1024 && self.stale > self.timers.len() {
            let timers = &self.timers;
            self.heap = timers
                .iter()
                .map(|(k, t)| Reverse((t.due, t.seq, k as u32)))
                .collect();
            self.stale = 0;
        }
    }

    /// Drop heap entries for cancelled or moved timers from the top.
    fn clean_top(&mut self) -> Option<(Time, u64, u32)> {
        while let Some(Reverse((due, seq, key))) = self.heap.peek().copied() {
            match self.timers.get(key as usize) {
                Some(t) if t.seq == seq => return Some((due, seq, key)),
                _ => {
                    self.heap.pop();
                    self.stale = self.stale.saturating_sub(1);
                }
            }
        }
        None
    }

    /// Due time of the earliest entry.
    pub(crate) fn next_due(&mut self) -> Option<Time> {
        let t = self.clean_top().map(|(d, _, _)| d);
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
            Due::Timer(key) => Some(Next::Timer(self.take_timer(key))),
        }
    }

    /// Which entry [`Queue::pop_due`] would take, without taking it: the
    /// kernel then takes it with [`Queue::pop_event`] or
    /// [`Queue::take_timer`], straight into where it is used, rather than
    /// moving it through an enum (every move of an 80-byte entry through
    /// the stack costs, in stalls, more than the rest of the queue's work).
    #[inline]
    pub(crate) fn peek_due(&mut self, now: Time, seq_limit: u64) -> Due {
        if self.heap.is_empty() {
            // No timer pending (stale entries would keep the heap
            // non-empty): the FIFO's head is the answer, no merge.
            return match self.fifo.front() {
                Some(f) if f.seq < seq_limit => Due::Event,
                _ => Due::Nothing,
            };
        }
        let timer = self
            .clean_top()
            .filter(|(due, seq, _)| *due <= now && *seq < seq_limit);
        let event = self
            .fifo
            .front()
            .map(|f| (f.due, f.seq))
            .filter(|(_, seq)| *seq < seq_limit);
        match (timer, event) {
            (Some((td, ts, key)), Some((fd, fs))) if (td, ts) < (fd, fs) => Due::Timer(key),
            (Some((_, _, key)), None) => Due::Timer(key),
            (_, Some(_)) => Due::Event,
            (None, None) => Due::Nothing,
        }
    }

    /// Take the timer [`Queue::peek_due`] named (it is at the heap's top).
    pub(crate) fn take_timer(&mut self, key: u32) -> Timer {
        self.heap.pop();
        self.timers.remove(key as usize)
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
        let timers = self.timers.drain().collect();
        self.heap.clear();
        self.stale = 0;
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
