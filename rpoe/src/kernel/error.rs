//! The kernel's error type.
//!
//! POE reports failures through `$!` (ESRCH, EPERM, ...) or return codes;
//! rpoe returns one typed error whose variants name the same conditions,
//! and [`Error::errno_name`] gives the POE spelling for porting.

use std::io;

use super::ids::{HandleId, TimerId};

/// Everything a kernel operation can fail with.
///
/// New variants may be added as the kernel grows new limits, so a `match`
/// needs a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No session matches the destination (POE: ESRCH).
    #[error("no such session: {0}")]
    NoSuchSession(String),
    /// The session has neither a handler for the event nor `_default` (POE: ENOSYS).
    #[error("session {session} has no handler for event {event:?} and no _default")]
    NoHandler {
        /// The receiving session's number.
        session: u64,
        /// The event name.
        event: String,
    },
    /// An event argument was not of the type the handler asked for.
    #[error("event {event:?}: argument is {found}, not {expected}")]
    ArgType {
        /// The event being handled.
        event: String,
        /// The type the handler asked for.
        expected: &'static str,
        /// What the argument is.
        found: &'static str,
    },
    /// The handle is not (or no longer) open in this kernel.
    #[error("no such handle: {0}")]
    NoSuchHandle(HandleId),
    /// The handle holds another type than the one asked for.
    #[error("handle {handle} is not a {expected}")]
    HandleType {
        /// The handle.
        handle: HandleId,
        /// The type asked for.
        expected: &'static str,
    },
    /// The timer does not exist, or already fired (POE: ESRCH).
    #[error("no such timer: {0}")]
    NoSuchTimer(TimerId),
    /// The timer, alias or child belongs to another session (POE: EPERM).
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// The alias is taken by another session (POE: EEXIST).
    #[error("alias {0:?} is already taken by another session")]
    AliasTaken(String),
    /// An argument is out of range (POE: EINVAL), e.g. a non-finite
    /// time adjustment.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A manual clock would have to advance for anything to happen.
    #[error("manual clock: nothing is due until {0:?} and nothing else can wake the kernel; advance the clock")]
    ClockStalled(std::time::Duration),
    /// A handler panicked or returned an error (POE: a `die` in a handler).
    /// From `call`: the callee failed (a DIE signal was queued to it).
    /// From `run`: nobody handled the DIE, so everything was stopped.
    #[error("handler for {event:?} in session {session} failed: {message}")]
    HandlerFailed {
        /// The failing session's number.
        session: u64,
        /// The event it was handling.
        event: String,
        /// The panic message or error text.
        message: String,
    },
    /// The kernel's cross-thread inbox is full
    /// ([`crate::KernelBuilder::inbox_capacity`]), and the post could not
    /// wait for room: [`crate::KernelHandle::post`] on the kernel's own
    /// thread (waiting there would deadlock), or a
    /// [`crate::TryPostError::Full`] converted with `?`.
    #[error("the kernel's cross-thread inbox is full")]
    InboxFull,
    /// A [`crate::Ctx::call`] (or another nested dispatch) would have put
    /// more handlers on the stack than the kernel's call-depth limit
    /// ([`crate::KernelBuilder::call_depth_limit`]); the handler was not
    /// run. Unbounded recursion through `call` ends here instead of in a
    /// stack overflow, which aborts the whole process.
    #[error("call depth limit ({limit} nested handlers) reached; {event:?} was not run")]
    CallDepth {
        /// The event that was not dispatched.
        event: String,
        /// The limit in force.
        limit: u32,
    },
    /// A handler failed while it was handling a DIE signal (POE: a `die`
    /// inside a DIE handler). This is not turned into yet another DIE:
    /// a handler that fails on every DIE would be handed its own failure
    /// forever. Instead, as POE's `run` rethrows it, `run` stops every
    /// session and returns this error.
    #[error("handler for {event:?} in session {session} failed while handling DIE: {message}{}", original_text(.original))]
    DieHandlerFailed {
        /// The number of the session whose DIE handler failed.
        session: u64,
        /// The DIE handler's event name.
        event: String,
        /// The handler's panic message or error text.
        message: String,
        /// The failure the DIE signal was about (an
        /// [`Error::HandlerFailed`]); `None` for a DIE sent by hand with
        /// [`crate::Ctx::signal`] rather than raised by a failing handler.
        /// POE reports it only when nobody called `sig_handled`; rpoe
        /// always keeps it, since it is what the handler was reacting to.
        original: Option<Box<Error>>,
    },
    /// An operating-system error from polling or registering a handle.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// The errno POE would set for this failure, for porting code that
    /// compares `$!`.
    pub fn errno_name(&self) -> &'static str {
        match self {
            Error::NoSuchSession(_) | Error::NoSuchTimer(_) => "ESRCH",
            Error::NoHandler { .. } => "ENOSYS",
            Error::NotPermitted(_) => "EPERM",
            Error::AliasTaken(_) => "EEXIST",
            Error::ArgType { .. } | Error::HandleType { .. } => "EINVAL",
            Error::NoSuchHandle(_) => "EBADF",
            Error::ClockStalled(_) => "EDEADLK",
            Error::Invalid(_) => "EINVAL",
            Error::CallDepth { .. } => "ELOOP",
            Error::InboxFull => "EAGAIN",
            Error::HandlerFailed { .. } | Error::DieHandlerFailed { .. } => "EFAULT",
            Error::Io(_) => "EIO",
        }
    }
}

/// The tail of [`Error::DieHandlerFailed`]'s message: the failure that
/// raised the DIE, worded like POE's rethrown text.
fn original_text(original: &Option<Box<Error>>) -> String {
    match original {
        Some(e) => format!(" (the DIE was for: {e})"),
        None => String::new(),
    }
}
