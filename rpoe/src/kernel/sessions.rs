//! The session table: ids, the parent/child tree, aliases, and the
//! reference counts that decide when a session is collected.
//!
//! A session is kept alive by a count of things that can still wake it:
//! events queued to it or by it, its timers, its I/O watchers, its children
//! and public reference counts. Aliases hold it too, but only until the
//! kernel runs dry. When the count reaches zero the session is noted as
//! collectable; the kernel stops collectable sessions at the end of the
//! round, most recent first, as POE does.

use std::collections::HashMap;
use std::rc::Rc;

use slab::Slab;

use super::dispatch::AnySession;
use super::ids::SessionId;
use super::queue::SessionKey;

pub(crate) struct Entry {
    pub id: SessionId,
    /// `None` while the session's handler is running (it is on the stack).
    pub session: Option<Box<dyn AnySession>>,
    pub parent: Option<SessionKey>,
    pub children: Vec<SessionKey>,
    pub refs: u64,
    pub aliases: Vec<Rc<str>>,
    pub extrefs: HashMap<String, i64>,
    pub handles: Vec<u32>,
    /// Set once `_stop` is under way: posts from it are discarded.
    pub stopping: bool,
}

pub(crate) struct Sessions {
    pub slab: Slab<Entry>,
    by_number: HashMap<u64, SessionKey>,
    aliases: HashMap<Rc<str>, SessionKey>,
    next_num: u64,
    /// Sessions whose count reached zero this round, in that order.
    pub gc: Vec<SessionKey>,
}

impl Sessions {
    pub(crate) fn new() -> Self {
        Sessions {
            slab: Slab::new(),
            by_number: HashMap::new(),
            aliases: HashMap::new(),
            next_num: 1,
            gc: Vec::new(),
        }
    }

    pub(crate) fn insert(
        &mut self,
        session: Box<dyn AnySession>,
        parent: Option<SessionKey>,
    ) -> SessionId {
        let num = self.next_num;
        self.next_num += 1;
        let entry = self.slab.vacant_entry();
        let key = entry.key() as u32;
        let id = SessionId { num, key };
        entry.insert(Entry {
            id,
            session: Some(session),
            parent,
            children: Vec::new(),
            refs: 0,
            aliases: Vec::new(),
            extrefs: HashMap::new(),
            handles: Vec::new(),
            stopping: false,
        });
        self.by_number.insert(num, key);
        if let Some(p) = parent {
            if let Some(pe) = self.slab.get_mut(p as usize) {
                pe.children.push(key);
            }
            self.inc(p);
        }
        id
    }

    pub(crate) fn remove(&mut self, key: SessionKey) -> Option<Entry> {
        let e = self.slab.try_remove(key as usize)?;
        self.by_number.remove(&e.id.num);
        for a in &e.aliases {
            self.aliases.remove(a);
        }
        Some(e)
    }

    pub(crate) fn get(&self, key: SessionKey) -> Option<&Entry> {
        self.slab.get(key as usize)
    }

    pub(crate) fn get_mut(&mut self, key: SessionKey) -> Option<&mut Entry> {
        self.slab.get_mut(key as usize)
    }

    /// The live session with this id, if any.
    pub(crate) fn key_of(&self, id: SessionId) -> Option<SessionKey> {
        self.slab
            .get(id.key as usize)
            .filter(|e| e.id == id)
            .map(|_| id.key)
    }

    pub(crate) fn by_number(&self, num: u64) -> Option<SessionKey> {
        self.by_number.get(&num).copied()
    }

    pub(crate) fn by_alias(&self, alias: &str) -> Option<SessionKey> {
        self.aliases.get(alias).copied()
    }

    /// The id of the session in `key` if it may still send events: POE
    /// discards what a session posts once its `_stop` is under way.
    #[inline]
    pub(crate) fn sender_id(&self, key: SessionKey) -> Option<SessionId> {
        self.get(key).filter(|e| !e.stopping).map(|e| e.id)
    }

    /// Take a session out of its slot to run a handler: its id, and the
    /// session unless it is already running (then it is on the stack).
    #[inline]
    pub(crate) fn take_session(
        &mut self,
        key: SessionKey,
    ) -> Option<(SessionId, Option<Box<dyn AnySession>>)> {
        self.get_mut(key).map(|e| (e.id, e.session.take()))
    }

