//! How a [`FollowTail`](super::FollowTail) reads its file: opening only
//! regular files without blocking, reading what was appended, and
//! recognising truncation (by size and by the last bytes read) and
//! rotation (by device and inode). The wheel's timer and events are in
//! the parent module; this one only turns a poll into what it owes the
//! session ([`Emit`]).

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kernel::TimerGuard;

use super::{BoxFilter, EventIds, Start};
use crate::wheel::{WheelError, WheelId};

/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// Bytes just before the offset that are remembered, to recognise a
/// truncation the size does not show (see the module documentation).
const FINGERPRINT: usize = 256;

/// `EINVAL`, the errno of the error event for a path that is not a
/// regular file.
const EINVAL: i32 = 22;

/// Reads per poll; past it the next poll comes at once instead of after
/// the interval, so one huge append cannot hold the session up.
const READS_PER_POLL: usize = 16;

pub(super) struct State<R> {
    pub(super) id: WheelId,
    pub(super) path: PathBuf,
    /// The file being followed, if open.
    pub(super) file: Option<File>,
    /// Device and inode of the file last opened.
    pub(super) ident: Option<(u64, u64)>,
    /// Offset read up to.
    pub(super) pos: u64,
    pub(super) filter: BoxFilter<R>,
    pub(super) ev: EventIds,
    pub(super) interval: Duration,
    /// The pending poll timer.
    pub(super) timer: Option<TimerGuard>,
    /// The wheel was dropped.
    pub(super) closed: bool,
    /// The last failure reported, to report each one once.
    pub(super) last_error: Option<(&'static str, i32)>,
    pub(super) buf: Vec<u8>,
    /// The last bytes read (at most [`FINGERPRINT`]), which end at `pos`.
    pub(super) seen: Vec<u8>,
}

/// What a poll owes the session, in order.
pub(super) enum Emit<R> {
    Input(R),
    Reset,
    Error(WheelError),
}

fn ident(meta: &Metadata) -> (u64, u64) {
    crate::os::file_identity(meta)
}

/// What is at the followed path.
enum Opened {
    /// A regular file, opened, and its metadata.
    File(File, Metadata),
    /// Nothing yet.
    Missing,
    /// Something else: what it is.
    NotRegular(&'static str),
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    crate::os::file_kind(t)
}

/// Open `path` if it is a regular file, without ever blocking: the type is
/// checked first (a `stat` never blocks), and the open is non-blocking in
/// case something else was put there in between (then the type is caught
/// by the `fstat` after it). For a regular file `O_NONBLOCK` changes
/// nothing.
fn open_regular(path: &Path) -> std::io::Result<Opened> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Ok(Opened::NotRegular(kind_of(m.file_type()))),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    }
    let file = match crate::os::open_read_nonblocking(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Opened::NotRegular(kind_of(meta.file_type())));
    }
    Ok(Opened::File(file, meta))
}

impl<R> State<R> {
    /// A tail of `path` that has read nothing yet, positioned where
    /// `start` says if the file exists now: where "the end" is is decided
    /// when the wheel starts, not at its first poll, so lines appended
    /// between the two are new. Other open failures (and a path that is
    /// not a regular file) are reported by the first poll.
    pub(super) fn new(
        id: WheelId,
        path: PathBuf,
        filter: BoxFilter<R>,
        ev: EventIds,
        interval: Duration,
        start: Start,
    ) -> std::io::Result<State<R>> {
        let mut state = State {
            id,
            path,
            file: None,
            ident: None,
            pos: 0,
            filter,
            ev,
            interval,
            timer: None,
            closed: false,
            last_error: None,
            buf: Vec::new(),
            seen: Vec::new(),
        };
        if let Ok(Opened::File(mut file, meta)) = open_regular(&state.path) {
            let len = meta.len();
            let pos = match start {
                Start::End => len,
                Start::Beginning => 0,
                Start::Back(n) => len.saturating_sub(n),
            };
            file.seek(SeekFrom::Start(pos))?;
            state.pos = pos;
            state.ident = Some(ident(&meta));
            state.file = Some(file);
            state.load_fingerprint();
        }
        Ok(state)
    }

    fn fail(&mut self, op: &'static str, e: &std::io::Error, emits: &mut Vec<Emit<R>>) {
        let key = (op, e.raw_os_error().unwrap_or(-1));
        if self.last_error != Some(key) {
            self.last_error = Some(key);
            emits.push(Emit::Error(WheelError::io(op, e, self.id)));
        }
    }

    /// Start over at the beginning of the current file.
    fn reset(&mut self, emits: &mut Vec<Emit<R>>) {
        let _ = self.filter.take_pending();
        self.pos = 0;
        self.seen.clear();
        emits.push(Emit::Reset);
    }

    /// Remember the bytes just before `pos` of the open file (when it was
    /// opened somewhere other than its start).
    fn load_fingerprint(&mut self) {
        self.seen.clear();
        let Some(file) = &self.file else {
            return;
        };
        let n = self.pos.min(FINGERPRINT as u64) as usize;
        let mut bytes = vec![0; n];
        if crate::os::read_exact_at(file, &mut bytes, self.pos - n as u64).is_ok() {
            self.seen = bytes;
        }
    }

