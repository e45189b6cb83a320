//! Who sent an event, and from where: POE's `CALLER_STATE`,
//! `CALLER_FILE` and `CALLER_LINE`.
//!
//! POE records, with every event, the event whose handler posted it (the
//! kernel's active event at the time) and the Perl file and line of the
//! `post`/`yield`/`call`/timer call. rpoe keeps the same two facts in one
//! small `Copy` value that rides along with the queued event: the posting
//! methods are `#[track_caller]`, so the location is a pointer the compiler
//! already has, and nothing is formatted or looked up until a handler asks.

use std::panic::Location;

use super::names::EventId;

/// The origin of an event: the handler that sent it, and where in the
/// source. Both are `None` when the kernel itself sent the event
/// (`_start`, `_stop`, `_child`, I/O readiness, signals it raised).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Caller {
    /// The active event of the session that sent it (POE's
    /// `$kr_active_event` at the time: the name it was dispatched as,
    /// before any `_default` redirect).
    pub state: Option<EventId>,
    /// Where the posting call was written.
    pub location: Option<&'static Location<'static>>,
}

impl Caller {
    /// An event the kernel sent on its own.
    pub(crate) const KERNEL: Caller = Caller {
        state: None,
        location: None,
    };
}
