//! The running wheel's state machine: the child's three pipes, their
//! filters, the stdin buffer, and the events owed to the session.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct EventIds {
    pub(super) stdout: Option<EventId>,
    pub(super) stderr: Option<EventId>,
    pub(super) stdin: Option<EventId>,
    pub(super) close: Option<EventId>,
    pub(super) error: Option<EventId>,
}

pub(super) struct State<R> {
    /// `None` once closed.
    pub(super) stdin: Option<HandleId>,
    pub(super) stdout: Option<HandleId>,
    pub(super) stderr: Option<HandleId>,
    pub(super) stdin_filter: BoxFilter<R>,
    pub(super) stdout_filter: BoxFilter<R>,
    pub(super) stderr_filter: BoxFilter<R>,
    pub(super) ev: EventIds,
    pub(super) out: crate::wheel::out_buf::OutBuf,
    /// The write watcher is set (or being set).
    pub(super) write_on: bool,
    pub(super) shutdown_stdin: bool,
    /// Output streams not yet at end of file.
    pub(super) open_outputs: u8,
    /// The wheel was dropped: no more events.
    pub(super) closed: bool,
    pub(super) kill_on_drop: bool,
    /// After the drop's `SIGTERM`, how long before `SIGKILL`.
    pub(super) kill_grace: Duration,
    pub(super) paused_out: bool,
    pub(super) paused_err: bool,
    pub(super) rbuf: Vec<u8>,
}

impl<R> State<R> {
    pub(super) fn pending(&self) -> usize {
        self.out.pending()
    }
}

pub(super) struct Inner<R> {
    pub(super) me: Weak<Inner<R>>,
    pub(super) local: Rc<crate::kernel::LocalQueue>,
    pub(super) id: WheelId,
    pub(super) pid: u32,
    pub(super) pidfd: Option<Arc<OwnedFd>>,
    pub(super) owner: SessionKey,
    pub(super) owner_id: SessionId,
    pub(super) state: RefCell<State<R>>,
}

/// An event the wheel owes its session, sent once the state is released.
pub(super) enum Emit<R> {
    Stdout(R),
    Stderr(R),
    Stdin,
    Close,
    Error(RunError),
}

