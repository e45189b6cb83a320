//! I/O handles the kernel owns, and the read/write watchers on them.
//!
//! The kernel keeps every watched handle (as the seed says, "POE::Kernel
//! keeps track of it for us") and hands its id back with each readiness
//! event. Watchers are level-triggered like POE's: mio reports edges, so
//! after dispatching a handle's events the kernel re-arms its registration,
//! and the OS reports it again next round if it is still ready. A handler
//! that reads once per event therefore gets another event while data
//! remains, and one that drains the handle gets none.

use std::any::Any;
use std::io;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use slab::Slab;

use super::ids::HandleId;
use super::names::EventId;
use super::payload::IoMode;
use super::queue::SessionKey;

/// Anything the kernel can watch: a mio event source that can be handed
/// back as its concrete type.
pub trait IoSource: Source + Any {
    /// Borrow as `Any`, to recover the concrete type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Convert into `Any`, to give ownership back.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Source + Any> IoSource for T {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// What a readiness event goes to.
#[derive(Clone)]
pub(crate) enum Target {
    /// A handler of the watching session.
    Event(EventId),
    /// A handler of the watching session, with the watcher's extra
    /// arguments (POE's `select_read($fh, $ev, @args)`).
    EventWith(EventId, std::rc::Rc<dyn std::any::Any>),
    /// A wheel's own code, which runs at kernel level and sends the
    /// session the wheel's events.
    Wheel(std::rc::Rc<dyn WheelIo>),
}

/// A wheel's reaction to readiness of its handle.
pub(crate) trait WheelIo {
    fn ready(&self, core: &mut super::Core, handle: HandleId, mode: IoMode);

    /// [`WheelIo::ready`], told whether the OS reported the peer closed
    /// with this (read) readiness; a wheel that does not use it need not
    /// implement this.
    fn ready_closed(
        &self,
        core: &mut super::Core,
        handle: HandleId,
        mode: IoMode,
        peer_closed: bool,
    ) {
        let _ = peer_closed;
        self.ready(core, handle, mode);
    }
}

#[derive(Clone)]
pub(crate) struct Watcher {
    session: SessionKey,
    target: Target,
    paused: bool,
}

pub(crate) struct Handle {
    num: u64,
    owner: SessionKey,
    io: Box<dyn IoSource>,
    read: Option<Watcher>,
    write: Option<Watcher>,
    expedite: Option<Watcher>,
    registered: Option<Interest>,
    /// Dispatched this round for reading / writing and not reported
    /// drained: re-arm so the OS reports it again if still ready.
    rearm_read: bool,
    rearm_write: bool,
    rearm_expedite: bool,
    queued: bool,
}

impl Handle {
    fn watcher(&self, mode: IoMode) -> Option<&Watcher> {
        match mode {
            IoMode::Read => self.read.as_ref(),
            IoMode::Write => self.write.as_ref(),
            IoMode::Expedite => self.expedite.as_ref(),
        }
    }

    fn watcher_mut(&mut self, mode: IoMode) -> &mut Option<Watcher> {
        match mode {
            IoMode::Read => &mut self.read,
            IoMode::Write => &mut self.write,
            IoMode::Expedite => &mut self.expedite,
        }
    }

    fn wanted(&self) -> Option<Interest> {
        let r = self.read.as_ref().is_some_and(|w| !w.paused);
        let w = self.write.as_ref().is_some_and(|w| !w.paused);
        let rw = match (r, w) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        let x = self.expedite.as_ref().is_some_and(|w| !w.paused);
        add_priority(rw, x)
    }

    /// How many watchers (active or paused) the handle has.
    fn watcher_count(&self) -> usize {
        usize::from(self.read.is_some())
            + usize::from(self.write.is_some())
            + usize::from(self.expedite.is_some())
    }
}

/// Add the OS's priority interest (`EPOLLPRI`) for an expedite watcher.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn add_priority(rw: Option<Interest>, expedite: bool) -> Option<Interest> {
    match (rw, expedite) {
        (Some(i), true) => Some(i | Interest::PRIORITY),
        (None, true) => Some(Interest::PRIORITY),
        (rw, false) => rw,
    }
}

/// mio has no priority interest here: an expedite watcher is kept (it
/// holds its session as any watcher does) but never reported.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn add_priority(rw: Option<Interest>, _expedite: bool) -> Option<Interest> {
    rw
}

