//! Timer operations of the kernel: setting, clearing, removing and moving
//! a session's timers, with the reference counts that keep it alive.

use super::caller::Caller;
use super::clock::Time;
use super::engine::Core;
use super::error::Error;
use super::ids::TimerId;
use super::names::EventId;
use super::payload::Payload;
use super::queue::{SessionKey, Timer};

impl Core {
    pub(crate) fn set_timer(
        &mut self,
        session: SessionKey,
        event: EventId,
        due: Time,
        payload: Payload,
    ) -> TimerId {
        self.set_timer_from(session, event, due, payload, Caller::KERNEL)
    }

    /// [`Core::set_timer`] from a handler, recording its origin.
    pub(crate) fn set_timer_from(
        &mut self,
        session: SessionKey,
        event: EventId,
        due: Time,
        payload: Payload,
        caller: Caller,
    ) -> TimerId {
        self.sessions.inc(session);
        self.queue.set_timer(session, event, due, payload, caller)
    }

    /// Remove the timers of `session` named `event` (all when `None`),
    /// returning them in due order.
    pub(crate) fn clear_timers(
        &mut self,
        session: SessionKey,
        event: Option<EventId>,
    ) -> Vec<(TimerId, Timer)> {
        let mut ids = self.queue.timers_of(session, event);
        // A `Sleep`'s timer is the kernel's, not an alarm the session set:
        // clearing it would leave its future pending forever, holding the
        // session alive. `alarm_remove_all` and `alarm_clear` skip it.
        let wake = self.tasks.wake_event;
        ids.retain(|id| self.queue.timer(*id).is_none_or(|t| t.event != wake));
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.queue.remove_timer(id) {
                self.sessions.dec(session);
                out.push((id, t));
            }
        }
        out
    }

    /// [`Core::clear_timers`] for callers that only need the count
    /// (`delay`, `alarm`, `alarm_clear`): nothing is sorted or collected.
    pub(crate) fn drop_timers(&mut self, session: SessionKey, event: Option<EventId>) -> usize {
        let wake = self.tasks.wake_event;
        let mut n = 0;
        for id in self.queue.timers_of_unordered(session, event) {
            // As in `clear_timers`: a `Sleep`'s timer is not the session's.
            if self.queue.timer(id).is_some_and(|t| t.event != wake)
                && self.queue.remove_timer(id).is_some()
            {
                self.sessions.dec(session);
                n += 1;
            }
        }
        n
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
}
