//! The tasks between the NATS client and the IKC session: a
//! subscription's pump, which tells the IKC session that a publication's
//! subscription has messages (and hands answers to their calls), and the
//! drainer, which hands queued messages to the client in order.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use async_nats::{Client, Subject, Subscriber};
use futures_util::StreamExt;

use crate::call::answer_call;
use crate::hub::{publish, publish_error, Hub, InFlight, Origin, Phase};
use crate::publish::Pub;
#[cfg(doc)]
use crate::Config;
use crate::{Error, QUEUE_GROUP, SHUTDOWN_GRACE};

/// Where an incoming message goes.
pub(crate) enum Route {
    /// Event `idx` of a publication, by name (`any == false`) or `*`.
    Pub(Rc<Pub>, usize, bool),
    /// The reply inbox of this kernel's calls.
    Replies,
}

/// What the subscription tasks hand the IKC session, in order (not the
/// messages of a live publication: see [`Feed`]).
pub(crate) enum Arrival {
    /// A subscription is in place (the server answered a PING after it).
    Subscribed(Rc<Route>),
    /// Subscribing failed.
    Failed(Rc<Route>, String),
    /// A call that reached a publication after it ended: its reply
    /// subject, to answer with an error.
    Refuse(Rc<Route>, Subject),
    /// The drainer handed the last waiting message to the client, and
    /// sessions wait for that.
    Drained,
}

/// A publication's subscription, once in place. The IKC session takes
/// its messages straight from the client's buffer when its bell rings,
/// polling it with the subscription task's waker: no queue of its own in
/// between, so a message is moved once less and the only bound is the
/// client's per-subscription buffer. The task only rings the bell when
/// woken, and takes the subscription back when the publication ends.
pub(crate) struct Feed {
    /// Always a [`Route::Pub`].
    pub(crate) route: Rc<Route>,
    pub(crate) sub: RefCell<Option<Subscriber>>,
    /// The subscription task's waker: a message arriving wakes the task,
    /// which puts the feed back in the IKC session's list.
    pub(crate) waker: RefCell<Option<Waker>>,
    /// In the IKC session's list of feeds to take messages from.
    pub(crate) queued: Cell<bool>,
    /// The client closed the subscription.
    pub(crate) closed: Cell<bool>,
    /// The sender of its last message (most come from few senders).
    pub(crate) last_from: RefCell<Option<Rc<str>>>,
}

pub(crate) enum DrainOut {
    Failed(Option<Origin>, Error),
    Done,
}

