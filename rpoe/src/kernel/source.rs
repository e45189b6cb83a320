//! The public door for wheels: an [`EventSource`] that lives in a session,
//! and the narrow [`SourceCtx`] the kernel hands it.
//!
//! Why: a wheel is I/O code that runs at kernel level when its handle is
//! ready and turns what it finds into events for its session. Before this
//! door existed only the crate's own wheels could be written, by reaching
//! into the kernel's private tables; with it a wheel in any crate gets the
//! same powers and no more — its I/O object, its readiness interest,
//! events to its session (now or queued), the session's timers, and work
//! deferred to after the running handler.
//!
//! The shape follows calloop's `EventSource`: the kernel calls
//! [`EventSource::ready`] and the returned [`PostAction`] says what
//! happens to the source next. The user-facing half of a wheel holds a
//! [`SourceHandle`], through which handlers reach the source's state
//! ([`SourceHandle::with`]) and queue kernel work
//! ([`SourceHandle::defer`]); dropping it closes the I/O object, as
//! dropping a POE wheel does.
//!
//! The ordering guarantees are stated on [`EventSource`].
//!
//! A complete wheel written with only this API is in the `rpoe-udp` crate
//! of this workspace, walked through in `docs/writing-a-wheel.md`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::clock::Time;
use super::ctx::Ctx;
use super::engine::Core;
use super::error::Error;
use super::handles::{IoSource, Target, WheelIo};
use super::ids::{HandleId, SessionId, TimerId};
use super::names::{EventId, IntoEvent};
use super::payload::{IoMode, Payload};
use super::postback::{Local, LocalOp};
use super::queue::SessionKey;

/// What the kernel does with a source after [`EventSource::ready`] (or
/// deferred work) returned.
#[must_use = "the kernel needs to know what to do with the source next"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostAction {
    /// Keep watching. Watchers are level-triggered: if the source did not
    /// drain the handle, the kernel reports it ready again next round.
    Continue,
    /// Keep watching; the source read (or wrote) until the OS said
    /// `WouldBlock`, so the kernel need not re-arm the handle — the OS
    /// reports new readiness by itself. Cheaper than `Continue`; wrong
    /// (the source would stall) if the handle was not actually drained.
    Drained,
    /// Stop watching the direction that was ready (as
    /// [`SourceCtx::set_interest`]`(mode, false)`); the source stays and can
    /// turn it on again.
    Disable,
    /// Close the I/O object and stop the source for good. Events it
    /// emitted in this call are still delivered.
    Remove,
    /// Deliver what was emitted, then call [`EventSource::ready`] again
    /// for the same readiness event — unless a handler meanwhile closed
    /// the source or stopped its session. For sources that hand over one
    /// item at a time so that the session can react between items (stop
    /// accepting, say) as POE's wheels let it; the source bounds how many
    /// times in a row it asks, so one handle cannot starve the others.
    /// Outside a readiness event (deferred work) it is `Continue`.
    Again,
}

