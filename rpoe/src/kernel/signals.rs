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
    pub(crate) event: EventId,
    pub(crate) extra: Option<Rc<dyn Any>>,
}

/// The signal watchers and child-process watchers of all sessions.
#[derive(Default)]
pub(crate) struct Signals {
    /// Ordered by session slot for a stable delivery order.
    watchers: HashMap<Rc<str>, BTreeMap<SessionKey, SigWatch>>,
    /// `sig_child` watchers: (pid, session) → event and extra arguments.
    children: BTreeMap<(i32, SessionKey), SigWatch>,
    /// Set while a signal is being dispatched when a handler calls
    /// `sig_handled`.
    handled: bool,
    /// The OS-signal pipe, created when first needed.
    os: Option<crate::os::SignalPipe>,
    /// OS signals registered with signal-hook (never unregistered: the
    /// previous disposition cannot be restored, so an unwatched terminal
    /// signal is re-raised with its default action instead).
    os_registered: Vec<i32>,
    /// Child processes may have exited: try reaping at the next round.
    reap_due: bool,
    /// While a DIE signal's watchers run: the handler depth they run at,
    /// so a failure of the watcher itself (not of something it called in
    /// another session) can be told apart.
    die_depth: Option<u32>,
    /// The first failure of a DIE watcher during the current DIE dispatch:
    /// (session number, event name, message).
    die_failure: Option<(u64, String, String)>,
    /// IDLE was sent and nothing happened since: next comes ZOMBIE.
    idle_sent: bool,
}

/// A signal watcher found for a dispatch: session, event, extra arguments.
pub(crate) type Watching = (SessionKey, EventId, Option<Rc<dyn Any>>);

/// What a signal dispatch saved of an outer one it nests in.
pub(crate) struct OuterDispatch {
    handled: bool,
    die_depth: Option<u32>,
}

