//! The signal, postback and reference-count part of [`Ctx`]: the ways a
//! session is notified from outside its own events, and the holds that
//! keep it alive meanwhile.

use std::any::Any;
use std::rc::Rc;

use super::ctx::Ctx;
use super::error::Error;
use super::ids::{Dest, SessionId};
use super::names::IntoEvent;
use super::postback::{Callback, Postback, POSTBACK_TAG};
use super::queue::KERNEL_KEY;
use super::signals::SigWatch;

/// # Exceptions (DIE)
///
/// Failing a handler on purpose, as `die` does in POE (a `panic!` or an
/// `Err` from an `on_try` handler does the same).
impl<H: 'static> Ctx<'_, H> {
    /// Raise DIE from this handler, as `die` does in a POE handler: once
    /// the handler returns, its session gets a DIE signal whose
    /// [`DieInfo::message`](crate::DieInfo::message) is `message` — the
    /// same as an `Err` from an [`on_try`](crate::Session::on_try) handler,
    /// for handlers registered with `on`.
    ///
    /// Why not `panic!`: a panic is trapped as well, but the process-wide
    /// panic hook prints it (with a backtrace note) first, so a program
    /// that fails handlers on purpose floods stderr. The handler goes on
    /// running until it returns; return right after calling this.
    ///
    /// ```
    /// use rpoe::{DieInfo, Kernel, Session, Signal};
    ///
    /// let mut kernel = Kernel::new().unwrap();
    /// kernel.spawn(
    ///     Session::new(String::new())
    ///         .on("_start", |ctx| {
    ///             ctx.sig("DIE", "on_die").unwrap();
    ///             ctx.yield_event("work", ());
    ///         })
    ///         .on("work", |ctx| ctx.die("no input file"))
    ///         .on("on_die", |ctx| {
    ///             let info = ctx.arg::<Signal>().unwrap().arg::<DieInfo>().unwrap();
    ///             let message = info.message.clone();
    ///             *ctx.heap() = message;
    ///             ctx.sig_handled(); // handled: the session lives on
    ///         })
    ///         .on("_stop", |ctx| assert_eq!(ctx.heap(), "no input file")),
    ///     (),
    /// );
    /// kernel.run().unwrap();
    /// ```
    pub fn die(&mut self, message: impl std::fmt::Display) {
        self.failed = Some(message.to_string());
    }
}