/// An event source that lives in a session: the code of a wheel that runs
/// when its I/O object is ready.
///
/// The kernel owns the I/O object ([`EventSource::Io`]) on the session's
/// behalf (it keeps the session alive while watched, and is closed when
/// the session stops); the source reaches it through
/// [`SourceCtx::io`]. See `docs/writing-a-wheel.md` for a walk-through.
///
/// # Ordering guarantees
///
/// - Events given to [`SourceCtx::emit`] are delivered to the session's
///   handlers, in the order emitted, as soon as the source's code returns
///   — ahead of anything queued — when the kernel itself is running the
///   source (a readiness event, or deferred work run after the outermost
///   handler returned). When a handler is still on the stack they are
///   queued instead, so a handler is never re-entered by its own wheel.
/// - Events given to [`SourceCtx::post`] are queued like `Ctx::post`'s,
///   FIFO with everything else.
/// - Deferred work runs after the handler that deferred it returns, in
///   the order deferred, before the kernel dispatches anything else.
/// - Nothing more is delivered once the [`SourceHandle`] is dropped; a
///   source that removes itself ([`PostAction::Remove`],
///   [`SourceCtx::take_io`]) still delivers the events it emitted in that
///   call (its last words, e.g. an error event).
///
/// # Example
///
/// ```
/// use std::io::{ErrorKind, Read, Write};
/// use mio::net::UnixStream;
/// use rpoe::kernel::{EventSource, PostAction, SourceCtx, SourceHandle};
/// use rpoe::{IoMode, Kernel, Session};
///
/// /// Counts bytes and reports the total at end of file.
/// struct Counter {
///     total: usize,
/// }
///
/// impl EventSource for Counter {
///     type Io = UnixStream;
///
///     fn ready(&mut self, cx: &mut SourceCtx<'_, UnixStream>, _mode: IoMode) -> PostAction {
///         let mut buf = [0u8; 4096];
///         loop {
///             match cx.io().read(&mut buf) {
///                 Ok(0) => {
///                     cx.emit("done", self.total);
///                     return PostAction::Remove;
///                 }
///                 Ok(n) => self.total += n,
///                 Err(e) if e.kind() == ErrorKind::WouldBlock => return PostAction::Drained,
///                 Err(e) if e.kind() == ErrorKind::Interrupted => {}
///                 Err(_) => return PostAction::Remove,
///             }
///         }
///     }
/// }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new((None::<SourceHandle<Counter>>, 0))
///         .on("_start", |ctx| {
///             let (near, mut far) = UnixStream::pair().unwrap();
///             far.write_all(b"hello").unwrap();
///             drop(far);
///             let source = ctx.add_source(near, Counter { total: 0 }).unwrap();
///             ctx.heap().0 = Some(source);
///         })
///         .on("done", |ctx| {
///             let total = ctx.take_arg::<usize>().unwrap();
///             ctx.heap().1 = total;
///             ctx.heap().0 = None; // drop the wheel
///         })
///         .on("_stop", |ctx| assert_eq!(ctx.heap().1, 5)),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
pub trait EventSource: 'static {
    /// The I/O object the kernel watches for this source.
    type Io: IoSource;

    /// The I/O object is ready for `mode`. Called only by the kernel, never
    /// while a handler of the session is running.
    fn ready(&mut self, cx: &mut SourceCtx<'_, Self::Io>, mode: IoMode) -> PostAction;

    /// The events the source emitted in its last call (of `ready`, of
    /// deferred work, or of this method) have all been delivered (or
    /// queued). Why: the handlers of a batch of events may each ask the
    /// wheel for work — `ReadWrite`'s `put` — that is cheaper done once
    /// for the whole batch; a source notes the requests while the batch
    /// runs and does the work here. Not called when nothing was emitted.
    /// Its `PostAction` has no direction: `Drained` and `Disable` do
    /// nothing.
    fn delivered(&mut self, cx: &mut SourceCtx<'_, Self::Io>) -> PostAction {
        let _ = cx;
        PostAction::Continue
    }
}

/// An event owed to the session, delivered once the source's code returns
/// (its state is then no longer borrowed, so the handlers may use the
/// wheel).
struct Emit {
    event: EventId,
    payload: Payload,
    queued: bool,
}

/// The parts of a running source that do not depend on its type.
struct Shared {
    owner: SessionKey,
    owner_id: SessionId,
    /// `None` once closed.
    handle: Cell<Option<HandleId>>,
    /// The user dropped the [`SourceHandle`]: nothing more is delivered,
    /// even before the deferred close has run.
    dropped: Cell<bool>,
    /// The watcher target that leads back to this source.
    target: RefCell<Option<Weak<dyn WheelIo>>>,
    /// The kernel's queue of work for after the running handler. Weak:
    /// queued work holds the source, so a strong link back would keep
    /// both alive forever once the kernel is dropped with work queued.
    local: Weak<Local>,
}

impl Shared {
    /// Queue kernel work for after the running handler; dropped unrun if
    /// the kernel is gone.
    fn queue(&self, work: impl FnOnce(&mut Core) + 'static) {
        if let Some(local) = self.local.upgrade() {
            local
                .ops
                .borrow_mut()
                .push_back(LocalOp::Wheel(Box::new(work)));
        }
    }
}

