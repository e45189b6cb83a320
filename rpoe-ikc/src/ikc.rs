//! The handle a kernel's sessions use: [`Ikc`], with which they post,
//! call, publish, monitor the bus and leave it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::BytesMut;
use rpoe::{Ctx, Session};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::hub::{header_size, DrainWaiter, Hub, Origin, Phase, SendNow, State};
use crate::publish::{Lease, Pub};
use crate::session::{
    close, hub_bus, hub_connected, hub_drained, hub_in, hub_publish, hub_shutdown, hub_start,
    HubHeap,
};
use crate::{check_name, Address, Config, Error, Failed, Publish, Stats, KERNEL_HEADER};
#[cfg(doc)]
use crate::{BusEvent, CallReply, SHUTDOWN_GRACE};

/// A kernel's membership of the bus: cheap to clone (a handle), used
/// from the handlers of the kernel's sessions. Not `Send`: it belongs to
/// its kernel's thread.
#[derive(Clone)]
pub struct Ikc {
    pub(crate) hub: Rc<Hub>,
}

impl fmt::Debug for Ikc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ikc")
            .field("kernel", &self.hub.cfg.kernel)
            .field("phase", &self.hub.st.borrow().phase)
            .finish()
    }
}

impl Ikc {
    /// Check `config` and make the handle; then spawn [`Ikc::session`]
    /// in the kernel that will run on tokio.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a bad kernel name or prefix,
    /// [`Error::Connect`] for an empty server list.
    pub fn new(config: Config) -> Result<Ikc, Error> {
        check_name("kernel", &config.kernel)?;
        check_name("prefix", &config.prefix)?;
        check_name("error event", &config.error_event)?;
        if config.servers.is_empty() {
            return Err(Error::Connect("no server given".into()));
        }
        let mut headers = HeaderMap::new();
        headers.insert(KERNEL_HEADER, config.kernel.as_str());
        Ok(Ikc {
            hub: Rc::new(Hub {
                cfg: config,
                header_bytes: header_size(&headers),
                headers,
                st: RefCell::new(State {
                    session: None,
                    client: None,
                    phase: Phase::Idle,
                    ready: false,
                    ever_connected: false,
                    max_payload: None,
                    outbound: VecDeque::new(),
                    outbound_bytes: 0,
                    in_flight: None,
                    busy: false,
                    sender: None,
                    drainer_waker: None,
                    drain_waiters: Vec::new(),
                    pubs: BTreeMap::new(),
                    monitors: Vec::new(),
                    calls: HashMap::new(),
                    deadlines: crate::call::CallDeadlines::default(),
                    next_token: 1,
                    inbox: String::new(),
                    stats: Stats::default(),
                    arrivals: VecDeque::new(),
                    feeds: VecDeque::new(),
                    rung: false,
                    bell: None,
                    subjects: HashMap::new(),
                    last_subject: None,
                    out_buf: BytesMut::new(),
                }),
            }),
        })
    }

    /// This kernel's name on the bus.
    pub fn kernel_name(&self) -> &str {
        &self.hub.cfg.kernel
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.hub.cfg
    }

    /// Whether the bus is connected now.
    pub fn is_connected(&self) -> bool {
        self.hub.st.borrow().phase == Phase::Up
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let st = self.hub.st.borrow();
        Stats {
            pending: st.pending(),
            ..st.stats
        }
    }

    /// Messages not handed to the client yet ([`Stats::pending`] alone,
    /// without copying the counters): a producer that posts in a
    /// loop can stop when it is above 0, letting the kernel turn and the
    /// client catch up, as awaiting each publish would.
    pub fn pending(&self) -> usize {
        self.hub.st.borrow().pending()
    }

