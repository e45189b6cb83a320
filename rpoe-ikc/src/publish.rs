//! Publications: how a session offers events to the bus ([`Publish`]),
//! what it receives ([`Incoming`], with [`ReplyTo`] to answer a call),
//! the live publication and the lease that holds its session alive, and
//! the delivery of incoming messages to it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use async_nats::{Message, Subject};
use bytes::Bytes;
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

/// Where a run of deliveries takes its messages: the payload of a
/// subscription's next message, with what its delivery knows besides,
/// or `None` when the run is to end (nothing waiting, or its share
/// taken). Only the payload travels on: the whole message is several
/// times its size, and each move of it is a copy.
pub(crate) type Source<'s> = dyn FnMut() -> Option<(Meta, Bytes)> + 's;

/// Decodes incoming payloads and runs the published session's handler
/// with each, as one [`Ctx::call_each`] run: `(ctx, session, event id,
/// source)`.
type Deliver = Box<dyn Fn(&mut Ctx<'_, HubHeap>, SessionId, rpoe::EventId, &mut Source<'_>) -> Run>;

/// What a message's delivery knows besides its payload.
pub(crate) struct Meta {
    from: Rc<str>,
    alias: Rc<str>,
    event: Rc<str>,
    via_any: bool,
    reply: Option<ReplyTo>,
}

/// How a run of deliveries went.
pub(crate) struct Run {
    /// Messages handed to the session's handler.
    pub(crate) delivered: u64,
    pub(crate) end: RunEnd,
}

pub(crate) enum RunEnd {
    /// The source ended, or a handler failed (the kernel's to report):
    /// the caller goes on with the source's next message, if any.
    More,
    /// A message's arguments did not decode (and its reply subject, if
    /// it was a call); the run ended before it.
    Decode(String, Option<ReplyTo>),
    /// The session is gone.
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
        let deliver: Deliver = Box::new(|ctx, session, id, source| {
            let mut bad = None;
            let mut delivered = 0;
            let items = std::iter::from_fn(|| {
                let (meta, payload) = source()?;
                match serde_json::from_slice::<T>(&payload) {
                    Ok(args) => {
                        delivered += 1;
                        Some(Incoming {
                            from: meta.from,
                            alias: meta.alias,
                            event: meta.event,
                            via_any: meta.via_any,
                            args,
                            reply: meta.reply,
                        })
                    }
                    Err(e) => {
                        bad = Some((e.to_string(), meta.reply));
                        None
                    }
                }
            });
            // The handler runs now, once per message, rather than an
            // event being queued per message: the messages are already
            // this round's bounded share, and one run enters the session
            // once for all of them.
            let r = ctx.call_each(session, id, items);
            let end = match (r, bad) {
                (Err(rpoe::Error::NoSuchSession(_)), _) => RunEnd::Gone,
                (_, Some((why, reply))) => RunEnd::Decode(why, reply),
                _ => RunEnd::More,
            };
            Run { delivered, end }
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

/// What the delivery of `m`, for event `idx` of `p`, knows besides its
/// payload. `last_from`: the sender of the subscription's previous
/// message, shared by the events from the same sender.
pub(crate) fn meta_of(
    hub: &Rc<Hub>,
    p: &Pub,
    idx: usize,
    any: bool,
    last_from: &RefCell<Option<Rc<str>>>,
    m: &mut Message,
) -> Meta {
    let reply = m.reply.take().map(|subject| {
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
    Meta {
        from,
        alias: p.alias.clone(),
        event: p.events[idx].0.clone(),
        via_any: any,
        reply,
    }
}

/// Answer a call that reached a publication after it ended (before the
/// server saw its unsubscription) with an error.
pub(crate) fn refuse_call(hub: &Hub, p: &Pub, idx: usize, reply: &Subject) {
    let _ = hub.answer_error(
        reply,
        &format!("{}/{} is no longer published", p.alias, p.events[idx].0),
    );
}