impl Shared {
    fn target(&self) -> Option<Target> {
        let weak = self.target.borrow().clone()?;
        Some(Target::Wheel(weak.upgrade()?))
    }

    fn close(&self, core: &mut Core) {
        if let Some(h) = self.handle.take() {
            let _ = core.remove_handle(self.owner, h);
        }
    }
}

/// What an [`EventSource`] may do while the kernel runs it: reach its I/O
/// object, turn readiness interest on and off, send its session events,
/// and use the session's timers. Nothing else of the kernel is reachable
/// from here — on purpose: a wheel that needs more should widen this door.
pub struct SourceCtx<'a, Io> {
    core: &'a mut Core,
    shared: &'a Shared,
    peer_closed: bool,
    emits: &'a mut Vec<Emit>,
    _io: PhantomData<fn() -> Io>,
}

impl<Io: IoSource> SourceCtx<'_, Io> {
    /// The I/O object.
    ///
    /// # Panics
    ///
    /// If the source was removed — only possible in deferred work run
    /// after [`PostAction::Remove`]; check [`SourceCtx::is_open`] there.
    pub fn io(&mut self) -> &mut Io {
        self.try_io().expect("the source's I/O object was removed")
    }

    /// The I/O object, or `None` once the source was removed.
    pub fn try_io(&mut self) -> Option<&mut Io> {
        let h = self.shared.handle.get()?;
        self.core
            .handles
            .io_mut(h)
            .and_then(|io| io.as_any_mut().downcast_mut::<Io>())
    }

    /// Whether the source still has its I/O object.
    pub fn is_open(&self) -> bool {
        self.shared.handle.get().is_some()
    }

    /// Take the I/O object back from the kernel, stopping the source (its
    /// watchers go; events it emitted are still delivered): for wheels
    /// that hand their object over when done, as a connector hands over
    /// the connected socket. `None` if it was removed already.
    pub fn take_io(&mut self) -> Option<Io> {
        let h = self.shared.handle.take()?;
        let io = self.core.remove_handle(self.shared.owner, h).ok()?;
        io.into_any().downcast::<Io>().ok().map(|io| *io)
    }

    /// The kernel's id of the I/O object (`None` once removed).
    pub fn handle(&self) -> Option<HandleId> {
        self.shared.handle.get()
    }

    /// Whether the OS reported, with this read readiness, that the peer
    /// closed (or the handle is in error). Then a short read does not mean
    /// the handle is drained: read on until end of file or `WouldBlock`.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The session the source lives in.
    pub fn session(&self) -> SessionId {
        self.shared.owner_id
    }

    /// Turn readiness interest for `mode` on or off. A source starts with
    /// read interest on and write interest off.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] once the source was removed; [`Error::Io`] if the
    /// OS refuses the registration.
    pub fn set_interest(&mut self, mode: IoMode, on: bool) -> Result<(), Error> {
        let h = self.open_handle()?;
        let target = if on { self.shared.target() } else { None };
        self.core.set_target(self.shared.owner, h, mode, target)
    }

    /// Pause (or resume) interest for `mode` without clearing it. A paused
    /// watcher still keeps the session alive, as POE's `select_pause_read`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] once the source was removed; [`Error::Io`] if the
    /// OS refuses the registration.
    pub fn pause(&mut self, mode: IoMode, paused: bool) -> Result<(), Error> {
        let h = self.open_handle()?;
        self.core.pause_watcher(self.shared.owner, h, mode, paused)
    }

    fn open_handle(&self) -> Result<HandleId, Error> {
        self.shared
            .handle
            .get()
            .ok_or_else(|| Error::Invalid("the event source was removed".into()))
    }

    /// Send the session `event` with `args`, delivered as soon as this
    /// source's code returns (see the ordering guarantees in the
    /// [`EventSource`] documentation). The sender is the session itself.
    pub fn emit(&mut self, event: impl IntoEvent, args: impl Any) {
        let event = self.core.names.resolve(&event);
        self.emits.push(Emit {
            event,
            payload: Payload::new(args),
            queued: false,
        });
    }

    /// Queue `event` with `args` for the session, FIFO with all other
    /// queued events.
    pub fn post(&mut self, event: impl IntoEvent, args: impl Any) {
        let event = self.core.names.resolve(&event);
        self.emits.push(Emit {
            event,
            payload: Payload::new(args),
            queued: true,
        });
    }

    /// Whether the session has a [`Ctx::sig_child`] watcher for child
    /// process `pid`, so that the kernel will reap it and tell the session
    /// how it ended. Why: a wheel that starts processes must make sure
    /// each is reaped; when it is dropped it asks (from deferred work, see
    /// [`SourceHandle::defer`]) whether the kernel still will, and if not
    /// reaps the child itself — false too once the session is gone.
    pub fn watches_child(&self, pid: u32) -> bool {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        self.core.sessions.id_of(self.shared.owner) == Some(self.shared.owner_id)
            && self.core.signals.watches_child(pid, self.shared.owner)
    }

    /// The kernel's clock.
    pub fn now(&mut self) -> Time {
        self.core.refresh_now()
    }

    /// Set a timer of the session: `event` with `args` after `delay` (POE's
    /// `delay_add`). It keeps the session alive until it fires or is
    /// removed.
    pub fn delay_add(&mut self, event: impl IntoEvent, delay: Duration, args: impl Any) -> TimerId {
        let event = self.core.names.resolve(&event);
        let due = self.core.refresh_now() + delay;
        self.core
            .set_timer(self.shared.owner, event, due, Payload::new(args))
    }

    /// Remove a timer set by [`SourceCtx::delay_add`] (or any timer of the
    /// session).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchTimer`] if it fired or was removed already;
    /// [`Error::NotPermitted`] if it belongs to another session.
    pub fn timer_remove(&mut self, id: TimerId) -> Result<(), Error> {
        self.core.remove_timer(self.shared.owner, id).map(|_| ())
    }
}

