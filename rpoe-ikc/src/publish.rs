//! Publications: how a session offers events to the bus ([`Publish`]),
//! what it receives ([`Incoming`], with [`ReplyTo`] to answer a call),
//! the live publication and the lease that holds its session alive, and
//! the delivery of one incoming message to it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use async_nats::{Message, Subject};
use rpoe::{Ctx, SessionId};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::hub::Hub;
use crate::session::HubHeap;
use crate::Error;
#[cfg(doc)]
use crate::{CallReply, Config};

/// An event from the bus, the argument of a published event.
pub struct Incoming<T> {
    /// The sending kernel's name: the last token of the subject, which
    /// the sender chose (see "Security" in the crate's documentation).
    pub from: Rc<str>,
    /// The alias it was sent to.
    pub alias: Rc<str>,
    /// The event.
    pub event: Rc<str>,
    /// Whether it came through `*/alias/event` (the queue group) rather
    /// than to this kernel by name.
    pub via_any: bool,
    /// The arguments.
    pub args: T,
    /// For a call: how to answer it. Dropping it unanswered answers the
    /// caller with an [`Error::Remote`], so a caller never waits for a
    /// handler that forgot it.
    pub reply: Option<ReplyTo>,
}

impl<T: fmt::Debug> fmt::Debug for Incoming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("from", &self.from)
            .field("alias", &self.alias)
            .field("event", &self.event)
            .field("via_any", &self.via_any)
            .field("args", &self.args)
            .field("call", &self.reply.is_some())
            .finish()
    }
}

/// How to answer a call: from [`Incoming::reply`]. Answer once, from any
/// handler (it may be kept in the heap and answered later).
///
/// Boxed, so that it costs an [`Incoming`] one pointer: every event from
/// the bus moves one, most of them posts without a reply.
pub struct ReplyTo(pub(crate) Box<Answering>);

/// What answering a call needs.
pub(crate) struct Answering {
    /// The caller's reply subject, as it came (shared, not copied).
    pub(crate) subject: Subject,
    hub: Weak<Hub>,
    pub(crate) done: bool,
}

impl fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("subject", &self.0.subject)
            .finish()
    }
}

impl ReplyTo {
    /// Answer with `value` (serialised as JSON).
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] if `value` does not serialise, and what queuing
    /// the answer can fail with: [`Error::BufferFull`],
    /// [`Error::TooLarge`], [`Error::Shutdown`]. The call is then answered
    /// with an error instead, so the caller is not left waiting.
    pub fn send<A: Serialize + ?Sized>(mut self, value: &A) -> Result<(), Error> {
        self.0.done = true;
        let Some(hub) = self.0.hub.upgrade() else {
            return Err(Error::Shutdown);
        };
        let payload = match hub.encode(value) {
            Ok(p) => p,
            Err(err) => {
                let _ = hub.answer_error(&self.0.subject, &err.to_string());
                return Err(err);
            }
        };
        let r = hub.enqueue(
            self.0.subject.clone(),
            None,
            Some((hub.headers.clone(), hub.header_bytes)),
            payload,
            None,
        );
        if let Err(e) = &r {
            if !matches!(e, Error::BufferFull { .. } | Error::Shutdown) {
                let _ = hub.answer_error(&self.0.subject, &e.to_string());
            }
        }
        r
    }

    /// Answer with an error: the caller's [`CallReply::result`] is
    /// [`Error::Remote`] with `message`.
    ///
    /// # Errors
    ///
    /// As [`ReplyTo::send`].
    pub fn fail(mut self, message: &str) -> Result<(), Error> {
        self.0.done = true;
        let hub = self.0.hub.upgrade().ok_or(Error::Shutdown)?;
        hub.answer_error(&self.0.subject, message)
    }
}

impl Drop for ReplyTo {
    fn drop(&mut self) {
        if self.0.done {
            return;
        }
        if let Some(hub) = self.0.hub.upgrade() {
            let _ = hub.answer_error(
                &self.0.subject,
                "the remote session did not answer (its reply was dropped)",
            );
        }
    }
}

/// Decodes an incoming payload and runs the published session's handler
/// with it.
type Deliver = Box<dyn Fn(&mut Ctx<'_, HubHeap>, Meta, &[u8]) -> Result<(), DeliverError>>;

/// What a delivery knows besides the payload.
pub(crate) struct Meta {
    target: SessionId,
    /// The event's interned id in this kernel (posting by id skips
    /// hashing its name).
    id: rpoe::EventId,
    from: Rc<str>,
    alias: Rc<str>,
    event: Rc<str>,
    via_any: bool,
    reply: Option<ReplyTo>,
}

pub(crate) enum DeliverError {
    Decode(String, Option<ReplyTo>),
    Gone,
}

/// A session's publication, before it is made: the alias and the events
/// it accepts from the bus, each with the type its arguments decode to.
pub struct Publish {
    pub(crate) alias: String,
    pub(crate) events: Vec<(String, Deliver)>,
    pub(crate) ready: Option<String>,
}

impl fmt::Debug for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("alias", &self.alias)
            .field(
                "events",
                &self.events.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("ready", &self.ready)
            .finish()
    }
}

