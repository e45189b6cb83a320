//! Connect mode's state machine: a non-blocking connect in progress,
//! finished (or failed) when the socket becomes writable.

use super::*;

/// A connected stream type: how to ask it whether its connect finished.
pub(super) trait ConnectStream: IoSource + Sized {
    type Addr: 'static;
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    fn peer(&self) -> io::Result<Self::Addr>;
}

impl ConnectStream for mio::net::TcpStream {
    type Addr = SocketAddr;
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::TcpStream::take_error(self)
    }
    fn peer(&self) -> io::Result<SocketAddr> {
        self.peer_addr()
    }
}

impl ConnectStream for mio::net::UnixStream {
    type Addr = std::os::unix::net::SocketAddr;
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::UnixStream::take_error(self)
    }
    fn peer(&self) -> io::Result<Self::Addr> {
        self.peer_addr()
    }
}

pub(super) trait Close {
    fn close(&self);
}

/// Connect mode's kernel-side state.
pub(super) struct Connector<S> {
    pub(super) me: Weak<Connector<S>>,
    pub(super) id: WheelId,
    pub(super) owner: SessionKey,
    pub(super) owner_id: SessionId,
    pub(super) handle: Cell<Option<HandleId>>,
    pub(super) on_success: Option<EventId>,
    pub(super) on_failure: Option<EventId>,
    pub(super) spurious: Cell<u32>,
    pub(super) local: Rc<crate::kernel::LocalQueue>,
    pub(super) _s: std::marker::PhantomData<S>,
}

impl<S: ConnectStream> Connector<S> {
    pub(super) fn start<H: 'static>(
        ctx: &mut Ctx<'_, H>,
        id: WheelId,
        handle: HandleId,
        on_success: Option<EventId>,
        on_failure: Option<EventId>,
    ) -> Result<Rc<dyn Close>, crate::Error> {
        let owner = ctx.frame.key;
        let inner = Rc::new_cyclic(|me| Connector::<S> {
            me: me.clone(),
            id,
            owner,
            owner_id: ctx.frame.id,
            handle: Cell::new(Some(handle)),
            on_success,
            on_failure,
            spurious: Cell::new(0),
            local: ctx.core.local.clone(),
            _s: std::marker::PhantomData,
        });
        let target = Target::Wheel(inner.clone());
        if let Err(e) = ctx
            .core
            .set_target(owner, handle, IoMode::Write, Some(target))
        {
            let _ = ctx.core.remove_handle(owner, handle);
            return Err(e);
        }
        Ok(inner)
    }

    /// How the connect went: `None` while it is still in progress.
    pub(super) fn outcome(&self, sock: &S) -> Option<io::Result<S::Addr>> {
        match sock.take_error() {
            Ok(Some(e)) | Err(e) => Some(Err(e)),
            Ok(None) => match sock.peer() {
                Ok(a) => Some(Ok(a)),
                Err(e) if in_progress(&e) => {
                    let n = self.spurious.get() + 1;
                    self.spurious.set(n);
                    (n >= MAX_SPURIOUS).then_some(Err(e))
                }
                Err(e) => Some(Err(e)),
            },
        }
    }
}

impl<S: ConnectStream> Close for Connector<S> {
    fn close(&self) {
        let Some(h) = self.handle.take() else {
            return;
        };
        let owner = self.owner;
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(move |core: &mut Core| {
                let _ = core.remove_handle(owner, h);
            })));
    }
}

impl<S: ConnectStream> WheelIo for Connector<S> {
    fn ready(&self, core: &mut Core, handle: HandleId, mode: IoMode) {
        let _keep = self.me.upgrade();
        if mode != IoMode::Write || self.handle.get() != Some(handle) {
            return;
        }
        let Some(sock) = core
            .handles
            .get_mut(handle)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<S>())
        else {
            return;
        };
        let Some(outcome) = self.outcome(sock) else {
            return; // still connecting: wait for the next writable event
        };
        // Done either way: the socket leaves the kernel (closed on
        // failure, handed to the session on success).
        self.handle.set(None);
        let Ok(io) = core.remove_handle(self.owner, handle) else {
            return;
        };
        let (event, payload) = match outcome {
            Ok(peer) => {
                let Ok(stream) = io.into_any().downcast::<S>() else {
                    return;
                };
                let c = Connected {
                    stream: *stream,
                    peer,
                    wheel: self.id,
                };
                (self.on_success, KPayload::new(c))
            }
            Err(e) => {
                drop(io);
                let err = WheelError::io("connect", &e, self.id);
                (self.on_failure, KPayload::new(err))
            }
        };
        let Some(event) = event else {
            return;
        };
        core.wheel_event(self.owner, self.owner_id, event, payload);
    }
}
