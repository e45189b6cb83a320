//! [`Ctx`]: what a handler gets — POE's `@_[KERNEL, HEAP, SESSION, SENDER,
//! STATE, ARG0..]` as one value with disjoint methods.

use std::any::Any;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use super::caller::Caller;
use super::clock::Time;
use super::dispatch::{store_return, AnySession, Delivery, Frame, Session};
use super::engine::Delivered;
use super::error::Error;
use super::handles::{IoSource, Target};
use super::ids::{Dest, HandleId, Sender, SessionId, TimerId};
use super::names::{EventId, IntoEvent};
use super::options::{self, SessionOption};
use super::payload::{type_of, IoMode, Payload, Value};
use super::signals::Signal;
use super::Core;

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
/// The event being handled: the heap, who sent it, its name and argument, and facts about this dispatch (POE's `HEAP`, `SENDER`, `STATE`, `ARG0..`).
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
    fn here(&self, location: &'static Location<'static>) -> Caller {
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

    /// The event's argument as a `T` (a tuple when several were sent).
    /// I/O events carry their [`HandleId`]; events sent without arguments
    /// carry `()`. A wrong type is an [`Error::ArgType`], never a panic.
    ///
    /// In a signal handler the argument is the [`crate::Signal`], and the
    /// signal's own argument (what [`Ctx::signal`] sent, a
    /// [`crate::ChildExit`] for CHLD, a [`crate::DieInfo`] for DIE) reads
    /// the same way — `ctx.arg::<ChildExit>()` — as POE hands both over in
    /// `@_[ARG0..]`; the watcher's extras read with [`Ctx::extra`].
    ///
    /// ```
    /// use rpoe::{Kernel, Session, Signal};
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// kernel.spawn(
    ///     Session::new(())
    ///         .on("_start", |ctx| {
    ///             ctx.sig_with("PING", "pinged", "from the watcher").unwrap();
    ///             let me = ctx.id();
    ///             ctx.signal(me, "PING", 42u32).unwrap();
    ///         })
    ///         .on("pinged", |ctx| {
    ///             assert_eq!(ctx.arg::<Signal>().unwrap().name(), "PING");
    ///             assert_eq!(*ctx.arg::<u32>().unwrap(), 42); // the signal's argument
    ///             assert_eq!(*ctx.extra::<&str>().unwrap(), "from the watcher");
    ///             ctx.sig_remove("PING");
    ///         }),
    ///     (),
    /// );
    /// kernel.run().unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::ArgType`] if the argument is not a `T` (it names both
    /// types; the mistake is also logged at warn level).
    pub fn arg<T: Any>(&self) -> Result<&T, Error> {
        match self.payload.get::<T>() {
            Some(v) => Ok(v),
            None => self.signal_arg::<T>().ok_or_else(|| self.arg_error::<T>()),
        }
    }

    /// A signal's own argument, when the event is a signal's (the slow
    /// path of [`Ctx::arg`], taken only when the event's argument itself
    /// is not a `T`).
    #[cold]
    fn signal_arg<T: Any>(&self) -> Option<&T> {
        self.payload.get::<Signal>()?.arg::<T>()
    }

    /// Move the argument out as a `T` (for values that are not `Copy`).
    /// In a signal handler this takes the whole [`crate::Signal`]; its
    /// parts are shared with the other watchers, so read them with
    /// [`Ctx::arg`] and [`Ctx::extra`].
    ///
    /// # Errors
    ///
    /// [`Error::ArgType`] if the argument is not a `T` (the argument then
    /// stays in place), or was taken already.
    pub fn take_arg<T: Any>(&mut self) -> Result<T, Error> {
        match self.payload.take::<T>() {
            Some(v) => Ok(v),
            None => Err(self.arg_error::<T>()),
        }
    }

    /// The extra arguments of the watcher that sent this event, as a `T`:
    /// what [`Ctx::select_read_with`] (or `select_write_with`,
    /// `select_expedite_with`), [`Ctx::sig_with`] or [`Ctx::sig_child_with`]
    /// was given — POE's arguments after the event's own. Read like the
    /// event's argument, with the same error.
    ///
    /// # Errors
    ///
    /// [`Error::ArgType`] if the watcher had no extras, or they are not a
    /// `T` (also logged at warn level).
    pub fn extra<T: Any>(&self) -> Result<&T, Error> {
        let extra: Option<&dyn Any> = match &self.payload {
            Payload::IoWith(io) => Some(&*io.extra),
            _ => self
                .payload
                .get::<Signal>()
                .and_then(|s| s.extra.as_deref()),
        };
        match extra {
            Some(e) => e
                .downcast_ref()
                .ok_or_else(|| self.type_error::<T>("extra arguments of another type")),
            None => Err(self.type_error::<T>("no extra arguments")),
        }
    }

    /// The name of the type the event's argument was sent as (`"()"` for
    /// none, `"HandleId (I/O event)"` for I/O events;
    /// the wording is [`std::any::type_name`]'s, meant for people). Why:
    /// a `_default` handler gets events of every shape and can describe
    /// what it got — POE's `_default` prints `@{$_[ARG1]}` — and a handler
    /// can log what it was sent instead of what it expected.
    ///
    /// ```
    /// use rpoe::{Kernel, Session};
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// kernel.spawn(
    ///     Session::new(Vec::<String>::new())
    ///         .on("_start", |ctx| {
    ///             ctx.yield_event("nobody_handles_this", (7u16, "seven"));
    ///         })
    ///         .on("_default", |ctx| {
    ///             let line = format!(
    ///                 "{} with {}",
    ///                 ctx.original_event_name().unwrap(),
    ///                 ctx.arg_type_name()
    ///             );
    ///             ctx.heap().push(line);
    ///         })
    ///         .on("_stop", |ctx| {
    ///             assert_eq!(ctx.heap(), &["nobody_handles_this with (u16, &str)"]);
    ///         }),
    ///     (),
    /// );
    /// kernel.run().unwrap();
    /// ```
    pub fn arg_type_name(&self) -> &'static str {
        self.payload.describe()
    }

    /// Out of line and logged: a handler that asks for the wrong type is
    /// a bug worth seeing even when the handler drops the error (`.ok()`,
    /// `let Ok(..) = .. else { return }`).
    #[cold]
    #[inline(never)]
    fn arg_error<T>(&self) -> Error {
        self.type_error::<T>(self.payload.describe())
    }

    #[cold]
    #[inline(never)]
    fn type_error<T>(&self, found: &'static str) -> Error {
        let e = Error::ArgType {
            event: self.core.names.name(self.event).to_string(),
            expected: type_of::<T>(),
            found,
        };
        tracing::warn!(target: "rpoe::dispatch", error = %e, "argument asked for with the wrong type");
        e
    }

    /// For an I/O event: the handle and whether it is readable or writable.
    pub fn io(&self) -> Option<(HandleId, IoMode)> {
        self.payload.io()
    }

    /// In a read event handler: whether the OS reported, with this
    /// readiness, that the peer closed its side (or an error). When it did
    /// not, a read that returned less than asked for has emptied the
    /// socket, and any later data or end of file raises a new event — so
    /// the handler may stop reading and call [`Ctx::io_drained`] without
    /// the extra read that would only return `WouldBlock`.
    pub fn io_peer_closed(&self) -> bool {
        self.payload.io_peer_closed()
    }

    /// In an I/O event handler: tell the kernel the handle is drained for
    /// this event's mode — the handler read or wrote until `WouldBlock`.
    /// (A short read is not enough: an end of file that arrived with the
    /// data raises no new readiness.) The kernel then skips re-arming the handle
    /// this round; the OS reports it again when new readiness arrives.
    /// Without this hint watchers are level-triggered, as in POE, at the
    /// cost of one re-arm per dispatched handle per round.
    pub fn io_drained(&mut self) {
        if let Some((h, mode)) = self.io() {
            self.core.handles.drained(h, mode);
        }
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

/// # I/O
///
/// Bare I/O watchers: handles the kernel owns on this session's behalf, and read/write watchers on them (POE's `select_*`). Wheels use [`Ctx::add_source`] instead.
impl<'a, H: 'static> Ctx<'a, H> {
    /// Give the kernel an I/O object (a mio socket, listener, pipe...) to
    /// own on this session's behalf. It is unwatched until
    /// [`Ctx::select_read`] or [`Ctx::select_write`]; it is closed when the
    /// session stops, or by [`Ctx::close_handle`].
    pub fn add_handle<T: IoSource>(&mut self, io: T) -> HandleId {
        self.core.add_handle(self.frame.key, Box::new(io))
    }

    /// Borrow a handle as its concrete type.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open in this kernel;
    /// [`Error::HandleType`] if it holds another type than `T`.
    pub fn handle<T: Any>(&mut self, h: HandleId) -> Result<&mut T, Error> {
        let io = self.core.handles.io_mut(h).ok_or(Error::NoSuchHandle(h))?;
        io.as_any_mut()
            .downcast_mut::<T>()
            .ok_or(Error::HandleType {
                handle: h,
                expected: type_of::<T>(),
            })
    }

    /// [`Ctx::add_handle`] for a std socket (`std::net::TcpStream`,
    /// `TcpListener`, `UdpSocket`, and the Unix-domain ones): the socket is
    /// made non-blocking, as POE does with every handle it watches, and
    /// kept as its mio twin — borrow it back with
    /// `ctx.handle::<rpoe::mio::net::TcpStream>(h)` and so on.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the socket cannot be made non-blocking.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use rpoe::{Kernel, Session};
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// kernel.spawn(
    ///     Session::new((None, Vec::new()))
    ///         .on("_start", |ctx| {
    ///             let (near, mut far) = UnixStream::pair().unwrap(); // blocking
    ///             far.write_all(b"hi").unwrap();
    ///             let h = ctx.add_std_handle(near).unwrap();
    ///             ctx.select_read(h, "readable").unwrap();
    ///             ctx.heap().0 = Some((h, far));
    ///         })
    ///         .on("readable", |ctx| {
    ///             let (h, _) = ctx.io().unwrap();
    ///             let mut buf = [0u8; 16];
    ///             let n = ctx.handle::<rpoe::mio::net::UnixStream>(h).unwrap().read(&mut buf).unwrap();
    ///             ctx.heap().1.extend_from_slice(&buf[..n]);
    ///             // Non-blocking: a second read says WouldBlock instead of hanging.
    ///             let again = ctx.handle::<rpoe::mio::net::UnixStream>(h).unwrap().read(&mut buf);
    ///             assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    ///             ctx.close_handle(h).unwrap();
    ///         })
    ///         .on("_stop", |ctx| assert_eq!(ctx.heap().1, b"hi")),
    ///     (),
    /// );
    /// kernel.run().unwrap();
    /// ```
    pub fn add_std_handle<T: super::handles::StdSocket>(
        &mut self,
        io: T,
    ) -> Result<HandleId, Error> {
        let io = io.into_io()?;
        Ok(self.add_handle(io))
    }

    /// Borrow the heap and a handle at once (to read straight into a buffer
    /// kept in the heap).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open in this kernel;
    /// [`Error::HandleType`] if it holds another type than `T`.
    pub fn heap_and_handle<T: Any>(&mut self, h: HandleId) -> Result<(&mut H, &mut T), Error> {
        let io = self.core.handles.io_mut(h).ok_or(Error::NoSuchHandle(h))?;
        let io = io
            .as_any_mut()
            .downcast_mut::<T>()
            .ok_or(Error::HandleType {
                handle: h,
                expected: type_of::<T>(),
            })?;
        match self.frame.session.as_mut() {
            Some(s) => Ok((&mut s.heap, io)),
            None => unreachable!("the running session is in its frame"),
        }
    }

    /// Watch the handle for readability: `event` is dispatched every round
    /// while it is readable (POE's `select_read`). Replaces an earlier read
    /// watcher.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_read(&mut self, h: HandleId, event: impl IntoEvent) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        self.core
            .set_watcher(self.frame.key, h, IoMode::Read, Some(ev))
    }

    /// [`Ctx::select_read`] with extra arguments for the handler, read
    /// there with [`Ctx::io_extra`] (POE's `select_read($fh, $ev, @args)`,
    /// its ARG2 onwards). One value, a tuple for several.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_read_with(
        &mut self,
        h: HandleId,
        event: impl IntoEvent,
        extra: impl Any,
    ) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        let target = Target::EventWith(ev, Rc::new(extra));
        self.core
            .set_target(self.frame.key, h, IoMode::Read, Some(target))
    }

    /// [`Ctx::select_write`] with extra arguments for the handler (POE's
    /// `select_write($fh, $ev, @args)`).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_write_with(
        &mut self,
        h: HandleId,
        event: impl IntoEvent,
        extra: impl Any,
    ) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        let target = Target::EventWith(ev, Rc::new(extra));
        self.core
            .set_target(self.frame.key, h, IoMode::Write, Some(target))
    }

    /// In an I/O event handler: the extra arguments its watcher was set
    /// with ([`Ctx::select_read_with`], [`Ctx::select_write_with`]), if
    /// they are a `T`. POE hands them over after the handle and mode.
    pub fn io_extra<T: Any>(&self) -> Option<&T> {
        self.payload.io_extra()?.downcast_ref()
    }

    /// Stop watching for readability (POE's `select_read($fh)`).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_read_off(&mut self, h: HandleId) -> Result<(), Error> {
        self.core.set_watcher(self.frame.key, h, IoMode::Read, None)
    }

    /// Watch the handle for writability (POE's `select_write`).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_write(&mut self, h: HandleId, event: impl IntoEvent) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        self.core
            .set_watcher(self.frame.key, h, IoMode::Write, Some(ev))
    }

    /// Stop watching for writability (POE's `select_write($fh)`).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_write_off(&mut self, h: HandleId) -> Result<(), Error> {
        self.core
            .set_watcher(self.frame.key, h, IoMode::Write, None)
    }

    /// Watch the handle for urgent data (POE's `select_expedite`): `event`
    /// is dispatched, with [`IoMode::Expedite`] (POE's `MODE_EX`, 2), every
    /// round while out-of-band data waits — read it (e.g. `recv` with
    /// `MSG_OOB`) or turn the watcher off, or it fires again. Backed by
    /// `EPOLLPRI` on Linux; elsewhere the watcher never fires.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_expedite(&mut self, h: HandleId, event: impl IntoEvent) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        self.core
            .set_watcher(self.frame.key, h, IoMode::Expedite, Some(ev))
    }

    /// [`Ctx::select_expedite`] with extra arguments for the handler (POE's
    /// `select_expedite($fh, $ev, @args)`), read with [`Ctx::io_extra`].
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_expedite_with(
        &mut self,
        h: HandleId,
        event: impl IntoEvent,
        extra: impl Any,
    ) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        let target = Target::EventWith(ev, Rc::new(extra));
        self.core
            .set_target(self.frame.key, h, IoMode::Expedite, Some(target))
    }

    /// Stop watching for urgent data (POE's `select_expedite($fh)`).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_expedite_off(&mut self, h: HandleId) -> Result<(), Error> {
        self.core
            .set_watcher(self.frame.key, h, IoMode::Expedite, None)
    }

    /// Stop watching the handle at all (POE's `select($fh)`); it stays open.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_off(&mut self, h: HandleId) -> Result<(), Error> {
        self.select_read_off(h)?;
        self.select_write_off(h)?;
        self.select_expedite_off(h)
    }

    /// Suspend the read watcher; data waits in the OS. The watcher still
    /// keeps the session alive.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_pause_read(&mut self, h: HandleId) -> Result<(), Error> {
        self.core
            .pause_watcher(self.frame.key, h, IoMode::Read, true)
    }

    /// Resume a paused read watcher.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_resume_read(&mut self, h: HandleId) -> Result<(), Error> {
        self.core
            .pause_watcher(self.frame.key, h, IoMode::Read, false)
    }

    /// Suspend the write watcher.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_pause_write(&mut self, h: HandleId) -> Result<(), Error> {
        self.core
            .pause_watcher(self.frame.key, h, IoMode::Write, true)
    }

    /// Resume a paused write watcher.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::NotPermitted`] if
    /// it belongs to another session; [`Error::Io`] if the OS refuses the
    /// registration.
    pub fn select_resume_write(&mut self, h: HandleId) -> Result<(), Error> {
        self.core
            .pause_watcher(self.frame.key, h, IoMode::Write, false)
    }

    /// Remove the handle's watchers and close it (drop the object).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open (closed already);
    /// [`Error::NotPermitted`] if it belongs to another session.
    pub fn close_handle(&mut self, h: HandleId) -> Result<(), Error> {
        self.core.remove_handle(self.frame.key, h).map(drop)
    }

    /// Remove the handle's watchers and take the object back.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchHandle`] if `h` is not open; [`Error::HandleType`] if it
    /// holds another type than `T` (it stays open then);
    /// [`Error::NotPermitted`] if it belongs to another session.
    pub fn take_handle<T: Any>(&mut self, h: HandleId) -> Result<T, Error> {
        {
            let io = self.core.handles.io_mut(h).ok_or(Error::NoSuchHandle(h))?;
            if !io.as_any_mut().is::<T>() {
                return Err(Error::HandleType {
                    handle: h,
                    expected: type_of::<T>(),
                });
            }
        }
        let io = self.core.remove_handle(self.frame.key, h)?;
        match io.into_any().downcast::<T>() {
            Ok(b) => Ok(*b),
            Err(_) => unreachable!("type checked above"),
        }
    }
}