pub(crate) struct Handles {
    slab: Slab<Handle>,
    next_num: u64,
    rearm: Vec<u32>,
    /// Watchers set (active or paused) across all handles.
    watchers: usize,
}

impl Handles {
    pub(crate) fn new() -> Self {
        Handles {
            slab: Slab::new(),
            next_num: 1,
            rearm: Vec::new(),
            watchers: 0,
        }
    }

    pub(crate) fn insert(&mut self, owner: SessionKey, io: Box<dyn IoSource>) -> HandleId {
        let num = self.next_num;
        self.next_num += 1;
        let key = self.slab.insert(Handle {
            num,
            owner,
            io,
            read: None,
            write: None,
            expedite: None,
            registered: None,
            rearm_read: false,
            rearm_write: false,
            rearm_expedite: false,
            queued: false,
        }) as u32;
        HandleId { num, key }
    }

    fn get(&self, id: HandleId) -> Option<&Handle> {
        self.slab.get(id.key as usize).filter(|h| h.num == id.num)
    }

    fn get_mut(&mut self, id: HandleId) -> Option<&mut Handle> {
        self.slab
            .get_mut(id.key as usize)
            .filter(|h| h.num == id.num)
    }

    /// Number of handles held.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// The session that owns the handle, if it is open.
    pub(crate) fn owner_of(&self, id: HandleId) -> Option<SessionKey> {
        self.get(id).map(|h| h.owner)
    }

    /// The handle's I/O object, if it is open.
    pub(crate) fn io_mut(&mut self, id: HandleId) -> Option<&mut dyn IoSource> {
        self.get_mut(id).map(|h| &mut *h.io)
    }

    /// Set (`Some`) or clear (`None`) the handle's watcher for `mode`,
    /// watched by `session`; the kernel-wide watcher count follows.
    /// Returns whether a watcher was set before and is set now, or `None`
    /// if the handle is not open. The caller brings the OS registration
    /// in line with [`Handles::sync`].
    pub(crate) fn set_watcher(
        &mut self,
        id: HandleId,
        mode: IoMode,
        session: SessionKey,
        target: Option<Target>,
    ) -> Option<(bool, bool)> {
        let h = self.get_mut(id)?;
        let slot = h.watcher_mut(mode);
        let had = slot.is_some();
        let has = target.is_some();
        *slot = target.map(|target| Watcher {
            session,
            target,
            paused: false,
        });
        match (had, has) {
            (false, true) => self.watchers += 1,
            (true, false) => self.watchers -= 1,
            _ => {}
        }
        Some((had, has))
    }

    /// Pause or resume the watcher for `mode`; `true` if that changed it.
    pub(crate) fn pause(&mut self, id: HandleId, mode: IoMode, paused: bool) -> bool {
        match self.get_mut(id).and_then(|h| h.watcher_mut(mode).as_mut()) {
            Some(w) if w.paused != paused => {
                w.paused = paused;
                true
            }
            _ => false,
        }
    }

    /// The session and target of the handle's active (set, not paused)
    /// watcher for `mode`.
    pub(crate) fn active_watcher(
        &self,
        id: HandleId,
        mode: IoMode,
    ) -> Option<(SessionKey, Target)> {
        let w = self.get(id)?.watcher(mode)?;
        (!w.paused).then(|| (w.session, w.target.clone()))
    }

    /// How many handles have at least one watcher set by `session`.
    pub(crate) fn watched_by(&self, session: SessionKey) -> usize {
        self.slab
            .iter()
            .filter(|(_, h)| {
                [IoMode::Read, IoMode::Write, IoMode::Expedite]
                    .into_iter()
                    .any(|m| h.watcher(m).is_some_and(|w| w.session == session))
            })
            .count()
    }

    pub(crate) fn id_at(&self, key: u32) -> Option<HandleId> {
        self.slab
            .get(key as usize)
            .map(|h| HandleId { num: h.num, key })
    }