impl Signals {
    /// At a round's start, told whether only aliases keep sessions alive:
    /// the signal to send everyone — IDLE the first time, ZOMBIE if still
    /// idle a round later — or `None`.
    pub(crate) fn idle_signal(&mut self, idle: bool) -> Option<&'static str> {
        if !idle {
            self.idle_sent = false;
            return None;
        }
        let name = if self.idle_sent { "ZOMBIE" } else { "IDLE" };
        self.idle_sent = !self.idle_sent;
        Some(name)
    }

    /// Watch signal `name` for session `key`.
    pub(crate) fn watch(&mut self, name: &str, key: SessionKey, watch: SigWatch) {
        self.watchers
            .entry(Rc::from(name))
            .or_default()
            .insert(key, watch);
    }

    /// Stop watching signal `name` for session `key`.
    pub(crate) fn unwatch(&mut self, name: &str, key: SessionKey) {
        if let Some(m) = self.watchers.get_mut(name) {
            m.remove(&key);
            if m.is_empty() {
                self.watchers.remove(name);
            }
        }
    }

    /// True if some session watches signal `name`.
    pub(crate) fn is_watched(&self, name: &str) -> bool {
        self.watchers.contains_key(name)
    }

    /// The watchers of `name` among `touched`, in reverse order (deepest
    /// first): session, event and the watcher's extra arguments.
    pub(crate) fn watchers_among(&self, name: &str, touched: &[SessionKey]) -> Vec<Watching> {
        self.watchers
            .get(name)
            .map(|m| {
                touched
                    .iter()
                    .rev()
                    .filter_map(|k| m.get(k).map(|w| (*k, w.event, w.extra.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The signals a session watches, sorted.
    pub(crate) fn watched_by(&self, key: SessionKey) -> Vec<String> {
        let mut v: Vec<String> = self
            .watchers
            .iter()
            .filter(|(_, m)| m.contains_key(&key))
            .map(|(n, _)| n.to_string())
            .collect();
        v.sort();
        v
    }

    /// Start dispatching a signal: nobody has handled it yet, and (for
    /// DIE) a failure at `depth` is a failure of its watcher. Returns what
    /// an outer dispatch had, for [`Signals::end_dispatch`].
    pub(crate) fn begin_dispatch(&mut self, is_die: bool, depth: u32) -> OuterDispatch {
        OuterDispatch {
            handled: std::mem::replace(&mut self.handled, false),
            die_depth: if is_die {
                self.die_depth.replace(depth)
            } else {
                self.die_depth.take()
            },
        }
    }

    /// End a signal's dispatch: whether a watcher handled it, and (for
    /// DIE) the first failure of one of its watchers.
    pub(crate) fn end_dispatch(
        &mut self,
        outer: OuterDispatch,
        is_die: bool,
    ) -> (bool, Option<(u64, String, String)>) {
        let handled = std::mem::replace(&mut self.handled, outer.handled);
        self.die_depth = outer.die_depth;
        let failure = if is_die {
            self.die_failure.take()
        } else {
            None
        };
        (handled, failure)
    }

    /// A watcher called `sig_handled`.
    pub(crate) fn mark_handled(&mut self) {
        self.handled = true;
    }

    /// True while a DIE signal's watchers run at handler depth `depth`.
    pub(crate) fn in_die_watcher(&self, depth: u32) -> bool {
        self.die_depth == Some(depth)
    }

    /// Note a DIE watcher's failure (the first one counts).
    pub(crate) fn note_die_failure(&mut self, failure: (u64, String, String)) {
        self.die_failure.get_or_insert(failure);
    }

    /// True if the OS signal is already caught.
    pub(crate) fn os_caught(&self, num: i32) -> bool {
        self.os_registered.contains(&num)
    }

    /// Note that the OS signal is caught (through `pipe` if it is the
    /// first one).
    pub(crate) fn note_os_caught(&mut self, num: i32, pipe: Option<crate::os::SignalPipe>) {
        if let Some(p) = pipe {
            self.os = Some(p);
        }
        self.os_registered.push(num);
    }

    /// The OS-signal pipe, once created.
    pub(crate) fn os_pipe(&self) -> Option<&crate::os::SignalPipe> {
        self.os.as_ref()
    }

    /// The OS-signal pipe, once created.
    pub(crate) fn os_pipe_mut(&mut self) -> Option<&mut crate::os::SignalPipe> {
        self.os.as_mut()
    }

    /// Child processes may have exited: try reaping at the next round.
    pub(crate) fn note_reap_due(&mut self) {
        self.reap_due = true;
    }

    /// Whether reaping is due; clears it.
    pub(crate) fn take_reap_due(&mut self) -> bool {
        std::mem::take(&mut self.reap_due)
    }

    /// Watch child `pid` for session `key`; `true` if it is a new watch
    /// (which holds the session).
    pub(crate) fn watch_child(&mut self, pid: i32, key: SessionKey, watch: SigWatch) -> bool {
        self.children.insert((pid, key), watch).is_none()
    }

    /// Stop watching child `pid` for `key`; `true` if there was a watch.
    pub(crate) fn unwatch_child(&mut self, pid: i32, key: SessionKey) -> bool {
        self.children.remove(&(pid, key)).is_some()
    }

    /// True if `key` watches child `pid`.
    pub(crate) fn watches_child(&self, pid: i32, key: SessionKey) -> bool {
        self.children.contains_key(&(pid, key))
    }

    /// True if no session watches a child process.
    pub(crate) fn no_child_watchers(&self) -> bool {
        self.children.is_empty()
    }

    /// The watched child pids, each once.
    pub(crate) fn child_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self.children.keys().map(|(p, _)| *p).collect();
        pids.dedup();
        pids
    }

    /// The child pids a session watches.
    pub(crate) fn child_pids_of(&self, key: SessionKey) -> Vec<u32> {
        self.children
            .keys()
            .filter(|(_, k)| *k == key)
            .map(|(p, _)| p.unsigned_abs())
            .collect()
    }

    /// The watchers of child `pid`, in session order (not removed).
    pub(crate) fn child_watchers(&self, pid: i32) -> Vec<(SessionKey, SigWatch)> {
        self.children
            .range((pid, 0)..=(pid, SessionKey::MAX))
            .map(|((_, k), w)| {
                let w = SigWatch {
                    event: w.event,
                    extra: w.extra.clone(),
                };
                (*k, w)
            })
            .collect()
    }

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