impl<Io> fmt::Debug for SourceCtx<'_, Io> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceCtx")
            .field("session", &self.shared.owner_id)
            .field("handle", &self.shared.handle.get())
            .field("peer_closed", &self.peer_closed)
            .finish()
    }
}

/// The running source: its state and the way back to the kernel.
struct Running<S> {
    shared: Shared,
    source: RefCell<S>,
}

impl<S: EventSource> Running<S> {
    /// Run `f` on the source with a context, then act on its answer and
    /// deliver what it emitted, then tell the source (as often as it
    /// emits more in answer). `mode` is the direction `Disable` turns off
    /// (deferred work has none).
    fn run(
        &self,
        core: &mut Core,
        mode: Option<IoMode>,
        peer_closed: bool,
        f: impl FnOnce(&mut S, &mut SourceCtx<'_, S::Io>) -> PostAction,
    ) -> PostAction {
        let (action, mut emitted) = self.step(core, mode, peer_closed, f);
        while emitted && !self.shared.dropped.get() {
            emitted = self.step(core, None, false, |s, cx| s.delivered(cx)).1;
        }
        action
    }

    /// One call of the source and the delivery of its events; returns its
    /// answer and whether it emitted anything.
    fn step(
        &self,
        core: &mut Core,
        mode: Option<IoMode>,
        peer_closed: bool,
        f: impl FnOnce(&mut S, &mut SourceCtx<'_, S::Io>) -> PostAction,
    ) -> (PostAction, bool) {
        let mut emits = Vec::new();
        let action = {
            // Handlers never run while this borrow is held (emits are
            // delivered below), so it cannot be found taken.
            let Ok(mut source) = self.source.try_borrow_mut() else {
                return (PostAction::Continue, false);
            };
            let mut cx = SourceCtx {
                core: &mut *core,
                shared: &self.shared,
                peer_closed,
                emits: &mut emits,
                _io: PhantomData,
            };
            f(&mut source, &mut cx)
        };
        let emitted = !emits.is_empty();
        match (action, self.shared.handle.get()) {
            (_, None) | (PostAction::Continue | PostAction::Again, _) => {}
            (PostAction::Drained, Some(h)) => {
                if let Some(mode) = mode {
                    core.handles.drained(h, mode);
                }
            }
            (PostAction::Disable, Some(h)) => {
                if let Some(mode) = mode {
                    let _ = core.set_target(self.shared.owner, h, mode, None);
                }
            }
            (PostAction::Remove, Some(_)) => self.shared.close(core),
        }
        self.deliver(core, emits);
        (action, emitted)
    }

    fn deliver(&self, core: &mut Core, emits: Vec<Emit>) {
        let (owner, owner_id) = (self.shared.owner, self.shared.owner_id);
        for e in emits {
            if self.shared.dropped.get() || core.sessions.id_of(owner) != Some(owner_id) {
                return;
            }
            if e.queued || core.handlers_on_stack() > 0 {
                core.post_key(owner, Some(owner), e.event, e.payload);
            } else {
                core.wheel_event(owner, owner_id, e.event, e.payload);
            }
        }
    }
}

impl<S: EventSource> WheelIo for Running<S> {
    fn ready(&self, core: &mut Core, handle: HandleId, mode: IoMode) {
        self.ready_closed(core, handle, mode, false);
    }

    fn ready_closed(&self, core: &mut Core, _handle: HandleId, mode: IoMode, peer_closed: bool) {
        let peer_closed = mode == IoMode::Read && peer_closed;
        let (owner, owner_id) = (self.shared.owner, self.shared.owner_id);
        while self.run(core, Some(mode), peer_closed, |s, cx| s.ready(cx, mode))
            == PostAction::Again
            && self.shared.handle.get().is_some()
            && core.sessions.id_of(owner) == Some(owner_id)
        {}
    }
}

/// The user-facing half of a running [`EventSource`], returned by
/// [`Ctx::add_source`]. Keep it (usually in the heap) for as long as the
/// wheel should run: dropping it closes the I/O object and stops the
/// source, after the running handler returns.
#[must_use = "dropping the handle stops the source at once"]
pub struct SourceHandle<S: EventSource> {
    running: Rc<Running<S>>,
}

impl<S: EventSource> SourceHandle<S> {
    /// The kernel's id of the source's I/O object.
    pub fn handle(&self) -> Option<HandleId> {
        self.running.shared.handle.get()
    }

    /// Whether the source still has its I/O object.
    pub fn is_open(&self) -> bool {
        self.running.shared.handle.get().is_some()
    }

    /// The session the source lives in.
    pub fn session(&self) -> SessionId {
        self.running.shared.owner_id
    }

    /// Borrow the source's state from a handler (to read counters, change
    /// settings, buffer output...). Returns `None` only if called from the
    /// source's own code, which already holds it.
    pub fn with<T>(&self, f: impl FnOnce(&mut S) -> T) -> Option<T> {
        let mut source = self.running.source.try_borrow_mut().ok()?;
        Some(f(&mut source))
    }

    /// Run `f` with the source and a [`SourceCtx`] after the running
    /// handler returns, before the kernel dispatches anything else: the
    /// way a handler's call (a `put`, a pause) reaches the I/O object and
    /// the kernel. Its [`PostAction`] applies as after a readiness event
    /// (`Drained` and `Disable` have no direction here and do nothing).
    ///
    /// `f` runs even if the handle is dropped (or the source removed)
    /// meanwhile — then [`SourceCtx::is_open`] says so and nothing it
    /// emits is delivered — so that a wheel's drop can leave clean-up
    /// work behind (a process wheel reaping its child, say). If the
    /// kernel is dropped first, `f` is dropped unrun: put clean-up that
    /// must happen regardless in a value `f` owns, whose `Drop` does it.
    pub fn defer(&self, f: impl FnOnce(&mut S, &mut SourceCtx<'_, S::Io>) -> PostAction + 'static) {
        let running = self.running.clone();
        self.running.shared.queue(move |core| {
            let _ = running.run(core, None, false, f);
        });
    }
}

impl<S: EventSource> Drop for SourceHandle<S> {
    fn drop(&mut self) {
        self.running.shared.dropped.set(true);
        if self.running.shared.handle.get().is_none() {
            return;
        }
        let running = self.running.clone();
        self.running.shared.queue(move |core| {
            running.shared.close(core);
        });
    }
}

impl<S: EventSource> fmt::Debug for SourceHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceHandle")
            .field("session", &self.running.shared.owner_id)
            .field("handle", &self.running.shared.handle.get())
            .finish()
    }
}

/// Removes a timer of its session when dropped — from anywhere, without a
/// [`Ctx`]: a wheel keeps its poll timer in one, so that dropping the
/// wheel (say, in the heap) stops the polling at once instead of letting
/// the timer keep the session alive until it fires. Made by
/// [`Ctx::timer_guard`].
#[must_use = "dropping the guard removes the timer at once"]
pub struct TimerGuard {
    session: SessionId,
    id: Option<TimerId>,
    local: Rc<Local>,
}

impl TimerGuard {
    /// The guarded timer.
    pub fn id(&self) -> Option<TimerId> {
        self.id
    }

