//! The running wheel's state machine: reading and framing input, the
//! output buffer and its watermarks, and the events owed to the session.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct EventIds {
    pub(super) input: Option<EventId>,
    pub(super) error: Option<EventId>,
    pub(super) flushed: Option<EventId>,
    pub(super) high: Option<EventId>,
    pub(super) low: Option<EventId>,
}

pub(super) struct State<R> {
    pub(super) id: WheelId,
    pub(super) owner: SessionKey,
    pub(super) owner_id: SessionId,
    /// `None` once closed.
    pub(super) handle: Option<HandleId>,
    pub(super) input: BoxFilter<R>,
    pub(super) output: BoxFilter<R>,
    pub(super) out: crate::wheel::out_buf::OutBuf,
    pub(super) ev: EventIds,
    pub(super) high: Option<usize>,
    pub(super) low: Option<usize>,
    pub(super) is_high: bool,
    pub(super) write_on: bool,
    pub(super) flush_queued: bool,
    /// The wheel is handing a batch of events to its session: puts made
    /// meanwhile are written once, after the batch.
    pub(super) batching: bool,
    pub(super) flush_after_batch: bool,
    pub(super) read_paused: bool,
    pub(super) shutdown_output: bool,
    /// See [`ReadWriteBuilder::max_input`].
    pub(super) max_input: Option<usize>,
    pub(super) rbuf: Vec<u8>,
    /// Records completed by a filter switch, delivered with the next read.
    pub(super) carry: Vec<R>,
}

impl<R> State<R> {
    pub(super) fn pending(&self) -> usize {
        self.out.pending()
    }
}

pub(super) struct Inner<S, R> {
    pub(super) me: Weak<Inner<S, R>>,
    pub(super) local: Rc<crate::kernel::LocalQueue>,
    pub(super) state: RefCell<State<R>>,
    pub(super) _s: PhantomData<S>,
}

/// An event the wheel owes its session, sent once the state is released.
pub(super) enum Emit<R> {
    Input(R),
    Error(WheelError),
    Flushed,
    High,
    Low,
}

