//! Sending events from a handler: [`Ctx::post`] and [`Ctx::yield_event`]
//! queue them, [`Ctx::call`] runs the handler now (with the fast path of a
//! call into the running session), [`Ctx::spawn`] creates a session and
//! [`Ctx::stop_kernel`] stops them all. A file of its own because it is
//! the hot path of every event-driven program: what changes here is what
//! the dispatch benchmarks measure.

use std::any::Any;
use std::panic::Location;

use super::caller::Caller;
use super::ctx::Ctx;
use super::dispatch::{AnySession, Delivery, Each, Session};
use super::engine::Delivered;
use super::error::Error;
use super::ids::{Dest, Sender, SessionId};
use super::names::{EventId, IntoEvent};
use super::payload::{Payload, Value};
use super::Core;

/// # Events
///
/// Sending events: `post` (queued), `yield_event` (queued to this session), `call` / `call_value` (now, synchronously), and creating sessions.
impl<'a, H: 'static> Ctx<'a, H> {
    /// Queue `event` for `dest` (POE's `post`). The destination is resolved
    /// now; the event runs in a later round, in FIFO order with other
    /// events due by then. Both sessions stay alive until it is delivered.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `dest` names no live session (POE: ESRCH);
    /// nothing is queued then.
    #[track_caller]
    pub fn post<'d>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        event: impl IntoEvent,
        args: impl Any,
    ) -> Result<(), Error> {
        let key = self.core.resolve_from(self.frame.key, &dest.into())?;
        let ev = self.core.names.resolve_transient(&event);
        let caller = self.here(Location::caller());
        self.core
            .post_key_from(key, Some(self.frame.key), ev, Payload::new(args), caller);
        Ok(())
    }

    /// Queue `event` for this session (POE's `yield`).
    #[track_caller]
    pub fn yield_event(&mut self, event: impl IntoEvent, args: impl Any) {
        let ev = self.core.names.resolve_transient(&event);
        let me = self.frame.key;
        let caller = self.here(Location::caller());
        self.core
            .post_key_from(me, Some(me), ev, Payload::new(args), caller);
    }

    /// Run `dest`'s handler for `event` now and return its value (POE's
    /// `call`). Works into this session itself and into sessions further up
    /// the current call chain. [`Error::NoHandler`] when the session has
    /// neither the handler nor `_default`.
    ///
    /// Calls nest on the Rust stack, so their depth is bounded: a call
    /// that would put more handlers on the stack than the kernel's limit
    /// ([`crate::KernelBuilder::call_depth_limit`], default 256) returns
    /// [`Error::CallDepth`] without running the handler (POE recurses
    /// until memory runs out; here the stack would overflow and abort the
    /// process).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `dest` names no live session;
    /// [`Error::NoHandler`] if it has neither the handler nor `_default`;
    /// [`Error::CallDepth`] at the call-depth limit; [`Error::HandlerFailed`]
    /// if the handler panicked or returned an error (a DIE signal is queued to
    /// it then).
    #[track_caller]
    pub fn call<'d>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        event: impl IntoEvent,
        args: impl Any,
    ) -> Result<Value, Error> {
        let key = self.core.resolve_from(self.frame.key, &dest.into())?;
        let ev = self.core.names.resolve_transient(&event);
        let payload = Payload::new(args);
        let caller = self.here(Location::caller());
        self.call_key(key, ev, payload, caller)
    }

    /// Deliver a call to the session in slot `key`. A call into this very
    /// session — the common case of a handler calling a sibling handler —
    /// runs on the typed session in this frame; any other goes through
    /// the kernel's table and the chain of running sessions.
    #[inline]
    fn call_key(
        &mut self,
        key: u32,
        event: EventId,
        payload: Payload,
        caller: Caller,
    ) -> Result<Value, Error> {
        let sender = Sender::Session(self.frame.id);
        let active = (key == self.frame.key).then_some(self.active);
        let me = self.frame.id;
        if active.is_some() && self.core.sessions.id_of(key) == Some(me) {
            if let Some(session) = self.frame.session.take() {
                let core: &mut Core = self.core;
                if let Err(e) = core.may_nest(event) {
                    self.frame.session = Some(session);
                    return Err(e);
                }
                let d = Delivery {
                    event,
                    sender,
                    payload,
                    active,
                    caller,
                };
                core.trace_dispatch(me, &d);
                let done = Delivered {
                    key,
                    id: me,
                    event,
                    sender,
                    self_call: true,
                    origin: caller,
                };
                // The handler's value goes into `ret`, made before the call:
                // nothing written during it is copied on the way back.
                let mut ret = Value::unit();
                let outer = core.enter(me);
                let (session, result) =
                    session.run(core, Some(&mut self.frame), key, me, d, &mut ret);
                core.leave(outer);
                self.frame.session = Some(session);
                return core.delivered(done, result, ret);
            }
        }
        let core: &mut Core = self.core;
        core.deliver(
            Some(&mut self.frame),
            key,
            Delivery {
                event,
                sender,
                payload,
                active,
                caller,
            },
        )
    }

    /// Run `dest`'s handler for `event` now, once for each item of
    /// `args`, in order: what a [`Ctx::call`] per item does, for a batch
    /// (the records a stream produced, the messages a bus client holds).
    /// The session is entered once for the run rather than once per item,
    /// which is most of what a call costs besides the handler; the
    /// handlers' return values are dropped.
    ///
    /// Items are taken from `args` one at a time, each just before its
    /// handler runs, so a lazy iterator can feed the run as it goes, and
    /// what a failed run did not take is still in it.
    ///
    /// ```
    /// use rpoe::{Kernel, Session};
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// let sum = kernel.spawn(
    ///     Session::new(0u64).on("add", |ctx| {
    ///         let n = ctx.take_arg::<u64>().unwrap();
    ///         *ctx.heap() += n;
    ///         *ctx.heap()
    ///     }),
    ///     (),
    /// );
    /// kernel.spawn(
    ///     Session::new(()).on("_start", move |ctx| {
    ///         assert_eq!(ctx.call_each(sum, "add", 1..=4u64).unwrap(), 4);
    ///         let total = ctx.call(sum, "add", 0u64).unwrap();
    ///         assert_eq!(total.take::<u64>().ok(), Some(10));
    ///     }),
    ///     (),
    /// );
    /// kernel.run().unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Ctx::call`], for the whole run: [`Error::NoSuchSession`] if
    /// `dest` names no live session, or it stopped during the run (no
    /// item is taken after that); [`Error::NoHandler`],
    /// [`Error::CallDepth`]; [`Error::HandlerFailed`] if a handler
    /// panicked or returned an error (a DIE signal is queued to it then,
    /// and the run ends there). Returns how many handlers ran otherwise:
    /// every item's.
    #[track_caller]
    pub fn call_each<'d, T: Any>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        event: impl IntoEvent,
        args: impl IntoIterator<Item = T>,
    ) -> Result<usize, Error> {
        let key = self.core.resolve_from(self.frame.key, &dest.into())?;
        let event = self.core.names.resolve_transient(&event);
        let caller = self.here(Location::caller());
        let mut args = args.into_iter();
        let mut next = || args.next().map(Payload::new);
        let mut each = Each {
            event,
            sender: Sender::Session(self.frame.id),
            active: (key == self.frame.key).then_some(self.active),
            caller,
            next: &mut next,
        };
        let core: &mut Core = self.core;
        core.deliver_each(Some(&mut self.frame), key, &mut each)
    }

    /// [`Ctx::call`] with an argument already wrapped in a [`Value`]: the
    /// handler takes out what the `Value` holds, not the `Value`. For code
    /// that gathers events of several argument types before sending them
    /// (a wheel's records, errors and resets, in order).
    ///
    /// # Errors
    ///
    /// As [`Ctx::call`].
    #[track_caller]
    pub fn call_value<'d>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        event: impl IntoEvent,
        args: Value,
    ) -> Result<Value, Error> {
        let key = self.core.resolve_or_err(&dest.into())?;
        let ev = self.core.names.resolve_transient(&event);
        let caller = self.here(Location::caller());
        self.call_key(key, ev, args.0, caller)
    }

    /// Create a child session; its `_start` runs now with `args`, then this
    /// session's `_child` (create).
    ///
    /// # Panics
    ///
    /// If this handler already runs at the call-depth limit
    /// ([`crate::KernelBuilder::call_depth_limit`]), since the child's
    /// `_start` would run deeper. Like any panic in a handler, that fails
    /// this handler (a DIE signal to this session), it does not take the
    /// kernel down.
    pub fn spawn<H2: 'static>(&mut self, session: Session<H2>, args: impl Any) -> SessionId {
        let built: Box<dyn AnySession> = session.build(&mut self.core.names);
        let me = self.frame.key;
        let core: &mut Core = self.core;
        core.spawn(Some(&mut self.frame), Some(me), built, Payload::new(args))
    }

    /// Stop every session now (POE's `POE::Kernel->stop`): `_stop` runs in
    /// each, deepest first, before this returns — in this session too —
    /// all queued work is discarded, and `run` returns once this handler
    /// does.
    pub fn stop_kernel(&mut self) {
        self.core.request_stop();
        let core: &mut Core = self.core;
        core.stop_all(Some(&mut self.frame));
    }
}
