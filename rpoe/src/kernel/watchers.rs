//! I/O operations of the kernel: handles owned by sessions, their
//! watchers (which hold the watching session), and readiness dispatch.

use super::caller::Caller;
use super::dispatch::Delivery;
use super::engine::Core;
use super::error::Error;
use super::handles::{IoSource, Target};
use super::ids::{HandleId, Sender};
use super::names::EventId;
use super::payload::{IoMode, Payload};
use super::queue::SessionKey;

impl Core {
    pub(crate) fn add_handle(&mut self, owner: SessionKey, io: Box<dyn IoSource>) -> HandleId {
        let id = self.handles.insert(owner, io);
        self.sessions.add_handle(owner, id.key);
        id
    }

    fn owned(&mut self, owner: SessionKey, id: HandleId) -> Result<(), Error> {
        match self.handles.owner_of(id) {
            None => Err(Error::NoSuchHandle(id)),
            Some(o) if o != owner => Err(Error::NotPermitted(format!(
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
        let Some(change) = self.handles.set_watcher(id, mode, owner, target) else {
            return Err(Error::NoSuchHandle(id));
        };
        // Each watcher holds the session that set it.
        match change {
            (false, true) => self.sessions.inc(owner),
            (true, false) => self.sessions.dec(owner),
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
        if !self.handles.pause(id, mode, paused) {
            return Ok(());
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
        let (io, watchers) = self
            .handles
            .remove(self.poll.registry(), id)
            .ok_or(Error::NoSuchHandle(id))?;
        self.sessions.remove_handle(owner, id.key);
        // Each watcher held the session.
        if watchers > 0 {
            self.sessions.release(owner, watchers as u64);
        }
        Ok(io)
    }

    /// Dispatch one readiness event if its watcher is still set and active.
    /// `peer_closed`: for a read, the OS reported the peer closed (or an
    /// error) with this readiness; it travels with the delivery.
    pub(crate) fn dispatch_io(&mut self, key: u32, mode: IoMode, peer_closed: bool) {
        let Some(id) = self.handles.id_at(key) else {
            return;
        };
        let Some((session, target)) = self.handles.active_watcher(id, mode) else {
            return;
        };
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
