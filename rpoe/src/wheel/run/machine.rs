//! The running wheel's event sources: one per pipe, each an
//! [`EventSource`] that reaches the kernel only through the public
//! [`SourceCtx`]. The output pipes share the count of streams still open
//! (the close event follows the last one) and the event names.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct EventIds {
    pub(super) stdout: Option<EventId>,
    pub(super) stderr: Option<EventId>,
    pub(super) stdin: Option<EventId>,
    pub(super) close: Option<EventId>,
    pub(super) error: Option<EventId>,
}

/// What the wheel's sources and its user-facing half share.
pub(super) struct Common {
    pub(super) id: WheelId,
    /// The event names, renamed at run time by [`Run::set_event`].
    pub(super) ev: Cell<EventIds>,
    /// Output streams not yet at end of file.
    pub(super) open_outputs: Cell<u8>,
}

/// The child's stdout or stderr: read, split into records, one event each.
pub(super) struct OutSource<R> {
    pub(super) common: Rc<Common>,
    pub(super) stream: RunStream,
    pub(super) filter: BoxFilter<R>,
    pub(super) inbuf: InBuf,
}

impl<R: 'static> EventSource for OutSource<R> {
    type Io = pipe::Receiver;

    fn ready(&mut self, cx: &mut SourceCtx<'_, pipe::Receiver>, mode: IoMode) -> PostAction {
        if mode != IoMode::Read {
            return PostAction::Disable;
        }
        let peer_closed = cx.peer_closed();
        let Some(pipe) = cx.try_io() else {
            return PostAction::Continue;
        };
        let (id, stream) = (self.common.id, self.stream);
        let mut records = Vec::new();
        let filter = &mut self.filter;
        let outcome = self.inbuf.read_from(pipe, peer_closed, |chunk| {
            filter.get(chunk, &mut records).map_err(|e| WheelError {
                op: "get",
                errno: 22,
                message: e.to_string(),
                wheel: id,
            })
        });
        let ev = self.common.ev.get();
        let record_ev = match stream {
            RunStream::Stderr => ev.stderr,
            _ => ev.stdout,
        };
        if let Some(event) = record_ev {
            for r in records {
                cx.emit(event, (r, id));
            }
        }
        let error = match outcome {
            ReadOutcome::Drained => return PostAction::Drained,
            ReadOutcome::More => return PostAction::Continue,
            ReadOutcome::Eof => WheelError {
                op: "read",
                errno: 0,
                message: String::new(),
                wheel: id,
            },
            ReadOutcome::Failed(e) => WheelError::io("read", &e, id),
            ReadOutcome::Refused(e) => e,
        };
        // This stream is over: our end of the pipe is closed (Remove), the
        // error event (end of file included) is its last word, and after
        // the last output stream the close event.
        let left = self.common.open_outputs.get().saturating_sub(1);
        self.common.open_outputs.set(left);
        if let Some(event) = ev.error {
            cx.emit(event, RunError { error, stream });
        }
        if left == 0 {
            if let Some(event) = ev.close {
                cx.emit(event, id);
            }
        }
        PostAction::Remove
    }
}

/// The child's stdin: records put are encoded into a buffer that is
/// written as the pipe allows.
pub(super) struct InSource<R> {
    pub(super) common: Rc<Common>,
    pub(super) filter: BoxFilter<R>,
    pub(super) out: OutBuf,
    /// The write interest is on (or being turned on).
    pub(super) write_on: bool,
    /// Close the pipe once the buffer is written.
    pub(super) shutdown: bool,
    /// The pipe is closed or being closed: puts are discarded.
    pub(super) done: bool,
}

impl<R: 'static> InSource<R> {
    /// Write what the buffer holds; send the stdin event once it is empty.
    /// When the pipe fails ("when you can't write, nothing else matters")
    /// or is shut down and flushed, it is closed.
    fn write_out(&mut self, cx: &mut SourceCtx<'_, pipe::Sender>) -> PostAction {
        let Some(pipe) = cx.try_io() else {
            return PostAction::Continue;
        };
        let ev = self.common.ev.get();
        if let Err(e) = self.out.write_to(pipe) {
            self.close();
            if let Some(event) = ev.error {
                let error = WheelError::io("write", &e, self.common.id);
                let stream = RunStream::Stdin;
                cx.emit(event, RunError { error, stream });
            }
            return PostAction::Remove;
        }
        let left = self.out.pending();
        if left == 0 {
            if let Some(event) = ev.stdin {
                cx.emit(event, self.common.id);
            }
            if self.shutdown {
                self.close();
                return PostAction::Remove;
            }
        }
        let want_write = left > 0;
        if want_write != std::mem::replace(&mut self.write_on, want_write) {
            let _ = cx.set_interest(IoMode::Write, want_write);
        }
        PostAction::Drained
    }

    fn close(&mut self) {
        self.done = true;
        self.write_on = false;
        self.out.clear();
    }
}

impl<R: 'static> EventSource for InSource<R> {
    type Io = pipe::Sender;

    fn ready(&mut self, cx: &mut SourceCtx<'_, pipe::Sender>, mode: IoMode) -> PostAction {
        match mode {
            IoMode::Write => self.write_out(cx),
            _ => PostAction::Disable,
        }
    }
}

/// The stdin side of [`Run`]'s handle.
pub(super) type Stdin<R> = SourceHandle<InSource<R>>;

/// Encode `record` into the stdin buffer and, if the write interest was
/// off, turn it on after the running handler. The writing itself happens
/// in the kernel's write phase (as in POE), so the stdin event is
/// delivered there, directly — before any output the child makes in
/// answer, which can only be read in a later round.
pub(super) fn put<R: 'static>(stdin: &Stdin<R>, record: &R) -> Result<(), FilterError> {
    let arm = stdin
        .with(|st| {
            if st.done || st.shutdown {
                return Ok(false);
            }
            st.filter.put(record, st.out.tail())?;
            let arm = !st.write_on && st.out.pending() > 0;
            st.write_on |= arm;
            Ok(arm)
        })
        .unwrap_or(Ok(false))?;
    if arm {
        stdin.defer(|_, cx| {
            let _ = cx.set_interest(IoMode::Write, true);
            PostAction::Continue
        });
    }
    Ok(())
}

/// Close stdin once everything put so far is written (at once if nothing
/// is waiting).
pub(super) fn shutdown<R: 'static>(stdin: &Stdin<R>) {
    let close_now = stdin
        .with(|st| {
            if st.shutdown || st.done {
                return false;
            }
            st.shutdown = true;
            let idle = st.out.pending() == 0 && !st.write_on;
            if idle {
                st.close();
            }
            idle
        })
        .unwrap_or(false);
    if close_now {
        stdin.defer(|_, _| PostAction::Remove);
    }
}