impl Publish {
    /// A publication under `alias`, with no events yet.
    pub fn new(alias: impl Into<String>) -> Publish {
        Publish {
            alias: alias.into(),
            events: Vec::new(),
            ready: None,
        }
    }

    /// Accept `event` from the bus, its arguments decoded as `T`: the
    /// session gets `event` with an [`Incoming<T>`] argument. Arguments
    /// that do not decode as `T` become the [`Config::error_event`].
    pub fn event<T: DeserializeOwned + 'static>(mut self, event: impl Into<String>) -> Publish {
        let deliver: Deliver = Box::new(|ctx, meta, payload| {
            let args: T = match serde_json::from_slice(payload) {
                Ok(a) => a,
                Err(e) => return Err(DeliverError::Decode(e.to_string(), meta.reply)),
            };
            let id = meta.id;
            let incoming = Incoming {
                from: meta.from,
                alias: meta.alias,
                event: meta.event,
                via_any: meta.via_any,
                args,
                reply: meta.reply,
            };
            // Run the handler now rather than queue the event: the
            // message is already one of this round's bounded share, and
            // a queued event would cost a second trip through the
            // kernel's queue per message.
            match ctx.call(meta.target, id, incoming) {
                Err(rpoe::Error::NoSuchSession(_)) => Err(DeliverError::Gone),
                _ => Ok(()),
            }
        });
        self.events.push((event.into(), deliver));
        self
    }

    /// Post `event` (argument: the alias, a `String`) to the session once
    /// every subject of the publication is subscribed on the server, so
    /// that posts from other kernels reach it from then on.
    pub fn on_ready(mut self, event: impl Into<String>) -> Publish {
        self.ready = Some(event.into());
        self
    }
}

/// A live publication.
pub(crate) struct Pub {
    pub(crate) alias: Rc<str>,
    pub(crate) session: SessionId,
    pub(crate) events: Vec<(Rc<str>, Deliver)>,
    /// The events' interned ids, filled when the subscriptions start.
    pub(crate) ids: RefCell<Vec<rpoe::EventId>>,
    pub(crate) ready: Option<String>,
    pub(crate) dead: Cell<bool>,
    pub(crate) started: Cell<bool>,
    pub(crate) subscribed: Cell<usize>,
    /// Wakers of the pump tasks (two per event: by name, then `*`) and,
    /// last, of the lease.
    pub(crate) wakers: RefCell<Vec<Option<Waker>>>,
}

impl Pub {
    pub(crate) fn kill(&self) {
        if self.dead.replace(true) {
            return;
        }
        let wakers: Vec<Waker> = self
            .wakers
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    pub(crate) fn set_waker(&self, slot: usize, w: &Waker) {
        let mut ws = self.wakers.borrow_mut();
        match &mut ws[slot] {
            Some(old) => old.clone_from(w),
            empty => *empty = Some(w.clone()),
        }
    }
}

/// The task that holds a published session alive while it is published
/// (the bus is one of its event sources, as a wheel is), and whose drop
/// — when the session stops — ends the publication.
pub(crate) struct Lease {
    pub(crate) publication: Rc<Pub>,
}

impl Future for Lease {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let p = &self.publication;
        if p.dead.get() {
            return Poll::Ready(());
        }
        let last = p.events.len() * 2;
        p.set_waker(last, cx.waker());
        Poll::Pending
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.publication.kill();
    }
}

/// Decode a message for event `idx` of `p` and run the session's
/// handler with it. `last_from`: the sender of the subscription's
/// previous message, shared by the events from the same sender.
pub(crate) fn deliver(
    ctx: &mut Ctx<'_, HubHeap>,
    hub: &Rc<Hub>,
    p: &Pub,
    idx: usize,
    any: bool,
    last_from: &RefCell<Option<Rc<str>>>,
    m: Message,
) -> Result<(), DeliverError> {
    let reply = m.reply.map(|subject| {
        ReplyTo(Box::new(Answering {
            subject,
            hub: Rc::downgrade(hub),
            done: false,
        }))
    });
    // The sender's name is the subject's last token: found from the end
    // byte by byte (kernel names are short, so this stops within a few
    // bytes, where a `rsplit` sets up a searcher for every message).
    let subject = m.subject.as_str();
    let sender = match subject.bytes().rposition(|b| b == b'.') {
        Some(dot) => &subject[dot + 1..],
        None => subject,
    };
    let from = {
        let mut last = last_from.borrow_mut();
        match &*last {
            Some(f) if &**f == sender => f.clone(),
            _ => {
                let f: Rc<str> = Rc::from(sender);
                *last = Some(f.clone());
                f
            }
        }
    };
    let Some(id) = p.ids.borrow().get(idx).copied() else {
        return Err(DeliverError::Gone);
    };
    let meta = Meta {
        target: p.session,
        id,
        from,
        alias: p.alias.clone(),
        event: p.events[idx].0.clone(),
        via_any: any,
        reply,
    };
    (p.events[idx].1)(ctx, meta, &m.payload)
}

/// Answer a call that reached a publication after it ended (before the
/// server saw its unsubscription) with an error.
pub(crate) fn refuse_call(hub: &Hub, p: &Pub, idx: usize, reply: &Subject) {
    let _ = hub.answer_error(
        reply,
        &format!("{}/{} is no longer published", p.alias, p.events[idx].0),
    );
}
