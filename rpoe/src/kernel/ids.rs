//! Identifiers handed out by the kernel.
//!
//! Every identifier carries both the public number a POE user would see
//! (never reused within a kernel's life) and the slot it lives in, so a
//! lookup is an index plus one comparison instead of a hash.

use std::fmt;

/// Identifies a session. Numbers start at 1 and are never reused, as in POE.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SessionId {
    pub(crate) num: u64,
    pub(crate) key: u32,
}

impl SessionId {
    /// The session's public number (POE's `$session->ID`).
    pub fn number(self) -> u64 {
        self.num
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.num)
    }
}

/// Identifies an I/O handle owned by the kernel.
///
/// [`HandleId::index`] is small and dense (slots are reused once a handle
/// is closed), so per-connection state can live in a `Vec` indexed by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct HandleId {
    pub(crate) num: u64,
    pub(crate) key: u32,
}

impl HandleId {
    /// A small dense index, unique among the handles open right now.
    pub fn index(self) -> usize {
        self.key as usize
    }
    /// A number unique over the kernel's whole life.
    pub fn number(self) -> u64 {
        self.num
    }
}

impl fmt::Display for HandleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.num)
    }
}

/// Identifies a pending timer (POE's alarm id). Ids are never reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TimerId {
    pub(crate) num: u64,
    pub(crate) key: u32,
}

impl TimerId {
    /// The timer's public number.
    pub fn number(self) -> u64 {
        self.num
    }
}

impl fmt::Display for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.num)
    }
}

/// Who sent an event: POE's `SENDER`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Sender {
    /// The kernel itself: events posted from outside any handler, `_child`,
    /// `_parent`, and the `_start` of a session spawned outside any handler.
    Kernel,
    /// A session (for timers and I/O events, the receiving session itself).
    Session(SessionId),
}

impl Sender {
    /// The sending session, if a session sent it.
    pub fn session(self) -> Option<SessionId> {
        match self {
            Sender::Kernel => None,
            Sender::Session(id) => Some(id),
        }
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sender::Kernel => f.write_str("kernel"),
            Sender::Session(id) => write!(f, "{id}"),
        }
    }
}

/// Where to send an event: a session id, or an alias resolved at send time.
#[derive(Clone, Debug)]
pub enum Dest<'a> {
    /// A session by id.
    Id(SessionId),
    /// A session by alias.
    Alias(&'a str),
    /// A session by its public number (POE accepts numeric ids as strings).
    Number(u64),
}

impl From<SessionId> for Dest<'_> {
    fn from(id: SessionId) -> Self {
        Dest::Id(id)
    }
}

impl<'a> From<&'a str> for Dest<'a> {
    fn from(alias: &'a str) -> Self {
        Dest::Alias(alias)
    }
}

impl<'a> From<&'a String> for Dest<'a> {
    fn from(alias: &'a String) -> Self {
        Dest::Alias(alias)
    }
}

impl fmt::Display for Dest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dest::Id(id) => write!(f, "session {id}"),
            Dest::Alias(a) => write!(f, "alias {a:?}"),
            Dest::Number(n) => write!(f, "session {n}"),
        }
    }
}
