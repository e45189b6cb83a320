//! The event's argument as a handler reads it: [`Ctx::arg`],
//! [`Ctx::take_arg`], the watcher's extras ([`Ctx::extra`]), what an I/O
//! event reports, and the typed errors a wrong guess gets. Why a file of
//! its own: these are the methods every handler calls, and the
//! out-of-line error paths next to them are what keeps them cheap.

use std::any::Any;

use super::ctx::Ctx;
use super::error::Error;
use super::ids::HandleId;
use super::payload::{type_of, IoMode, Payload};
use super::signals::Signal;

/// # Arguments
///
/// The event's argument (POE's `ARG0..`), read by type: borrowed, moved out, the watcher's extras, and what an I/O event reports.
impl<'a, H: 'static> Ctx<'a, H> {
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
    #[inline]
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
}