    /// Keep the last [`FINGERPRINT`] bytes read.
    fn remember(&mut self, n: usize) {
        let chunk = &self.buf[..n];
        if chunk.len() >= FINGERPRINT {
            self.seen.clear();
            self.seen
                .extend_from_slice(&chunk[chunk.len() - FINGERPRINT..]);
        } else {
            self.seen.extend_from_slice(chunk);
            let excess = self.seen.len().saturating_sub(FINGERPRINT);
            self.seen.drain(..excess);
        }
    }

    /// Was the open file truncated since it was last read — shorter than
    /// `pos`, or no longer holding the bytes that were read just before
    /// `pos`? (See the module documentation for why the size alone is not
    /// enough.) `Err` if it cannot be told.
    fn truncated(&self) -> std::io::Result<bool> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        if file.metadata()?.len() < self.pos {
            return Ok(true);
        }
        if self.seen.is_empty() {
            return Ok(false);
        }
        let mut now = vec![0; self.seen.len()];
        match crate::os::read_exact_at(file, &mut now, self.pos - self.seen.len() as u64) {
            Ok(()) => Ok(now != self.seen),
            // Shrunk between the two calls.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Report that the path is not a regular file (once).
    fn refuse(&mut self, what: &'static str, emits: &mut Vec<Emit<R>>) {
        let key = ("open", EINVAL);
        if self.last_error != Some(key) {
            self.last_error = Some(key);
            emits.push(Emit::Error(WheelError {
                op: "open",
                errno: EINVAL,
                message: format!(
                    "{} is not a regular file ({what}); FollowTail follows regular files only",
                    self.path.display()
                ),
                wheel: self.id,
            }));
        }
    }

    /// One poll: open the file if needed, read what was appended, then
    /// look for truncation and rotation. Returns true if data may remain.
    pub(super) fn poll(&mut self, emits: &mut Vec<Emit<R>>) -> bool {
        if self.file.is_none() && !self.open(emits) {
            return false;
        }
        let mut budget = READS_PER_POLL;
        // Truncated since the last read? Checked before reading on: after
        // a truncation and a regrowth, what lies past `pos` is the middle
        // of new content.
        match self.truncated() {
            Ok(false) => {}
            Ok(true) => {
                if let Some(f) = self.file.as_mut() {
                    if let Err(e) = f.seek(SeekFrom::Start(0)) {
                        self.fail("read", &e, emits);
                        self.file = None;
                        return false;
                    }
                }
                self.reset(emits);
            }
            Err(e) => {
                self.fail("stat", &e, emits);
                return false;
            }
        }
        if self.read(emits, &mut budget) {
            return true;
        }
        if self.file.is_none() {
            return false;
        }

        // Rotated: the name leads to another file now. The old one has
        // been read to its end above.
        match std::fs::metadata(&self.path) {
            Ok(m) if Some(ident(&m)) != self.ident => {
                self.file = None;
                if self.open(emits) {
                    return self.read(emits, &mut budget);
                }
            }
            Ok(_) => {}
            // Gone for now (being rotated): keep following the old file.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => self.fail("stat", &e, emits),
        }
        false
    }

    /// Open the file by name. Returns true if it is open. A file other
    /// than the one last followed is read from its start, after a reset
    /// if one was followed before.
    fn open(&mut self, emits: &mut Vec<Emit<R>>) -> bool {
        let (mut file, meta) = match open_regular(&self.path) {
            Ok(Opened::File(f, m)) => (f, m),
            Ok(Opened::Missing) => return false,
            Ok(Opened::NotRegular(what)) => {
                self.refuse(what, emits);
                return false;
            }
            Err(e) => {
                self.fail("open", &e, emits);
                return false;
            }
        };
        let new = ident(&meta);
        match self.ident {
            // The same file again (after a read error): carry on.
            Some(old) if old == new => {
                if let Err(e) = file.seek(SeekFrom::Start(self.pos)) {
                    self.fail("read", &e, emits);
                    return false;
                }
            }
            Some(_) => self.reset(emits),
            // The file appeared: all of it is new.
            None => self.pos = 0,
        }
        self.ident = Some(new);
        self.file = Some(file);
        true
    }

    /// Read to the end of the file (within `budget` reads), feeding the
    /// filter. Returns true if the budget ran out first.
    fn read(&mut self, emits: &mut Vec<Emit<R>>, budget: &mut usize) -> bool {
        if self.buf.len() < READ_CHUNK {
            self.buf.resize(READ_CHUNK, 0);
        }
        let mut records = Vec::new();
        let mut more = false;
        loop {
            if *budget == 0 {
                more = true;
                break;
            }
            let Some(file) = self.file.as_mut() else {
                break;
            };
            *budget -= 1;
            match file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.pos += n as u64;
                    self.remember(n);
                    if let Err(e) = self.filter.get(&self.buf[..n], &mut records) {
                        // A record over the filter's limit: drop what it
                        // holds and carry on after it.
                        let _ = self.filter.take_pending();
                        let err = WheelError {
                            op: "get",
                            errno: 22,
                            message: e.to_string(),
                            wheel: self.id,
                        };
                        emits.extend(records.drain(..).map(Emit::Input));
                        emits.push(Emit::Error(err));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    emits.extend(records.drain(..).map(Emit::Input));
                    self.fail("read", &e, emits);
                    // Reopened (and checked) at the next poll.
                    self.file = None;
                    return false;
                }
            }
        }
        if !records.is_empty() {
            self.last_error = None;
        }
        emits.extend(records.into_iter().map(Emit::Input));
        more
    }
}