/// A subscription task: subscribe, then move messages into the IKC
/// session's bounded inbox until the route ends. At most
/// [`Config::batch`] messages per poll, so one busy subscription cannot
/// keep the kernel from its other work.
pub(crate) async fn pump(hub: Rc<Hub>, client: Client, route: Rc<Route>, subject: String) {
    let r = match &*route {
        Route::Pub(_, _, true) => {
            client
                .queue_subscribe(subject, QUEUE_GROUP.to_string())
                .await
        }
        _ => client.subscribe(subject).await,
    };
    let sub: Subscriber = match r {
        Ok(s) => s,
        Err(e) => {
            hub.arrive(Arrival::Failed(route, e.to_string()));
            return;
        }
    };
    // The server has the subscription once it answered a PING sent after
    // it.
    match client.flush().await {
        Ok(()) => hub.arrive(Arrival::Subscribed(route.clone())),
        Err(e) => hub.arrive(Arrival::Failed(route.clone(), e.to_string())),
    }
    let (p, slot) = match &*route {
        Route::Pub(p, idx, any) => (p.clone(), idx * 2 + usize::from(*any)),
        Route::Replies => {
            answers(&hub, sub).await;
            return;
        }
    };
    let feed = Rc::new(Feed {
        route: route.clone(),
        sub: RefCell::new(Some(sub)),
        waker: RefCell::new(None),
        queued: Cell::new(false),
        closed: Cell::new(false),
        last_from: RefCell::new(None),
    });
    // true: the publication ended; false: the subscription closed.
    let ended = poll_fn(|cx| {
        if p.dead.get() {
            return Poll::Ready(true);
        }
        if feed.closed.get() {
            return Poll::Ready(false);
        }
        p.set_waker(slot, cx.waker());
        match &mut *feed.waker.borrow_mut() {
            Some(w) => w.clone_from(cx.waker()),
            empty => *empty = Some(cx.waker().clone()),
        }
        if !feed.queued.replace(true) {
            hub.ready(feed.clone());
        }
        Poll::Pending
    })
    .await;
    let taken = feed.sub.borrow_mut().take();
    let Some(mut sub) = taken else {
        return;
    };
    if ended && hub.st.borrow().phase != Phase::Shut {
        // Unsubscribe and take what the server sent before it saw the
        // UNSUB (the client closes the stream once the server answered
        // the PING after it), so that calls among them are answered with
        // an error rather than left to time out. At most the
        // subscription's capacity, and for at most 2 s (the bus may be
        // down), so that the task cannot hold the IKC session forever.
        let collect = async {
            if sub.drain().await.is_ok() {
                while let Some(m) = sub.next().await {
                    if let Some(reply) = m.reply {
                        hub.arrive(Arrival::Refuse(route.clone(), reply));
                    }
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), collect).await;
    }
}

/// The reply inbox's task: each answer wakes its call's task directly,
/// with no event of the IKC session in between; at most
/// [`Config::batch`] per poll, so that a flood of answers cannot keep the
/// kernel from its other work.
async fn answers(hub: &Hub, mut sub: Subscriber) {
    let batch = hub.cfg.batch.max(1);
    poll_fn(|cx| {
        for _ in 0..batch {
            match sub.poll_next_unpin(cx) {
                Poll::Ready(Some(m)) => answer_call(hub, m),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Come back next round.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Hand queued messages to the client, in order, until shut down.
pub(crate) async fn drain(hub: Rc<Hub>, client: Client) -> DrainOut {
    // Once shutting down, what is left must be handed over and flushed
    // by this deadline: the bus may be down, and the IKC session must
    // end all the same.
    let mut deadline: Option<tokio::time::Instant> = None;
    let sender = Rc::new(client.clone());
    loop {
        let next = poll_fn(|cx| {
            let mut st = hub.st.borrow_mut();
            st.busy = false;
            if let Some(f) = st.in_flight.take() {
                st.busy = true;
                return Poll::Ready(Some(f));
            }
            if let Some(o) = st.outbound.pop_front() {
                st.outbound_bytes -= o.size;
                st.busy = true;
                return Poll::Ready(Some(InFlight {
                    fut: publish(sender.clone(), o.subject, o.reply, o.headers, o.payload),
                    size: o.size,
                    origin: o.origin,
                }));
            }
            if st.phase == Phase::Shut {
                return Poll::Ready(None);
            }
            match &mut st.drainer_waker {
                Some(w) => w.clone_from(cx.waker()),
                empty => *empty = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await;
        if deadline.is_none() && hub.st.borrow().phase == Phase::Shut {
            deadline = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
        }
        let Some(f) = next else {
            if let Some(d) = deadline {
                let _ = tokio::time::timeout_at(d, client.flush()).await;
            }
            return DrainOut::Done;
        };
        let r = match deadline {
            None => f.fut.await,
            Some(d) => match tokio::time::timeout_at(d, f.fut).await {
                Ok(r) => r,
                // Out of time: what is still queued is dropped.
                Err(_) => return DrainOut::Done,
            },
        };
        match r {
            Ok(()) => {
                let mut st = hub.st.borrow_mut();
                st.stats.sent += 1;
                // Handed over.
                st.busy = false;
                if st.pending() == 0 && !st.drain_waiters.is_empty() {
                    drop(st);
                    hub.arrive(Arrival::Drained);
                }
            }
            Err(e) => {
                hub.st.borrow_mut().busy = false;
                let err = publish_error(&e, f.size, Some(client.max_payload()));
                return DrainOut::Failed(f.origin, err);
            }
        }
    }
}
