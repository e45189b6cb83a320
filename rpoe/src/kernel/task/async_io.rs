//! [`AsyncIo`]: a non-blocking I/O object read and written from futures,
//! driven by the kernel's readiness through an event source of its own.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::marker::PhantomData;
use std::task::{Context, Poll, Waker};

use super::super::ctx::Ctx;
use super::super::error::Error;
use super::super::handles::IoSource;
use super::super::ids::SessionId;
use super::super::payload::IoMode;
use super::super::source::{EventSource, PostAction, SourceCtx, SourceHandle};

/// # Futures: I/O
impl<H: 'static> Ctx<'_, H> {
    /// Register a non-blocking I/O object (a `mio` socket, say) with the
    /// kernel for use from futures: the returned [`AsyncIo`] reads and
    /// writes it with `async` methods, driven by the kernel's readiness —
    /// no other runtime needed. It holds the session alive while open, as
    /// a wheel does; dropping it closes the object.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the OS refuses the registration.
    pub fn add_async<Io>(&mut self, io: Io) -> Result<AsyncIo<Io>, Error>
    where
        Io: IoSource + Read + Write,
    {
        let source = AsyncState {
            input: VecDeque::new(),
            eof: false,
            read_paused: false,
            error: None,
            output: VecDeque::new(),
            read_waker: None,
            write_waker: None,
            _io: PhantomData,
        };
        Ok(AsyncIo {
            handle: self.add_source(io, source)?,
        })
    }
}

/// Bytes an [`AsyncIo`] buffers each way. Reading pauses while the input
/// buffer is full (the peer is then held back by TCP's window), writes
/// wait while the output buffer is.
pub const ASYNC_IO_BUFFER: usize = 64 * 1024;

/// The kernel-side half of an [`AsyncIo`]: an event source that moves
/// bytes between the I/O object and two bounded buffers, and wakes the
/// futures waiting on them.
struct AsyncState<Io> {
    input: VecDeque<u8>,
    eof: bool,
    read_paused: bool,
    error: Option<io::Error>,
    output: VecDeque<u8>,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
    _io: PhantomData<fn() -> Io>,
}

