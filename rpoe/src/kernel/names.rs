//! Event-name interning: names are strings at the API, small integers inside.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// An interned event name. Obtain one with [`crate::Kernel::event_id`] or
/// [`crate::Ctx::event_id`] to post on a hot path without hashing the name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct EventId(pub(crate) u32);

impl EventId {
    pub(crate) const START: EventId = EventId(0);
    pub(crate) const STOP: EventId = EventId(1);
    pub(crate) const DEFAULT: EventId = EventId(2);
    pub(crate) const CHILD: EventId = EventId(3);
    pub(crate) const PARENT: EventId = EventId(4);

    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The kernel's table of event names.
pub(crate) struct Names {
    ids: HashMap<Rc<str>, EventId>,
    names: Vec<Rc<str>>,
}

impl Names {
    pub(crate) fn new() -> Self {
        let mut n = Names {
            ids: HashMap::new(),
            names: Vec::new(),
        };
        for (want, name) in [
            (EventId::START, "_start"),
            (EventId::STOP, "_stop"),
            (EventId::DEFAULT, "_default"),
            (EventId::CHILD, "_child"),
            (EventId::PARENT, "_parent"),
        ] {
            let got = n.intern(name);
            debug_assert_eq!(got, want);
        }
        n
    }

    pub(crate) fn intern(&mut self, name: &str) -> EventId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = EventId(self.names.len() as u32);
        let rc: Rc<str> = Rc::from(name);
        self.names.push(rc.clone());
        self.ids.insert(rc, id);
        id
    }

    pub(crate) fn name(&self, id: EventId) -> &str {
        self.names.get(id.index()).map(|s| &**s).unwrap_or("?")
    }
}

/// How an event is named: by string (interned on use) or by interned id.
#[derive(Clone, Copy, Debug)]
pub enum EventRef<'a> {
    /// A name, interned when used.
    Name(&'a str),
    /// An already interned name.
    Id(EventId),
}

/// Anything that names an event: a `&str` (interned on use) or an [`EventId`].
pub trait IntoEvent {
    /// The name or id this value stands for.
    fn event_ref(&self) -> EventRef<'_>;
}

impl IntoEvent for EventId {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Id(*self)
    }
}

impl IntoEvent for &str {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Name(self)
    }
}

impl IntoEvent for String {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Name(self)
    }
}

impl IntoEvent for &String {
    fn event_ref(&self) -> EventRef<'_> {
        EventRef::Name(self)
    }
}

impl Names {
    pub(crate) fn resolve(&mut self, ev: &impl IntoEvent) -> EventId {
        match ev.event_ref() {
            EventRef::Id(id) => id,
            EventRef::Name(n) => self.intern(n),
        }
    }
}