impl<S, R> Inner<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    pub(super) fn queue(&self, task: impl FnOnce(&mut Core) + 'static) {
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(task)));
    }

    /// Write what the buffer holds; returns events owed. Never calls user
    /// code (it may run while a handler is on the stack).
    pub(super) fn write_out(&self, core: &mut Core) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut st = self.state.borrow_mut();
        let Some(h) = st.handle else {
            return emit;
        };
        let Some(sock) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<S>())
        else {
            return emit;
        };
        if let Err(e) = st.out.write_to(sock) {
            emit.push(Emit::Error(WheelError::io("write", &e, st.id)));
            st.out.clear();
        }
        let left = st.pending();
        if st.is_high && st.low.is_some_and(|low| left <= low) {
            st.is_high = false;
            emit.push(Emit::Low);
        } else if !st.is_high && st.high.is_some_and(|high| left >= high) {
            st.is_high = true;
            emit.push(Emit::High);
        }
        if left == 0 {
            emit.push(Emit::Flushed);
            if st.shutdown_output {
                if let Some(sock) = core
                    .handles
                    .get_mut(h)
                    .and_then(|e| (*e.io).as_any_mut().downcast_mut::<S>())
                {
                    let _ = sock.flush();
                }
                let _ = shutdown_write(core, h);
            }
        }
        let want_write = left > 0;
        let (owner, write_on) = (st.owner, st.write_on);
        st.write_on = want_write;
        drop(st);
        if want_write != write_on {
            let target = want_write.then(|| self.target());
            let _ = core.set_target(owner, h, IoMode::Write, target.flatten());
        }
        emit
    }

    pub(super) fn target(&self) -> Option<Target> {
        let me: Rc<dyn WheelIo> = self.me.upgrade()?;
        Some(Target::Wheel(me))
    }

    /// Send owed events to the session. Only called at kernel level (no
    /// handler on the stack) or through `post` when one might be.
    pub(super) fn send(&self, core: &mut Core, emits: Vec<Emit<R>>, direct: bool) {
        if direct {
            self.state.borrow_mut().batching = true;
        }
        self.send_each(core, emits, direct);
        if direct {
            let flush = {
                let mut st = self.state.borrow_mut();
                st.batching = false;
                std::mem::take(&mut st.flush_after_batch)
            };
            if flush {
                // One write for everything the batch's handlers put.
                let emits = self.write_out(core);
                self.send(core, emits, true);
            }
        }
    }

    pub(super) fn send_each(&self, core: &mut Core, emits: Vec<Emit<R>>, direct: bool) {
        for e in emits {
            let (owner, owner_id, id, ev, open) = {
                let st = self.state.borrow();
                (st.owner, st.owner_id, st.id, st.ev, st.handle.is_some())
            };
            if !open {
                return;
            }
            let (event, payload) = match e {
                Emit::Input(r) => (ev.input, KPayload::new((r, id))),
                Emit::Error(err) => (ev.error, KPayload::new(err)),
                Emit::Flushed => (ev.flushed, KPayload::new(id)),
                Emit::High => (ev.high, KPayload::new(id)),
                Emit::Low => (ev.low, KPayload::new(id)),
            };
            let Some(event) = event else {
                continue;
            };
            if direct {
                core.wheel_event(owner, owner_id, event, payload);
            } else {
                core.post_key(owner, Some(owner), event, payload);
            }
        }
    }

    pub(super) fn read_in(&self, core: &mut Core, h: HandleId) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        if st.rbuf.len() < READ_CHUNK {
            st.rbuf.resize(READ_CHUNK, 0);
        }
        let Some(sock) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<S>())
        else {
            return emit;
        };
        let mut records = std::mem::take(&mut st.carry);
        let mut drained = false;
        let mut end: Option<WheelError> = None;
        for _ in 0..READS_PER_EVENT {
            match sock.read(&mut st.rbuf) {
                Ok(0) => {
                    end = Some(WheelError {
                        op: "read",
                        errno: 0,
                        message: String::new(),
                        wheel: st.id,
                    });
                    break;
                }
                Ok(n) => {
                    if let Err(e) = st.input.get(&st.rbuf[..n], &mut records) {
                        end = Some(WheelError {
                            op: "get",
                            errno: 22,
                            message: e.to_string(),
                            wheel: st.id,
                        });
                        break;
                    }
                    let held = st.input.pending().len();
                    if let Some(max) = st.max_input.filter(|&m| held > m) {
                        let _ = st.input.take_pending();
                        let e = crate::filter::FilterError::TooLong { len: held, max };
                        end = Some(WheelError {
                            op: "get",
                            errno: 22,
                            message: e.to_string(),
                            wheel: st.id,
                        });
                        break;
                    }
                    // A short read empties the socket; unless the peer
                    // closed with this event, more data or EOF raises a
                    // new one (see Ctx::io_peer_closed).
                    if n < st.rbuf.len() && !core.io_closed {
                        drained = true;
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    end = Some(WheelError::io("read", &e, st.id));
                    break;
                }
            }
        }
        if st.rbuf.len() > READ_CHUNK {
            st.rbuf.truncate(READ_CHUNK);
        }
        emit.extend(records.into_iter().map(Emit::Input));
        if let Some(err) = end {
            // Reading is over: stop watching for input.
            let owner = st.owner;
            let _ = core.set_target(owner, h, IoMode::Read, None);
            emit.push(Emit::Error(err));
        } else if drained {
            core.handles.drained(h, IoMode::Read);
        }
        emit
    }
}

/// Shut down the write side of a handle (for sockets: `shutdown(Write)`).
pub(super) fn shutdown_write(core: &mut Core, h: HandleId) -> std::io::Result<()> {
    let Some(e) = core.handles.get_mut(h) else {
        return Ok(());
    };
    let any = (*e.io).as_any_mut();
    if let Some(s) = any.downcast_mut::<mio::net::TcpStream>() {
        return s.shutdown(std::net::Shutdown::Write);
    }
    if let Some(s) = any.downcast_mut::<mio::net::UnixStream>() {
        return s.shutdown(std::net::Shutdown::Write);
    }
    Ok(())
}

