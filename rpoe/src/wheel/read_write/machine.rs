//! The running wheel's state machine: reading and framing input, the
//! output buffer and its watermarks, and the events owed to the session.
//! It is an [`EventSource`]: everything it does to the kernel goes through
//! the public [`SourceCtx`].

use super::*;

#[derive(Clone, Copy)]
pub(super) struct EventIds {
    pub(super) input: Option<EventId>,
    pub(super) error: Option<EventId>,
    pub(super) flushed: Option<EventId>,
    pub(super) high: Option<EventId>,
    pub(super) low: Option<EventId>,
}

pub(super) struct State<S, R> {
    pub(super) id: WheelId,
    pub(super) input: BoxFilter<R>,
    pub(super) output: BoxFilter<R>,
    pub(super) out: crate::wheel::out_buf::OutBuf,
    pub(super) inbuf: crate::wheel::in_buf::InBuf,
    pub(super) ev: EventIds,
    /// One input event per read, with all its records.
    pub(super) batch_input: bool,
    pub(super) high: Option<usize>,
    pub(super) low: Option<usize>,
    pub(super) is_high: bool,
    pub(super) write_on: bool,
    pub(super) flush_queued: bool,
    /// The wheel's events are being handed to its session: puts made
    /// meanwhile are written once, after the batch (in `delivered`).
    pub(super) batching: bool,
    pub(super) flush_after_batch: bool,
    pub(super) read_paused: bool,
    pub(super) shutdown_output: bool,
    /// See [`ReadWriteBuilder::max_input`].
    pub(super) max_input: Option<usize>,
    /// Records completed by a filter switch, delivered with the next read.
    pub(super) carry: Vec<R>,
    pub(super) _s: PhantomData<fn() -> S>,
}

impl<S, R> State<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    pub(super) fn pending(&self) -> usize {
        self.out.pending()
    }

    /// Hand an event to the session; puts made by its handler wait for
    /// the end of the batch.
    fn emit(&mut self, cx: &mut SourceCtx<'_, S>, event: Option<EventId>, args: impl Any) {
        if let Some(event) = event {
            self.batching = true;
            cx.emit(event, args);
        }
    }

    /// Write what the buffer holds, and send the events that follow from
    /// it (error, watermarks, flushed).
    pub(super) fn write_out(&mut self, cx: &mut SourceCtx<'_, S>) {
        self.flush_queued = false;
        let Some(sock) = cx.try_io() else {
            return;
        };
        if let Err(e) = self.out.write_to(sock) {
            let err = WheelError::io("write", &e, self.id);
            self.emit(cx, self.ev.error, err);
            self.out.clear();
        }
        let left = self.pending();
        if self.is_high && self.low.is_some_and(|low| left <= low) {
            self.is_high = false;
            self.emit(cx, self.ev.low, self.id);
        } else if !self.is_high && self.high.is_some_and(|high| left >= high) {
            self.is_high = true;
            self.emit(cx, self.ev.high, self.id);
        }
        if left == 0 {
            self.emit(cx, self.ev.flushed, self.id);
            if self.shutdown_output {
                if let Some(sock) = cx.try_io() {
                    let _ = sock.flush();
                }
                shutdown_write(cx);
            }
        }
        let want_write = left > 0;
        if want_write != self.write_on {
            self.write_on = want_write;
            let _ = cx.set_interest(IoMode::Write, want_write);
        }
    }

    fn read_in(&mut self, cx: &mut SourceCtx<'_, S>) -> PostAction {
        let peer_closed = cx.peer_closed();
        let Some(sock) = cx.try_io() else {
            return PostAction::Continue;
        };
        let mut records = std::mem::take(&mut self.carry);
        let (input, max_input, id) = (&mut self.input, self.max_input, self.id);
        let outcome = self.inbuf.read_from(sock, peer_closed, |chunk| {
            if let Err(e) = input.get(chunk, &mut records) {
                return Err(WheelError {
                    op: "get",
                    errno: 22,
                    message: e.to_string(),
                    wheel: id,
                });
            }
            let held = input.pending().len();
            if let Some(max) = max_input.filter(|&m| held > m) {
                let _ = input.take_pending();
                let e = crate::filter::FilterError::TooLong { len: held, max };
                return Err(WheelError {
                    op: "get",
                    errno: 22,
                    message: e.to_string(),
                    wheel: id,
                });
            }
            Ok(())
        });
        if self.batch_input {
            if !records.is_empty() {
                self.emit(cx, self.ev.input, (records, id));
            }
        } else {
            for r in records {
                self.emit(cx, self.ev.input, (r, id));
            }
        }
        let err = match outcome {
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
        // Reading is over: stop watching for input.
        let _ = cx.set_interest(IoMode::Read, false);
        self.emit(cx, self.ev.error, err);
        PostAction::Continue
    }

    /// Whether writing now could send the session an event about it: a
    /// flushed event is set, or a watermark event could fire (the buffer
    /// has reached the high mark, or was high and may drain to the low
    /// one). Then the wheel writes where POE's does, so those events land
    /// where POE's land. Otherwise the session cannot tell when the write
    /// happens, and it happens at once.
    fn reports_writes(&self) -> bool {
        self.ev.flushed.is_some()
            || (self.is_high && self.low.is_some() && self.ev.low.is_some())
            || (self.ev.high.is_some() && self.high.is_some_and(|h| self.pending() >= h))
    }

    /// A put asked for a write (after the handler that put, or after the
    /// batch whose handlers put). A wheel whose write reports nothing
    /// (see [`Self::reports_writes`]) writes at once: nothing the session
    /// sees is ordered against it, and the data leaves a round earlier.
    /// One that would report waits for the next writable readiness, as
    /// POE's `put` only resumes the write watcher: its flushed (and
    /// watermark) events then come in that round's I/O phase — after the
    /// events queued before the write, before those queued after it — and
    /// the peer sees the data when a POE peer would. Either way all the
    /// round's puts go out in one write.
    pub(super) fn flush_now(&mut self, cx: &mut SourceCtx<'_, S>) {
        if !self.reports_writes() {
            self.write_out(cx);
            return;
        }
        // Owed until the write: `is_flushing` stays true meanwhile.
        self.flush_queued = true;
        if !self.write_on {
            self.write_on = true;
            let _ = cx.set_interest(IoMode::Write, true);
        }
    }
}

