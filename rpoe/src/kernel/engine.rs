//! The kernel's shared state and the operations both the run loop and
//! handlers use: posting, delivering, spawning, stopping and collecting
//! sessions, timers and watchers.

use std::time::Duration;

use mio::Poll;

use super::clock::{Clock, Time};
use super::dispatch::{reborrow, AnySession, Delivery, Stack};
use super::error::Error;
use super::events::{ChildEvent, ParentChange};
use super::handles::{Handles, IoSource, Watcher};
use super::ids::{Dest, HandleId, Sender, SessionId, TimerId};
use super::names::{EventId, Names};
use super::payload::{IoMode, Payload, Value};
use super::queue::{Kind, Next, Queue, Queued, SessionKey, Timer};
use super::sessions::Sessions;

pub(crate) struct Core {
    pub names: Names,
    pub sessions: Sessions,
    pub queue: Queue,
    pub handles: Handles,
    pub poll: Poll,
    pub clock: Clock,
    /// Set by `stop()`: the run loop returns after the current handler.
    pub stop_requested: bool,
}

impl Core {
    pub(crate) fn new(clock: Clock) -> Result<Core, Error> {
        Ok(Core {
            names: Names::new(),
            sessions: Sessions::new(),
            queue: Queue::new(),
            handles: Handles::new(),
            poll: Poll::new()?,
            clock,
            stop_requested: false,
        })
    }

    pub(crate) fn resolve(&self, dest: &Dest<'_>) -> Option<SessionKey> {
        match dest {
            Dest::Id(id) => self.sessions.key_of(*id),
            Dest::Alias(a) => self.sessions.by_alias(a).or_else(|| {
                a.parse::<u64>()
                    .ok()
                    .and_then(|n| self.sessions.by_number(n))
            }),
            Dest::Number(n) => self.sessions.by_number(*n),
        }
    }

    pub(crate) fn resolve_or_err(&self, dest: &Dest<'_>) -> Result<SessionKey, Error> {
        self.resolve(dest)
            .ok_or_else(|| Error::NoSuchSession(dest.to_string()))
    }

    /// Queue an event. Events sent by a session that is stopping are
    /// discarded, as POE purges posts made from `_stop`.
    pub(crate) fn post_key(
        &mut self,
        target: SessionKey,
        sender_key: Option<SessionKey>,
        event: EventId,
        payload: Payload,
    ) {
        let sender = match sender_key {
            Some(k) => match self.sessions.get(k) {
                Some(e) if e.stopping => return,
                Some(e) => Sender::Session(e.id),
                None => return,
            },
            None => Sender::Kernel,
        };
        self.sessions.inc(target);
        if let Some(k) = sender_key {
            self.sessions.inc(k);
        }
        let now = self.clock.now();
        self.queue.push(
            now,
            Queued {
                target,
                sender,
                sender_key,
                event,
                payload,
                kind: Kind::Event,
            },
        );
    }

    fn push_gc_check(&mut self, target: SessionKey) {
        self.sessions.inc(target);
        let now = self.clock.now();
        self.queue.push(
            now,
            Queued {
                target,
                sender: Sender::Kernel,
                sender_key: None,
                event: EventId::STOP,
                payload: Payload::Empty,
                kind: Kind::GcCheck,
            },
        );
    }

    /// Run a handler now, on the caller's stack.
    pub(crate) fn deliver(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        key: SessionKey,
        d: Delivery,
    ) -> Result<Value, Error> {
        let entry = self
            .sessions
            .get_mut(key)
            .ok_or_else(|| Error::NoSuchSession(format!("slot {key}")))?;
        let id = entry.id;
        let (session, from_stack) = match entry.session.take() {
            Some(s) => (s, false),
            None => match reborrow(&mut stack).and_then(|s| s.take(key)) {
                Some(s) => (s, true),
                None => return Err(Error::NoSuchSession(id.to_string())),
            },
        };
        tracing::trace!(target: "rpoe::dispatch", session = id.num, event = self.names.name(d.event), sender = %d.sender, "dispatch");
        let (session, result) = session.dispatch(self, reborrow(&mut stack), key, id, d);
        if from_stack {
            if let Some(s) = stack {
                s.restore(key, session);
            }
        } else if let Some(e) = self.sessions.get_mut(key) {
            if e.id == id {
                e.session = Some(session);
            }
        }
        result
    }

