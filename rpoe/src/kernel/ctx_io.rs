//! Bare I/O watchers: handles the kernel owns for the running session
//! ([`Ctx::add_handle`]) and POE's `select_*` watchers on them, with their
//! pause, resume and drained hints. Wheels use [`Ctx::add_source`]
//! instead; this file is the low-level door for code that drives a
//! socket itself.

use std::any::Any;
use std::rc::Rc;

use super::ctx::Ctx;
use super::error::Error;
use super::handles::{IoSource, Target};
use super::ids::HandleId;
use super::names::IntoEvent;
use super::payload::{type_of, IoMode};

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
        self.watch_with(h, IoMode::Read, event, extra)
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
        self.watch_with(h, IoMode::Write, event, extra)
    }

    /// The `select_*_with` methods: watch `h` for `mode`, the handler
    /// getting `extra` besides the handle and mode.
    fn watch_with(
        &mut self,
        h: HandleId,
        mode: IoMode,
        event: impl IntoEvent,
        extra: impl Any,
    ) -> Result<(), Error> {
        let ev = self.core.names.resolve(&event);
        let target = Target::EventWith(ev, Rc::new(extra));
        self.core.set_target(self.frame.key, h, mode, Some(target))
    }

    /// In an I/O event handler: the extra arguments its watcher was set
    /// with ([`Ctx::select_read_with`], [`Ctx::select_write_with`]), if
    /// they are a `T`. POE hands them over after the handle and mode.
    pub fn io_extra<T: Any>(&self) -> Option<&T> {
        self.payload.io_extra()?.downcast_ref()
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
        self.watch_with(h, IoMode::Expedite, event, extra)
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