/// Shut down the write side of the stream (for sockets:
/// `shutdown(Write)`; other streams have none).
pub(super) fn shutdown_write<S: IoSource>(cx: &mut SourceCtx<'_, S>) {
    let Some(sock) = cx.try_io() else {
        return;
    };
    crate::os::shutdown_write(sock.as_any_mut());
}

impl<S, R> EventSource for State<S, R>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    type Io = S;

    fn ready(&mut self, cx: &mut SourceCtx<'_, S>, mode: IoMode) -> PostAction {
        match mode {
            IoMode::Read => self.read_in(cx),
            IoMode::Write => {
                self.write_out(cx);
                PostAction::Drained
            }
            // Never asked for: the wheel watches no urgent data.
            _ => PostAction::Disable,
        }
    }

    fn delivered(&mut self, cx: &mut SourceCtx<'_, S>) -> PostAction {
        self.batching = false;
        if std::mem::take(&mut self.flush_after_batch) {
            // One write for everything the batch's handlers put.
            self.flush_now(cx);
        }
        PostAction::Continue
    }
}

impl<S, R> Control<R> for SourceHandle<State<S, R>>
where
    S: IoSource + Read + Write,
    R: 'static,
{
    fn put(&self, record: &R) -> Result<bool, crate::filter::FilterError> {
        if !self.is_open() {
            return Ok(false);
        }
        let (high, queue_flush) = self
            .with(|st| {
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
                Ok::<_, crate::filter::FilterError>((high, queue_flush))
            })
            .unwrap_or(Ok((false, false)))?;
        if queue_flush {
            // Right after the handler that put, unless another handler is
            // still on the stack: then its events are queued.
            self.defer(|st, cx| {
                st.flush_now(cx);
                PostAction::Continue
            });
        }
        Ok(high)
    }

    fn pause_input(&self, paused: bool) {
        let changed = self
            .with(|st| std::mem::replace(&mut st.read_paused, paused) != paused)
            .unwrap_or(false);
        if changed && self.is_open() {
            self.defer(move |_, cx| {
                let _ = cx.pause(IoMode::Read, paused);
                PostAction::Continue
            });
        }
    }

    fn shutdown_output(&self) {
        let empty = self
            .with(|st| {
                st.shutdown_output = true;
                st.pending() == 0
            })
            .unwrap_or(false);
        if empty && self.is_open() {
            self.defer(|_, cx| {
                shutdown_write(cx);
                PostAction::Continue
            });
        }
    }

    fn set_marks(&self, high: Option<usize>, low: Option<usize>) {
        self.with(|st| {
            st.high = high;
            st.low = low;
        });
    }

    fn pending(&self) -> usize {
        self.with(|st| st.pending()).unwrap_or(0)
    }

    fn set_event(&self, which: ReadWriteEvent, event: Option<EventId>) {
        self.with(|st| {
            let slot = match which {
                ReadWriteEvent::Input => &mut st.ev.input,
                ReadWriteEvent::Error => &mut st.ev.error,
                ReadWriteEvent::Flushed => &mut st.ev.flushed,
                ReadWriteEvent::High => &mut st.ev.high,
                ReadWriteEvent::Low => &mut st.ev.low,
            };
            *slot = event;
        });
    }

    fn flush_owed(&self) -> bool {
        self.with(|st| st.flush_queued || st.flush_after_batch)
            .unwrap_or(false)
    }

    fn set_input_filter(&self, mut f: BoxFilter<R>) {
        let carried = self
            .with(|st| {
                // Hand the bytes the old filter held to the new one;
                // records that completes are delivered before those of the
                // next read.
                let left = st.input.take_pending();
                let _ = f.get(&left, &mut st.carry);
                st.input = f;
                !st.carry.is_empty()
            })
            .unwrap_or(false);
        if carried {
            // Deliver them now rather than with a read that may never come.
            self.defer(|st, cx| {
                let id = st.id;
                let carry = std::mem::take(&mut st.carry);
                if let Some(ev) = st.ev.input {
                    // Another switch's delivery (or a read) may have taken
                    // the records already: a batch is never empty.
                    if st.batch_input {
                        if !carry.is_empty() {
                            cx.post(ev, (carry, id));
                        }
                    } else {
                        for r in carry {
                            cx.post(ev, (r, id));
                        }
                    }
                }
                PostAction::Continue
            });
        }
    }

    fn set_output_filter(&self, f: BoxFilter<R>) {
        self.with(|st| st.output = f);
    }
}