    /// Create a session: `_start` runs now, then the parent's `_child`
    /// (create), then a GC check is queued so an idle session is collected
    /// next round.
    pub(crate) fn spawn(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        parent: Option<SessionKey>,
        session: Box<dyn AnySession>,
        args: Payload,
    ) -> SessionId {
        let id = self.sessions.insert(session, parent);
        let sender = match parent.and_then(|p| self.sessions.id_of(p)) {
            Some(pid) => Sender::Session(pid),
            None => Sender::Kernel,
        };
        tracing::debug!(target: "rpoe::session", session = id.num, parent = %sender, "spawn");
        let ret = self
            .deliver(
                reborrow(&mut stack),
                id.key,
                Delivery {
                    event: EventId::START,
                    sender,
                    payload: args,
                    active: None,
                },
            )
            .unwrap_or_else(|_| Value::unit());
        if let Some(p) = parent {
            let still_child = self
                .sessions
                .get(id.key)
                .is_some_and(|e| e.id == id && e.parent == Some(p));
            if still_child {
                let _ = self.deliver(
                    reborrow(&mut stack),
                    p,
                    Delivery {
                        event: EventId::CHILD,
                        sender: Sender::Kernel,
                        payload: Payload::new(ChildEvent::Create(id, ret)),
                        active: None,
                    },
                );
            }
        }
        if self.sessions.key_of(id).is_some() {
            self.push_gc_check(id.key);
        }
        id
    }

    /// Stop one session: hand its children to its parent, run its `_stop`,
    /// tell its parent, then free everything it held.
    pub(crate) fn stop_session(&mut self, mut stack: Option<&mut dyn Stack>, key: SessionKey) {
        let Some(e) = self.sessions.get_mut(key) else {
            return;
        };
        if e.stopping {
            return;
        }
        e.stopping = true;
        let id = e.id;
        let parent = e.parent;
        let children = std::mem::take(&mut e.children);
        tracing::debug!(target: "rpoe::session", session = id.num, "stop");
        for child in children {
            self.reparent(reborrow(&mut stack), child, key, parent);
        }
        let ret = self
            .deliver(
                reborrow(&mut stack),
                key,
                Delivery {
                    event: EventId::STOP,
                    sender: Sender::Kernel,
                    payload: Payload::Empty,
                    active: None,
                },
            )
            .unwrap_or_else(|_| Value::unit());
        if let Some(p) = parent {
            let _ = self.deliver(
                reborrow(&mut stack),
                p,
                Delivery {
                    event: EventId::CHILD,
                    sender: Sender::Kernel,
                    payload: Payload::new(ChildEvent::Lose(id, ret)),
                    active: None,
                },
            );
        }
        self.free(key);
    }

    /// Move `child` from `old` to `new` (the kernel when `None`), with
    /// `_child gain` to the new parent and `_parent` to the child.
    pub(crate) fn reparent(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        child: SessionKey,
        old: SessionKey,
        new: Option<SessionKey>,
    ) {
        let Some(cid) = self.sessions.id_of(child) else {
            return;
        };
        let old_id = self.sessions.id_of(old);
        if let Some(o) = self.sessions.get_mut(old) {
            o.children.retain(|c| *c != child);
        }
        if let Some(c) = self.sessions.get_mut(child) {
            c.parent = new;
        }
        if let Some(n) = new {
            if let Some(ne) = self.sessions.get_mut(n) {
                ne.children.push(child);
            }
            self.sessions.inc(n);
        }
        self.sessions.dec(old);
        if let Some(n) = new {
            let _ = self.deliver(
                reborrow(&mut stack),
                n,
                Delivery {
                    event: EventId::CHILD,
                    sender: Sender::Kernel,
                    payload: Payload::new(ChildEvent::Gain(cid)),
                    active: None,
                },
            );
        }
        let new_party = match new.and_then(|n| self.sessions.id_of(n)) {
            Some(nid) => Sender::Session(nid),
            None => Sender::Kernel,
        };
        let old_party = old_id.map_or(Sender::Kernel, Sender::Session);
        let _ = self.deliver(
            stack,
            child,
            Delivery {
                event: EventId::PARENT,
                sender: Sender::Kernel,
                payload: Payload::new(ParentChange {
                    old: old_party,
                    new: new_party,
                }),
                active: None,
            },
        );
    }

    /// Release what a dequeued (or purged) event held.
    fn release(&mut self, target: SessionKey, sender_key: Option<SessionKey>) {
        self.sessions.dec(target);
        if let Some(k) = sender_key {
            self.sessions.dec(k);
        }
    }