/// # Aliases
///
/// Naming this session (POE's `alias_*`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// Give this session a name others can post to (POE's `alias_set`).
    /// An alias keeps the session alive until the kernel runs out of other
    /// work. Setting an alias it already has is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::AliasTaken`] if another session has the alias (POE: EEXIST).
    pub fn alias_set(&mut self, alias: &str) -> Result<(), Error> {
        self.core
            .sessions
            .alias_set(self.frame.key, alias)
            .map(drop)
            .map_err(|()| Error::AliasTaken(alias.to_string()))
    }

    /// Remove one of this session's aliases.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if no session has the alias (POE: ESRCH);
    /// [`Error::NotPermitted`] if another session has it (POE: EPERM).
    pub fn alias_remove(&mut self, alias: &str) -> Result<(), Error> {
        self.core
            .sessions
            .alias_remove(self.frame.key, alias)
            .map_err(|other| {
                if other {
                    Error::NotPermitted(format!("alias {alias:?} belongs to another session"))
                } else {
                    Error::NoSuchSession(format!("alias {alias:?}"))
                }
            })
    }

    /// The session an alias (or a session number) names, if any.
    pub fn alias_resolve(&self, alias: &str) -> Option<SessionId> {
        self.core
            .resolve(&Dest::Alias(alias))
            .and_then(|k| self.core.sessions.id_of(k))
    }

    /// This session's aliases, in the order they were set.
    pub fn alias_list(&self) -> Vec<String> {
        self.core.sessions.aliases_of(self.frame.key)
    }
}

