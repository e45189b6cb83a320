//! The state a kernel's [`Ikc`] handles share ([`Hub`]), and the way
//! out: queuing a message, the fast path that hands it to the client at
//! once, the shared output buffer posts are serialised into, and the
//! subject cache. Also where the subscription tasks tell the IKC session
//! what arrived.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use async_nats::{Client, HeaderMap, Subject};
use bytes::{BufMut, Bytes, BytesMut};
use rpoe::SessionId;
use serde::Serialize;

use crate::call::{CallDeadlines, CallSlot};
use crate::publish::Pub;
use crate::pump::{Arrival, Feed};
#[cfg(doc)]
use crate::Ikc;
use crate::{Address, Config, Error, Stats, ERROR_HEADER};

/// A message waiting to be handed to the client.
pub(crate) struct Outbound {
    pub(crate) subject: Subject,
    pub(crate) reply: Option<String>,
    pub(crate) headers: Option<HeaderMap>,
    pub(crate) payload: Bytes,
    pub(crate) size: usize,
    pub(crate) origin: Option<Origin>,
}

/// Handing one message to the client: the future of its publish.
type PublishFut = Pin<Box<dyn Future<Output = Result<(), async_nats::PublishError>>>>;

/// A message the client's command channel has not taken yet.
pub(crate) struct InFlight {
    pub(crate) fut: PublishFut,
    pub(crate) size: usize,
    pub(crate) origin: Option<Origin>,
}

/// The publish of one message, owning what it needs. Outside tokio's
/// cooperative budget: it is polled from kernel handlers, where an
/// exhausted budget would turn every send after the 128th of a turn
/// into a detour through the drainer.
pub(crate) fn publish(
    client: Rc<Client>,
    subject: Subject,
    reply: Option<String>,
    headers: Option<HeaderMap>,
    payload: Bytes,
) -> PublishFut {
    Box::pin(tokio::task::unconstrained(async move {
        match (reply, headers) {
            (Some(reply), Some(h)) => {
                client
                    .publish_with_reply_and_headers(subject, Subject::from(reply), h, payload)
                    .await
            }
            (Some(reply), None) => {
                client
                    .publish_with_reply(subject, Subject::from(reply), payload)
                    .await
            }
            (None, Some(h)) => client.publish_with_headers(subject, h, payload).await,
            (None, None) => client.publish(subject, payload).await,
        }
    }))
}

/// The crate's error for a failed publish of `size` bytes on the wire.
pub(crate) fn publish_error(
    e: &async_nats::PublishError,
    size: usize,
    max: Option<usize>,
) -> Error {
    match e.kind() {
        async_nats::client::PublishErrorKind::MaxPayloadExceeded => Error::TooLarge {
            size,
            max: max.unwrap_or(0),
        },
        _ => Error::Nats(e.to_string()),
    }
}

/// What became of a post offered to [`Hub::send_now`].
pub(crate) enum SendNow {
    /// The client took it.
    Sent,
    /// It cannot be sent (shut down, too large, the client refused it).
    Failed(Error),
    /// Something waits before it (or the bus is not up): queue it.
    NotNow(Subject, Bytes),
    /// The client's channel is full; the message is gone with the
    /// future: make it again and queue it.
    Later,
}

/// A session waiting for the outgoing buffer to drain.
pub(crate) struct DrainWaiter {
    pub(crate) event: rpoe::EventId,
    /// Holds the session alive until it is told (and names it).
    pub(crate) hold: rpoe::Postback,
}

/// Whom to tell when a queued post fails later.
pub(crate) struct Origin {
    pub(crate) session: SessionId,
    pub(crate) to: Rc<str>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    Idle,
    Connecting,
    Up,
    Down,
    Shut,
}

/// An address's subject (with this kernel as sender) and its text.
type SubjectOf = (Subject, Rc<str>);

