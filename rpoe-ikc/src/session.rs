//! The IKC session: its heap and its handlers. It connects, follows
//! the bus's events and tells the monitors, starts the subscriptions of
//! publications, delivers what the subscription tasks hand it, and shuts
//! down.

use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

use futures_util::StreamExt;

use async_nats::Client;
use rpoe::Ctx;

use crate::call::CallSlot;
use crate::hub::{Hub, Outbound, Phase};
use crate::publish::{meta_of, refuse_call, Pub, RunEnd};
use crate::pump::{drain, pump, Arrival, DrainOut, Feed, Route};
use crate::{address, BusEvent, Error, Failed};

/// The IKC session's heap.
pub struct HubHeap {
    pub(crate) hub: Rc<Hub>,
    /// The long-lived tasks, cancelled when the session closes (the
    /// publications' tasks end with their publications).
    pub(crate) bus: Option<rpoe::TaskId>,
    pub(crate) replies: Option<rpoe::TaskId>,
    pub(crate) drainer: Option<rpoe::TaskId>,
    pub(crate) timeouts: Option<rpoe::TaskId>,
}

/// Fail everything that waits, end publications, tell the sessions
/// waiting for the outgoing buffer to drain (it is empty for good now):
/// shutdown or a failed first connection.
pub(crate) fn close(ctx: &mut Ctx<'_, HubHeap>, hub: &Hub, error: Error) {
    let (calls, pubs, outbound) = {
        let mut st = hub.st.borrow_mut();
        st.phase = Phase::Shut;
        st.client = None;
        st.sender = None;
        st.in_flight = None;
        let calls: Vec<Rc<CallSlot>> = st.calls.drain().map(|(_, s)| s).collect();
        let pubs: Vec<Rc<Pub>> = std::mem::take(&mut st.pubs).into_values().collect();
        let outbound: Vec<Outbound> = st.outbound.drain(..).collect();
        st.outbound_bytes = 0;
        // The bell is a postback, which holds the IKC session alive.
        st.bell = None;
        st.arrivals.clear();
        st.feeds.clear();
        (calls, pubs, outbound)
    };
    for c in calls {
        c.fill(Err(error.clone()));
    }
    for p in pubs {
        p.kill();
    }
    drop(outbound);
    tell_drained(ctx, hub);
}

/// Tell the sessions waiting for the outgoing buffer to drain.
fn tell_drained(ctx: &mut Ctx<'_, HubHeap>, hub: &Hub) {
    let waiters = std::mem::take(&mut hub.st.borrow_mut().drain_waiters);
    for w in waiters {
        // A session that stopped meanwhile has nobody to tell. The event
        // is queued before the hold goes: the session stays alive for it.
        let _ = ctx.post(w.hold.session(), w.event, ());
        drop(w.hold);
    }
}

fn tell_monitors(ctx: &mut Ctx<'_, HubHeap>, ev: &BusEvent) {
    let monitors = ctx.heap().hub.st.borrow().monitors.clone();
    let mut gone = Vec::new();
    for (s, event) in monitors {
        if ctx.post(s, event.as_str(), ev.clone()).is_err() {
            gone.push(s);
        }
    }
    if !gone.is_empty() {
        ctx.heap()
            .hub
            .st
            .borrow_mut()
            .monitors
            .retain(|(s, _)| !gone.contains(s));
    }
}

pub(crate) fn hub_start(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    {
        let mut st = hub.st.borrow_mut();
        if st.session.is_some() {
            tracing_free_warn(
                "rpoe-ikc: Ikc::session() spawned twice; the second one does nothing",
            );
            return;
        }
        st.session = Some(ctx.id());
        st.phase = Phase::Connecting;
    }
    // One timer for the timeouts of all calls (those made before now
    // have their own).
    hub.st.borrow_mut().deadlines.running = true;
    let t = ctx.spawn_future("_timeouts", crate::call::timeouts(Rc::downgrade(&hub)));
    ctx.heap().timeouts = Some(t);
    // The subscription tasks ring this when they hand over messages.
    let bell = ctx.postback("_in", ());
    hub.st.borrow_mut().bell = Some(bell);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let options = hub.cfg.client_options(tx);
    let servers = hub.cfg.servers.clone();
    let t = ctx.spawn_future("_bus", bus_events(rx));
    ctx.heap().bus = Some(t);
    ctx.spawn_future("_connected", async move {
        options.connect(servers).await.map_err(|e| e.to_string())
    });
}

async fn bus_events(
    mut rx: tokio::sync::mpsc::Receiver<async_nats::Event>,
) -> (
    tokio::sync::mpsc::Receiver<async_nats::Event>,
    Option<async_nats::Event>,
) {
    let ev = rx.recv().await;
    (rx, ev)
}

fn tracing_free_warn(msg: &str) {
    eprintln!("{msg}");
}