impl<R: 'static> Inner<R> {
    pub(super) fn queue(&self, task: impl FnOnce(&mut Core) + 'static) {
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(task)));
    }

    pub(super) fn error(&self, op: &'static str, e: &io::Error, stream: RunStream) -> RunError {
        RunError {
            error: WheelError::io(op, e, self.id),
            stream,
        }
    }

    /// Encode into the stdin buffer and, if it was empty, set the write
    /// watcher. The writing itself happens in the kernel's write phase (as
    /// in POE), so the stdin event is delivered there, directly — before
    /// any output the child makes in answer, which can only be read in a
    /// later round.
    pub(super) fn put(&self, record: &R) -> Result<(), FilterError> {
        let arm = {
            let mut guard = self.state.borrow_mut();
            let st = &mut *guard;
            if st.stdin.is_none() || st.shutdown_stdin || st.closed {
                return Ok(());
            }
            st.stdin_filter.put(record, st.out.tail())?;
            let arm = !st.write_on && st.pending() > 0;
            st.write_on |= arm;
            arm
        };
        if arm {
            let me = self.me.clone();
            self.queue(move |core| {
                let Some(me) = me.upgrade() else {
                    return;
                };
                let h = me.state.borrow().stdin;
                if let Some(h) = h {
                    let _ = core.set_target(me.owner, h, IoMode::Write, me.target());
                }
            });
        }
        Ok(())
    }

    pub(super) fn shutdown_stdin(&self) {
        let mut st = self.state.borrow_mut();
        if st.shutdown_stdin {
            return;
        }
        st.shutdown_stdin = true;
        let (empty, h) = (st.pending() == 0 && !st.write_on, st.stdin);
        drop(st);
        if let (true, Some(h)) = (empty, h) {
            let me = self.me.clone();
            self.queue(move |core| {
                if let Some(me) = me.upgrade() {
                    me.close_stdin(core, h);
                }
            });
        }
    }

    /// Remove the stdin handle (closing the pipe) if it is still `h`.
    pub(super) fn close_stdin(&self, core: &mut Core, h: HandleId) {
        let mut st = self.state.borrow_mut();
        if st.stdin != Some(h) {
            return;
        }
        st.stdin = None;
        st.write_on = false;
        st.out.clear();
        drop(st);
        let _ = core.remove_handle(self.owner, h);
    }

    pub(super) fn pause(&self, stream: RunStream, paused: bool) {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        let (flag, h) = match stream {
            RunStream::Stdout => (&mut st.paused_out, st.stdout),
            RunStream::Stderr => (&mut st.paused_err, st.stderr),
            RunStream::Stdin => return,
        };
        if *flag == paused {
            return;
        }
        *flag = paused;
        let owner = self.owner;
        drop(guard);
        if let Some(h) = h {
            self.queue(move |core| {
                let _ = core.pause_watcher(owner, h, IoMode::Read, paused);
            });
        }
    }

    /// Write what the stdin buffer holds; returns events owed. Never calls
    /// user code.
    pub(super) fn write_out(&self, core: &mut Core) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut st = self.state.borrow_mut();
        let Some(h) = st.stdin else {
            return emit;
        };
        let Some(pipe) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<pipe::Sender>())
        else {
            return emit;
        };
        if let Err(e) = st.out.write_to(pipe) {
            // When you can't write, nothing else matters: stdin is closed.
            emit.push(Emit::Error(self.error("write", &e, RunStream::Stdin)));
            drop(st);
            self.close_stdin(core, h);
            return emit;
        }
        let left = st.pending();
        if left == 0 {
            emit.push(Emit::Stdin);
            if st.shutdown_stdin {
                drop(st);
                self.close_stdin(core, h);
                return emit;
            }
        }
        let want_write = left > 0;
        let was = std::mem::replace(&mut st.write_on, want_write);
        drop(st);
        if want_write != was {
            let target = if want_write { self.target() } else { None };
            let _ = core.set_target(self.owner, h, IoMode::Write, target);
        }
        emit
    }

    pub(super) fn target(&self) -> Option<Target> {
        let me: Rc<dyn WheelIo> = self.me.upgrade()?;
        Some(Target::Wheel(me))
    }

    /// Read one of the output pipes until it would block (bounded); at end
    /// of file close it, and after the last one owe the close event.
    pub(super) fn read_out(&self, core: &mut Core, h: HandleId, stream: RunStream) -> Vec<Emit<R>> {
        let mut emit = Vec::new();
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        if st.rbuf.len() < READ_CHUNK {
            st.rbuf.resize(READ_CHUNK, 0);
        }
        let Some(pipe) = core
            .handles
            .get_mut(h)
            .and_then(|e| (*e.io).as_any_mut().downcast_mut::<pipe::Receiver>())
        else {
            return emit;
        };
        let filter = match stream {
            RunStream::Stderr => &mut st.stderr_filter,
            _ => &mut st.stdout_filter,
        };
        let mut records = Vec::new();
        let mut drained = false;
        let mut end: Option<RunError> = None;
        for _ in 0..READS_PER_EVENT {
            match pipe.read(&mut st.rbuf) {
                Ok(0) => {
                    end = Some(RunError {
                        error: WheelError {
                            op: "read",
                            errno: 0,
                            message: String::new(),
                            wheel: self.id,
                        },
                        stream,
                    });
                    break;
                }
                Ok(n) => {
                    if let Err(e) = filter.get(&st.rbuf[..n], &mut records) {
                        end = Some(RunError {
                            error: WheelError {
                                op: "get",
                                errno: 22,
                                message: e.to_string(),
                                wheel: self.id,
                            },
                            stream,
                        });
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    drained = true;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    end = Some(self.error("read", &e, stream));
                    break;
                }
            }
        }
        if st.rbuf.len() > READ_CHUNK {
            st.rbuf.truncate(READ_CHUNK);
        }
        emit.extend(records.into_iter().map(|r| match stream {
            RunStream::Stderr => Emit::Stderr(r),
            _ => Emit::Stdout(r),
        }));
        if let Some(err) = end {
            // This stream is over: close our end of the pipe.
            match stream {
                RunStream::Stderr => st.stderr = None,
                _ => st.stdout = None,
            }
            st.open_outputs = st.open_outputs.saturating_sub(1);
            let last = st.open_outputs == 0;
            drop(guard);
            let _ = core.remove_handle(self.owner, h);
            emit.push(Emit::Error(err));
            if last {
                emit.push(Emit::Close);
            }
        } else if drained {
            core.handles.drained(h, IoMode::Read);
        }
        emit
    }

    /// Send owed events to the session, directly: this runs at kernel
    /// level, where POE calls them. Stops as soon as the wheel is dropped.
    pub(super) fn send(&self, core: &mut Core, emits: Vec<Emit<R>>) {
        for e in emits {
            let (event, payload) = {
                let st = self.state.borrow();
                if st.closed {
                    return;
                }
                match e {
                    Emit::Stdout(r) => (st.ev.stdout, KPayload::new((r, self.id))),
                    Emit::Stderr(r) => (st.ev.stderr, KPayload::new((r, self.id))),
                    Emit::Stdin => (st.ev.stdin, KPayload::new(self.id)),
                    Emit::Close => (st.ev.close, KPayload::new(self.id)),
                    Emit::Error(err) => (st.ev.error, KPayload::new(err)),
                }
            };
            let Some(event) = event else {
                continue;
            };
            core.wheel_event(self.owner, self.owner_id, event, payload);
        }
    }

    pub(super) fn close(&self) {
        let mut st = self.state.borrow_mut();
        if st.closed {
            return;
        }
        st.closed = true;
        let handles = [st.stdin.take(), st.stdout.take(), st.stderr.take()];
        let kill = st.kill_on_drop && st.open_outputs > 0;
        let grace = st.kill_grace;
        drop(st);
        if kill {
            // At once: the kernel work below may run late (or, if the
            // kernel is dropped, never).
            if send_signal(self.pid, self.pidfd.as_deref(), OsSignal::TERM).is_ok() {
                escalate(self.pid, self.pidfd.clone(), grace);
            }
        }
        let reaper = Reaper {
            pid: self.pid,
            pidfd: self.pidfd.clone(),
            armed: true,
        };
        let owner = self.owner;
        self.queue(move |core| {
            for h in handles.into_iter().flatten() {
                let _ = core.remove_handle(owner, h);
            }
            reaper.settle(core, owner);
        });
    }
}

impl<R: 'static> WheelIo for Inner<R> {
    fn ready(&self, core: &mut Core, handle: HandleId, mode: IoMode) {
        let _keep = self.me.upgrade();
        let stream = {
            let st = self.state.borrow();
            if st.closed {
                return;
            }
            if st.stdout == Some(handle) {
                RunStream::Stdout
            } else if st.stderr == Some(handle) {
                RunStream::Stderr
            } else if st.stdin == Some(handle) {
                RunStream::Stdin
            } else {
                return;
            }
        };
        let emits = match (mode, stream) {
            (IoMode::Read, RunStream::Stdout | RunStream::Stderr) => {
                self.read_out(core, handle, stream)
            }
            (IoMode::Write, RunStream::Stdin) => {
                let e = self.write_out(core);
                core.handles.drained(handle, IoMode::Write);
                e
            }
            _ => return,
        };
        self.send(core, emits);
    }
}