/// # Session options
///
/// POE's `$session->option(...)`: `trace`, `debug` and `default`.
impl<'a, H: 'static> Ctx<'a, H> {
    /// Whether a session option is on (POE's `$session->option($name)`).
    pub fn option(&self, option: SessionOption) -> bool {
        self.frame
            .session
            .as_ref()
            .is_some_and(|s| s.options.get(option))
    }

    /// Turn a session option on or off, returning its previous value (POE's
    /// `$session->option($name => $value)`).
    pub fn set_option(&mut self, option: SessionOption, on: bool) -> bool {
        match self.frame.session.as_mut() {
            Some(s) => s.options.set(option, on),
            None => unreachable!("the running session is in its frame"),
        }
    }
}

/// # Dynamic handlers
///
/// Adding and removing handlers of the running session (POE's `state`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// Add or replace a handler of this session at run time (POE's `state`).
    /// With [`SessionOption::Debug`] on, replacing one is reported.
    pub fn state<R: Any>(
        &mut self,
        event: impl IntoEvent,
        handler: impl Fn(&mut Ctx<'_, H>) -> R + 'static,
    ) {
        let ev = self.core.names.resolve(&event);
        let id = self.frame.id;
        if let Some(s) = self.frame.session.as_mut() {
            if s.options.debug && s.handlers.contains(ev) {
                options::report(&format!(
                    "redefining handler for event({}) for session({})",
                    self.core.names.name(ev),
                    id.number()
                ));
            }
            s.handlers
                .insert(ev, Rc::new(move |ctx, out| store_return(out, handler(ctx))));
        }
    }

    /// Remove a handler of this session (events then go to `_default`).
    pub fn state_remove(&mut self, event: impl IntoEvent) {
        let ev = self.core.names.resolve(&event);
        if let Some(s) = self.frame.session.as_mut() {
            s.handlers.remove(ev);
        }
    }
}