pub(crate) fn hub_connected(ctx: &mut Ctx<'_, HubHeap>) {
    let Ok(r) = ctx.take_arg::<Result<Client, String>>() else {
        return;
    };
    let hub = ctx.heap().hub.clone();
    match r {
        Ok(client) => {
            if hub.st.borrow().phase == Phase::Shut {
                return;
            }
            let inbox = client.new_inbox();
            {
                let mut st = hub.st.borrow_mut();
                st.inbox = inbox.clone();
                st.max_payload = Some(client.server_info().max_payload).filter(|m| *m > 0);
                st.client = Some(client.clone());
                st.sender = Some(Rc::new(client.clone()));
                st.phase = Phase::Up;
                // Calls queued before the inbox existed get their reply
                // subjects now.
                for o in st.outbound.iter_mut() {
                    if let Some(r) = &mut o.reply {
                        if let Some(token) = r.strip_prefix('?') {
                            *r = format!("{inbox}.{token}");
                        }
                    }
                }
            }
            let t = ctx.spawn_future(
                "_pump_end",
                pump(
                    hub.clone(),
                    client,
                    Rc::new(Route::Replies),
                    format!("{inbox}.*"),
                ),
            );
            ctx.heap().replies = Some(t);
        }
        Err(e) => {
            close(ctx, &hub, Error::Connect(e.clone()));
            tell_monitors(ctx, &BusEvent::ConnectFailed(e));
            cancel_tasks(ctx);
        }
    }
}

fn cancel_tasks(ctx: &mut Ctx<'_, HubHeap>) {
    let h = ctx.heap();
    let tasks = [
        h.bus.take(),
        h.replies.take(),
        h.drainer.take(),
        h.timeouts.take(),
    ];
    for t in tasks.into_iter().flatten() {
        ctx.task_cancel(t);
    }
}

pub(crate) fn hub_bus(ctx: &mut Ctx<'_, HubHeap>) {
    type Rx = tokio::sync::mpsc::Receiver<async_nats::Event>;
    let Ok((rx, ev)) = ctx.take_arg::<(Rx, Option<async_nats::Event>)>() else {
        return;
    };
    let Some(ev) = ev else {
        return;
    };
    let hub = ctx.heap().hub.clone();
    if hub.st.borrow().phase == Phase::Shut {
        return;
    }
    let t = ctx.spawn_future("_bus", bus_events(rx));
    ctx.heap().bus = Some(t);
    let bus = {
        let mut st = hub.st.borrow_mut();
        match ev {
            async_nats::Event::Connected => {
                st.phase = Phase::Up;
                if std::mem::replace(&mut st.ever_connected, true) {
                    st.stats.reconnects += 1;
                    BusEvent::Reconnected
                } else {
                    BusEvent::Connected
                }
            }
            async_nats::Event::Disconnected => {
                st.phase = Phase::Down;
                BusEvent::Disconnected
            }
            async_nats::Event::SlowConsumer(sid) => {
                st.stats.slow_consumer += 1;
                BusEvent::SlowConsumer(sid)
            }
            async_nats::Event::LameDuckMode => BusEvent::LameDuck,
            async_nats::Event::Closed => BusEvent::Closed,
            other => BusEvent::Error(other.to_string()),
        }
    };
    tell_monitors(ctx, &bus);
}

/// Start the subscriptions of publications that have none yet.
fn start_pubs(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    let (client, todo) = {
        let mut st = hub.st.borrow_mut();
        if !st.ready {
            return;
        }
        let Some(client) = st.client.clone() else {
            return;
        };
        st.pubs.retain(|_, p| !p.dead.get());
        let todo: Vec<Rc<Pub>> = st
            .pubs
            .values()
            .filter(|p| !p.started.replace(true))
            .cloned()
            .collect();
        (client, todo)
    };
    let prefix = hub.cfg.prefix.clone();
    for p in todo {
        let ids: Vec<rpoe::EventId> = p.events.iter().map(|(e, _)| ctx.event_id(e)).collect();
        *p.ids.borrow_mut() = ids;
        for (i, (event, _)) in p.events.iter().enumerate() {
            for any in [false, true] {
                let kernel = if any {
                    address::ANY_TOKEN
                } else {
                    hub.cfg.kernel.as_str()
                };
                // The last token names the sender.
                let subject = format!("{prefix}.{kernel}.{}.{event}.*", p.alias);
                let route = Rc::new(Route::Pub(p.clone(), i, any));
                ctx.spawn_future(
                    "_pump_end",
                    pump(hub.clone(), client.clone(), route, subject),
                );
            }
        }
        if p.events.is_empty() {
            if let Some(r) = &p.ready {
                let _ = ctx.post(p.session, r.as_str(), p.alias.clone());
            }
        }
    }
}

