//! Arguments of the kernel's predefined events.

use super::ids::{Sender, SessionId};
use super::payload::Value;

/// The argument of `_child`: what happened to one of the session's children.
#[derive(Debug)]
pub enum ChildEvent {
    /// A child was created; carries its `_start` return value.
    Create(SessionId, Value),
    /// A grandchild was handed up because its parent stopped.
    Gain(SessionId),
    /// A child stopped (carries its `_stop` return value) or was detached
    /// (carries `()`).
    Lose(SessionId, Value),
}

impl ChildEvent {
    /// POE's ARG0: `"create"`, `"gain"` or `"lose"`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChildEvent::Create(..) => "create",
            ChildEvent::Gain(_) => "gain",
            ChildEvent::Lose(..) => "lose",
        }
    }
    /// The child concerned.
    pub fn child(&self) -> SessionId {
        match self {
            ChildEvent::Create(c, _) | ChildEvent::Gain(c) | ChildEvent::Lose(c, _) => *c,
        }
    }
    /// The child's `_start` or `_stop` return value, if any.
    pub fn value(&self) -> Option<&Value> {
        match self {
            ChildEvent::Create(_, v) | ChildEvent::Lose(_, v) => Some(v),
            ChildEvent::Gain(_) => None,
        }
    }
}

/// The argument of `_parent`: the session's parent changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentChange {
    /// The previous parent.
    pub old: Sender,
    /// The new parent ([`Sender::Kernel`] when detached or orphaned).
    pub new: Sender,
}