    /// Let go of the timer without removing it (it fired, or it should
    /// stay); returns its id.
    pub fn disarm(mut self) -> Option<TimerId> {
        self.id.take()
    }
}

impl Drop for TimerGuard {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let session = self.session;
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(move |core| {
                if let Some(key) = core.sessions.key_of(session) {
                    let _ = core.remove_timer(key, id);
                }
            })));
    }
}

impl fmt::Debug for TimerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerGuard")
            .field("session", &self.session)
            .field("id", &self.id)
            .finish()
    }
}

/// # Wheels
///
/// Starting an [`EventSource`] in this session, and the timer guard
/// wheels keep their timers in (see [`EventSource`] and
/// `docs/writing-a-wheel.md`).
impl<H: 'static> Ctx<'_, H> {
    /// Guard this session's timer `id`: it is removed when the guard is
    /// dropped (after the running handler returns, if that is where it is
    /// dropped), unless [`TimerGuard::disarm`]ed first.
    pub fn timer_guard(&mut self, id: TimerId) -> TimerGuard {
        TimerGuard {
            session: self.frame.id,
            id: Some(id),
            local: self.core.local.clone(),
        }
    }

    /// Start an [`EventSource`] in this session on `io`, with read interest
    /// on (turn on write interest with [`SourceCtx::set_interest`], from
    /// the source or through [`SourceHandle::defer`]). The kernel owns
    /// `io` from now on; the session lives while the source watches it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the OS refuses to register `io` (the object is then
    /// closed).
    pub fn add_source<S: EventSource>(
        &mut self,
        io: S::Io,
        source: S,
    ) -> Result<SourceHandle<S>, Error> {
        self.add_source_for(io, source, &[IoMode::Read])
    }