pub(crate) fn hub_publish(ctx: &mut Ctx<'_, HubHeap>) {
    start_pubs(ctx);
}

/// Tell a publishing session that something sent to its event `idx`
/// failed (its error event, as posts' failures are told).
fn tell_publisher(ctx: &mut Ctx<'_, HubHeap>, hub: &Hub, p: &Pub, idx: usize, error: Error) {
    let _ = ctx.post(
        p.session,
        hub.cfg.error_event.as_str(),
        Failed {
            to: format!("{}/{}", p.alias, p.events[idx].0),
            error,
        },
    );
}

/// The bell: handle what the subscription tasks handed over, then take
/// messages from the subscriptions that have some and deliver them, a
/// bounded number per round.
pub(crate) fn hub_in(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    let mut share = hub.round_share();
    let (items, shut) = {
        let st = hub.st.borrow();
        (st.arrivals.len().min(share), st.phase == Phase::Shut)
    };
    if shut {
        let mut st = hub.st.borrow_mut();
        st.arrivals.clear();
        st.feeds.clear();
        st.rung = false;
        return;
    }
    let mut tally = Tally::default();
    for _ in 0..items {
        let Some(a) = hub.st.borrow_mut().arrivals.pop_front() else {
            break;
        };
        match a {
            Arrival::Subscribed(route) => subscribed(ctx, &hub, &route),
            Arrival::Failed(route, e) => match &*route {
                Route::Replies => tell_monitors(ctx, &BusEvent::Error(format!("reply inbox: {e}"))),
                Route::Pub(p, idx, _) => tell_publisher(ctx, &hub, p, *idx, Error::Nats(e)),
            },
            Arrival::Refuse(route, reply) => {
                if let Route::Pub(p, idx, _) = &*route {
                    refuse_call(&hub, p, *idx, &reply);
                }
            }
            Arrival::Drained => {
                // Unless messages were queued again since.
                if hub.st.borrow().pending() == 0 {
                    tell_drained(ctx, &hub);
                }
            }
        }
    }
    share -= items;
    while share > 0 {
        let Some(feed) = hub.st.borrow_mut().feeds.pop_front() else {
            break;
        };
        share -= take_feed(ctx, &hub, feed, share, &mut tally);
    }
    let mut st = hub.st.borrow_mut();
    st.stats.delivered += tally.delivered;
    st.stats.decode_errors += tally.decode_errors;
    st.pubs.retain(|_, p| !p.dead.get());
    if st.arrivals.is_empty() && st.feeds.is_empty() {
        st.rung = false;
    } else {
        drop(st);
        // More than one round's worth: go on next round, after the
        // kernel's other events.
        ctx.yield_event("_in", ());
    }
}

/// What one `_in` delivered, for the stats.
#[derive(Default)]
struct Tally {
    delivered: u64,
    decode_errors: u64,
}

/// Deliver what `feed`'s subscription holds, at most [`Config::batch`]
/// and at most `share` messages; put it back in the list if it may hold
/// more. Returns how many it took.
///
/// [`Config::batch`]: crate::Config::batch
fn take_feed(
    ctx: &mut Ctx<'_, HubHeap>,
    hub: &Rc<Hub>,
    feed: Rc<Feed>,
    share: usize,
    tally: &mut Tally,
) -> usize {
    let Route::Pub(p, idx, any) = &*feed.route else {
        feed.queued.set(false);
        return 0;
    };
    let waker = feed.waker.borrow().clone();
    let (Some(waker), false) = (waker, p.dead.get()) else {
        // Ended: its task takes the subscription back and drains it.
        feed.queued.set(false);
        return 0;
    };
    let mut cx = std::task::Context::from_waker(&waker);
    let most = share.min(hub.cfg.batch.max(1));
    let Some(id) = p.ids.borrow().get(*idx).copied() else {
        p.kill();
        feed.queued.set(false);
        return 0;
    };
    let mut n = 0;
    // Why the source stopped giving messages, besides the share.
    let mut stop: Option<SourceEnd> = None;
    loop {
        let before = n;
        let run = {
            let mut source = || {
                if n >= most || p.dead.get() {
                    return None;
                }
                let polled = match feed.sub.borrow_mut().as_mut() {
                    // Outside tokio's cooperative budget, which would end
                    // the batch at 128 messages per turn of the tokio
                    // task driving the kernel: the share bounds it
                    // instead.
                    Some(sub) => std::pin::pin!(tokio::task::unconstrained(std::future::poll_fn(
                        |cx| sub.poll_next_unpin(cx)
                    )))
                    .poll(&mut cx),
                    None => Poll::Ready(None),
                };
                match polled {
                    Poll::Ready(Some(mut m)) => {
                        n += 1;
                        let meta = meta_of(hub, p, *idx, *any, &feed.last_from, &mut m);
                        Some((meta, m.payload))
                    }
                    // Closed: its task ends (and so does the
                    // publication's share).
                    Poll::Ready(None) => {
                        stop = Some(SourceEnd::Closed);
                        None
                    }
                    // The client wakes the task when more comes.
                    Poll::Pending => {
                        stop = Some(SourceEnd::Empty);
                        None
                    }
                }
            };
            (p.events[*idx].1)(ctx, p.session, id, &mut source)
        };
        tally.delivered += run.delivered;
        match run.end {
            RunEnd::More => {}
            RunEnd::Decode(why, reply) => {
                tally.decode_errors += 1;
                if let Some(mut r) = reply {
                    r.0.done = true;
                    let _ = hub.answer_error(
                        &r.0.subject,
                        &format!("cannot deserialise the arguments: {why}"),
                    );
                }
                tell_publisher(ctx, hub, p, *idx, Error::Decode(why));
            }
            RunEnd::Gone => {
                // The session stopped (its lease is being dropped); a
                // call among these was answered by its ReplyTo's drop.
                p.kill();
            }
        }
        if p.dead.get() || stop == Some(SourceEnd::Empty) {
            feed.queued.set(false);
            return n;
        }
        if stop == Some(SourceEnd::Closed) {
            feed.closed.set(true);
            feed.queued.set(false);
            waker.wake();
            return n;
        }
        // The share is taken, or a run ended without taking a message
        // (the kernel refused it): after the others.
        if n >= most || n == before {
            break;
        }
    }
    hub.st.borrow_mut().feeds.push_back(feed);
    n
}

