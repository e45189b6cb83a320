//! Running a handler: [`Core::deliver`] takes the session out of its
//! table (or off the stack of running sessions), dispatches the event and
//! puts it back; the call-depth bound, the active-session bookkeeping
//! around each handler, and what becomes of a failed handler (DIE, or an
//! error kept for `run`). The hot path of every event: its `#[inline]`
//! markings are deliberate, and the failure paths are kept cold and out
//! of line.

use std::rc::Rc;

use super::super::caller::Caller;
use super::super::dispatch::{reborrow, AnySession, Delivery, Each, EachEnd, Fail, Stack};
use super::super::error::Error;
use super::super::ids::{Sender, SessionId};
use super::super::names::EventId;
use super::super::payload::Value;
use super::super::queue::SessionKey;
use super::super::signals::DieInfo;
use super::Core;

/// Levels past the call-depth limit the kernel's lifecycle events may
/// still be delivered at (see `Core::lifecycle_may_nest`).
const LIFECYCLE_HEADROOM: u32 = 16;

impl Core {
    /// Run a handler now, on the caller's stack. A handler that panics or
    /// fails becomes a DIE signal to its session (a failure in `_stop`, or
    /// after `stop()`, is kept for `run` to return instead); a panic in a
    /// call into the running session unwinds into the caller, as a `die`
    /// does in POE.
    pub(crate) fn deliver(
        &mut self,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
        d: Delivery,
    ) -> Result<Value, Error> {
        self.deliver_inline(stack, key, d)
    }

    /// [`Core::deliver`], inlined into the queue's dispatch loop, where
    /// every queued event goes through it.
    #[inline(always)]
    pub(super) fn deliver_inline(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        key: SessionKey,
        d: Delivery,
    ) -> Result<Value, Error> {
        self.may_nest(d.event)?;
        let (id, session, from_stack) = self.take_to_run(reborrow(&mut stack), key)?;
        self.trace_dispatch(id, &d);
        let done = Delivered {
            key,
            id,
            event: d.event,
            sender: d.sender,
            self_call: d.active.is_some(),
            origin: d.caller,
        };
        let mut ret = Value::unit();
        let outer = self.enter(id);
        let (session, result) = session.dispatch(self, reborrow(&mut stack), key, id, d, &mut ret);
        self.leave(outer);
        self.put_back(stack, key, id, session, from_stack);
        self.delivered(done, result, ret)
    }

    /// Run a handler once per argument of `each`, on the caller's stack
    /// (see [`crate::Ctx::call_each`]): the session is taken out of its
    /// table once for the whole run instead of once per argument. Returns
    /// how many handlers ran; on a failure, or once the session is gone,
    /// the rest of the arguments are left untaken.
    pub(crate) fn deliver_each(
        &mut self,
        mut stack: Option<&mut dyn Stack>,
        key: SessionKey,
        each: &mut Each<'_>,
    ) -> Result<usize, Error> {
        self.may_nest(each.event)?;
        let (id, session, from_stack) = self.take_to_run(reborrow(&mut stack), key)?;
        let outer = self.enter(id);
        let (session, ran, result) =
            session.dispatch_each(self, reborrow(&mut stack), key, id, each);
        self.leave(outer);
        self.put_back(stack, key, id, session, from_stack);
        let done = Delivered {
            key,
            id,
            event: each.event,
            sender: each.sender,
            self_call: each.active.is_some(),
            origin: each.caller,
        };
        // A failure ends the run: `delivered` makes it an error.
        let (failed, end) = match result {
            Ok(end) => (Ok(()), end),
            Err(f) => (Err(f), EachEnd::Done),
        };
        self.delivered(done, failed, Value::unit())?;
        match end {
            EachEnd::Done => Ok(ran),
            EachEnd::Gone => Err(Error::NoSuchSession(id.to_string())),
        }
    }

    /// Take the session in slot `key` out to run a handler: from its
    /// table, or, when it is running further up the call chain, from its
    /// frame on `stack` (the `bool`).
    #[inline(always)]
    fn take_to_run(
        &mut self,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
    ) -> Result<(SessionId, Box<dyn AnySession>, bool), Error> {
        let (id, taken) = self
            .sessions
            .take_session(key)
            .ok_or_else(|| Error::NoSuchSession(format!("slot {key}")))?;
        match taken {
            Some(s) => Ok((id, s, false)),
            None => match stack.and_then(|s| s.take(key)) {
                Some(s) => Ok((id, s, true)),
                None => Err(Error::NoSuchSession(id.to_string())),
            },
        }
    }

    /// Put back a session [`Core::take_to_run`] took.
    #[inline(always)]
    fn put_back(
        &mut self,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
        id: SessionId,
        session: Box<dyn AnySession>,
        from_stack: bool,
    ) {
        if from_stack {
            if let Some(s) = stack {
                s.restore(key, session);
            }
        } else {
            self.sessions.put_session(key, id, session);
        }
    }

