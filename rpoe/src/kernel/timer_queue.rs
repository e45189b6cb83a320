//! The kernel's pending timers: a 4-ary min-heap ordered by `(due, seq)`
//! beside a slab of the timers themselves, and an index of each session's
//! timers (all of them, and by event name).
//!
//! Why this shape:
//! - POE fires timers by due time, FIFO among equal times; `seq` (shared
//!   with posted events, handed out by [`super::queue::Queue`]) breaks ties
//!   and also merges timers with posts in one order.
//! - The heap holds only small `Copy` entries (due, seq, slab key), so its
//!   sifts move 24 bytes, not whole timers. A 4-ary heap is half as deep as
//!   a binary one, and a node's four children share one or two cache lines,
//!   which is what a heap of a million timers is bound by.
//! - Cancelling or moving a timer leaves its old heap entry behind (stale:
//!   its `seq` no longer matches the slab's); stale entries are skipped when
//!   they surface, and the heap is rebuilt when they outnumber live timers,
//!   so memory stays proportional to live timers.
//! - POE's `delay`, `alarm`, `alarm_remove_all` act on one session's timers
//!   (of one name). Scanning every timer in the kernel for those made their
//!   cost grow with other sessions' timers; instead each timer is linked
//!   into two intrusive lists, its session's and its session+name's, so
//!   those calls cost what the session's own timers cost.

use slab::Slab;

use super::caller::Caller;
use super::clock::Time;
use super::idhash::IdMap;
use super::ids::TimerId;
use super::names::EventId;
use super::payload::Payload;
use super::queue::SessionKey;

mod order;

use order::{shrink_vec, Entry, Order, Top};

/// A pending timer.
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

/// "No neighbour" in the intrusive lists.
const NIL: u32 = u32::MAX;

/// A timer's links in its session's list and its session+name list, kept
/// apart from the timers (indexed by the same slab key) so that unlinking
/// one touches one small, dense array: timers set together are neighbours
/// there, whatever order they fire in.
#[derive(Clone, Copy)]
struct Links {
    session_prev: u32,
    session_next: u32,
    name_prev: u32,
    name_next: u32,
}

const UNLINKED: Links = Links {
    session_prev: NIL,
    session_next: NIL,
    name_prev: NIL,
    name_next: NIL,
};

/// How far ahead of the run's front timers are loaded (see
/// [`TimerQueue::warm_run`]): about the misses a core keeps in flight.
const WARM_AHEAD: usize = 16;

/// Pack a session and an event name into one map key.
#[inline]
fn name_key(session: SessionKey, event: EventId) -> u64 {
    (u64::from(session) << 32) | u64::from(event.0)
}

/// The pending timers.
#[derive(Default)]
pub(crate) struct TimerQueue {
    order: Order,
    timers: Slab<Timer>,
    /// Indexed by slab key; entries of free keys are stale.
    links: Vec<Links>,
    /// Order entries whose timer was removed or moved.
    stale: usize,
    /// First timer of each session with any.
    by_session: IdMap<SessionKey, u32>,
    /// First timer of each (session, name) pair with any.
    by_name: IdMap<u64, u32>,
}

impl TimerQueue {
    /// Add a timer; its `seq` must be fresh. Returns its slab key.
    pub(crate) fn insert(&mut self, timer: Timer) -> u32 {
        let (session, event, due, seq) = (timer.session, timer.event, timer.due, timer.seq);
        let key = self.timers.insert(timer) as u32;
        let session_next = self.by_session.insert(session, key).unwrap_or(NIL);
        let name_next = self
            .by_name
            .insert(name_key(session, event), key)
            .unwrap_or(NIL);
        let links = Links {
            session_prev: NIL,
            session_next,
            name_prev: NIL,
            name_next,
        };
        let k = key as usize;
        if k < self.links.len() {
            self.links[k] = links;
        } else {
            self.links.resize(k, UNLINKED);
            self.links.push(links);
        }
        if session_next != NIL {
            self.links[session_next as usize].session_prev = key;
        }
        if name_next != NIL {
            self.links[name_next as usize].name_prev = key;
        }
        self.order.push(Entry {
            due: due.0,
            seq,
            key,
        });
        key
    }

    pub(crate) fn get(&self, id: TimerId) -> Option<&Timer> {
        self.timers.get(id.key as usize).filter(|t| t.num == id.num)
    }