impl<S, R> WheelIo for Inner<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    fn ready(&self, core: &mut Core, handle: HandleId, mode: IoMode) {
        let emits = match mode {
            IoMode::Read => self.read_in(core, handle),
            IoMode::Write => {
                let e = self.write_out(core);
                core.handles.drained(handle, IoMode::Write);
                e
            }
        };
        self.send(core, emits, true);
    }
}

impl<S, R> Control<R> for Inner<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    fn id(&self) -> WheelId {
        self.state.borrow().id
    }

    fn put(&self, record: &R) -> Result<bool, crate::filter::FilterError> {
        let (high, queue_flush) = {
            let mut guard = self.state.borrow_mut();
            if guard.handle.is_none() {
                return Ok(false);
            }
            let st = &mut *guard;
            st.output.put(record, st.out.tail())?;
            let pending = st.pending();
            let high = st.high.is_some_and(|h| pending >= h);
            if high {
                st.is_high = true;
            }
            if st.batching {
                st.flush_after_batch |= pending > 0;
            }
            let queue_flush = !st.flush_queued && !st.batching && pending > 0;
            st.flush_queued |= queue_flush;
            (high, queue_flush)
        };
        if queue_flush {
            let me = self.me.clone();
            self.queue(move |core| {
                if let Some(me) = me.upgrade() {
                    me.state.borrow_mut().flush_queued = false;
                    let emits = me.write_out(core);
                    // Right after the handler that put, unless another
                    // handler is still on the stack: then queue them.
                    let direct = core.depth == 0;
                    me.send(core, emits, direct);
                }
            });
        }
        Ok(high)
    }

    fn pause_input(&self, paused: bool) {
        let mut st = self.state.borrow_mut();
        if st.read_paused == paused {
            return;
        }
        st.read_paused = paused;
        let (owner, h) = (st.owner, st.handle);
        drop(st);
        if let Some(h) = h {
            self.queue(move |core| {
                let _ = core.pause_watcher(owner, h, IoMode::Read, paused);
            });
        }
    }

    fn shutdown_output(&self) {
        let mut st = self.state.borrow_mut();
        st.shutdown_output = true;
        let empty = st.pending() == 0;
        let h = st.handle;
        drop(st);
        if let (true, Some(h)) = (empty, h) {
            self.queue(move |core| {
                let _ = shutdown_write(core, h);
            });
        }
    }

    fn set_marks(&self, high: Option<usize>, low: Option<usize>) {
        let mut st = self.state.borrow_mut();
        st.high = high;
        st.low = low;
    }

    fn pending(&self) -> usize {
        self.state.borrow().pending()
    }

    fn flush_owed(&self) -> bool {
        let st = self.state.borrow();
        st.flush_queued || st.flush_after_batch
    }

    fn set_input_filter(&self, mut f: BoxFilter<R>) {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        // Hand the bytes the old filter held to the new one; records that
        // completes are delivered before those of the next read.
        let left = st.input.take_pending();
        let _ = f.get(&left, &mut st.carry);
        st.input = f;
        if !st.carry.is_empty() {
            // Deliver them now rather than with a read that may never come.
            let me = self.me.clone();
            drop(guard);
            self.queue(move |core| {
                if let Some(me) = me.upgrade() {
                    let records = std::mem::take(&mut me.state.borrow_mut().carry);
                    let emits = records.into_iter().map(Emit::Input).collect();
                    me.send(core, emits, false);
                }
            });
        }
    }

    fn set_output_filter(&self, f: BoxFilter<R>) {
        self.state.borrow_mut().output = f;
    }

    fn close(&self) {
        let mut st = self.state.borrow_mut();
        let Some(h) = st.handle.take() else {
            return;
        };
        let owner = st.owner;
        drop(st);
        self.queue(move |core| {
            let _ = core.remove_handle(owner, h);
        });
    }
}