/// # The session tree
///
/// Parents, children and detaching (POE's `detach_*`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// Become a child of the kernel: the parent gets `_child` (lose) —
    /// except inside `_start`, where it never saw the child — then this
    /// session gets `_parent`. Fails (EPERM) if already a kernel child.
    ///
    /// # Errors
    ///
    /// [`Error::NotPermitted`] if the session is already a child of the kernel.
    pub fn detach_myself(&mut self) -> Result<(), Error> {
        let key = self.frame.key;
        if self.core.sessions.parent_of(key).is_none() {
            return Err(Error::NotPermitted("already a child of the kernel".into()));
        }
        let quiet = self.active == EventId::START;
        let core: &mut Core = self.core;
        core.detach(Some(&mut self.frame), key, quiet);
        Ok(())
    }

    /// Make one of this session's children a child of the kernel: this
    /// session gets `_child` (lose), then the child `_parent`.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `child` is not a live session;
    /// [`Error::NotPermitted`] if it is not a child of this session.
    pub fn detach_child(&mut self, child: SessionId) -> Result<(), Error> {
        let ck = self.core.resolve_or_err(&Dest::Id(child))?;
        if self.core.sessions.parent_of(ck) != Some(self.frame.key) {
            return Err(Error::NotPermitted(format!(
                "session {child} is not a child of session {}",
                self.frame.id
            )));
        }
        let core: &mut Core = self.core;
        core.detach(Some(&mut self.frame), ck, false);
        Ok(())
    }

    /// This session's children, in creation order.
    pub fn children(&self) -> Vec<SessionId> {
        self.core
            .sessions
            .children_of(self.frame.key)
            .iter()
            .filter_map(|k| self.core.sessions.id_of(*k))
            .collect()
    }
}

