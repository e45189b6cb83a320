//! A session's life as [`Core`] runs it: spawning (`_start`, then the
//! parent's `_child`), stopping (`_stop`, children handed over, resources
//! freed), reparenting and detaching, garbage collection of idle sessions,
//! and stopping everything. The order of these lifecycle events is POE's,
//! and lives in this one file.

use super::super::caller::Caller;
use super::super::dispatch::{reborrow, AnySession, Delivery, Stack};
use super::super::events::{ChildEvent, ParentChange};
use super::super::ids::{Sender, SessionId};
use super::super::names::EventId;
use super::super::payload::{Payload, Value};
use super::super::queue::SessionKey;
use super::Core;

impl Core {
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
        if self.depth >= self.limits.call_depth {
            // Spawning cannot return an error (POE's create has no failure
            // either), and running the child's `_start` here would go
            // past the limit: fail the spawning handler, as a `die` would.
            panic!("{}", self.call_depth_error(EventId::START));
        }
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
                    caller: Caller::KERNEL,
                },
            )
            .unwrap_or_else(|_| Value::unit());
        if let Some(p) = parent {
            let still_child =
                self.sessions.key_of(id).is_some() && self.sessions.parent_of(id.key) == Some(p);
            if still_child {
                let _ = self.deliver(
                    reborrow(&mut stack),
                    p,
                    Delivery::from_kernel(
                        EventId::CHILD,
                        Payload::new(ChildEvent::Create(id, ret)),
                    ),
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
        let Some((id, parent, children)) = self.sessions.begin_stop(key) else {
            return;
        };
        tracing::debug!(target: "rpoe::session", session = id.num, "stop");
        for child in children {
            self.reparent(reborrow(&mut stack), child, key, parent);
        }
        let ret = self
            .deliver(
                reborrow(&mut stack),
                key,
                Delivery::from_kernel(EventId::STOP, Payload::Empty),
            )
            .unwrap_or_else(|_| Value::unit());
        if let Some(p) = parent {
            let _ = self.deliver(
                reborrow(&mut stack),
                p,
                Delivery::from_kernel(EventId::CHILD, Payload::new(ChildEvent::Lose(id, ret))),
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
        self.sessions.move_child(child, old, new);
        if let Some(n) = new {
            let _ = self.deliver(
                reborrow(&mut stack),
                n,
                Delivery::from_kernel(EventId::CHILD, Payload::new(ChildEvent::Gain(cid))),
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
            Delivery::from_kernel(
                EventId::PARENT,
                Payload::new(ParentChange {
                    old: old_party,
                    new: new_party,
                }),
            ),
        );
    }

    /// Make `child` a child of the kernel: its old parent gets `_child`
    /// (lose) unless `quiet` (a detach inside `_start`), then the child
    /// gets `_parent`.
    pub(crate) fn detach(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        child: SessionKey,
        quiet: bool,
    ) {
        let Some(old) = self.sessions.parent_of(child) else {
            return;
        };
        let (Some(cid), Some(oid)) = (self.sessions.id_of(child), self.sessions.id_of(old)) else {
            return;
        };
        self.sessions.move_child(child, old, None);
        if !quiet {
            let _ = self.deliver(
                reborrow(&mut stack),
                old,
                Delivery::from_kernel(
                    EventId::CHILD,
                    Payload::new(ChildEvent::Lose(cid, Value::unit())),
                ),
            );
        }
        let _ = self.deliver(
            stack,
            child,
            Delivery::from_kernel(
                EventId::PARENT,
                Payload::new(ParentChange {
                    old: Sender::Session(oid),
                    new: Sender::Kernel,
                }),
            ),
        );
    }

    /// Free a session's resources and remove it from the table.
    fn free(&mut self, key: SessionKey) {
        let purged = self
            .queue
            .drain_events(|q| q.target == key || q.sender_key() == Some(key));
        for q in purged {
            self.release(q.target, q.sender_key());
        }
        for t in self.queue.timers_of(key, None) {
            if self.queue.remove_timer(t).is_some() {
                self.sessions.dec(key);
            }
        }
        self.signals.forget_session(key);
        let handles = self.sessions.take_handles(key);
        for hk in handles {
            if let Some(hid) = self.handles.id_at(hk) {
                self.handles.remove(self.poll.registry(), hid);
            }
        }
        let tasks = self.tasks.take_session(key);
        let entry = self.sessions.remove(key);
        // Dropping the heap runs user code (Drop impls); do it last, with
        // the table consistent — or after the other sessions stopping with
        // this one have run their `_stop`.
        match (self.deferred_frees.as_mut(), entry) {
            (Some(later), Some(e)) => later.push(e),
            (_, entry) => drop(entry),
        }
        // The session's futures are dropped (cancelled) now: they belong
        // to a session that is gone, whatever happens to its heap.
        drop(tasks);
    }

    /// Run `stop` (which stops several sessions), then drop the heaps of
    /// the sessions it freed, in the order they were freed. Nested uses
    /// hand their sessions to the outermost one.
    pub(crate) fn with_deferred_frees(&mut self, stop: impl FnOnce(&mut Self)) {
        let outer = self.deferred_frees.replace(Vec::new());
        stop(self);
        let freed = std::mem::replace(&mut self.deferred_frees, outer);
        match (self.deferred_frees.as_mut(), freed) {
            (Some(later), Some(freed)) => later.extend(freed),
            (_, freed) => drop(freed),
        }
    }

    /// Stop every session whose count reached zero, most recent first;
    /// parents freed by that are collected in the same sweep, after the
    /// sessions that were already collectable (POE's order).
    pub(crate) fn gc_sweep(&mut self) {
        loop {
            let batch = self.sessions.take_gc();
            if batch.is_empty() {
                return;
            }
            for key in batch.into_iter().rev() {
                let idle = self.sessions.collectable(key) && self.sessions.is_resting(key);
                if idle {
                    self.stop_session(None, key);
                }
            }
        }
    }

    /// Stop everything, deepest first (POE's `stop()`).
    pub(crate) fn stop_all(&mut self, mut stack: Option<&mut dyn Stack>) {
        let (events, timers) = self.queue.clear();
        for q in events {
            self.release(q.target, q.sender_key());
        }
        for t in timers {
            self.sessions.dec(t.session);
        }
        self.with_deferred_frees(|core| {
            for key in core.sessions.post_order() {
                core.stop_session(reborrow(&mut stack), key);
            }
        });
        self.sessions.clear_gc();
    }
}
