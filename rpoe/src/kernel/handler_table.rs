//! A session's handlers by event id, sized by its own handlers.
//!
//! Event ids are handed out kernel-wide in the order names are first seen,
//! so a session made late in a kernel's life can have handlers whose ids
//! are large. A plain vector indexed by id would then be as long as the
//! kernel's whole name table, for every session. Here ids below a bound
//! that grows with the session's own handler count live in a vector
//! indexed by id (the common case: one bounds check per dispatch), and
//! any others in a short vector sorted by id, found by binary search.

use super::names::EventId;

/// Ids below `DENSE_BASE + DENSE_PER_HANDLER × handlers` may go in the
/// directly indexed part.
const DENSE_BASE: usize = 32;
/// See [`DENSE_BASE`].
const DENSE_PER_HANDLER: usize = 4;

/// Handlers (of any type `T`) keyed by [`EventId`].
pub(crate) struct HandlerTable<T> {
    dense: Vec<Option<T>>,
    /// Handlers whose ids were too large for `dense` when added, by id.
    sparse: Vec<(EventId, T)>,
    count: usize,
}

impl<T> Default for HandlerTable<T> {
    fn default() -> Self {
        HandlerTable {
            dense: Vec::new(),
            sparse: Vec::new(),
            count: 0,
        }
    }
}

impl<T> HandlerTable<T> {
    /// The handler for `ev`.
    #[inline]
    pub(crate) fn get(&self, ev: EventId) -> Option<&T> {
        match self.dense.get(ev.index()) {
            Some(slot) => slot.as_ref(),
            None if self.sparse.is_empty() => None,
            None => self.sparse_get(ev),
        }
    }

    fn sparse_get(&self, ev: EventId) -> Option<&T> {
        self.sparse
            .binary_search_by_key(&ev, |(e, _)| *e)
            .ok()
            .map(|i| &self.sparse[i].1)
    }

    /// Whether `ev` has a handler.
    pub(crate) fn contains(&self, ev: EventId) -> bool {
        self.get(ev).is_some()
    }

    /// Set the handler for `ev`, returning the one it replaces.
    pub(crate) fn insert(&mut self, ev: EventId, handler: T) -> Option<T> {
        let i = ev.index();
        if let Some(slot) = self.dense.get_mut(i) {
            let old = slot.replace(handler);
            if old.is_none() {
                self.count += 1;
            }
            return old;
        }
        match self.sparse.binary_search_by_key(&ev, |(e, _)| *e) {
            Ok(at) => return Some(std::mem::replace(&mut self.sparse[at].1, handler)),
            Err(at) if i >= DENSE_BASE + DENSE_PER_HANDLER * (self.count + 1) => {
                self.sparse.insert(at, (ev, handler));
            }
            Err(_) => {
                self.dense.resize_with(i + 1, || None);
                self.dense[i] = Some(handler);
            }
        }
        self.count += 1;
        None
    }

    /// Remove the handler for `ev`, returning it.
    pub(crate) fn remove(&mut self, ev: EventId) -> Option<T> {
        let old = match self.dense.get_mut(ev.index()) {
            Some(slot) => slot.take(),
            None => self
                .sparse
                .binary_search_by_key(&ev, |(e, _)| *e)
                .ok()
                .map(|at| self.sparse.remove(at).1),
        };
        if old.is_some() {
            self.count -= 1;
        }
        old
    }

    /// Slots held, used or not: what the table costs in memory.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.dense.len() + self.sparse.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_ids_do_not_size_the_table() {
        let mut t = HandlerTable::default();
        assert!(t.insert(EventId(0), "start").is_none());
        assert!(t.insert(EventId(3), "child").is_none());
        assert!(t.insert(EventId(1_000_007), "late").is_none());
        assert!(t.insert(EventId(1_000_003), "later").is_none());
        assert!(t.slots() < 10, "{} slots", t.slots());
        assert_eq!(t.get(EventId(1_000_007)), Some(&"late"));
        assert_eq!(t.get(EventId(1_000_003)), Some(&"later"));
        assert_eq!(t.get(EventId(1_000_004)), None);
        assert_eq!(t.get(EventId(3)), Some(&"child"));
        assert_eq!(t.get(EventId(2)), None);
        assert_eq!(t.insert(EventId(1_000_007), "again"), Some("late"));
        assert_eq!(t.remove(EventId(1_000_003)), Some("later"));
        assert_eq!(t.get(EventId(1_000_003)), None);
        assert_eq!(t.remove(EventId(0)), Some("start"));
        assert!(!t.contains(EventId(0)));
        assert_eq!(t.remove(EventId(0)), None);
        assert_eq!(t.count, 2);
    }

    #[test]
    fn small_ids_are_indexed_directly() {
        let mut t = HandlerTable::default();
        for i in 0..100u32 {
            t.insert(EventId(i), i);
        }
        assert!(t.sparse.is_empty());
        for i in 0..100u32 {
            assert_eq!(t.get(EventId(i)), Some(&i));
        }
        assert_eq!(t.get(EventId(100)), None);
    }
}
