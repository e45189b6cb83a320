//! Event-name interning: names are strings at the API, small integers inside.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::rc::Rc;

use super::engine::Core;

/// An interned event name. Obtain one with [`crate::Kernel::event_id`] or
/// [`crate::Ctx::event_id`] to post on a hot path without hashing the name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct EventId(pub(crate) u32);

impl EventId {
    pub(crate) const START: EventId = EventId(0);
    pub(crate) const STOP: EventId = EventId(1);
    pub(crate) const DEFAULT: EventId = EventId(2);
    pub(crate) const CHILD: EventId = EventId(3);
    pub(crate) const PARENT: EventId = EventId(4);

    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One entry of the name table.
struct Slot {
    /// `None` once the id is free for reuse.
    name: Option<Rc<str>>,
    /// Kept for the kernel's life: a handler, a watcher or a caller holding
    /// the [`EventId`] may use it at any time.
    pinned: bool,
    /// The last sweep that found the id in use.
    mark: u32,
}

/// Fewest transient names worth a sweep.
const SWEEP_MIN: usize = 1024;

/// The kernel's table of event names.
///
/// Why names come in two kinds: a name a handler, watcher, wheel or user
/// (through [`crate::Kernel::event_id`]) holds as an [`EventId`] must keep
/// its id forever, but a name only ever posted or used for a timer (say an
/// event per request id, or a typo nobody handles) is needed only while
/// some queued event or timer carries it. Keeping those forever made a
/// kernel that posts many distinct names grow without bound. So posts and
/// timers intern *transiently*; [`Core::sweep_names`], run between rounds
/// when no handler is on the stack, frees the transient names no queued
/// event or timer uses, and their ids are reused.
pub(crate) struct Names {
    ids: HashMap<Rc<str>, EventId>,
    slots: Vec<Slot>,
    /// Freed ids, lowest reused first so the table stays compact.
    free: BinaryHeap<Reverse<u32>>,
    /// Ids interned transiently since they were last found unused (some
    /// may have been pinned since).
    transient: Vec<u32>,
    /// The current sweep's number.
    epoch: u32,
}

impl Names {
    pub(crate) fn new() -> Self {
        let mut n = Names {
            ids: HashMap::new(),
            slots: Vec::new(),
            free: BinaryHeap::new(),
            transient: Vec::new(),
            epoch: 0,
        };
        for (want, name) in [
            (EventId::START, "_start"),
            (EventId::STOP, "_stop"),
            (EventId::DEFAULT, "_default"),
            (EventId::CHILD, "_child"),
            (EventId::PARENT, "_parent"),
        ] {
            let got = n.intern(name);
            debug_assert_eq!(got, want);
        }
        n
    }

    /// Intern a name for good: its id stays valid for the kernel's life.
    pub(crate) fn intern(&mut self, name: &str) -> EventId {
        let id = self.intern_transient(name);
        self.slots[id.index()].pinned = true;
        id
    }

    /// Intern a name for an event or timer about to be queued: the name
    /// may be freed once nothing queued uses it (unless pinned meanwhile).
    pub(crate) fn intern_transient(&mut self, name: &str) -> EventId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let rc: Rc<str> = Rc::from(name);
        let slot = Slot {
            name: Some(rc.clone()),
            pinned: false,
            mark: self.epoch,
        };
        let id = match self.free.pop() {
            Some(Reverse(i)) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.transient.push(id);
        let id = EventId(id);
        self.ids.insert(rc, id);
        id
    }

    pub(crate) fn name(&self, id: EventId) -> &str {
        self.slots
            .get(id.index())
            .and_then(|s| s.name.as_deref())
            .unwrap_or("?")
    }

    /// Whether a sweep would pay for itself: transient names outnumber
    /// four times what `queued` entries (an event or timer names at most
    /// two: its own and its sender's active event) could hold, so at least
    /// half of them go, and the sweep's cost is spread over the names it
    /// frees.
    pub(crate) fn sweep_due(&self, queued: usize, min: usize) -> bool {
        let t = self.transient.len();
        t > min && t / 4 >= queued
    }

    /// Start a sweep: ids marked with the returned number are in use.
    pub(crate) fn begin_sweep(&mut self) -> u32 {
        // After a wrap an old mark may equal the new number: that only
        // keeps a name one sweep longer.
        self.epoch = self.epoch.wrapping_add(1);
        self.epoch
    }

