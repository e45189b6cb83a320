//! [`Ctx`]: what a handler gets — POE's `@_[KERNEL, HEAP, SESSION, SENDER,
//! STATE, ARG0..]` as one value with disjoint methods.
//!
//! This file holds the struct and what a handler asks about itself (its
//! heap, session, sender, event names, depth, the clock). The rest of
//! `Ctx`'s methods live next to it, one file per responsibility, each an
//! `impl` block under its own heading (rustdoc lists them in this order):
//! `ctx_args.rs` (the event's argument), `ctx_events.rs` (post, yield,
//! call, spawn), `ctx_timers.rs`, `ctx_io.rs` (bare I/O watchers),
//! `ctx_sessions.rs` (aliases, options, handlers, the session tree,
//! introspection), `ctx_signals.rs` (DIE, signals, postbacks and
//! references), `source.rs` (wheels) and `task.rs` (futures).

use std::panic::Location;

use super::caller::Caller;
use super::clock::Time;
use super::dispatch::Frame;
use super::ids::{Sender, SessionId};
use super::names::EventId;
use super::payload::Payload;
use super::Core;

/// The context of one handler invocation.
///
/// It gives the handler its session's heap ([`Ctx::heap`]), the event's
/// name, sender and argument, and every kernel operation. Kernel operations
/// act on behalf of this session (POE's "active session").
pub struct Ctx<'a, H: 'static> {
    pub(crate) core: &'a mut Core,
    pub(crate) frame: Frame<'a, H>,
    pub(crate) sender: Sender,
    pub(crate) event: EventId,
    pub(crate) original: Option<EventId>,
    pub(crate) active: EventId,
    pub(crate) payload: Payload,
    /// Who sent the event, and from where.
    pub(crate) caller: Caller,
    /// Set by an `on_try` handler that returned an error.
    pub(crate) failed: Option<String>,
}

/// # Who and what
///
/// The event being handled: the heap, who sent it, its name, and facts about this dispatch (POE's `HEAP`, `SENDER`, `STATE`); its argument is under [Arguments](#arguments).
impl<'a, H: 'static> Ctx<'a, H> {
    /// The session's heap.
    pub fn heap(&mut self) -> &mut H {
        match self.frame.session.as_mut() {
            Some(s) => &mut s.heap,
            None => unreachable!("the running session is in its frame"),
        }
    }

    /// This session's id (POE's `SESSION`).
    pub fn id(&self) -> SessionId {
        self.frame.id
    }

    /// Who sent the event (POE's `SENDER`).
    pub fn sender(&self) -> Sender {
        self.sender
    }

    /// The event whose handler sent this one — posted, yielded, called it
    /// or set its timer (POE's `CALLER_STATE`). It is the sender's active
    /// event: the name that handler was dispatched as, before any
    /// `_default` redirect. `None` when the kernel sent the event itself
    /// (`_start`, `_stop`, `_child`, I/O readiness, signals it raised) or
    /// it came from outside any handler ([`crate::Kernel::post`], another
    /// thread, a wheel); POE then names its own source file instead.
    pub fn caller_state(&self) -> Option<&str> {
        self.caller.state.map(|e| self.core.names.name(e))
    }

    /// The source file of the `post`/`yield_event`/`call`/timer call that
    /// sent this event (POE's `CALLER_FILE`), recorded by `#[track_caller]`
    /// at no cost beyond one pointer per event. `None` when the kernel
    /// sent it (see [`Ctx::caller_state`]).
    pub fn caller_file(&self) -> Option<&'static str> {
        self.caller.location.map(|l| l.file())
    }

    /// The line of that call (POE's `CALLER_LINE`); `None` as for
    /// [`Ctx::caller_file`].
    pub fn caller_line(&self) -> Option<u32> {
        self.caller.location.map(|l| l.line())
    }

    /// File, line and column of that call together, as
    /// [`std::panic::Location`] gives them.
    pub fn caller_location(&self) -> Option<&'static Location<'static>> {
        self.caller.location
    }

    /// This handler as the origin of what it sends next.
    pub(super) fn here(&self, location: &'static Location<'static>) -> Caller {
        Caller {
            state: Some(self.active),
            location: Some(location),
        }
    }

    /// The interned name of the handler being run (`_default` when the
    /// event was redirected there).
    pub fn event(&self) -> EventId {
        self.event
    }

    /// The name of the handler being run (POE's `STATE`).
    pub fn event_name(&self) -> &str {
        self.core.names.name(self.event)
    }

    /// The event the kernel is dispatching (POE's `get_active_event`): the
    /// name it was sent as, before any `_default` redirect, and during a
    /// call into this same session still the outer event.
    pub fn active_event_name(&self) -> &str {
        self.core.names.name(self.active)
    }

    /// How deeply this handler is nested: 1 for an event the kernel
    /// dispatched, one more for each [`Ctx::call`] between it and the
    /// kernel. [`crate::KernelBuilder::call_depth_limit`] bounds it.
    pub fn call_depth(&self) -> u32 {
        self.frame.depth
    }

    /// In `_default`: the name the event was sent as (POE's `ARG0` there).
    pub fn original_event_name(&self) -> Option<&str> {
        self.original.map(|e| self.core.names.name(e))
    }

    /// Intern an event name, to post on a hot path without hashing it.
    /// The id stays valid for the kernel's life.
    pub fn event_id(&mut self, name: &str) -> EventId {
        self.core.names.intern(name)
    }

    /// The kernel clock's current reading.
    pub fn now(&mut self) -> Time {
        self.core.refresh_now()
    }
}