/// # Introspection
///
/// Questions about the kernel and its sessions (POE's `ID_*`, `get_active_session`, `Kernel::Introspect`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// What keeps a session alive, and what it holds (POE's TRACE_REFCNT
    /// and POE::API::Peek in one call). `None` if it is gone.
    pub fn session_info(&self, session: SessionId) -> Option<crate::kernel::SessionInfo> {
        self.core.session_info(session)
    }

    /// This kernel's id (POE's `$kernel->ID`).
    pub fn kernel_id(&self) -> &str {
        self.core.kernel_id()
    }

    /// The live session with this public number (POE's `ID_id_to_session`).
    pub fn session_by_number(&self, number: u64) -> Option<SessionId> {
        self.core
            .sessions
            .by_number(number)
            .and_then(|k| self.core.sessions.id_of(k))
    }

    /// The aliases of another session.
    pub fn aliases_of(&self, session: SessionId) -> Vec<String> {
        self.core
            .sessions
            .key_of(session)
            .map(|k| self.core.sessions.aliases_of(k))
            .unwrap_or_default()
    }

    /// Number of queued events and pending timers (POE's `get_event_count`).
    pub fn pending_count(&self) -> usize {
        self.core.queue.event_count() + self.core.queue.timer_count()
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.core.sessions.len()
    }

    /// The parent of this session ([`Sender::Kernel`] for top-level ones).
    pub fn parent(&self) -> Sender {
        self.core
            .sessions
            .parent_of(self.frame.key)
            .and_then(|p| self.core.sessions.id_of(p))
            .map_or(Sender::Kernel, Sender::Session)
    }
}