    /// Note that something queued uses `id`.
    pub(crate) fn mark(&mut self, id: EventId, epoch: u32) {
        if let Some(s) = self.slots.get_mut(id.index()) {
            s.mark = epoch;
        }
    }

    /// Free the transient names not marked in this sweep, and give back
    /// the memory they held.
    pub(crate) fn end_sweep(&mut self, epoch: u32) {
        let mut keep = std::mem::take(&mut self.transient);
        keep.retain(|&i| {
            let s = &mut self.slots[i as usize];
            if s.pinned {
                return false;
            }
            if s.mark == epoch {
                return true;
            }
            if let Some(name) = s.name.take() {
                self.ids.remove(&name);
            }
            self.free.push(Reverse(i));
            false
        });
        self.transient = keep;
        // Freed ids at the end of the table are dropped, not kept for
        // reuse, so a burst of names leaves nothing behind.
        let before = self.slots.len();
        while self.slots.last().is_some_and(|s| s.name.is_none()) {
            self.slots.pop();
        }
        if self.slots.len() < before {
            let len = self.slots.len() as u32;
            self.free.retain(|Reverse(i)| *i < len);
        }
        fn shrink<T>(v: &mut Vec<T>) {
            if v.capacity() > 4 * v.len() + 64 {
                v.shrink_to(2 * v.len());
            }
        }
        shrink(&mut self.slots);
        shrink(&mut self.transient);
        if self.ids.capacity() > 4 * self.ids.len() + 64 {
            self.ids.shrink_to(2 * self.ids.len());
        }
        if self.free.capacity() > 4 * self.free.len() + 64 {
            self.free.shrink_to(2 * self.free.len());
        }
    }

    /// Names interned, and slots held (for the memory tests).
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> (usize, usize) {
        (
            self.ids.len(),
            self.slots.capacity().max(self.ids.capacity()),
        )
    }
}

impl Core {
    /// Free event names that only queued events or timers used and that
    /// none uses now, once enough have gathered. Call only between rounds,
    /// with no handler running (a handler's context may hold any id).
    pub(crate) fn sweep_names(&mut self) {
        self.sweep_names_over(SWEEP_MIN);
    }

    /// [`Core::sweep_names`] whatever the number of transient names: for
    /// when the kernel stops running, so a finished run leaves none.
    pub(crate) fn sweep_names_all(&mut self) {
        self.sweep_names_over(0);
    }

    fn sweep_names_over(&mut self, min: usize) {
        let queued = self.queue.event_count() + self.queue.timer_count();
        if !self.names.sweep_due(queued, min) {
            return;
        }
        let epoch = self.names.begin_sweep();
        let names = &mut self.names;
        self.queue.for_each_event_id(|id| names.mark(id, epoch));
        self.names.end_sweep(epoch);
    }
}

/// How an event is named: by string (interned on use) or by interned id.
#[derive(Clone, Copy, Debug)]
pub enum EventRef<'a> {
    /// A name, interned when used.
    Name(&'a str),
    /// An already interned name.
    Id(EventId),
}

/// Anything that names an event: a `&str` (interned on use) or an [`EventId`].
pub trait IntoEvent {
    /// The name or id this value stands for.
    fn event_ref(&self) -> EventRef<'_>;
}

impl IntoEvent for EventId {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Id(*self)
    }
}

impl IntoEvent for &str {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Name(self)
    }
}

impl IntoEvent for String {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Name(self)
    }
}

impl IntoEvent for &String {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Name(self)
    }
}

impl Names {
    pub(crate) fn resolve(&mut self, ev: &impl IntoEvent) -> EventId {
        match ev.event_ref() {
            EventRef::Id(id) => id,
            EventRef::Name(n) => self.intern(n),
        }
    }

    /// [`Names::resolve`] for an event or timer about to be queued: a name
    /// seen first here is interned transiently.
    pub(crate) fn resolve_transient(&mut self, ev: &impl IntoEvent) -> EventId {
        match ev.event_ref() {
            EventRef::Id(id) => id,
            EventRef::Name(n) => self.intern_transient(n),
        }
    }
}