    /// Free a session's resources and remove it from the table.
    fn free(&mut self, key: SessionKey) {
        let purged = self
            .queue
            .drain_events(|q| q.target == key || q.sender_key == Some(key));
        for q in purged {
            self.release(q.target, q.sender_key);
        }
        for t in self.queue.timers_of(key, None) {
            if self.queue.remove_timer(t).is_some() {
                self.sessions.dec(key);
            }
        }
        let handles = self
            .sessions
            .get_mut(key)
            .map(|e| std::mem::take(&mut e.handles))
            .unwrap_or_default();
        for hk in handles {
            if let Some(hid) = self.handles.id_at(hk) {
                self.handles.remove(self.poll.registry(), hid);
            }
        }
        let parent = self.sessions.get(key).and_then(|e| e.parent);
        if let Some(p) = parent {
            if let Some(pe) = self.sessions.get_mut(p) {
                pe.children.retain(|c| *c != key);
            }
        }
        let entry = self.sessions.remove(key);
        if let Some(p) = parent {
            self.sessions.dec(p);
        }
        // Dropping the heap runs user code (Drop impls); do it last, with
        // the table consistent.
        drop(entry);
    }

    /// Stop every session whose count reached zero, most recent first;
    /// parents freed by that are collected in the same sweep.
    pub(crate) fn gc_sweep(&mut self) {
        while let Some(key) = self.sessions.gc.pop() {
            let idle = self.sessions.collectable(key)
                && self.sessions.get(key).is_some_and(|e| e.session.is_some());
            if idle {
                self.stop_session(None, key);
            }
        }
    }

    /// Stop everything, deepest first (POE's `stop()`).
    pub(crate) fn stop_all(&mut self, mut stack: Option<&mut dyn Stack>) {
        let (events, timers) = self.queue.clear();
        for q in events {
            self.release(q.target, q.sender_key);
        }
        for t in timers {
            self.sessions.dec(t.session);
        }
        for key in self.sessions.post_order() {
            self.stop_session(reborrow(&mut stack), key);
        }
        self.sessions.gc.clear();
    }

    /// Take the next due entry and dispatch it.
    pub(crate) fn dispatch_next(&mut self, now: Time, mark: u64) -> bool {
        let Some(next) = self.queue.pop_due(now, mark) else {
            return false;
        };
        match next {
            Next::Event(q) => {
                self.release(q.target, q.sender_key);
                if let Kind::Event = q.kind {
                    let _ = self.deliver(
                        None,
                        q.target,
                        Delivery {
                            event: q.event,
                            sender: q.sender,
                            payload: q.payload,
                            active: None,
                        },
                    );
                }
            }
            Next::Timer(t) => self.fire_timer(t),
        }
        true
    }

    fn fire_timer(&mut self, t: Timer) {
        self.sessions.dec(t.session);
        if let Some(id) = self.sessions.id_of(t.session) {
            let _ = self.deliver(
                None,
                t.session,
                Delivery {
                    event: t.event,
                    sender: Sender::Session(id),
                    payload: t.payload,
                    active: None,
                },
            );
        }
    }

    // ----- timers -------------------------------------------------------

    pub(crate) fn set_timer(
        &mut self,
        session: SessionKey,
        event: EventId,
        due: Time,
        payload: Payload,
    ) -> TimerId {
        self.sessions.inc(session);
        self.queue.set_timer(session, event, due, payload)
    }