    /// Take a timer out of the slab and its lists.
    fn unlink(&mut self, key: u32) -> Timer {
        let t = self.timers.remove(key as usize);
        let l = self.links[key as usize];
        if l.session_next != NIL {
            self.links[l.session_next as usize].session_prev = l.session_prev;
        }
        if l.session_prev != NIL {
            self.links[l.session_prev as usize].session_next = l.session_next;
        } else if l.session_next != NIL {
            self.by_session.insert(t.session, l.session_next);
        } else {
            self.by_session.remove(&t.session);
        }
        if l.name_next != NIL {
            self.links[l.name_next as usize].name_prev = l.name_prev;
        }
        if l.name_prev != NIL {
            self.links[l.name_prev as usize].name_next = l.name_next;
        } else if l.name_next != NIL {
            self.by_name
                .insert(name_key(t.session, t.event), l.name_next);
        } else {
            self.by_name.remove(&name_key(t.session, t.event));
        }
        if self.timers.is_empty() {
            // Drained: give back what a burst of timers grew (a slab
            // keeps its vacant entries otherwise).
            self.links.clear();
            shrink_vec(&mut self.links);
            if self.timers.capacity() > 1024 {
                self.timers = Slab::new();
            }
        }
        t
    }

    /// Remove a timer before it fires.
    pub(crate) fn remove(&mut self, id: TimerId) -> Option<Timer> {
        self.get(id)?;
        self.stale += 1;
        let t = self.unlink(id.key);
        self.maybe_compact();
        Some(t)
    }

    /// Move a timer to `due` with a fresh `seq`: it goes behind timers
    /// already due then.
    pub(crate) fn reschedule(&mut self, id: TimerId, due: Time, seq: u64) -> Option<Time> {
        self.get(id)?;
        let t = &mut self.timers[id.key as usize];
        t.due = due;
        t.seq = seq;
        self.order.push(Entry {
            due: due.0,
            seq,
            key: id.key,
        });
        self.stale += 1;
        self.maybe_compact();
        Some(due)
    }

    /// Ids of a session's timers, optionally only those with one name, in
    /// due order. Costs what that session's (named) timers cost, whatever
    /// other sessions have pending.
    pub(crate) fn ids_of(&self, session: SessionKey, event: Option<EventId>) -> Vec<TimerId> {
        let mut v: Vec<(Time, u64, TimerId)> = Vec::new();
        self.walk(session, event, |t, id| v.push((t.due, t.seq, id)));
        v.sort_unstable_by_key(|(d, s, _)| (*d, *s));
        v.into_iter().map(|(_, _, id)| id).collect()
    }

    /// [`TimerQueue::ids_of`] in no particular order, for callers that
    /// only remove them.
    pub(crate) fn ids_unordered(
        &self,
        session: SessionKey,
        event: Option<EventId>,
    ) -> Vec<TimerId> {
        let mut v = Vec::new();
        self.walk(session, event, |_, id| v.push(id));
        v
    }

    /// Visit a session's timers (of one name).
    fn walk(
        &self,
        session: SessionKey,
        event: Option<EventId>,
        mut f: impl FnMut(&Timer, TimerId),
    ) {
        let head = match event {
            None => self.by_session.get(&session),
            Some(e) => self.by_name.get(&name_key(session, e)),
        };
        let mut k = head.copied().unwrap_or(NIL);
        while k != NIL {
            let t = &self.timers[k as usize];
            f(t, TimerId { num: t.num, key: k });
            let l = &self.links[k as usize];
            k = if event.is_some() {
                l.name_next
            } else {
                l.session_next
            };
        }
    }

    /// Whether a session has any timer pending.
    #[cfg(test)]
    pub(crate) fn has_timers(&self, session: SessionKey) -> bool {
        self.by_session.contains_key(&session)
    }

    /// Visit every pending timer.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Timer)) {
        for (_, t) in self.timers.iter() {
            f(t);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.timers.len()
    }

    fn maybe_compact(&mut self) {
        if self.stale > 1024 && self.stale > self.timers.len() {
            let live = self
                .timers
                .iter()
                .map(|(k, t)| Entry {
                    due: t.due.0,
                    seq: t.seq,
                    key: k as u32,
                })
                .collect();
            self.order.rebuild(live);
            self.stale = 0;
        }
    }