pub(crate) struct State {
    pub(crate) session: Option<SessionId>,
    pub(crate) client: Option<Client>,
    pub(crate) phase: Phase,
    /// The reply subscription is in place and the drainer runs.
    pub(crate) ready: bool,
    pub(crate) ever_connected: bool,
    pub(crate) max_payload: Option<usize>,
    pub(crate) outbound: VecDeque<Outbound>,
    pub(crate) outbound_bytes: usize,
    /// A message the client's channel did not take at once; the drainer
    /// sends it before `outbound`.
    pub(crate) in_flight: Option<InFlight>,
    /// The drainer is sending a message it took from `outbound`.
    pub(crate) busy: bool,
    /// The client, for the fast path of [`Hub::enqueue`].
    pub(crate) sender: Option<Rc<Client>>,
    pub(crate) drainer_waker: Option<Waker>,
    /// Sessions to tell (with their event) once the outgoing buffer is
    /// empty ([`Ikc::notify_drained`]).
    pub(crate) drain_waiters: Vec<DrainWaiter>,
    pub(crate) pubs: BTreeMap<String, Rc<Pub>>,
    pub(crate) monitors: Vec<(SessionId, String)>,
    pub(crate) calls: HashMap<u64, Rc<CallSlot>>,
    /// When each call times out (see [`crate::call::timeouts`]); entries
    /// of calls that ended stay until their time, or until the heap
    /// grows past twice the calls waiting, when it is pruned.
    pub(crate) deadlines: CallDeadlines,
    pub(crate) next_token: u64,
    pub(crate) inbox: String,
    pub(crate) stats: Stats,
    /// What the subscription tasks hand the IKC session besides
    /// messages: subscriptions in place or failed, and what a
    /// publication's end drains.
    pub(crate) arrivals: VecDeque<Arrival>,
    /// Subscriptions of publications with messages to take.
    pub(crate) feeds: VecDeque<Rc<Feed>>,
    /// The IKC session has an `_in` event coming.
    pub(crate) rung: bool,
    pub(crate) bell: Option<rpoe::Postback>,
    /// Subjects of recent addresses (cleared when it grows past 1,024).
    pub(crate) subjects: HashMap<Box<str>, SubjectOf>,
    /// The address posted to last, checked before the map.
    pub(crate) last_subject: Option<(Box<str>, SubjectOf)>,
    /// Where outgoing posts are serialised (see [`Hub::encode`]).
    pub(crate) out_buf: BytesMut,
}

impl State {
    /// Messages not yet handed to the client: the buffer, the one whose
    /// publish waits for room in the client's channel, and the one the
    /// drainer is handing over.
    pub(crate) fn pending(&self) -> usize {
        self.outbound.len() + usize::from(self.in_flight.is_some()) + usize::from(self.busy)
    }
}

/// The block [`Hub::encode`] serialises into, and the room below which it
/// takes a new one (or reclaims its block, if no message holds it).
const OUT_BUF_BLOCK: usize = 8 * 1024;
const OUT_BUF_LOW: usize = 256;

/// What the kernel's [`Ikc`] handles share.
pub(crate) struct Hub {
    pub(crate) cfg: Config,
    /// The headers of every message: the sending kernel's name.
    pub(crate) headers: HeaderMap,
    pub(crate) header_bytes: usize,
    pub(crate) st: RefCell<State>,
}

/// The size of headers on the wire (for the buffer's byte bound and the
/// max_payload check): `NATS/1.0\r\n`, `Name: value\r\n` each, `\r\n`.
pub(crate) fn header_size(h: &HeaderMap) -> usize {
    12 + h
        .iter()
        .map(|(k, vs)| {
            vs.iter()
                .map(|v| k.to_string().len() + v.as_str().len() + 4)
                .sum::<usize>()
        })
        .sum::<usize>()
}