    /// Put back a session [`Sessions::take_session`] took, if its slot
    /// still holds it (its handler may have stopped it meanwhile).
    #[inline]
    pub(crate) fn put_session(
        &mut self,
        key: SessionKey,
        id: SessionId,
        session: Box<dyn AnySession>,
    ) {
        if let Some(e) = self.get_mut(key) {
            if e.id == id {
                e.session = Some(session);
            }
        }
    }

    pub(crate) fn id_of(&self, key: SessionKey) -> Option<SessionId> {
        self.get(key).map(|e| e.id)
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(crate) fn inc(&mut self, key: SessionKey) {
        self.hold(key, 1);
    }

    pub(crate) fn dec(&mut self, key: SessionKey) {
        self.release(key, 1);
    }

    /// Add `n` holds on a session (a `yield` holds its session twice, as
    /// target and as sender: one table look-up instead of two).
    #[inline]
    pub(crate) fn hold(&mut self, key: SessionKey, n: u64) {
        if let Some(e) = self.slab.get_mut(key as usize) {
            e.refs += n;
        }
    }

    /// Drop `n` holds; a session nothing holds any more is noted for the
    /// end-of-round collection.
    #[inline]
    pub(crate) fn release(&mut self, key: SessionKey, n: u64) {
        if let Some(e) = self.slab.get_mut(key as usize) {
            // An underflow is a kernel bug (a release without its hold):
            // caught in debug builds, where the tests run, and not hidden
            // in release builds by saturating, which would only move the
            // bug (a session freed while something still holds it).
            debug_assert!(e.refs >= n, "refcount underflow of session slot {key}");
            e.refs = e.refs.wrapping_sub(n);
            if e.refs == 0 && e.aliases.is_empty() {
                self.gc.push(key);
            }
        }
    }

    /// True if nothing holds the session any more.
    pub(crate) fn collectable(&self, key: SessionKey) -> bool {
        self.get(key)
            .is_some_and(|e| e.refs == 0 && e.aliases.is_empty() && !e.stopping)
    }

    /// Give the session an alias. `Ok(false)` if it already had it.
    pub(crate) fn alias_set(&mut self, key: SessionKey, alias: &str) -> Result<bool, ()> {
        match self.aliases.get(alias) {
            Some(k) if *k == key => Ok(false),
            Some(_) => Err(()),
            None => {
                let rc: Rc<str> = Rc::from(alias);
                self.aliases.insert(rc.clone(), key);
                if let Some(e) = self.slab.get_mut(key as usize) {
                    e.aliases.push(rc);
                }
                Ok(true)
            }
        }
    }

    /// Remove an alias. `Err(true)` if another session owns it, `Err(false)`
    /// if nobody does.
    pub(crate) fn alias_remove(&mut self, key: SessionKey, alias: &str) -> Result<(), bool> {
        match self.aliases.get(alias) {
            Some(k) if *k == key => {
                self.aliases.remove(alias);
                if let Some(e) = self.slab.get_mut(key as usize) {
                    e.aliases.retain(|a| &**a != alias);
                    if e.refs == 0 && e.aliases.is_empty() {
                        self.gc.push(key);
                    }
                }
                Ok(())
            }
            Some(_) => Err(true),
            None => Err(false),
        }
    }

    /// Keys of all sessions, children after their parents' subtree order
    /// reversed: deepest first, then by creation.
    pub(crate) fn post_order(&self) -> Vec<SessionKey> {
        let mut roots: Vec<(u64, SessionKey)> = self
            .slab
            .iter()
            .filter(|(_, e)| e.parent.is_none())
            .map(|(k, e)| (e.id.num, k as u32))
            .collect();
        roots.sort_unstable();
        let mut out = Vec::with_capacity(self.slab.len());
        for (_, r) in roots {
            self.walk_post(r, &mut out);
        }
        out
    }

    fn walk_post(&self, key: SessionKey, out: &mut Vec<SessionKey>) {
        if let Some(e) = self.get(key) {
            for c in &e.children {
                self.walk_post(*c, out);
            }
            out.push(key);
        }
    }
}