    /// Load the timers of the next [`WARM_AHEAD`] run entries, every
    /// [`WARM_AHEAD`] entries consumed.
    ///
    /// Why: firing a timer reads it from the slab, at a place unrelated to
    /// the one before; with a million timers each read is a cache miss,
    /// and misses taken one per dispatch made them most of a timer's
    /// cost. The run says which timers come next, so their reads are
    /// issued together here, independent of each other, and the memory
    /// system serves them in parallel: one miss's wait for the lot.
    #[inline]
    fn warm_run(&self) {
        let pos = self.order.run_pos;
        if !pos.is_multiple_of(WARM_AHEAD) {
            return;
        }
        let ahead = self.order.run.get(pos + 1..).unwrap_or(&[]);
        let mut sum = 0u64;
        for e in ahead.iter().take(WARM_AHEAD) {
            let k = e.key as usize;
            // Every field, so every cache line the timer spans is loaded
            // (it is moved out whole when it fires).
            sum = sum.wrapping_add(self.timers.get(k).map_or(0, |t| {
                t.num
                    ^ t.due.0
                    ^ t.seq
                    ^ u64::from(t.session)
                    ^ u64::from(t.event.0)
                    ^ u64::from(matches!(t.payload, Payload::Empty))
                    ^ u64::from(t.caller.state.is_some())
                    ^ u64::from(t.caller.location.is_some())
            }));
            sum = sum.wrapping_add(self.links.get(k).map_or(0, |l| u64::from(l.session_next)));
        }
        std::hint::black_box(sum);
    }

    /// The earliest live timer's `(due, seq)`, dropping stale entries from
    /// the top.
    pub(crate) fn peek(&mut self) -> Option<(Time, u64)> {
        while let Some((e, top)) = self.order.peek() {
            if matches!(top, Top::Run) {
                self.warm_run();
            }
            match self.timers.get(e.key as usize) {
                Some(t) if t.seq == e.seq => return Some((Time(e.due), e.seq)),
                _ => {
                    self.order.pop(top);
                    self.stale = self.stale.saturating_sub(1);
                }
            }
        }
        None
    }

    /// Remove and return the earliest live timer. Call after
    /// [`TimerQueue::peek`] returned `Some`, which leaves it on top.
    pub(crate) fn pop_peeked(&mut self) -> Option<Timer> {
        let (e, top) = self.order.peek()?;
        debug_assert!(self
            .timers
            .get(e.key as usize)
            .is_some_and(|t| t.seq == e.seq));
        self.order.pop(top);
        Some(self.unlink(e.key))
    }

    /// Remove every timer, returning them.
    pub(crate) fn drain(&mut self) -> Vec<Timer> {
        self.order.clear();
        self.stale = 0;
        self.by_session.clear();
        self.by_name.clear();
        self.links.clear();
        self.timers.drain().collect()
    }

    /// Entries of every kind of storage held, used or not (for the memory
    /// tests).
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> usize {
        self.timers.capacity()
            + self.links.capacity()
            + self.order.heap.v.capacity()
            + self.order.run.capacity()
            + self.order.batch.capacity()
            + self.by_session.capacity()
            + self.by_name.capacity()
    }

    /// Order entries held, live and stale (for tests of the compaction).
    #[cfg(test)]
    pub(crate) fn heap_len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(seq: u64, due: u64, session: SessionKey, event: u32) -> Timer {
        Timer {
            num: seq + 1,
            due: Time(due),
            seq,
            session,
            event: EventId(event),
            payload: Payload::Empty,
            caller: Caller::KERNEL,
        }
    }

    fn id(q: &TimerQueue, key: u32) -> TimerId {
        TimerId {
            num: q.timers[key as usize].num,
            key,
        }
    }