impl Hub {
    /// Queue a message for the drainer. `headers`: with their size on
    /// the wire (answers carry the responder's name; posts and calls
    /// name their sender in the subject, and need none).
    pub(crate) fn enqueue(
        &self,
        subject: Subject,
        reply: Option<String>,
        headers: Option<(HeaderMap, usize)>,
        payload: Bytes,
        origin: Option<Origin>,
    ) -> Result<(), Error> {
        let (headers, header_bytes) = match headers {
            Some((h, n)) => (Some(h), n),
            None => (None, 0),
        };
        let size = payload.len() + header_bytes;
        let mut st = self.st.borrow_mut();
        if st.phase == Phase::Shut {
            return Err(Error::Shutdown);
        }
        if let Some(max) = st.max_payload {
            if size > max {
                return Err(Error::TooLarge { size, max });
            }
        }
        let wire = size + subject.len() + reply.as_ref().map_or(0, String::len);
        // The fast path: nothing is queued before this message, so it may
        // go to the client's command channel at once, from the handler,
        // without a hop through the buffer and the drainer task.
        if st.outbound.is_empty()
            && st.in_flight.is_none()
            && !st.busy
            && st.ready
            && st.phase == Phase::Up
        {
            if let Some(client) = st.sender.clone() {
                drop(st);
                let mut fut = publish(client, subject, reply, headers, payload);
                // One poll: the client's channel takes it now, or the
                // future (which keeps its place in the channel's queue)
                // goes to the drainer, ahead of anything queued after it.
                let polled = fut
                    .as_mut()
                    .poll(&mut std::task::Context::from_waker(Waker::noop()));
                let mut st = self.st.borrow_mut();
                match polled {
                    Poll::Ready(Ok(())) => st.stats.sent += 1,
                    Poll::Ready(Err(e)) => return Err(publish_error(&e, wire, st.max_payload)),
                    Poll::Pending => {
                        st.in_flight = Some(InFlight {
                            fut,
                            size: wire,
                            origin,
                        });
                        if let Some(w) = st.drainer_waker.take() {
                            drop(st);
                            w.wake();
                        }
                    }
                }
                return Ok(());
            }
        }
        if st.outbound.len() >= self.cfg.max_pending
            || st.outbound_bytes + wire > self.cfg.max_pending_bytes
        {
            st.stats.dropped_full += 1;
            return Err(Error::BufferFull {
                messages: st.outbound.len(),
                bytes: st.outbound_bytes,
            });
        }
        st.outbound_bytes += wire;
        st.outbound.push_back(Outbound {
            subject,
            reply,
            headers,
            payload,
            size: wire,
            origin,
        });
        if let Some(w) = st.drainer_waker.take() {
            drop(st);
            w.wake();
        }
        Ok(())
    }

    /// A post's fast path: hand `subject` and `payload` to the client at
    /// once if nothing waits before them, with the publish future pinned
    /// on the stack and polled once, not boxed and not cloned into.
    pub(crate) fn send_now(&self, subject: Subject, payload: Bytes) -> SendNow {
        let size = payload.len();
        let st = self.st.borrow_mut();
        if st.phase == Phase::Shut {
            return SendNow::Failed(Error::Shutdown);
        }
        if let Some(max) = st.max_payload {
            if size > max {
                return SendNow::Failed(Error::TooLarge { size, max });
            }
        }
        let client = match &st.sender {
            Some(c)
                if st.outbound.is_empty()
                    && st.in_flight.is_none()
                    && !st.busy
                    && st.ready
                    && st.phase == Phase::Up =>
            {
                c.clone()
            }
            _ => return SendNow::NotNow(subject, payload),
        };
        drop(st);
        let wire = size + subject.len();
        let polled = {
            let fut = std::pin::pin!(tokio::task::unconstrained(client.publish(subject, payload)));
            fut.poll(&mut std::task::Context::from_waker(Waker::noop()))
        };
        let mut st = self.st.borrow_mut();
        match polled {
            Poll::Ready(Ok(())) => {
                st.stats.sent += 1;
                SendNow::Sent
            }
            Poll::Ready(Err(e)) => SendNow::Failed(publish_error(&e, wire, st.max_payload)),
            // The client's channel is full. The future is dropped: its
            // send takes the message only once it has a permit, so
            // nothing was sent, and nothing was queued meanwhile.
            Poll::Pending => SendNow::Later,
        }
    }

    /// `value` as JSON, written into the kernel's output buffer and split
    /// off it: no vector of its own per message (the buffer's block is
    /// reused once every message cut from it is gone).
    pub(crate) fn encode<A: Serialize + ?Sized>(&self, value: &A) -> Result<Bytes, Error> {
        let mut st = self.st.borrow_mut();
        let buf = &mut st.out_buf;
        if buf.capacity() - buf.len() < OUT_BUF_LOW {
            buf.reserve(OUT_BUF_BLOCK);
        }
        match serde_json::to_writer(buf.writer(), value) {
            Ok(()) => Ok(buf.split().freeze()),
            Err(e) => {
                buf.clear();
                Err(Error::Encode(e.to_string()))
            }
        }
    }

