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
    id: SessionId,
    /// `None` while the session's handler is running (it is on the stack).
    session: Option<Box<dyn AnySession>>,
    parent: Option<SessionKey>,
    children: Vec<SessionKey>,
    refs: u64,
    aliases: Vec<Rc<str>>,
    extrefs: HashMap<String, i64>,
    handles: Vec<u32>,
    /// Set once `_stop` is under way: posts from it are discarded.
    stopping: bool,
    /// The alias this session last sent to, the session it named and the
    /// alias epoch then: a session that posts to the same alias event
    /// after event skips hashing the name (see [`Sessions::by_alias_from`]).
    last_alias: Option<(Rc<str>, SessionKey, u64)>,
}

pub(crate) struct Sessions {
    slab: Slab<Entry>,
    by_number: HashMap<u64, SessionKey>,
    aliases: HashMap<Rc<str>, SessionKey>,
    next_num: u64,
    /// Sessions whose count reached zero this round, in that order.
    gc: Vec<SessionKey>,
    /// Public refcount tags that are non-zero, across all sessions.
    extrefs_live: usize,
    /// Bumped whenever an alias stops naming its session (removed, or its
    /// session gone): a remembered alias look-up from an older epoch is
    /// not trusted.
    alias_epoch: u64,
}

impl Sessions {
    pub(crate) fn new() -> Self {
        Sessions {
            slab: Slab::new(),
            by_number: HashMap::new(),
            aliases: HashMap::new(),
            next_num: 1,
            gc: Vec::new(),
            extrefs_live: 0,
            alias_epoch: 0,
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
            last_alias: None,
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

    /// Remove a session from the table: it leaves its parent's children
    /// (releasing the hold it had on its parent), its number and aliases
    /// are forgotten, and its public refcounts stop counting as live.
    /// Returns the entry, whose heap the caller drops when it is safe to
    /// run user code.
    pub(crate) fn remove(&mut self, key: SessionKey) -> Option<Entry> {
        let parent = self.parent_of(key);
        if let Some(p) = parent {
            if let Some(pe) = self.get_mut(p) {
                pe.children.retain(|c| *c != key);
            }
        }
        let e = self.slab.try_remove(key as usize)?;
        self.by_number.remove(&e.id.num);
        for a in &e.aliases {
            self.aliases.remove(a);
        }
        if !e.aliases.is_empty() {
            self.alias_epoch += 1;
        }
        self.extrefs_live -= e.extrefs.values().filter(|v| **v != 0).count();
        if let Some(p) = parent {
            self.dec(p);
        }
        Some(e)
    }

    fn get(&self, key: SessionKey) -> Option<&Entry> {
        self.slab.get(key as usize)
    }

    fn get_mut(&mut self, key: SessionKey) -> Option<&mut Entry> {
        self.slab.get_mut(key as usize)
    }

    /// True if the slot holds a live session.
    pub(crate) fn contains(&self, key: SessionKey) -> bool {
        self.slab.contains(key as usize)
    }

    /// Ids of all live sessions, in slot order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.slab.iter().map(|(_, e)| e.id)
    }

    /// Keys of the sessions that are children of the kernel, by creation.
    pub(crate) fn roots(&self) -> Vec<SessionKey> {
        let mut roots: Vec<(u64, SessionKey)> = self
            .slab
            .iter()
            .filter(|(_, e)| e.parent.is_none())
            .map(|(k, e)| (e.id.num, k as SessionKey))
            .collect();
        roots.sort_unstable();
        roots.into_iter().map(|(_, k)| k).collect()
    }

    /// The parent of a session (`None` for a child of the kernel or a
    /// session that is gone).
    pub(crate) fn parent_of(&self, key: SessionKey) -> Option<SessionKey> {
        self.get(key).and_then(|e| e.parent)
    }

    /// The children of a session, in creation order (empty if it is gone).
    pub(crate) fn children_of(&self, key: SessionKey) -> &[SessionKey] {
        self.get(key).map_or(&[], |e| &e.children)
    }

    /// The aliases of a session, in the order they were set.
    pub(crate) fn aliases_of(&self, key: SessionKey) -> Vec<String> {
        self.get(key)
            .map(|e| e.aliases.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default()
    }

    /// True if the session is gone or its `_stop` is under way: nothing
    /// more is delivered to it or sent from it.
    pub(crate) fn stopping_or_gone(&self, key: SessionKey) -> bool {
        self.get(key).is_none_or(|e| e.stopping)
    }

    /// True if the session is live and its `_stop` is under way.
    pub(crate) fn is_stopping(&self, key: SessionKey) -> bool {
        self.get(key).is_some_and(|e| e.stopping)
    }

    /// True if the session is live and resting in its slot (no handler of
    /// it is on the stack).
    pub(crate) fn is_resting(&self, key: SessionKey) -> bool {
        self.get(key).is_some_and(|e| e.session.is_some())
    }

    /// Mark a session as stopping and take its children, to be handed to
    /// its parent: its id, its parent and its children, or `None` if it is
    /// gone or already stopping.
    pub(crate) fn begin_stop(
        &mut self,
        key: SessionKey,
    ) -> Option<(SessionId, Option<SessionKey>, Vec<SessionKey>)> {
        let e = self.get_mut(key)?;
        if e.stopping {
            return None;
        }
        e.stopping = true;
        Some((e.id, e.parent, std::mem::take(&mut e.children)))
    }

    /// Move `child` from `old`'s children to `new`'s (the kernel's when
    /// `None`): the new parent is held by its child, the old one released.
    pub(crate) fn move_child(
        &mut self,
        child: SessionKey,
        old: SessionKey,
        new: Option<SessionKey>,
    ) {
        if let Some(o) = self.get_mut(old) {
            o.children.retain(|c| *c != child);
        }
        if let Some(c) = self.get_mut(child) {
            c.parent = new;
        }
        if let Some(n) = new {
            if let Some(ne) = self.get_mut(n) {
                ne.children.push(child);
            }
            self.inc(n);
        }
        self.dec(old);
    }

    /// Record that the session owns the kernel handle in slot `handle`.
    pub(crate) fn add_handle(&mut self, key: SessionKey, handle: u32) {
        if let Some(e) = self.get_mut(key) {
            e.handles.push(handle);
        }
    }

    /// Forget that the session owns the handle in slot `handle`.
    pub(crate) fn remove_handle(&mut self, key: SessionKey, handle: u32) {
        if let Some(e) = self.get_mut(key) {
            if let Some(pos) = e.handles.iter().position(|h| *h == handle) {
                e.handles.swap_remove(pos);
            }
        }
    }

    /// Take the list of handles a session owns (it is being freed).
    pub(crate) fn take_handles(&mut self, key: SessionKey) -> Vec<u32> {
        self.get_mut(key)
            .map(|e| std::mem::take(&mut e.handles))
            .unwrap_or_default()
    }

    /// How many handles the session owns.
    pub(crate) fn handle_count(&self, key: SessionKey) -> usize {
        self.get(key).map_or(0, |e| e.handles.len())
    }

    /// Change a public refcount tag by `delta`: the session is held while
    /// any of its tags is non-zero. Returns the tag's new value, or `None`
    /// if the session is gone.
    pub(crate) fn add_extref(&mut self, key: SessionKey, tag: &str, delta: i64) -> Option<i64> {
        let e = self.get_mut(key)?;
        let v = e.extrefs.entry(tag.to_string()).or_insert(0);
        let old = *v;
        *v += delta;
        let new = *v;
        if new == 0 {
            e.extrefs.remove(tag);
        }
        match (old == 0, new == 0) {
            (true, false) => {
                self.extrefs_live += 1;
                self.inc(key);
            }
            (false, true) => {
                self.extrefs_live -= 1;
                self.dec(key);
            }
            _ => {}
        }
        Some(new)
    }

    /// The session's non-zero public refcounts, sorted by tag.
    pub(crate) fn extrefs_of(&self, key: SessionKey) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = self
            .get(key)
            .map(|e| e.extrefs.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Public refcount tags that are non-zero, across all sessions.
    pub(crate) fn extrefs_live(&self) -> usize {
        self.extrefs_live
    }

    /// The kernel's count of holds on a session (0 if it is gone).
    pub(crate) fn holds(&self, key: SessionKey) -> u64 {
        self.get(key).map_or(0, |e| e.refs)
    }

    /// Take the sessions whose count reached zero since the last call, in
    /// that order.
    pub(crate) fn take_gc(&mut self) -> Vec<SessionKey> {
        std::mem::take(&mut self.gc)
    }

    /// Forget the sessions noted for collection (everything was stopped).
    pub(crate) fn clear_gc(&mut self) {
        self.gc.clear();
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

    /// [`Sessions::by_alias`] for a send from session `from`, which
    /// remembers its last answer: the alias → session map only loses
    /// entries by removal (an alias cannot be taken over while set), and
    /// every removal moves the epoch, so a remembered answer of the
    /// current epoch is still right.
    #[inline]
    pub(crate) fn by_alias_from(&mut self, from: SessionKey, alias: &str) -> Option<SessionKey> {
        let epoch = self.alias_epoch;
        if let Some((a, k, ep)) = self.get(from).and_then(|e| e.last_alias.as_ref()) {
            if *ep == epoch && **a == *alias {
                return Some(*k);
            }
        }
        let (name, key) = self.aliases.get_key_value(alias)?;
        let (name, key) = (name.clone(), *key);
        if let Some(e) = self.get_mut(from) {
            e.last_alias = Some((name, key, epoch));
        }
        Some(key)
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
                self.alias_epoch += 1;
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
        let mut out = Vec::with_capacity(self.slab.len());
        for r in self.roots() {
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