    /// [`Ctx::add_source`] with the interest to start with: `&[]` for
    /// none yet, `&[IoMode::Write]` for a connector waiting for its
    /// connect to finish, both for a stream with output already queued.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the OS refuses to register `io` (the object is then
    /// closed).
    pub fn add_source_for<S: EventSource>(
        &mut self,
        io: S::Io,
        source: S,
        interest: &[IoMode],
    ) -> Result<SourceHandle<S>, Error> {
        let owner = self.frame.key;
        let h = self.core.add_handle(owner, Box::new(io));
        let running = Rc::new(Running {
            shared: Shared {
                owner,
                owner_id: self.frame.id,
                handle: Cell::new(Some(h)),
                dropped: Cell::new(false),
                target: RefCell::new(None),
                local: Rc::downgrade(&self.core.local),
            },
            source: RefCell::new(source),
        });
        let as_io: Rc<dyn WheelIo> = running.clone();
        *running.shared.target.borrow_mut() = Some(Rc::downgrade(&as_io));
        for mode in interest {
            let target = Some(Target::Wheel(as_io.clone()));
            if let Err(e) = self.core.set_target(owner, h, *mode, target) {
                running.shared.close(self.core);
                return Err(e);
            }
        }
        Ok(SourceHandle { running })
    }
}
