//! Signals: who watches which, how POE classifies them, and the bridge
//! from OS signals and child exits to ordinary queued events.
//!
//! OS signals are caught by `signal-hook` and written to a pipe the poll
//! watches, so handlers never run in signal context. A signal is delivered
//! like POE delivers it: to the target session and all its descendants
//! (and, for DIE, its ancestors), deepest first, through the watchers they
//! set with [`crate::Ctx::sig`].

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::ids::{Sender, SessionId};
use super::names::EventId;
use super::queue::SessionKey;

/// What a signal watcher's handler receives (POE's `ARG0` = name, then the
/// signal's arguments, then the watcher's own).
#[derive(Clone)]
pub struct Signal {
    pub(crate) name: Rc<str>,
    pub(crate) args: Rc<dyn Any>,
    pub(crate) extra: Option<Rc<dyn Any>>,
}

impl Signal {
    /// The signal's name: `"INT"`, `"CHLD"`, `"IDLE"`, `"DIE"`, or any
    /// name a session sent.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The signal's argument as a `T`: what [`crate::Ctx::signal`] sent,
    /// a [`ChildExit`] for CHLD, a [`DieInfo`] for DIE, `()` otherwise.
    pub fn arg<T: Any>(&self) -> Option<&T> {
        self.args.downcast_ref()
    }
    /// The argument the watcher gave [`crate::Ctx::sig_with`], if any.
    pub fn extra<T: Any>(&self) -> Option<&T> {
        self.extra.as_deref().and_then(|e| e.downcast_ref())
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signal({})", self.name)
    }
}

/// A reaped child process (the argument of CHLD and of
/// [`crate::Ctx::sig_child`] events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildExit {
    /// The child's process id.
    pub pid: u32,
    /// The raw wait status, like Perl's `$?`.
    pub status: i32,
}

impl ChildExit {
    /// The exit code, if the child exited normally.
    pub fn code(&self) -> Option<i32> {
        if self.status & 0x7f == 0 {
            Some((self.status >> 8) & 0xff)
        } else {
            None
        }
    }
    /// The signal that killed the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        let sig = self.status & 0x7f;
        (sig != 0 && sig != 0x7f).then_some(sig)
    }
}

/// The argument of DIE: which handler failed, and how.
#[derive(Clone, Debug)]
pub struct DieInfo {
    /// The session whose handler failed.
    pub session: SessionId,
    /// The event it was handling.
    pub event: String,
    /// Who sent that event.
    pub source: Sender,
    /// The panic message or the error's text.
    pub message: String,
    /// The event whose handler sent the failed event (POE's `from_state`;
    /// see [`crate::Ctx::caller_state`]). `None` when the kernel sent it.
    pub from_state: Option<String>,
    /// The file the failed event was sent from (POE's `file`: its
    /// `CALLER_FILE`, not where it failed). `None` when the kernel sent it.
    pub file: Option<&'static str>,
    /// The line the failed event was sent from (POE's `line`).
    pub line: Option<u32>,
    /// Where the handler panicked: file and line, as Perl's `die` appends
    /// them to POE's `error_str`. `None` for an `on_try` error or a
    /// [`crate::Ctx::die`] (a value, like a Perl `die` message ending in a
    /// newline), or if another panic hook replaced the kernel's.
    pub panic_location: Option<(String, u32)>,
}

/// POE's signal classes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    /// Never stops anyone.
    Benign,
    /// Stops every touched session unless one handler calls `sig_handled`.
    Terminal,
    /// Stops every touched session whatever they do.
    NonMaskable,
}

pub(crate) fn class(name: &str) -> Class {
    match name {
        "HUP" | "INT" | "QUIT" | "TERM" | "KILL" | "IDLE" | "DIE" => Class::Terminal,
        "ZOMBIE" | "UIDESTROY" => Class::NonMaskable,
        _ => Class::Benign,
    }
}

/// OS signals the kernel can turn into events, by POE name.
pub(crate) fn os_number(name: &str) -> Option<i32> {
    use crate::os::*;
    Some(match name {
        "HUP" => SIGHUP,
        "INT" => SIGINT,
        "QUIT" => SIGQUIT,
        "TERM" => SIGTERM,
        "USR1" => SIGUSR1,
        "USR2" => SIGUSR2,
        "CHLD" | "CLD" => SIGCHLD,
        "PIPE" => SIGPIPE,
        "WINCH" => SIGWINCH,
        "ALRM" => SIGALRM,
        "CONT" => SIGCONT,
        _ => return None,
    })
}

pub(crate) fn os_name(num: i32) -> &'static str {
    use crate::os::*;
    match num {
        SIGHUP => "HUP",
        SIGINT => "INT",
        SIGQUIT => "QUIT",
        SIGTERM => "TERM",
        SIGUSR1 => "USR1",
        SIGUSR2 => "USR2",
        SIGCHLD => "CHLD",
        SIGPIPE => "PIPE",
        SIGWINCH => "WINCH",
        SIGALRM => "ALRM",
        SIGCONT => "CONT",
        _ => "UNKNOWN",
    }
}

/// A signal's default action terminates the process.
pub(crate) fn kills_by_default(num: i32) -> bool {
    !matches!(
        num,
        crate::os::SIGCHLD | crate::os::SIGWINCH | crate::os::SIGCONT | crate::os::SIGPIPE
    )
}

pub(crate) struct SigWatch {
    pub event: EventId,
    pub extra: Option<Rc<dyn Any>>,
}

/// The signal watchers and child-process watchers of all sessions.
#[derive(Default)]
pub(crate) struct Signals {
    /// Ordered by session slot for a stable delivery order.
    pub watchers: HashMap<Rc<str>, BTreeMap<SessionKey, SigWatch>>,
    /// `sig_child` watchers: (pid, session) → event and extra arguments.
    pub children: BTreeMap<(i32, SessionKey), SigWatch>,
    /// Set while a signal is being dispatched when a handler calls
    /// `sig_handled`.
    pub handled: bool,
    /// The OS-signal pipe, created when first needed.
    pub os: Option<crate::os::SignalPipe>,
    /// OS signals registered with signal-hook (never unregistered: the
    /// previous disposition cannot be restored, so an unwatched terminal
    /// signal is re-raised with its default action instead).
    pub os_registered: Vec<i32>,
    /// Child processes may have exited: try reaping at the next round.
    pub reap_due: bool,
    /// While a DIE signal's watchers run: the handler depth they run at,
    /// so a failure of the watcher itself (not of something it called in
    /// another session) can be told apart.
    pub die_depth: Option<u32>,
    /// The first failure of a DIE watcher during the current DIE dispatch:
    /// (session number, event name, message).
    pub die_failure: Option<(u64, String, String)>,
}

impl Signals {
    /// Remove everything a session watched; returns the number of
    /// `sig_child` watchers dropped (each held the session).
    pub(crate) fn forget_session(&mut self, key: SessionKey) -> usize {
        for m in self.watchers.values_mut() {
            m.remove(&key);
        }
        self.watchers.retain(|_, m| !m.is_empty());
        let before = self.children.len();
        self.children.retain(|(_, k), _| *k != key);
        before - self.children.len()
    }
}