    pub(crate) fn answer_error(&self, subject: &Subject, message: &str) -> Result<(), Error> {
        let mut headers = self.headers.clone();
        headers.insert(ERROR_HEADER, "1");
        let header_bytes = header_size(&headers);
        self.enqueue(
            subject.clone(),
            None,
            Some((headers, header_bytes)),
            Bytes::copy_from_slice(message.as_bytes()),
            None,
        )
    }

    pub(crate) fn hub_session(&self) -> Option<SessionId> {
        self.st.borrow().session
    }

    /// The subject of `to` with this kernel as the sender, and the
    /// address as text; cached, so a kernel that posts to the same
    /// addresses does not parse and format them each time.
    pub(crate) fn subject_of(&self, to: &str) -> Result<(Subject, Rc<str>), Error> {
        {
            let st = self.st.borrow();
            if let Some((last, hit)) = &st.last_subject {
                if **last == *to {
                    return Ok(hit.clone());
                }
            }
        }
        let found = self.st.borrow().subjects.get(to).cloned();
        if let Some(hit) = found {
            self.st.borrow_mut().last_subject = Some((to.into(), hit.clone()));
            return Ok(hit);
        }
        let addr: Address = to.parse()?;
        let subject = Subject::from(format!(
            "{}.{}",
            addr.subject(&self.cfg.prefix),
            self.cfg.kernel
        ));
        let entry = (subject, Rc::<str>::from(addr.to_string()));
        let mut st = self.st.borrow_mut();
        if st.subjects.len() >= 1024 {
            st.subjects.clear();
        }
        st.subjects.insert(to.into(), entry.clone());
        st.last_subject = Some((to.into(), entry.clone()));
        Ok(entry)
    }

    /// How many messages the IKC session delivers per kernel round, at
    /// most (and at most [`Config::batch`] of them from one subscription).
    pub(crate) fn round_share(&self) -> usize {
        self.cfg.batch.max(1) * 4
    }

    /// Ring the IKC session's bell, unless it is rung already.
    fn ring(&self, mut st: std::cell::RefMut<'_, State>) {
        let bell = if std::mem::replace(&mut st.rung, true) {
            None
        } else {
            st.bell.clone()
        };
        drop(st);
        if let Some(b) = bell {
            b.post(());
        }
    }

    /// A publication's subscription has messages: list it for the IKC
    /// session and ring the bell.
    pub(crate) fn ready(&self, feed: Rc<Feed>) {
        let mut st = self.st.borrow_mut();
        st.feeds.push_back(feed);
        self.ring(st);
    }

    /// Hand an arrival to the IKC session, ringing its bell if it is not
    /// rung yet (for the few arrivals that are not messages, and what a
    /// publication's end drains).
    pub(crate) fn arrive(&self, a: Arrival) {
        let mut st = self.st.borrow_mut();
        st.arrivals.push_back(a);
        self.ring(st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ikc;

    /// Messages cut from the shared output buffer stay intact while
    /// later ones are written, across its blocks, and a value that fails
    /// to serialise leaves nothing behind for the next message.
    #[test]
    fn encoded_posts_are_independent_across_blocks_and_failures() {
        let ikc = Ikc::new(Config::new("k", "nats://127.0.0.1:4222")).unwrap();
        let hub = &ikc.hub;
        let mut kept = Vec::new();
        for i in 0..2_000u64 {
            let text = "x".repeat((i % 700) as usize);
            kept.push((i, text.clone(), hub.encode(&(i, text)).unwrap()));
            if i % 97 == 0 {
                // A map with non-string keys does not serialise to JSON,
                // after part of it was written.
                let bad: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
                assert!(matches!(hub.encode(&bad), Err(Error::Encode(_))));
            }
        }
        let big = "y".repeat(3 * OUT_BUF_BLOCK);
        let b = hub.encode(&big).unwrap();
        assert_eq!(serde_json::from_slice::<String>(&b).unwrap(), big);
        for (i, text, bytes) in kept {
            let back: (u64, String) = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(back, (i, text));
        }
    }
}
