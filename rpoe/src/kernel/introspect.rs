//! Introspection: what keeps a session alive. A single-threaded kernel can
//! answer exactly and cheaply enough for a debugging call: it scans the
//! queue and tables once.

use super::engine::Core;
use super::ids::{Sender, SessionId};

/// A snapshot of one session: its place in the tree and everything that
/// holds it (POE's TRACE_REFCNT, POE::API::Peek).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// Its parent.
    pub parent: Sender,
    /// Its children, oldest first.
    pub children: Vec<SessionId>,
    /// Its aliases (they hold it until the kernel runs dry).
    pub aliases: Vec<String>,
    /// Events queued to it (signals included).
    pub events_to: usize,
    /// Events it queued to others, not yet delivered.
    pub events_from: usize,
    /// Its pending timers.
    pub timers: usize,
    /// Handles it watches (active or paused).
    pub watched_handles: usize,
    /// Handles it owns.
    pub handles: usize,
    /// Non-zero public refcounts, by tag (postbacks hold `rpoe::postback`).
    pub refcounts: Vec<(String, i64)>,
    /// Child processes it waits for.
    pub child_pids: Vec<u32>,
    /// Signals it watches (these do not keep it alive).
    pub signals: Vec<String>,
    /// The kernel's total count of holds; zero means it will be collected.
    pub holds: u64,
}

impl Core {
    pub(crate) fn session_info(&self, id: SessionId) -> Option<SessionInfo> {
        let key = self.sessions.key_of(id)?;
        let (events_to, events_from) = self.queue.events_involving(key);
        Some(SessionInfo {
            id,
            parent: self
                .sessions
                .parent_of(key)
                .and_then(|p| self.sessions.id_of(p))
                .map_or(Sender::Kernel, Sender::Session),
            children: self
                .sessions
                .children_of(key)
                .iter()
                .filter_map(|c| self.sessions.id_of(*c))
                .collect(),
            aliases: self.sessions.aliases_of(key),
            events_to,
            events_from,
            timers: self.queue.timers_of(key, None).len(),
            watched_handles: self.handles.watched_by(key),
            handles: self.sessions.handle_count(key),
            refcounts: self.sessions.extrefs_of(key),
            child_pids: self.signals.child_pids_of(key),
            signals: self.signals.watched_by(key),
            holds: self.sessions.holds(key),
        })
    }
}