/// # Signals
///
/// Signals: watching, sending, handling, and raising DIE (POE's `sig*` methods and `die`).
impl<H: 'static> Ctx<'_, H> {
    /// Watch signal `name` (an OS signal such as `"INT"`, or any name
    /// sessions send): `event` gets a [`crate::Signal`]. One watcher per
    /// signal per session; a later call replaces it. A watcher does not
    /// keep the session alive. Watching an OS signal replaces its default
    /// action for as long as some session watches it.
    ///
    /// `"CHLD"` (or `"CLD"`) watchers hear of the children reaped for
    /// [`Ctx::sig_child`] watchers; rpoe does not reap children nobody
    /// asked it to watch (they may belong to `std::process::Child`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if `name` is an OS signal and catching it cannot be set
    /// up (the signal pipe cannot be created or registered).
    pub fn sig(&mut self, name: &str, event: impl IntoEvent) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        self.core
            .set_sig(self.frame.key, canonical(name), Some((ev, None)))
    }

    /// Like [`Ctx::sig`], with an argument the handler finds in
    /// [`crate::Signal::extra`] (POE's extra `sig` arguments).
    ///
    /// # Errors
    ///
    /// As [`Ctx::sig`]: [`Error::Io`] if an OS signal cannot be caught.
    pub fn sig_with(
        &mut self,
        name: &str,
        event: impl IntoEvent,
        extra: impl Any,
    ) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        self.core.set_sig(
            self.frame.key,
            canonical(name),
            Some((ev, Some(Rc::new(extra)))),
        )
    }

    /// Stop watching signal `name` (POE's `sig($name)`).
    pub fn sig_remove(&mut self, name: &str) {
        let _ = self.core.set_sig(self.frame.key, canonical(name), None);
    }

    /// Mark the signal being delivered as handled: a terminal signal then
    /// stops none of the sessions it reached.
    pub fn sig_handled(&mut self) {
        self.core.signals.mark_handled();
    }

    /// Send signal `name` to `dest` and its descendants (POE's `signal`).
    /// It is queued like an event.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `dest` names no live session.
    pub fn signal<'d>(
        &mut self,
        dest: impl Into<Dest<'d>>,
        name: &str,
        args: impl Any,
    ) -> Result<(), Error> {
        let key = self.core.resolve_or_err(&dest.into())?;
        let me = Some(self.frame.key);
        self.core.queue_signal(key, me, name, Rc::new(args));
        Ok(())
    }

    /// Send signal `name` to every session (POE's `signal($kernel, ...)`).
    pub fn signal_all(&mut self, name: &str, args: impl Any) {
        let me = Some(self.frame.key);
        self.core.queue_signal(KERNEL_KEY, me, name, Rc::new(args));
    }

    /// Watch child process `pid`: when it exits it is reaped and `event`
    /// gets a [`crate::Signal`] named CHLD carrying a [`crate::ChildExit`].
    /// One-shot; keeps the session alive until then.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `pid` is not a valid process id (over
    /// `i32::MAX`); [`Error::Io`] if `SIGCHLD` cannot be caught.
    pub fn sig_child(&mut self, pid: u32, event: impl IntoEvent) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        let pid = i32::try_from(pid).map_err(|_| Error::NoSuchSession(format!("pid {pid}")))?;
        self.core.set_sig_child(self.frame.key, pid, Some(ev))
    }

    /// [`Ctx::sig_child`] with extra arguments for the handler, found in
    /// [`crate::Signal::extra`] (POE's `sig_child($pid, $event, @args)`:
    /// its ARG3 onwards). Setting it again for the same pid replaces both.
    ///
    /// # Errors
    ///
    /// As [`Ctx::sig_child`].
    pub fn sig_child_with(
        &mut self,
        pid: u32,
        event: impl IntoEvent,
        extra: impl Any,
    ) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        let pid = i32::try_from(pid).map_err(|_| Error::NoSuchSession(format!("pid {pid}")))?;
        let watch = SigWatch {
            event: ev,
            extra: Some(Rc::new(extra)),
        };
        self.core
            .set_sig_child_with(self.frame.key, pid, Some(watch))
    }

    /// Stop watching child process `pid` (harmless if not watched).
    pub fn sig_child_remove(&mut self, pid: u32) {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = self.core.set_sig_child(self.frame.key, pid, None);
        }
    }
}

/// # Postbacks and references
///
/// Postbacks, callbacks and public reference counts (POE's `postback`, `callback`, `refcount_*`).
impl<H: 'static> Ctx<'_, H> {
    /// A [`Postback`] that posts `event` to this session with `context` and
    /// the value it is called with; the session stays alive while it exists.
    pub fn postback(&mut self, event: impl IntoEvent, context: impl Any) -> Postback {
        let ev = self.core.names.resolve(&event);
        let _ = self.core.refcount_add(self.frame.key, POSTBACK_TAG, 1);
        Postback::new(self.frame.id, ev, Rc::new(context), self.core.local.clone())
    }

    /// A [`Callback`] that runs this session's `event` handler synchronously.
    pub fn callback(&mut self, event: impl IntoEvent, context: impl Any) -> Callback {
        let ev = self.core.names.resolve(&event);
        let _ = self.core.refcount_add(self.frame.key, POSTBACK_TAG, 1);
        Callback::new(self.frame.id, ev, Rc::new(context), self.core.local.clone())
    }

    /// Add one to `session`'s public refcount `tag`; any non-zero tag keeps
    /// it alive (and the kernel from going idle). Returns the new count.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `session` is not a live session.
    pub fn refcount_increment(&mut self, session: SessionId, tag: &str) -> Result<i64, Error> {
        let key = self.core.resolve_or_err(&Dest::Id(session))?;
        self.core.refcount_add(key, tag, 1)
    }

    /// Subtract one from `session`'s public refcount `tag`.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `session` is not a live session.
    pub fn refcount_decrement(&mut self, session: SessionId, tag: &str) -> Result<i64, Error> {
        let key = self.core.resolve_or_err(&Dest::Id(session))?;
        self.core.refcount_add(key, tag, -1)
    }
}

/// POE accepts CLD for CHLD; rpoe delivers it as CHLD either way.
fn canonical(name: &str) -> &str {
    if name == "CLD" {
        "CHLD"
    } else {
        name
    }
}
