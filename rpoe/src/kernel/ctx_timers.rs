//! Timers of the running session: [`Ctx::delay`], [`Ctx::alarm`] and
//! their `_add` forms, removal (giving back a [`RemovedTimer`]) and
//! adjustment. Kept apart from the other sending methods because POE's
//! alarm and delay API is a family of its own, with its own replace-or-add
//! rules.

use std::any::Any;
use std::panic::Location;
use std::time::Duration;

use super::clock::Time;
use super::ctx::Ctx;
use super::error::Error;
use super::ids::TimerId;
use super::names::IntoEvent;
use super::payload::{Payload, Value};

/// A timer taken off the queue by [`Ctx::alarm_remove`] and friends.
#[derive(Debug)]
pub struct RemovedTimer {
    /// The timer's id.
    pub id: TimerId,
    /// The event it would have fired.
    pub event: String,
    /// When it was due.
    pub due: Time,
    /// Its argument.
    pub args: Value,
}

/// # Timers
///
/// Timers of this session: `delay`, `alarm` and their `_add` forms, removal and adjustment (POE's alarm and delay methods).
impl<'a, H: 'static> Ctx<'a, H> {
    /// Replace this session's timers named `event` with one due after
    /// `delay` (POE's `delay`). Returns the new timer's id.
    #[track_caller]
    pub fn delay(&mut self, event: impl IntoEvent, delay: Duration, args: impl Any) -> TimerId {
        let ev = self.core.names.resolve_transient(&event);
        self.core.drop_timers(self.frame.key, Some(ev));
        self.delay_add(ev, delay, args)
    }

    /// Add a timer due after `delay` without touching others (POE's
    /// `delay_add` / `delay_set`).
    #[track_caller]
    pub fn delay_add(&mut self, event: impl IntoEvent, delay: Duration, args: impl Any) -> TimerId {
        let due = self.core.refresh_now() + delay;
        self.alarm_add(event, due, args)
    }

    /// Replace this session's timers named `event` with one due at `at`
    /// (POE's `alarm`).
    #[track_caller]
    pub fn alarm(&mut self, event: impl IntoEvent, at: Time, args: impl Any) -> TimerId {
        let ev = self.core.names.resolve_transient(&event);
        self.core.drop_timers(self.frame.key, Some(ev));
        self.alarm_add(ev, at, args)
    }

    /// Add a timer due at `at` (POE's `alarm_add` / `alarm_set`). A time in
    /// the past fires in the next round, ahead of events queued later.
    #[track_caller]
    pub fn alarm_add(&mut self, event: impl IntoEvent, at: Time, args: impl Any) -> TimerId {
        let ev = self.core.names.resolve_transient(&event);
        let caller = self.here(Location::caller());
        self.core
            .set_timer_from(self.frame.key, ev, at, Payload::new(args), caller)
    }

    /// Remove every timer of this session named `event` (POE's `alarm($ev)`
    /// or `delay($ev)` without a time); returns how many there were.
    pub fn alarm_clear(&mut self, event: impl IntoEvent) -> usize {
        let ev = self.core.names.resolve_transient(&event);
        self.core.drop_timers(self.frame.key, Some(ev))
    }

    /// Cancel one timer, getting its name, due time and argument back.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchTimer`] if the timer fired or was removed already;
    /// [`Error::NotPermitted`] if it belongs to another session.
    pub fn alarm_remove(&mut self, id: TimerId) -> Result<RemovedTimer, Error> {
        let t = self.core.remove_timer(self.frame.key, id)?;
        Ok(RemovedTimer {
            id,
            event: self.core.names.name(t.event).to_string(),
            due: t.due,
            args: Value(t.payload),
        })
    }

    /// Cancel all of this session's timers, returned in due order. The
    /// timers behind pending [`Ctx::sleep`] futures are the kernel's, not
    /// the session's alarms, and are left alone.
    pub fn alarm_remove_all(&mut self) -> Vec<RemovedTimer> {
        let removed = self.core.clear_timers(self.frame.key, None);
        removed
            .into_iter()
            .map(|(id, t)| RemovedTimer {
                id,
                event: self.core.names.name(t.event).to_string(),
                due: t.due,
                args: Value(t.payload),
            })
            .collect()
    }

    /// Shift a timer by `delta_secs` (may be negative); returns its new due
    /// time (POE's `alarm_adjust`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if `delta_secs` is not finite or too large for a
    /// [`Duration`]; [`Error::NoSuchTimer`] if the timer fired or was removed;
    /// [`Error::NotPermitted`] if it belongs to another session.
    pub fn alarm_adjust(&mut self, id: TimerId, delta_secs: f64) -> Result<Time, Error> {
        let delta = Duration::try_from_secs_f64(delta_secs.abs())
            .map_err(|e| Error::Invalid(format!("alarm_adjust by {delta_secs}: {e}")))?;
        self.core.move_timer(self.frame.key, id, |due| {
            if delta_secs >= 0.0 {
                due + delta
            } else {
                due - delta
            }
        })
    }

    /// Re-base a timer to `delay` from now (POE's `delay_adjust`).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchTimer`] if the timer fired or was removed;
    /// [`Error::NotPermitted`] if it belongs to another session.
    pub fn delay_adjust(&mut self, id: TimerId, delay: Duration) -> Result<Time, Error> {
        let now = self.core.refresh_now();
        self.core.move_timer(self.frame.key, id, |_| now + delay)
    }
}
