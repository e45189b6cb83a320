//! I/O operations of the kernel: handles owned by sessions, their
//! watchers (which hold the watching session), and readiness dispatch.

use super::caller::Caller;
use super::dispatch::Delivery;
use super::engine::Core;
use super::error::Error;
use super::handles::{IoSource, Target, Watcher};
use super::ids::{HandleId, Sender};
use super::names::EventId;
use super::payload::{IoMode, Payload};
use super::queue::SessionKey;

impl Core {
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
        self.set_target(owner, id, mode, event.map(Target::Event))
    }

    /// Set (`Some`) or clear (`None`) a watcher of any kind.
    pub(crate) fn set_target(
        &mut self,
        owner: SessionKey,
        id: HandleId,
        mode: IoMode,
        target: Option<Target>,
    ) -> Result<(), Error> {
        self.owned(owner, id)?;
        let Some(h) = self.handles.get_mut(id) else {
            return Err(Error::NoSuchHandle(id));
        };
        let slot = h.watcher_mut(mode);
        let had = slot.is_some();
        let has = target.is_some();
        *slot = target.map(|target| Watcher {
            session: owner,
            target,
            paused: false,
        });
        match (had, has) {
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
        let watchers = h.watcher_count();
        for _ in 0..watchers {
            self.sessions.dec(owner);
        }
        Ok(h.io)
    }

    /// Dispatch one readiness event if its watcher is still set and active.
    /// `peer_closed`: for a read, the OS reported the peer closed (or an
    /// error) with this readiness; it travels with the delivery.
    pub(crate) fn dispatch_io(&mut self, key: u32, mode: IoMode, peer_closed: bool) {
        let Some(id) = self.handles.id_at(key) else {
            return;
        };
        let Some(w) = self.handles.get(id).and_then(|h| h.watcher(mode)) else {
            return;
        };
        if w.paused {
            return;
        }
        let (session, target) = (w.session, w.target.clone());
        self.handles.mark_rearm(id, mode);
        let Some(sid) = self.sessions.id_of(session) else {
            return;
        };
        match target {
            Target::Event(event) => {
                let _ = self.deliver(
                    None,
                    session,
                    Delivery {
                        event,
                        sender: Sender::Session(sid),
                        payload: Payload::Io(id, mode, peer_closed),
                        active: None,
                        caller: Caller::KERNEL,
                    },
                );
            }
            Target::EventWith(event, extra) => {
                let _ = self.deliver(
                    None,
                    session,
                    Delivery {
                        event,
                        sender: Sender::Session(sid),
                        payload: Payload::io_with(id, mode, peer_closed, extra),
                        active: None,
                        caller: Caller::KERNEL,
                    },
                );
            }
            Target::Wheel(wheel) => wheel.ready_closed(self, id, mode, peer_closed),
        }
    }

    /// A wheel hands its session an event, at kernel level (no handler on
    /// the stack): the session's handler runs now, with the session itself
    /// as sender, as for the readiness events of its own handles.
    pub(crate) fn wheel_event(
        &mut self,
        owner: SessionKey,
        owner_id: crate::kernel::SessionId,
        event: EventId,
        payload: Payload,
    ) {
        let _ = self.deliver(
            None,
            owner,
            Delivery {
                event,
                sender: Sender::Session(owner_id),
                payload,
                active: None,
                caller: Caller::KERNEL,
            },
        );
    }
}