    /// Refuse a delivery past the call-depth limit (see
    /// [`Core::lifecycle_may_nest`] for the kernel's own events).
    #[inline]
    pub(crate) fn may_nest(&self, event: EventId) -> Result<(), Error> {
        if self.depth >= self.limits.call_depth && !self.lifecycle_may_nest(event) {
            return Err(self.call_depth_error(event));
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn trace_dispatch(&self, id: SessionId, d: &Delivery) {
        tracing::trace!(target: "rpoe::dispatch", session = id.num, event = self.names.name(d.event), sender = %d.sender, "dispatch");
    }

    /// How many handlers are on the stack (0: the kernel itself runs).
    #[inline]
    pub(crate) fn handlers_on_stack(&self) -> u32 {
        self.depth
    }

    /// A handler of session `id` starts: it is the active session (a
    /// postback made or called now sends from it) one level deeper.
    #[inline]
    pub(crate) fn enter(&mut self, id: SessionId) -> Option<SessionId> {
        self.depth += 1;
        self.local.enter(id)
    }

    /// The handler [`Core::enter`] started has returned.
    #[inline]
    pub(crate) fn leave(&mut self, outer: Option<SessionId>) {
        self.depth -= 1;
        self.local.leave(outer);
    }

    /// After a handler ran and its session is back in place: run the work
    /// it left for the kernel, and turn a failure into DIE (or re-raise a
    /// panic through a call into the running session, as POE does). The
    /// handler wrote its value into `ret`, made before it ran.
    #[inline(always)]
    pub(crate) fn delivered(
        &mut self,
        done: Delivered,
        result: Result<(), Fail>,
        ret: Value,
    ) -> Result<Value, Error> {
        if !self.local.is_empty() {
            self.drain_local();
        }
        match result {
            Ok(()) => Ok(ret),
            Err(f) => self.delivery_failed(done, f),
        }
    }

    #[cold]
    #[inline(never)]
    fn delivery_failed(&mut self, done: Delivered, f: Fail) -> Result<Value, Error> {
        match f {
            Fail::NoHandler(e) => Err(*e),
            Fail::Panicked(p) if done.self_call => std::panic::resume_unwind(p),
            f => {
                let died_at = match f {
                    Fail::Panicked(_) => super::super::panic_site::take(),
                    _ => None,
                };
                let what = Failure {
                    message: f.message(),
                    origin: done.origin,
                    died_at,
                };
                Err(self.handler_failed(done.key, done.id, done.event, done.sender, what))
            }
        }
    }

    /// Whether a delivery past the call-depth limit may still run: the
    /// kernel's own lifecycle events (`_start`, `_stop`, `_child`,
    /// `_parent`) get [`LIFECYCLE_HEADROOM`] more levels, so a handler at
    /// the limit that stops or detaches a session does not make it miss
    /// its `_stop` or its parent its `_child`. They cannot recurse on
    /// their own (spawning and calling are checked at the limit), so the
    /// headroom is only ever used a few levels deep.
    #[cold]
    fn lifecycle_may_nest(&self, event: EventId) -> bool {
        let lifecycle = matches!(
            event,
            EventId::START | EventId::STOP | EventId::CHILD | EventId::PARENT
        );
        lifecycle && self.depth < self.limits.call_depth.saturating_add(LIFECYCLE_HEADROOM)
    }

    /// Out of line: keeps the refusal (and its logging) off `deliver`'s
    /// hot path.
    #[cold]
    #[inline(never)]
    pub(crate) fn call_depth_error(&self, event: EventId) -> Error {
        tracing::warn!(target: "rpoe::dispatch", event = self.names.name(event), limit = self.limits.call_depth, "call depth limit reached");
        Error::CallDepth {
            event: self.names.name(event).to_string(),
            limit: self.limits.call_depth,
        }
    }

    /// A handler failed: queue DIE to its session, or keep the error for
    /// `run` when the session is stopping (POE rethrows those at once).
    pub(crate) fn handler_failed(
        &mut self,
        key: SessionKey,
        id: SessionId,
        event: EventId,
        source: Sender,
        failure: Failure,
    ) -> Error {
        let Failure {
            message,
            origin,
            died_at,
        } = failure;
        let name = self.names.name(event).to_string();
        tracing::warn!(target: "rpoe::kernel", session = id.num, event = %name, error = %message, "handler failed");
        let err = Error::HandlerFailed {
            session: id.num,
            event: name.clone(),
            message: message.clone(),
        };
        if self.signals.in_die_watcher(self.depth) {
            // A DIE watcher failed. Queuing another DIE would hand the same
            // handler its own failure, forever if it always fails: POE
            // makes this fatal, and so do we (see `dispatch_signal`).
            self.signals.note_die_failure((id.num, name, message));
            return err;
        }
        let stopping = self.sessions.stopping_or_gone(key);
        if event == EventId::STOP || stopping || self.stop_requested {
            self.keep_failure(err);
            return Error::HandlerFailed {
                session: id.num,
                event: name,
                message,
            };
        }
        let info = DieInfo {
            session: id,
            event: name,
            source,
            message,
            from_state: origin.state.map(|e| self.names.name(e).to_string()),
            file: origin.location.map(|l| l.file()),
            line: origin.location.map(|l| l.line()),
            panic_location: died_at,
        };
        self.queue_signal(key, None, "DIE", Rc::new(info));
        err
    }
}

/// What [`Core::delivered`] needs to know about a delivery once its
/// handler has returned.
#[derive(Clone, Copy)]
pub(crate) struct Delivered {
    pub(in crate::kernel) key: SessionKey,
    pub(in crate::kernel) id: SessionId,
    pub(in crate::kernel) event: EventId,
    pub(in crate::kernel) sender: Sender,
    /// A call into the running session: a panic unwinds into the caller.
    pub(in crate::kernel) self_call: bool,
    pub(in crate::kernel) origin: Caller,
}

/// What DIE reports about a failed handler beyond who and which event.
pub(crate) struct Failure {
    /// The panic message or the error's text.
    message: String,
    /// Where the failed event came from.
    origin: Caller,
    /// Where the handler panicked, if it did.
    died_at: Option<(String, u32)>,
}

impl Failure {
    /// A future polled by the kernel panicked: no event was being handled,
    /// so the failure has no origin but the kernel; where it panicked
    /// comes from the panic hook, as for a handler.
    pub(crate) fn future_panicked(message: String) -> Self {
        Failure {
            message,
            origin: Caller::KERNEL,
            died_at: super::super::panic_site::take(),
        }
    }
}
