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

/// What the factory needs of its running connector, whatever the stream
/// type; dropping it stops the connect.
pub(super) trait ConnectControl {
    fn set_event(&self, which: SocketFactoryEvent, event: Option<EventId>);
}

impl<S: ConnectStream> ConnectControl for SourceHandle<Connector<S>> {
    fn set_event(&self, which: SocketFactoryEvent, event: Option<EventId>) {
        let apply = move |c: &mut Connector<S>| match which {
            SocketFactoryEvent::Success => c.on_success = event,
            SocketFactoryEvent::Failure => c.on_failure = event,
        };
        if self.with(apply).is_none() {
            self.defer(move |c, _| {
                apply(c);
                PostAction::Continue
            });
        }
    }
}

/// Connect mode's event source: waits for the socket to become
/// writable, then hands the connected socket (or the error) to the
/// session.
pub(super) struct Connector<S> {
    id: WheelId,
    on_success: Option<EventId>,
    on_failure: Option<EventId>,
    spurious: u32,
    _s: std::marker::PhantomData<fn() -> S>,
}

impl<S: ConnectStream> Connector<S> {
    /// Start watching `stream`, whose connect is in progress, for
    /// writability. The returned value stops it when dropped.
    pub(super) fn start<H: 'static>(
        ctx: &mut Ctx<'_, H>,
        id: WheelId,
        stream: S,
        on_success: Option<EventId>,
        on_failure: Option<EventId>,
    ) -> Result<Box<dyn ConnectControl>, crate::Error> {
        let source = Connector::<S> {
            id,
            on_success,
            on_failure,
            spurious: 0,
            _s: std::marker::PhantomData,
        };
        Ok(Box::new(ctx.add_source_for(
            stream,
            source,
            &[IoMode::Write],
        )?))
    }

    /// How the connect went: `None` while it is still in progress.
    fn outcome(&mut self, sock: &S) -> Option<io::Result<S::Addr>> {
        match sock.take_error() {
            Ok(Some(e)) | Err(e) => Some(Err(e)),
            Ok(None) => match sock.peer() {
                Ok(a) => Some(Ok(a)),
                Err(e) if in_progress(&e) => {
                    self.spurious += 1;
                    (self.spurious >= MAX_SPURIOUS).then_some(Err(e))
                }
                Err(e) => Some(Err(e)),
            },
        }
    }
}

impl<S: ConnectStream> EventSource for Connector<S> {
    type Io = S;

    fn ready(&mut self, cx: &mut SourceCtx<'_, S>, mode: IoMode) -> PostAction {
        if mode != IoMode::Write {
            return PostAction::Continue;
        }
        let Some(sock) = cx.try_io() else {
            return PostAction::Continue;
        };
        let Some(outcome) = self.outcome(sock) else {
            return PostAction::Continue; // still connecting: wait for the next writable event
        };
        // Done either way: the socket leaves the kernel (closed on
        // failure, handed to the session on success).
        let Some(stream) = cx.take_io() else {
            return PostAction::Continue;
        };
        match outcome {
            Ok(peer) => {
                if let Some(ev) = self.on_success {
                    let wheel = self.id;
                    cx.emit(
                        ev,
                        Connected {
                            stream,
                            peer,
                            wheel,
                        },
                    );
                }
            }
            Err(e) => {
                drop(stream);
                if let Some(ev) = self.on_failure {
                    cx.emit(ev, WheelError::io("connect", &e, self.id));
                }
            }
        }
        PostAction::Continue
    }
}
