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
        let e = self.sessions.get(key)?;
        let (events_to, events_from) = self.queue.events_involving(key);
        let watched_handles = self
            .handles
            .slab
            .iter()
            .filter(|(_, h)| {
                h.read.as_ref().is_some_and(|w| w.session == key)
                    || h.write.as_ref().is_some_and(|w| w.session == key)
                    || h.expedite.as_ref().is_some_and(|w| w.session == key)
            })
            .count();
        let mut refcounts: Vec<(String, i64)> =
            e.extrefs.iter().map(|(k, v)| (k.clone(), *v)).collect();
        refcounts.sort();
        let mut signals: Vec<String> = self
            .signals
            .watchers
            .iter()
            .filter(|(_, m)| m.contains_key(&key))
            .map(|(n, _)| n.to_string())
            .collect();
        signals.sort();
        Some(SessionInfo {
            id,
            parent: e
                .parent
                .and_then(|p| self.sessions.id_of(p))
                .map_or(Sender::Kernel, Sender::Session),
            children: e
                .children
                .iter()
                .filter_map(|c| self.sessions.id_of(*c))
                .collect(),
            aliases: e.aliases.iter().map(|a| a.to_string()).collect(),
            events_to,
            events_from,
            timers: self.queue.timers_of(key, None).len(),
            watched_handles,
            handles: e.handles.len(),
            refcounts,
            child_pids: self
                .signals
                .children
                .keys()
                .filter(|(_, k)| *k == key)
                .map(|(p, _)| p.unsigned_abs())
                .collect(),
            signals,
            holds: e.refs,
        })
    }
}