impl<Io> AsyncState<Io> {
    fn wake_all(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

impl<Io: IoSource + Read + Write> EventSource for AsyncState<Io> {
    type Io = Io;

    fn ready(&mut self, cx: &mut SourceCtx<'_, Io>, mode: IoMode) -> PostAction {
        match mode {
            IoMode::Read => self.fill(cx),
            IoMode::Write => self.flush(cx),
            // Never asked for: async sockets watch no urgent data.
            IoMode::Expedite => PostAction::Disable,
        }
    }
}

impl<Io: IoSource + Read + Write> AsyncState<Io> {
    fn fill(&mut self, cx: &mut SourceCtx<'_, Io>) -> PostAction {
        let mut buf = [0u8; 16 * 1024];
        let action = loop {
            let room = ASYNC_IO_BUFFER.saturating_sub(self.input.len());
            if room == 0 {
                self.read_paused = true;
                break PostAction::Disable;
            }
            let want = room.min(buf.len());
            match cx.io().read(&mut buf[..want]) {
                Ok(0) => {
                    self.eof = true;
                    break PostAction::Disable;
                }
                Ok(n) => self.input.extend(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break PostAction::Drained,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    break PostAction::Disable;
                }
            }
        };
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        action
    }

    fn flush(&mut self, cx: &mut SourceCtx<'_, Io>) -> PostAction {
        while !self.output.is_empty() {
            let (front, _) = self.output.as_slices();
            match cx.io().write(front) {
                Ok(0) => {
                    self.error = Some(ErrorKind::WriteZero.into());
                    self.wake_all();
                    return PostAction::Disable;
                }
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if let Some(w) = self.write_waker.take() {
                        w.wake();
                    }
                    return PostAction::Drained;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    self.wake_all();
                    return PostAction::Disable;
                }
            }
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
        PostAction::Disable
    }
}

fn copy_error(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// A non-blocking I/O object registered with the kernel, read and written
/// from futures: from [`Ctx::add_async`]. The kernel reads ahead into a
/// bounded buffer when the object is readable and writes a bounded output
/// buffer out when it is writable, waking the futures waiting on either.
/// Dropping it closes the object.
pub struct AsyncIo<Io: IoSource + Read + Write> {
    handle: SourceHandle<AsyncState<Io>>,
}

impl<Io: IoSource + Read + Write> AsyncIo<Io> {
    /// Read some bytes into `buf`: waits until at least one byte is
    /// buffered, end of file (`Ok(0)`) or an error.
    ///
    /// # Errors
    ///
    /// The I/O error the read failed with (the handle is then at its end).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Read until end of file, appending to `out`; fails with
    /// [`ErrorKind::InvalidData`] once more than `limit` bytes arrived, so
    /// a peer cannot grow memory without bound.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidData`] once more than `limit` bytes arrived; the
    /// I/O error a read failed with.
    pub async fn read_to_end(&self, out: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
        let start = out.len();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = self.read(&mut buf).await?;
            if n == 0 {
                return Ok(out.len() - start);
            }
            if out.len() - start + n > limit {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    format!("more than {limit} bytes"),
                ));
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Write all of `data` and wait until the kernel handed it to the OS.
    ///
    /// # Errors
    ///
    /// The I/O error a write failed with ([`ErrorKind::WriteZero`] if the
    /// object was closed).
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = std::future::poll_fn(|cx| self.poll_write(cx, data)).await?;
            data = &data[n..];
        }
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Poll form of [`AsyncIo::read`].
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let polled = self.handle.with(|s| {
            if !s.input.is_empty() {
                let n = buf.len().min(s.input.len());
                for (dst, src) in buf.iter_mut().zip(s.input.drain(..n)) {
                    *dst = src;
                }
                return (Poll::Ready(Ok(n)), std::mem::take(&mut s.read_paused));
            }
            if let Some(e) = &s.error {
                return (Poll::Ready(Err(copy_error(e))), false);
            }
            if s.eof || buf.is_empty() {
                return (Poll::Ready(Ok(0)), false);
            }
            s.read_waker = Some(cx.waker().clone());
            (Poll::Pending, false)
        });
        let Some((poll, resume)) = polled else {
            return Poll::Ready(Err(ErrorKind::WouldBlock.into()));
        };
        if resume {
            self.handle.defer(|_, cx| {
                let _ = cx.set_interest(IoMode::Read, true);
                PostAction::Continue
            });
        }
        poll
    }

    /// Buffer some of `data` for writing: waits while the output buffer
    /// is full.
    pub fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if !self.handle.is_open() {
            return Poll::Ready(Err(ErrorKind::NotConnected.into()));
        }
        let polled = self.handle.with(|s| {
            if let Some(e) = &s.error {
                return (Poll::Ready(Err(copy_error(e))), false);
            }
            let room = ASYNC_IO_BUFFER.saturating_sub(s.output.len());
            if room == 0 {
                s.write_waker = Some(cx.waker().clone());
                return (Poll::Pending, false);
            }
            let n = room.min(data.len());
            let start = s.output.is_empty();
            s.output.extend(&data[..n]);
            (Poll::Ready(Ok(n)), start && n > 0)
        });
        let Some((poll, start)) = polled else {
            return Poll::Ready(Err(ErrorKind::WouldBlock.into()));
        };
        if start {
            self.handle.defer(|_, cx| {
                let _ = cx.set_interest(IoMode::Write, true);
                PostAction::Continue
            });
        }
        poll
    }

    /// Wait until everything buffered was handed to the OS.
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.handle
            .with(|s| {
                if let Some(e) = &s.error {
                    return Poll::Ready(Err(copy_error(e)));
                }
                if s.output.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                s.write_waker = Some(cx.waker().clone());
                Poll::Pending
            })
            .unwrap_or(Poll::Ready(Err(ErrorKind::WouldBlock.into())))
    }

    /// The session it belongs to.
    pub fn session(&self) -> SessionId {
        self.handle.session()
    }
}

impl<Io: IoSource + Read + Write> fmt::Debug for AsyncIo<Io> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIo")
            .field("handle", &self.handle.handle())
            .finish()
    }
}
