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

/// Reply to whoever sent the event without matching on [`Sender`]:
/// `ctx.post(ctx.sender(), "reply", answer)`, as POE's
/// `$kernel->post($_[SENDER], ...)`.
///
/// The kernel is no session, so a sender that is the kernel becomes
/// `Dest::Number(0)`, a number no session has: posting to it fails with
/// [`Error::NoSuchSession`](crate::Error::NoSuchSession), as it does in
/// POE (the kernel has no handler for your event).
///
/// ```
/// use rpoe::{Kernel, Session};
///
/// let mut kernel = Kernel::new().unwrap();
/// let server = kernel.spawn(
///     Session::new(()).on("ask", |ctx| {
///         let n = ctx.take_arg::<u32>().unwrap();
///         ctx.post(ctx.sender(), "answer", n * 2).unwrap();
///     }),
///     (),
/// );
/// kernel.spawn(
///     Session::new(0u32)
///         .on("_start", move |ctx| ctx.post(server, "ask", 21u32).unwrap())
///         .on("answer", |ctx| *ctx.heap() = ctx.take_arg::<u32>().unwrap())
///         .on("_stop", |ctx| assert_eq!(*ctx.heap(), 42)),
///     (),
/// );
/// // From outside any handler the sender is the kernel: nobody to reply to.
/// assert!(kernel.post(rpoe::Sender::Kernel, "ask", 1u32).is_err());
/// kernel.run().unwrap();
/// ```
impl From<Sender> for Dest<'_> {
    fn from(sender: Sender) -> Self {
        match sender {
            Sender::Session(id) => Dest::Id(id),
            Sender::Kernel => Dest::Number(0),
        }
    }
}

/// A session by its public number, without spelling out
/// [`Dest::Number`] (POE accepts a session's numeric id wherever it takes
/// a session).
///
/// ```
/// use rpoe::{Kernel, Session};
///
/// let mut kernel = Kernel::new().unwrap();
/// let id = kernel.spawn(Session::new(false).on("ping", |ctx| *ctx.heap() = true)
///     .on("_stop", |ctx| assert!(*ctx.heap())), ());
/// let number: u64 = id.number();
/// kernel.post(number, "ping", ()).unwrap();
/// kernel.run().unwrap();
/// ```
impl From<u64> for Dest<'_> {
    fn from(number: u64) -> Self {
        Dest::Number(number)
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
