//! The client's session: its handlers, and the steps they share —
//! connecting, connected, a failed attempt, closing, and carrying out a
//! shutdown.
//!
//! Why a file of its own: this is the life cycle the module
//! documentation describes, in one place, each event a few lines that
//! call the shared steps; those keep the heap's flags consistent (one
//! connection or attempt at a time, `on_disconnected` once a connection,
//! a shutdown honoured after whichever callback asked for it). When to
//! try again after a loss is left to `reconnect.rs`.

use std::net::SocketAddr;
use std::rc::Rc;

use mio::net::TcpStream;

use super::reconnect::Jitter;
use super::{
    ClientTcp, Connection, EV_CONNECT, EV_ERROR, EV_FAIL, EV_FLUSHED, EV_HIGH, EV_INPUT, EV_LOW,
    EV_OK, EV_RECONNECT, EV_RETRY, EV_SHUTDOWN, EV_TIMEOUT,
};
use crate::filter::Filter;
use crate::kernel::{Ctx, Session};
use crate::wheel::{ReadWrite, SocketFactory, TcpConnected, WheelError, WheelId};

/// `ETIMEDOUT`, reported for a connect that outlasts the timeout.
const ETIMEDOUT: i32 = crate::os::ETIMEDOUT;

impl<F: Filter + Clone + 'static, U: 'static> ClientTcp<F, U>
where
    F::Record: 'static,
{
    /// The session, with the settings and callbacks shared by its handlers.
    pub(super) fn build(mut self) -> Session<Connection<F::Record, U>> {
        let heap = Connection {
            wheel: None,
            factory: None,
            remote: self.remote,
            local: None,
            state: (self.new_state)(),
            connected: false,
            closing: false,
            shutdown: false,
            shut: false,
            failures: 0,
            next_delay: None,
            connected_at: None,
            rng: Jitter::new(self.remote),
        };
        let states = std::mem::take(&mut self.states);
        let me = Rc::new(self);
        let mut session = Session::new(heap);
        for (name, f) in states {
            let me = me.clone();
            session = session.on(&name, move |ctx| {
                f(ctx);
                me.settle(ctx);
            });
        }
        let m = me.clone();
        session = session.on("_start", move |ctx| {
            if let Some(a) = &m.alias {
                let _ = ctx.alias_set(a);
            }
            ctx.yield_event(EV_RETRY, ());
            if let Some(f) = &m.on_started {
                f(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_RECONNECT, move |ctx| m.start_connect(ctx));
        let m = me.clone();
        session = session.on(EV_RETRY, move |ctx| {
            if !ctx.heap().shutdown {
                m.start_connect(ctx);
            }
        });
        let m = me.clone();
        session = session.on(EV_CONNECT, move |ctx| {
            if let Ok(addr) = ctx.take_arg::<SocketAddr>() {
                ctx.heap().remote = addr;
            }
            m.start_connect(ctx);
        });
        let m = me.clone();
        session = session.on(EV_OK, move |ctx| {
            let Ok(c) = ctx.take_arg::<TcpConnected>() else {
                return;
            };
            if !ctx.heap().is_current(c.wheel) {
                return; // an attempt given up meanwhile: drop the stream
            }
            m.connected(ctx, c.stream);
        });
        let m = me.clone();
        session = session.on(EV_FAIL, move |ctx| {
            let Ok(e) = ctx.take_arg::<WheelError>() else {
                return;
            };
            if !ctx.heap().is_current(e.wheel) {
                return;
            }
            m.connect_failed(ctx, e);
        });
        let m = me.clone();
        session = session.on(EV_TIMEOUT, move |ctx| {
            let Ok(wheel) = ctx.take_arg::<WheelId>() else {
                return;
            };
            if !ctx.heap().is_current(wheel) {
                return; // a late timer of an attempt already settled
            }
            let e = std::io::Error::from_raw_os_error(ETIMEDOUT);
            m.connect_failed(ctx, WheelError::io("connect", &e, wheel));
        });
        let m = me.clone();
        session = session.on(EV_INPUT, move |ctx| {
            let Ok((record, _)) = ctx.take_arg::<(F::Record, WheelId)>() else {
                return;
            };
            if ctx.heap().shutdown || ctx.heap().closing {
                return;
            }
            (m.on_input)(ctx, record);
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_FLUSHED, move |ctx| {
            if let Some(f) = &m.on_flushed {
                f(ctx);
            }
            if ctx.heap().closing {
                m.close(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_ERROR, move |ctx| {
            let Ok(e) = ctx.take_arg::<WheelError>() else {
                return;
            };
            if let Some(f) = &m.on_error {
                f(ctx, &e);
            }
            let c = ctx.heap();
            let pending = c.wheel.as_ref().map_or(0, ReadWrite::pending);
            if e.is_eof() && pending > 0 {
                c.closing = true; // the server may still read: write first
            } else {
                m.close(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_HIGH, move |ctx| {
            if let Some(f) = &m.on_high {
                f(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_LOW, move |ctx| {
            if let Some(f) = &m.on_low {
                f(ctx);
            }
            m.settle(ctx);
        });
        let m = me.clone();
        session = session.on(EV_SHUTDOWN, move |ctx| {
            ctx.heap().shutdown = true;
            m.settle(ctx);
        });
        let m = me;
        session.on("_stop", move |ctx| {
            let c = ctx.heap();
            c.factory = None;
            if std::mem::take(&mut c.connected) {
                c.wheel = None;
                if let Some(f) = &m.on_disconnected {
                    f(ctx);
                }
            }
        })
    }

    /// (Re)start a connect attempt, dropping any connection or attempt in
    /// progress.
    fn start_connect(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        ctx.alarm_clear(EV_RECONNECT);
        ctx.alarm_clear(EV_RETRY);
        ctx.alarm_clear(EV_TIMEOUT);
        let c = ctx.heap();
        c.shutdown = false;
        c.shut = false;
        c.factory = None;
        if c.connected {
            self.close_quietly(ctx);
        }
        if let Some(a) = &self.alias {
            let _ = ctx.alias_set(a);
        }
        let remote = ctx.heap().remote;
        let mut b = SocketFactory::connect(remote)
            .on_success(EV_OK)
            .on_failure(EV_FAIL);
        if let Some(local) = self.bind {
            b = b.bind(local);
        }
        match b.start(ctx) {
            Ok(f) => {
                if let Some(t) = self.connect_timeout {
                    ctx.delay(EV_TIMEOUT, t, f.id());
                }
                ctx.heap().factory = Some(f);
            }
            Err(e) => {
                tracing::warn!(target: "rpoe::client_tcp", error = %e, "cannot watch a connecting socket");
                let io = std::io::Error::other(e.to_string());
                self.connect_failed(ctx, WheelError::io("connect", &io, WheelId::next()));
                return;
            }
        }
        self.settle(ctx);
    }

    fn connected(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>, stream: TcpStream) {
        ctx.alarm_clear(EV_TIMEOUT);
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().ok();
        let mut b = ReadWrite::builder(stream, self.filter.clone())
            .on_input(EV_INPUT)
            .on_error(EV_ERROR)
            .on_flushed(EV_FLUSHED)
            .max_input(self.max_input);
        if let Some((high, low)) = self.marks {
            b = b.on_high(high, EV_HIGH).on_low(low, EV_LOW);
        }
        let c = ctx.heap();
        c.factory = None;
        match b.start(ctx) {
            Ok(w) => {
                let now = ctx.now();
                let c = ctx.heap();
                c.wheel = Some(w);
                c.local = local;
                c.connected = true;
                c.closing = false;
                c.failures = 0;
                // The backoff delay is kept: see `connection_ends`.
                c.connected_at = Some(now);
            }
            Err(e) => {
                let io = std::io::Error::other(e.to_string());
                self.connect_failed(ctx, WheelError::io("connect", &io, WheelId::next()));
                return;
            }
        }
        if let Some(f) = &self.on_connected {
            f(ctx);
        }
        self.settle(ctx);
    }

    fn connect_failed(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>, e: WheelError) {
        ctx.alarm_clear(EV_TIMEOUT);
        let c = ctx.heap();
        c.factory = None;
        c.failures += 1;
        if let Some(f) = &self.on_connect_error {
            f(ctx, &e);
        }
        self.settle(ctx);
        self.after_loss(ctx);
    }

    /// Drop the connection and tell the user, then reconnect or finish.
    fn close(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        if !ctx.heap().connected {
            ctx.heap().wheel = None;
            return;
        }
        self.close_quietly(ctx);
        self.settle(ctx);
        self.after_loss(ctx);
    }

    /// Drop the connection and call `on_disconnected`.
    fn close_quietly(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        let now = ctx.now();
        let c = ctx.heap();
        self.connection_ends(c, now);
        c.wheel = None;
        c.closing = false;
        c.connected = false;
        if let Some(f) = &self.on_disconnected {
            f(ctx);
        }
    }

    /// Carry out a shutdown requested during the callback that just ran.
    fn settle(&self, ctx: &mut Ctx<'_, Connection<F::Record, U>>) {
        let c = ctx.heap();
        if !c.shutdown || c.shut {
            return;
        }
        c.shut = true;
        c.factory = None;
        ctx.alarm_clear(EV_RECONNECT);
        ctx.alarm_clear(EV_RETRY);
        ctx.alarm_clear(EV_TIMEOUT);
        let c = ctx.heap();
        if c.connected {
            if c.wheel.as_ref().is_some_and(|w| w.pending() > 0) {
                c.closing = true;
            } else {
                self.close_quietly(ctx);
            }
        }
        remove_aliases(ctx);
    }
}

/// Drop the session's aliases, so that it ends once nothing else holds it.
pub(super) fn remove_aliases<H: 'static>(ctx: &mut Ctx<'_, H>) {
    for a in ctx.alias_list() {
        let _ = ctx.alias_remove(&a);
    }
}