    /// Pops in `(due, seq)` order against a sorted reference model,
    /// through single and bulk inserts (heap and sorted-run paths, and
    /// merges of runs), removals, moves and pops in a pseudo-random mix.
    #[test]
    fn order_matches_a_sorted_model_through_every_operation() {
        use std::collections::BTreeMap;
        let mut q = TimerQueue::default();
        let mut model: BTreeMap<(Time, u64), TimerId> = BTreeMap::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut seq = 0;
        let mut now = 0u64;
        for _ in 0..20_000 {
            // Pops outpace sets on average, so the model stays small
            // while batches of every size still arrive.
            match rnd() % 7 {
                0 if !model.is_empty() => {
                    let i = (rnd() as usize) % model.len();
                    let (&k, &tid) = model.iter().nth(i).unwrap();
                    model.remove(&k);
                    assert!(q.remove(tid).is_some());
                }
                1 if !model.is_empty() => {
                    let i = (rnd() as usize) % model.len();
                    let (&k, &tid) = model.iter().nth(i).unwrap();
                    model.remove(&k);
                    seq += 1;
                    let due = Time(now + rnd() % 64);
                    q.reschedule(tid, due, seq).unwrap();
                    model.insert((due, seq), tid);
                }
                2 | 3 => {
                    // Pop some, checking each against the model.
                    for _ in 0..(rnd() % 200) {
                        let want = model.keys().next().copied();
                        assert_eq!(q.peek(), want);
                        let Some(w) = want else { break };
                        let t = q.pop_peeked().unwrap();
                        assert_eq!((t.due, t.seq), w);
                        model.remove(&w);
                        now = w.0 .0;
                    }
                }
                4 => {
                    // A bulk set, large enough for a sorted run at times.
                    for _ in 0..(rnd() % 300) {
                        seq += 1;
                        let due = Time(now + rnd() % 64);
                        let k = q.insert(timer(seq, due.0, (rnd() % 3) as u32, 7));
                        model.insert((due, seq), id(&q, k));
                    }
                }
                _ => {
                    seq += 1;
                    // Due times repeat, so FIFO among equals is tested.
                    let due = Time(now + rnd() % 64);
                    let k = q.insert(timer(seq, due.0, (rnd() % 3) as u32, 7));
                    model.insert((due, seq), id(&q, k));
                }
            }
        }
        let mut got = Vec::new();
        while let Some(top) = q.peek() {
            let t = q.pop_peeked().unwrap();
            assert_eq!((t.due, t.seq), top);
            got.push(top);
        }
        assert_eq!(got, model.keys().copied().collect::<Vec<_>>());
        assert_eq!(q.len(), 0);
        for s in 0..3 {
            assert!(!q.has_timers(s));
        }
        assert!(q.by_name.is_empty());
    }

    /// The per-session and per-name indexes list exactly a session's
    /// timers, in due order, and forget a session whose timers are gone.
    #[test]
    fn index_lists_only_the_sessions_timers() {
        let mut q = TimerQueue::default();
        let a1 = q.insert(timer(1, 30, 1, 10));
        let b1 = q.insert(timer(2, 5, 2, 10));
        let a2 = q.insert(timer(3, 20, 1, 11));
        let a3 = q.insert(timer(4, 10, 1, 10));
        let (a1, b1, a2, a3) = (id(&q, a1), id(&q, b1), id(&q, a2), id(&q, a3));
        assert_eq!(q.ids_of(1, None), vec![a3, a2, a1]);
        assert_eq!(q.ids_of(1, Some(EventId(10))), vec![a3, a1]);
        assert_eq!(q.ids_of(1, Some(EventId(11))), vec![a2]);
        assert_eq!(q.ids_of(2, None), vec![b1]);
        assert!(q.ids_of(3, None).is_empty());
        // Remove from the middle, the head and the tail of the lists.
        q.remove(a3).unwrap();
        assert_eq!(q.ids_of(1, None), vec![a2, a1]);
        assert_eq!(q.ids_of(1, Some(EventId(10))), vec![a1]);
        q.reschedule(a1, Time(1), 5).unwrap();
        assert_eq!(q.ids_of(1, None), vec![a1, a2]);
        q.remove(a2).unwrap();
        q.remove(a1).unwrap();
        assert!(q.ids_of(1, None).is_empty());
        assert!(!q.has_timers(1));
        assert_eq!(q.peek(), Some((Time(5), 2)));
        assert_eq!(q.pop_peeked().unwrap().num, b1.num);
        assert!(q.by_session.is_empty() && q.by_name.is_empty());
    }

    /// Cancelled timers' heap entries do not pile up.
    #[test]
    fn stale_entries_are_compacted() {
        let mut q = TimerQueue::default();
        for round in 0..10u64 {
            let ids: Vec<TimerId> = (0..1000)
                .map(|i| {
                    let seq = round * 1000 + i;
                    let k = q.insert(timer(seq, i, 1, 1));
                    id(&q, k)
                })
                .collect();
            for t in ids {
                q.remove(t).unwrap();
            }
        }
        assert_eq!(q.len(), 0);
        assert!(q.heap_len() <= 2048, "heap kept {} entries", q.heap_len());
    }
}
