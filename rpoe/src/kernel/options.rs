//! Per-session options (POE's `$session->option(...)`): `trace`, `debug`
//! and `default`.
//!
//! They are development aids: when on, the session reports what POE
//! would print on STDERR. rpoe reports through `tracing` (target
//! `rpoe::session`, level WARN) rather than writing to stderr itself, so
//! a program decides where the reports go — the same channel as every
//! other kernel diagnostic — and a session that never turns an option on
//! pays one flag test per dispatch.

use std::panic::Location;

use super::caller::Caller;
use super::engine::Core;
use super::ids::SessionId;
use super::queue::SessionKey;

/// One of POE's session options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionOption {
    /// Report every event the session receives, with where it was sent
    /// from, and each redirect to `_default` (POE's `trace`).
    Trace,
    /// Report a handler replaced at run time by [`crate::Ctx::state`]
    /// (POE's `debug`).
    Debug,
    /// Report an event the session has neither a handler nor `_default`
    /// for, which is dropped (POE's `default`). Without it such events are
    /// dropped silently, as in POE.
    Default,
}

/// The options of one session; all off unless set.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    pub trace: bool,
    pub debug: bool,
    pub default: bool,
}

impl Options {
    pub(crate) fn get(&self, opt: SessionOption) -> bool {
        match opt {
            SessionOption::Trace => self.trace,
            SessionOption::Debug => self.debug,
            SessionOption::Default => self.default,
        }
    }

    /// Set `opt`, returning its previous value.
    pub(crate) fn set(&mut self, opt: SessionOption, on: bool) -> bool {
        let slot = match opt {
            SessionOption::Trace => &mut self.trace,
            SessionOption::Debug => &mut self.debug,
            SessionOption::Default => &mut self.default,
        };
        std::mem::replace(slot, on)
    }
}

/// A session as POE names it in its reports: `session 3`, or
/// `session 3 (alias, other)` when it has aliases.
pub(crate) fn loggable(core: &Core, key: SessionKey, id: SessionId) -> String {
    let aliases = core.sessions.aliases_of(key);
    if aliases.is_empty() {
        format!("session {}", id.number())
    } else {
        format!("session {} ({})", id.number(), aliases.join(", "))
    }
}

/// Where an event was sent from, as POE writes it (`FILE at LINE`); the
/// kernel's own events have no place in user code.
pub(crate) fn origin(caller: &Caller) -> String {
    match caller.location {
        Some(l) => at(l),
        None => "the kernel".to_string(),
    }
}

fn at(l: &Location<'_>) -> String {
    format!("{} at {}", l.file(), l.line())
}

/// Report one line for a session that asked for it.
#[cold]
pub(crate) fn report(text: &str) {
    tracing::warn!(target: "rpoe::session", "{text}");
}
