//! The running session as one among others: its aliases, its options,
//! its handlers (added and removed at run time), its place in the session
//! tree, and questions about the kernel and other sessions. Each group is
//! its own `impl` block with a heading, as rustdoc shows them.

use std::any::Any;
use std::rc::Rc;

use super::ctx::Ctx;
use super::dispatch::store_return;
use super::error::Error;
use super::ids::{Dest, Sender, SessionId};
use super::names::{EventId, IntoEvent};
use super::options::{self, SessionOption};
use super::Core;

/// # Aliases
///
/// Naming this session (POE's `alias_*`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// Give this session a name others can post to (POE's `alias_set`).
    /// An alias keeps the session alive until the kernel runs out of other
    /// work. Setting an alias it already has is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::AliasTaken`] if another session has the alias (POE: EEXIST).
    pub fn alias_set(&mut self, alias: &str) -> Result<(), Error> {
        self.core
            .sessions
            .alias_set(self.frame.key, alias)
            .map(drop)
            .map_err(|()| Error::AliasTaken(alias.to_string()))
    }

    /// Remove one of this session's aliases.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if no session has the alias (POE: ESRCH);
    /// [`Error::NotPermitted`] if another session has it (POE: EPERM).
    pub fn alias_remove(&mut self, alias: &str) -> Result<(), Error> {
        self.core
            .sessions
            .alias_remove(self.frame.key, alias)
            .map_err(|other| {
                if other {
                    Error::NotPermitted(format!("alias {alias:?} belongs to another session"))
                } else {
                    Error::NoSuchSession(format!("alias {alias:?}"))
                }
            })
    }

    /// The session an alias (or a session number) names, if any.
    pub fn alias_resolve(&self, alias: &str) -> Option<SessionId> {
        self.core
            .resolve(&Dest::Alias(alias))
            .and_then(|k| self.core.sessions.id_of(k))
    }

    /// This session's aliases, in the order they were set.
    pub fn alias_list(&self) -> Vec<String> {
        self.core.sessions.aliases_of(self.frame.key)
    }
}

/// # Session options
///
/// POE's `$session->option(...)`: `trace`, `debug` and `default`.
impl<'a, H: 'static> Ctx<'a, H> {
    /// Whether a session option is on (POE's `$session->option($name)`).
    pub fn option(&self, option: SessionOption) -> bool {
        self.frame
            .session
            .as_ref()
            .is_some_and(|s| s.options.get(option))
    }

    /// Turn a session option on or off, returning its previous value (POE's
    /// `$session->option($name => $value)`).
    pub fn set_option(&mut self, option: SessionOption, on: bool) -> bool {
        match self.frame.session.as_mut() {
            Some(s) => s.options.set(option, on),
            None => unreachable!("the running session is in its frame"),
        }
    }
}

/// # Dynamic handlers
///
/// Adding and removing handlers of the running session (POE's `state`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// Add or replace a handler of this session at run time (POE's `state`).
    /// With [`SessionOption::Debug`] on, replacing one is reported.
    pub fn state<R: Any>(
        &mut self,
        event: impl IntoEvent,
        handler: impl Fn(&mut Ctx<'_, H>) -> R + 'static,
    ) {
        let ev = self.core.names.resolve(&event);
        let id = self.frame.id;
        if let Some(s) = self.frame.session.as_mut() {
            if s.options.debug && s.handlers.contains(ev) {
                options::report(&format!(
                    "redefining handler for event({}) for session({})",
                    self.core.names.name(ev),
                    id.number()
                ));
            }
            s.handlers
                .insert(ev, Rc::new(move |ctx, out| store_return(out, handler(ctx))));
        }
    }

    /// Remove a handler of this session (events then go to `_default`).
    pub fn state_remove(&mut self, event: impl IntoEvent) {
        let ev = self.core.names.resolve(&event);
        if let Some(s) = self.frame.session.as_mut() {
            s.handlers.remove(ev);
        }
    }
}

/// # The session tree
///
/// Parents, children and detaching (POE's `detach_*`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// Become a child of the kernel: the parent gets `_child` (lose) —
    /// except inside `_start`, where it never saw the child — then this
    /// session gets `_parent`. Fails (EPERM) if already a kernel child.
    ///
    /// # Errors
    ///
    /// [`Error::NotPermitted`] if the session is already a child of the kernel.
    pub fn detach_myself(&mut self) -> Result<(), Error> {
        let key = self.frame.key;
        if self.core.sessions.parent_of(key).is_none() {
            return Err(Error::NotPermitted("already a child of the kernel".into()));
        }
        let quiet = self.active == EventId::START;
        let core: &mut Core = self.core;
        core.detach(Some(&mut self.frame), key, quiet);
        Ok(())
    }

    /// Make one of this session's children a child of the kernel: this
    /// session gets `_child` (lose), then the child `_parent`.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchSession`] if `child` is not a live session;
    /// [`Error::NotPermitted`] if it is not a child of this session.
    pub fn detach_child(&mut self, child: SessionId) -> Result<(), Error> {
        let ck = self.core.resolve_or_err(&Dest::Id(child))?;
        if self.core.sessions.parent_of(ck) != Some(self.frame.key) {
            return Err(Error::NotPermitted(format!(
                "session {child} is not a child of session {}",
                self.frame.id
            )));
        }
        let core: &mut Core = self.core;
        core.detach(Some(&mut self.frame), ck, false);
        Ok(())
    }

    /// This session's children, in creation order.
    pub fn children(&self) -> Vec<SessionId> {
        self.core
            .sessions
            .children_of(self.frame.key)
            .iter()
            .filter_map(|k| self.core.sessions.id_of(*k))
            .collect()
    }
}

/// # Introspection
///
/// Questions about the kernel and its sessions (POE's `ID_*`, `get_active_session`, `Kernel::Introspect`).
impl<'a, H: 'static> Ctx<'a, H> {
    /// What keeps a session alive, and what it holds (POE's TRACE_REFCNT
    /// and POE::API::Peek in one call). `None` if it is gone.
    pub fn session_info(&self, session: SessionId) -> Option<crate::kernel::SessionInfo> {
        self.core.session_info(session)
    }

    /// This kernel's id (POE's `$kernel->ID`).
    pub fn kernel_id(&self) -> &str {
        self.core.kernel_id()
    }

    /// The live session with this public number (POE's `ID_id_to_session`).
    pub fn session_by_number(&self, number: u64) -> Option<SessionId> {
        self.core
            .sessions
            .by_number(number)
            .and_then(|k| self.core.sessions.id_of(k))
    }

    /// The aliases of another session.
    pub fn aliases_of(&self, session: SessionId) -> Vec<String> {
        self.core
            .sessions
            .key_of(session)
            .map(|k| self.core.sessions.aliases_of(k))
            .unwrap_or_default()
    }

    /// Number of queued events and pending timers (POE's `get_event_count`).
    pub fn pending_count(&self) -> usize {
        self.core.queue.event_count() + self.core.queue.timer_count()
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.core.sessions.len()
    }

    /// The parent of this session ([`Sender::Kernel`] for top-level ones).
    pub fn parent(&self) -> Sender {
        self.core
            .sessions
            .parent_of(self.frame.key)
            .and_then(|p| self.core.sessions.id_of(p))
            .map_or(Sender::Kernel, Sender::Session)
    }
}
