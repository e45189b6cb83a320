//! The queue side of [`Core`]: every entry joins the queue through
//! [`Core::enqueue`], which takes the holds that keep its target (and
//! sender) alive and stamps it with the post time; [`Core::release`]
//! gives the holds back when it leaves. Posts, signals and GC checks are
//! thin wrappers around it. Kept together so the holds taken and the
//! holds released can be read side by side.

use std::any::Any;
use std::rc::Rc;

use super::super::caller::Caller;
use super::super::ids::Sender;
use super::super::names::EventId;
use super::super::payload::Payload;
use super::super::queue::{Kind, Queued, QueuedSignal, SessionKey};
use super::Core;

impl Core {
    /// Queue an event. Events sent by a session that is stopping are
    /// discarded, as POE purges posts made from `_stop`.
    pub(crate) fn post_key(
        &mut self,
        target: SessionKey,
        sender_key: Option<SessionKey>,
        event: EventId,
        payload: Payload,
    ) {
        self.post_key_from(target, sender_key, event, payload, Caller::KERNEL);
    }

    /// [`Core::post_key`] from a handler, recording its origin.
    pub(crate) fn post_key_from(
        &mut self,
        target: SessionKey,
        sender_key: Option<SessionKey>,
        event: EventId,
        payload: Payload,
        caller: Caller,
    ) {
        if !self.local.is_empty() {
            self.drain_local();
        }
        let sender = match sender_key {
            Some(k) => match self.sessions.sender_id(k) {
                Some(id) => Sender::Session(id),
                None => return,
            },
            None => Sender::Kernel,
        };
        self.enqueue(
            target,
            event,
            Kind::Event,
            sender,
            sender_key,
            caller,
            payload,
        );
    }

    /// The one way an entry joins the queue: it holds its target, and
    /// its sender when `hold` names one, until it is dequeued or purged
    /// (see [`Core::release`]), and it is stamped with the post time.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn enqueue(
        &mut self,
        target: SessionKey,
        event: EventId,
        kind: Kind,
        sender: Sender,
        hold: Option<SessionKey>,
        caller: Caller,
        payload: Payload,
    ) {
        match hold {
            Some(k) if k == target => self.sessions.hold(target, 2),
            Some(k) => {
                self.sessions.hold(target, 1);
                self.sessions.hold(k, 1);
            }
            None => self.sessions.hold(target, 1),
        }
        let now = self.post_time;
        self.queue.push(
            now,
            Queued::new(target, event, kind, sender, hold, caller, payload),
        );
    }

    pub(super) fn push_gc_check(&mut self, target: SessionKey) {
        self.enqueue(
            target,
            EventId::STOP,
            Kind::GcCheck,
            Sender::Kernel,
            None,
            Caller::KERNEL,
            Payload::Empty,
        );
    }

    /// Queue a signal for `target` and its descendants (all sessions for
    /// [`super::super::queue::KERNEL_KEY`]).
    /// Like a post, it holds the sending session until it is dequeued.
    pub(crate) fn queue_signal(
        &mut self,
        target: SessionKey,
        sender_key: Option<SessionKey>,
        name: &str,
        args: Rc<dyn Any>,
    ) {
        let sender = match sender_key.and_then(|k| self.sessions.id_of(k)) {
            Some(id) => Sender::Session(id),
            None => Sender::Kernel,
        };
        let payload = Payload::new(QueuedSignal {
            name: Rc::from(name),
            args,
        });
        self.enqueue(
            target,
            EventId::STOP,
            Kind::Signal,
            sender,
            sender_key,
            Caller::KERNEL,
            payload,
        );
    }

    /// Release what a dequeued (or purged) event held.
    #[inline(always)]
    pub(super) fn release(&mut self, target: SessionKey, sender_key: Option<SessionKey>) {
        match sender_key {
            Some(k) if k == target => self.sessions.release(target, 2),
            Some(k) => {
                self.sessions.release(target, 1);
                self.sessions.release(k, 1);
            }
            None => self.sessions.release(target, 1),
        }
    }
}