    /// Post `event` (argument `()`) to the running session once nothing
    /// waits in the outgoing buffer ([`Ikc::pending`] is 0): at once (as
    /// a yield) if nothing waits now, else when the IKC session has
    /// handed the last waiting message to the client. The way for a
    /// producer to follow back-pressure without losing posts to
    /// [`Error::BufferFull`] and without polling: post while
    /// [`Ikc::pending`] is 0, then ask for this and go on from its event
    /// (as POE's wheels' flushed events let a writer wait). A session
    /// asking again for the same event before it came is told once. When
    /// the IKC session shuts down, waiting sessions are told too (the
    /// buffer is then empty for good). Until told, the session is held
    /// alive, as by any event source it waits for.
    ///
    /// ```no_run
    /// use rpoe::{Kernel, Session};
    /// use rpoe_ikc::{Config, Ikc};
    ///
    /// let ikc = Ikc::new(Config::new("producer", "nats://127.0.0.1:4222")).unwrap();
    /// let mut kernel = Kernel::new().unwrap();
    /// kernel.spawn(ikc.session(), ());
    /// let i = ikc.clone();
    /// kernel.spawn(
    ///     Session::new(0u64)
    ///         .on("_start", |ctx| ctx.yield_event("more", ()))
    ///         .on("more", move |ctx| {
    ///             // Post until the client's channel is full, then wait
    ///             // for the buffer to drain.
    ///             while *ctx.heap() < 1_000_000 {
    ///                 let n = *ctx.heap();
    ///                 i.post(ctx, "consumer/sink/item", &n).unwrap();
    ///                 *ctx.heap() += 1;
    ///                 if i.pending() > 0 {
    ///                     i.notify_drained(ctx, "more");
    ///                     return;
    ///                 }
    ///             }
    ///             i.shutdown(ctx);
    ///         }),
    ///     (),
    /// );
    /// rpoe::tokio::run(&mut kernel).unwrap();
    /// ```
    pub fn notify_drained<H: 'static>(&self, ctx: &mut Ctx<'_, H>, event: &str) {
        if self.pending() == 0 {
            ctx.yield_event(event, ());
            return;
        }
        let (me, id) = (ctx.id(), ctx.event_id(event));
        if self
            .hub
            .st
            .borrow()
            .drain_waiters
            .iter()
            .any(|w| w.hold.session() == me && w.event == id)
        {
            return;
        }
        // The session waits for the bus, as for any event source: held
        // alive until told (a postback is a hold released however it
        // ends, even dropped untold with the kernel).
        let hold = ctx.postback(id, ());
        self.hub
            .st
            .borrow_mut()
            .drain_waiters
            .push(DrainWaiter { event: id, hold });
    }

    /// The IKC session: spawn it once, in the kernel this handle is used
    /// in (argument `()`). It connects, keeps the subscriptions of the
    /// kernel's publications, hands outgoing messages to the client and
    /// delivers incoming ones. It lives until [`Ikc::shutdown`] (or the
    /// first connection fails).
    pub fn session(&self) -> Session<HubHeap> {
        Session::new(HubHeap {
            hub: self.hub.clone(),
            bus: None,
            replies: None,
            drainer: None,
            timeouts: None,
        })
        .on("_start", hub_start)
        .on("_connected", hub_connected)
        .on("_bus", hub_bus)
        .on("_in", hub_in)
        .on("_pump_end", |_| {})
        .on("_timeouts", |_| {})
        .on("_drained", hub_drained)
        .on("_publish", hub_publish)
        .on("_shutdown", hub_shutdown)
        .on("_stop", |ctx| {
            let hub = ctx.heap().hub.clone();
            close(ctx, &hub, Error::Shutdown);
        })
    }

    /// Post `event` with `args` to the session published as `alias` on
    /// `kernel`, or on any kernel that serves it: `to` is
    /// `kernel/alias/event` or `*/alias/event`. Fire and forget, as POE's
    /// post: nothing says whether anybody received it.
    ///
    /// # Errors
    ///
    /// Only for bad input, synchronously: [`Error::InvalidAddress`],
    /// [`Error::InvalidName`], [`Error::Encode`]. What fails later or for
    /// lack of room ([`Error::BufferFull`], [`Error::TooLarge`],
    /// [`Error::Shutdown`]) comes to the posting session as the
    /// [`Config::error_event`] with a [`Failed`] argument.
    pub fn post<H: 'static, A: Serialize + ?Sized>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &str,
        args: &A,
    ) -> Result<(), Error> {
        let (subject, to_rc) = self.hub.subject_of(to)?;
        let payload = self.hub.encode(args)?;
        let (subject, payload) = match self.hub.send_now(subject, payload) {
            SendNow::Sent => return Ok(()),
            SendNow::Failed(error) => {
                ctx.yield_event(
                    self.hub.cfg.error_event.as_str(),
                    Failed {
                        to: to_rc.to_string(),
                        error,
                    },
                );
                return Ok(());
            }
            SendNow::NotNow(subject, payload) => (subject, payload),
            // Rare (back-pressure): serialising again costs less than
            // copying every post in case it is needed.
            SendNow::Later => (self.hub.subject_of(to)?.0, self.hub.encode(args)?),
        };
        let to = to_rc;
        let origin = Origin {
            session: ctx.id(),
            to: to.clone(),
        };
        if let Err(error) = self.hub.enqueue(subject, None, None, payload, Some(origin)) {
            ctx.yield_event(
                self.hub.cfg.error_event.as_str(),
                Failed {
                    to: to.to_string(),
                    error,
                },
            );
        }
        Ok(())
    }

    /// [`Ikc::post`] to a parsed [`Address`].
    ///
    /// # Errors
    ///
    /// As [`Ikc::post`].
    pub fn post_to<H: 'static, A: Serialize + ?Sized>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &Address,
        args: &A,
    ) -> Result<(), Error> {
        self.post(ctx, &to.to_string(), args)
    }

    /// Call `to` (`kernel/alias/event` or `*/alias/event`) with `args`,
    /// POE::Component::IKC's call with RSVP: the answer comes back to
    /// this session as `rsvp`, with a [`CallReply<R>`] argument, after at
    /// most [`Config::call_timeout`]. The calling session is held alive
    /// until then (the wait is one of its tasks).
    ///
    /// # Errors
    ///
    /// Only for bad input, synchronously: [`Error::InvalidAddress`],
    /// [`Error::InvalidName`], [`Error::Encode`]. Every other failure is
    /// the RSVP event's `result`.
    pub fn call<A: Serialize + ?Sized, R: DeserializeOwned + 'static, H: 'static>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &str,
        args: &A,
        rsvp: &str,
    ) -> Result<(), Error> {
        self.call_timeout::<A, R, H>(ctx, to, args, rsvp, self.hub.cfg.call_timeout)
    }

    /// [`Ikc::call`] with its own timeout.
    ///
    /// # Errors
    ///
    /// As [`Ikc::call`].
    pub fn call_timeout<A: Serialize + ?Sized, R: DeserializeOwned + 'static, H: 'static>(
        &self,
        ctx: &mut Ctx<'_, H>,
        to: &str,
        args: &A,
        rsvp: &str,
        timeout: Duration,
    ) -> Result<(), Error> {
        crate::call::call::<A, R, H>(&self.hub, ctx, to, args, rsvp, timeout)
    }

    /// Publish the running session: from now on, the events of `p` sent
    /// to `THIS-KERNEL/alias/event` or `*/alias/event` come to it. The
    /// session is held alive while published (the bus is one of its event
    /// sources); the publication ends when it stops, whatever the reason,
    /// or calls [`Ikc::unpublish`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a bad alias or event name,
    /// [`Error::AlreadyPublished`] if another live publication of this
    /// kernel has the alias, [`Error::Shutdown`] after shutdown.
    pub fn publish<H: 'static>(&self, ctx: &mut Ctx<'_, H>, p: Publish) -> Result<(), Error> {
        check_name("alias", &p.alias)?;
        for (e, _) in &p.events {
            check_name("event", e)?;
        }
        if let Some(r) = &p.ready {
            check_name("event", r)?;
        }
        let hub_session = {
            let st = self.hub.st.borrow();
            if st.phase == Phase::Shut {
                return Err(Error::Shutdown);
            }
            if st.pubs.get(&p.alias).is_some_and(|old| !old.dead.get()) {
                return Err(Error::AlreadyPublished(p.alias));
            }
            st.session
        };
        let n = p.events.len();
        let publication = Rc::new(Pub {
            alias: Rc::from(p.alias.as_str()),
            session: ctx.id(),
            events: p
                .events
                .into_iter()
                .map(|(n, d)| (Rc::from(n), d))
                .collect(),
            ids: RefCell::new(Vec::new()),
            ready: p.ready,
            dead: Cell::new(false),
            started: Cell::new(false),
            subscribed: Cell::new(0),
            wakers: RefCell::new(vec![None; n * 2 + 1]),
        });
        self.hub
            .st
            .borrow_mut()
            .pubs
            .insert(p.alias, publication.clone());
        ctx.spawn_future(
            "_ikc_unpublished",
            Lease {
                publication: publication.clone(),
            },
        );
        if let Some(hub) = hub_session {
            // Subscribes now if connected, else when connected.
            let _ = ctx.post(hub, "_publish", ());
        }
        Ok(())
    }

    /// End the publication of `alias` made by the running session: its
    /// subjects are unsubscribed and the session no longer held alive by
    /// it. Returns false if the session has no such publication.
    pub fn unpublish<H: 'static>(&self, ctx: &mut Ctx<'_, H>, alias: &str) -> bool {
        let me = ctx.id();
        let found = {
            let mut st = self.hub.st.borrow_mut();
            match st.pubs.get(alias) {
                Some(p) if p.session == me && !p.dead.get() => st.pubs.remove(alias),
                _ => None,
            }
        };
        match found {
            Some(p) => {
                p.kill();
                true
            }
            None => false,
        }
    }

    /// Send the running session `event` with a [`BusEvent`] argument
    /// whenever the bus connects, disconnects, reconnects or reports a
    /// problem (POE::Component::IKC's monitor of the connection). A
    /// session that is gone is forgotten.
    pub fn monitor<H: 'static>(&self, ctx: &mut Ctx<'_, H>, event: &str) {
        let me = ctx.id();
        let mut st = self.hub.st.borrow_mut();
        st.monitors.retain(|(s, _)| *s != me);
        st.monitors.push((me, event.to_string()));
    }

    /// Stop monitoring for the running session.
    pub fn unmonitor<H: 'static>(&self, ctx: &mut Ctx<'_, H>) {
        let me = ctx.id();
        self.hub.st.borrow_mut().monitors.retain(|(s, _)| *s != me);
    }

    /// Leave the bus: what is queued is handed to the client and flushed
    /// (for at most [`SHUTDOWN_GRACE`]: while the bus is down, what is
    /// left then is dropped), publications end, calls still waiting get
    /// [`Error::Shutdown`], monitors get [`BusEvent::Closed`], and the IKC
    /// session ends.
    pub fn shutdown<H: 'static>(&self, ctx: &mut Ctx<'_, H>) {
        if let Some(hub) = self.hub.hub_session() {
            let _ = ctx.post(hub, "_shutdown", ());
        }
    }
}