/// Why a subscription gave no more messages to a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SourceEnd {
    /// None waiting: the client wakes its task when more come.
    Empty,
    /// The client closed the subscription.
    Closed,
}

/// A subscription is in place.
fn subscribed(ctx: &mut Ctx<'_, HubHeap>, hub: &Rc<Hub>, route: &Route) {
    match route {
        Route::Replies => {
            // Replies can arrive: let outgoing messages go.
            let client = {
                let mut st = hub.st.borrow_mut();
                st.ready = true;
                st.client.clone()
            };
            if let Some(client) = client {
                let t = ctx.spawn_future("_drained", drain(hub.clone(), client));
                ctx.heap().drainer = Some(t);
            }
            start_pubs(ctx);
        }
        Route::Pub(p, _, _) => {
            let n = p.subscribed.get() + 1;
            p.subscribed.set(n);
            if n == p.events.len() * 2 {
                if let Some(r) = &p.ready {
                    let _ = ctx.post(p.session, r.as_str(), p.alias.to_string());
                }
            }
        }
    }
}

pub(crate) fn hub_drained(ctx: &mut Ctx<'_, HubHeap>) {
    let Ok(out) = ctx.take_arg::<DrainOut>() else {
        return;
    };
    let hub = ctx.heap().hub.clone();
    match out {
        DrainOut::Failed(origin, error) => {
            if let Some(o) = origin {
                let _ = ctx.post(
                    o.session,
                    hub.cfg.error_event.as_str(),
                    Failed {
                        to: o.to.to_string(),
                        error,
                    },
                );
            }
            let client = hub.st.borrow().client.clone();
            if let Some(client) = client {
                let t = ctx.spawn_future("_drained", drain(hub.clone(), client));
                ctx.heap().drainer = Some(t);
            }
            // The failed message was the last one waiting.
            if hub.st.borrow().pending() == 0 {
                tell_drained(ctx, &hub);
            }
        }
        DrainOut::Done => {
            close(ctx, &hub, Error::Shutdown);
            tell_monitors(ctx, &BusEvent::Closed);
            cancel_tasks(ctx);
        }
    }
}

pub(crate) fn hub_shutdown(ctx: &mut Ctx<'_, HubHeap>) {
    let hub = ctx.heap().hub.clone();
    let draining = {
        let mut st = hub.st.borrow_mut();
        if st.phase == Phase::Shut {
            return;
        }
        let draining = st.ready;
        st.phase = Phase::Shut;
        if let Some(w) = st.drainer_waker.take() {
            drop(st);
            w.wake();
        }
        draining
    };
    if !draining {
        close(ctx, &hub, Error::Shutdown);
        tell_monitors(ctx, &BusEvent::Closed);
        cancel_tasks(ctx);
    } else {
        // End publications and calls now; the drainer sends what is
        // queued, flushes, and its `_drained` closes the rest.
        let (calls, pubs) = {
            let mut st = hub.st.borrow_mut();
            let calls: Vec<Rc<CallSlot>> = st.calls.drain().map(|(_, s)| s).collect();
            let pubs: Vec<Rc<Pub>> = std::mem::take(&mut st.pubs).into_values().collect();
            (calls, pubs)
        };
        for c in calls {
            c.fill(Err(Error::Shutdown));
        }
        for p in pubs {
            p.kill();
        }
    }
}