    /// Remove the timers of `session` named `event` (all when `None`),
    /// returning them in due order.
    pub(crate) fn clear_timers(
        &mut self,
        session: SessionKey,
        event: Option<EventId>,
    ) -> Vec<(TimerId, Timer)> {
        let ids = self.queue.timers_of(session, event);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.queue.remove_timer(id) {
                self.sessions.dec(session);
                out.push((id, t));
            }
        }
        out
    }

    pub(crate) fn remove_timer(
        &mut self,
        session: SessionKey,
        id: TimerId,
    ) -> Result<Timer, Error> {
        match self.queue.timer(id) {
            None => Err(Error::NoSuchTimer(id)),
            Some(t) if t.session != session => Err(Error::NotPermitted(format!(
                "timer {id} belongs to another session"
            ))),
            Some(_) => {
                let t = self.queue.remove_timer(id).ok_or(Error::NoSuchTimer(id))?;
                self.sessions.dec(session);
                Ok(t)
            }
        }
    }

    pub(crate) fn move_timer(
        &mut self,
        session: SessionKey,
        id: TimerId,
        due: impl FnOnce(Time) -> Time,
    ) -> Result<Time, Error> {
        match self.queue.timer(id) {
            None => Err(Error::NoSuchTimer(id)),
            Some(t) if t.session != session => Err(Error::NotPermitted(format!(
                "timer {id} belongs to another session"
            ))),
            Some(t) => {
                let new = due(t.due);
                self.queue.reschedule(id, new).ok_or(Error::NoSuchTimer(id))
            }
        }
    }

    // ----- handles ------------------------------------------------------

    pub(crate) fn add_handle(&mut self, owner: SessionKey, io: Box<dyn IoSource>) -> HandleId {
        let id = self.handles.insert(owner, io);
        if let Some(e) = self.sessions.get_mut(owner) {
            e.handles.push(id.key);
        }
        id
    }

    fn owned(&mut self, owner: SessionKey, id: HandleId) -> Result<(), Error> {
        match self.handles.get(id) {
            None => Err(Error::NoSuchHandle(id)),
            Some(h) if h.owner != owner => Err(Error::NotPermitted(format!(
                "handle {id} belongs to another session"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Set (`Some`) or clear (`None`) a watcher.
    pub(crate) fn set_watcher(
        &mut self,
        owner: SessionKey,
        id: HandleId,
        mode: IoMode,
        event: Option<EventId>,
    ) -> Result<(), Error> {
        self.owned(owner, id)?;
        let Some(h) = self.handles.get_mut(id) else {
            return Err(Error::NoSuchHandle(id));
        };
        let slot = h.watcher_mut(mode);
        let had = slot.is_some();
        *slot = event.map(|event| Watcher {
            session: owner,
            event,
            paused: false,
        });
        match (had, event.is_some()) {
            (false, true) => {
                self.handles.watchers += 1;
                self.sessions.inc(owner);
            }
            (true, false) => {
                self.handles.watchers -= 1;
                self.sessions.dec(owner);
            }
            _ => {}
        }
        self.handles.sync(self.poll.registry(), id)?;
        Ok(())
    }

    pub(crate) fn pause_watcher(
        &mut self,
        owner: SessionKey,
        id: HandleId,
        mode: IoMode,
        paused: bool,
    ) -> Result<(), Error> {
        self.owned(owner, id)?;
        if let Some(h) = self.handles.get_mut(id) {
            if let Some(w) = h.watcher_mut(mode) {
                if w.paused == paused {
                    return Ok(());
                }
                w.paused = paused;
            }
        }
        self.handles.sync(self.poll.registry(), id)?;
        Ok(())
    }

    /// Close a handle: drop its watchers and give the object back.
    pub(crate) fn remove_handle(
        &mut self,
        owner: SessionKey,
        id: HandleId,
    ) -> Result<Box<dyn IoSource>, Error> {
        self.owned(owner, id)?;
        let h = self
            .handles
            .remove(self.poll.registry(), id)
            .ok_or(Error::NoSuchHandle(id))?;
        if let Some(e) = self.sessions.get_mut(owner) {
            if let Some(pos) = e.handles.iter().position(|k| *k == id.key) {
                e.handles.swap_remove(pos);
            }
        }
        let watchers = usize::from(h.read.is_some()) + usize::from(h.write.is_some());
        for _ in 0..watchers {
            self.sessions.dec(owner);
        }
        Ok(h.io)
    }

    /// Dispatch one readiness event if its watcher is still set and active.
    pub(crate) fn dispatch_io(&mut self, key: u32, mode: IoMode) {
        let Some(id) = self.handles.id_at(key) else {
            return;
        };
        let Some(w) = self.handles.get(id).and_then(|h| h.watcher(mode)) else {
            return;
        };
        if w.paused {
            return;
        }
        self.handles.mark_rearm(id);
        let Some(sid) = self.sessions.id_of(w.session) else {
            return;
        };
        let _ = self.deliver(
            None,
            w.session,
            Delivery {
                event: w.event,
                sender: Sender::Session(sid),
                payload: Payload::Io(id, mode),
                active: None,
            },
        );
    }

    /// True when nothing but aliases keeps any session alive: POE's IDLE.
    pub(crate) fn is_idle(&self) -> bool {
        self.sessions.len() > 0
            && self.queue.event_count() == 0
            && self.queue.timer_count() == 0
            && self.handles.watched_count() == 0
            && !self
                .sessions
                .slab
                .iter()
                .any(|(_, e)| e.extrefs.values().any(|v| *v != 0))
    }

    /// How long the poll may block.
    pub(crate) fn poll_timeout(&mut self) -> Result<Option<Duration>, Error> {
        if self.queue.event_count() > 0 {
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
                    Ok(Some(due.saturating_since(now)))
                }
            }
            None => Ok(None),
        }
    }
}