    /// Bring the OS registration in line with the watchers.
    pub(crate) fn sync(&mut self, registry: &Registry, id: HandleId) -> io::Result<()> {
        let Some(h) = self.get_mut(id) else {
            return Ok(());
        };
        let want = h.wanted();
        let token = Token(id.key as usize);
        match (h.registered, want) {
            (None, None) => {}
            (None, Some(i)) => registry.register(&mut *h.io, token, i)?,
            (Some(_), Some(i)) => registry.reregister(&mut *h.io, token, i)?,
            (Some(_), None) => registry.deregister(&mut *h.io)?,
        }
        h.registered = want;
        Ok(())
    }

    /// Note that the handle's events were dispatched this round, so its
    /// registration is re-armed once the batch is done.
    pub(crate) fn mark_rearm(&mut self, id: HandleId, mode: IoMode) {
        if let Some(h) = self.get_mut(id) {
            match mode {
                IoMode::Read => h.rearm_read = true,
                IoMode::Write => h.rearm_write = true,
                IoMode::Expedite => h.rearm_expedite = true,
            }
            if !h.queued {
                h.queued = true;
                self.rearm.push(id.key);
            }
        }
    }

    /// The handler reported the handle drained for `mode` (it saw
    /// `WouldBlock`): the OS will report new readiness by itself, so no
    /// re-arm is needed for it.
    pub(crate) fn drained(&mut self, id: HandleId, mode: IoMode) {
        if let Some(h) = self.get_mut(id) {
            match mode {
                IoMode::Read => h.rearm_read = false,
                IoMode::Write => h.rearm_write = false,
                IoMode::Expedite => h.rearm_expedite = false,
            }
        }
    }

    /// Re-arm every handle dispatched in this batch (level-triggering),
    /// skipping those whose handlers drained them.
    pub(crate) fn rearm_all(&mut self, registry: &Registry) {
        let keys = std::mem::take(&mut self.rearm);
        for key in &keys {
            if let Some(id) = self.id_at(*key) {
                let Some(h) = self.get_mut(id) else {
                    continue;
                };
                let needed = h.rearm_read || h.rearm_write || h.rearm_expedite;
                h.rearm_read = false;
                h.rearm_write = false;
                h.rearm_expedite = false;
                h.queued = false;
                if !needed {
                    continue;
                }
                if let Err(e) = self.sync(registry, id) {
                    tracing::debug!(target: "rpoe::kernel", handle = %id, error = %e, "re-arming handle failed");
                }
            }
        }
        let mut keys = keys;
        keys.clear();
        self.rearm = keys;
    }

    /// Remove a handle, deregistering it. Returns its I/O object and how
    /// many watchers it had (each held its session).
    pub(crate) fn remove(
        &mut self,
        registry: &Registry,
        id: HandleId,
    ) -> Option<(Box<dyn IoSource>, usize)> {
        self.get(id)?;
        let mut h = self.slab.remove(id.key as usize);
        let watchers = h.watcher_count();
        self.watchers -= watchers;
        if h.registered.is_some() {
            let _ = registry.deregister(&mut *h.io);
        }
        Some((h.io, watchers))
    }

    pub(crate) fn watched_count(&self) -> usize {
        self.watchers
    }
}

/// A std socket the kernel can own: [`Ctx::add_std_handle`](crate::Ctx::add_std_handle)
/// makes it non-blocking (as POE does with every handle it watches) and
/// converts it to its mio twin, so a program needs neither a direct mio
/// dependency nor to remember `set_nonblocking`.
pub trait StdSocket {
    /// The mio type the kernel holds (ask for it with `ctx.handle::<T>`).
    type Io: IoSource;
    /// Make the socket non-blocking and convert it.
    ///
    /// # Errors
    ///
    /// The OS error if the socket cannot be made non-blocking.
    fn into_io(self) -> io::Result<Self::Io>;
}

macro_rules! std_socket {
    ($($std:ty => $mio:ty),* $(,)?) => {$(
        impl StdSocket for $std {
            type Io = $mio;
            fn into_io(self) -> io::Result<$mio> {
                self.set_nonblocking(true)?;
                Ok(<$mio>::from_std(self))
            }
        }
    )*};
}

std_socket! {
    std::net::TcpStream => mio::net::TcpStream,
    std::net::TcpListener => mio::net::TcpListener,
    std::net::UdpSocket => mio::net::UdpSocket,
    std::os::unix::net::UnixStream => mio::net::UnixStream,
    std::os::unix::net::UnixListener => mio::net::UnixListener,
    std::os::unix::net::UnixDatagram => mio::net::UnixDatagram,
}
