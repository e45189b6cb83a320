//! The session of one accepted connection: its handlers, and what all the
//! connections of a server share.
//!
//! Why a file of its own: this is where the per-connection policies live
//! — input batches handed to `on_input`, backpressure by the watermarks,
//! closing once output is written, `on_disconnected` exactly once, and
//! containing a failing handler to its own connection (the DIE watcher,
//! see the module documentation). The heap those handlers work on is
//! `client.rs`'s [`Client`].

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mio::net::TcpStream;

use super::listener::ServerListener;
use super::{Client, ErrorHook, Hook, Input};
use crate::filter::Filter;
use crate::kernel::{Ctx, DieInfo, Session, Signal};
use crate::wheel::{ReadWrite, WheelError, WheelId};

/// The connection session's DIE watcher (a name users will not pick).
const EV_DIE: &str = "rpoe::server_tcp die";

/// What every connection of one server shares: its configuration and
/// callbacks, held once by the server.
pub(super) struct ClientShared<F: Filter, U: 'static>
where
    F::Record: 'static,
{
    pub(super) filter: F,
    pub(super) high: usize,
    pub(super) low: usize,
    pub(super) max_input: usize,
    pub(super) new_state: Rc<dyn Fn() -> U>,
    pub(super) on_input: Input<F::Record, U>,
    pub(super) on_connected: Option<Hook<F::Record, U>>,
    pub(super) on_disconnected: Option<Hook<F::Record, U>>,
    pub(super) on_flushed: Option<Hook<F::Record, U>>,
    pub(super) on_error: Option<ErrorHook<F::Record, U>>,
    pub(super) handlers: Vec<(String, Hook<F::Record, U>)>,
    pub(super) counter: Rc<Cell<usize>>,
    pub(super) failures: Arc<AtomicU64>,
}

impl<F: Filter + Clone + 'static, U: 'static> ClientShared<F, U>
where
    F::Record: 'static,
{
    /// `on_disconnected` runs once, from a live handler as soon as the
    /// wheel is gone (so it may still post), else from `_stop`.
    fn disconnected(&self, ctx: &mut Ctx<'_, Client<F::Record, U>>) {
        let c = ctx.heap();
        if c.wheel.is_none() && !c.gone {
            c.gone = true;
            if let Some(f) = &self.on_disconnected {
                f(ctx);
            }
        }
    }
}

/// Spawn the session of one accepted connection. Its handlers each hold
/// only a pointer to `shared`.
pub(super) fn spawn_client<F: Filter + Clone + 'static, U: 'static>(
    shared: &Rc<ClientShared<F, U>>,
    ctx: &mut Ctx<'_, ServerListener>,
    stream: TcpStream,
    peer: SocketAddr,
) where
    F::Record: 'static,
{
    let _ = stream.set_nodelay(true);
    let client = Client {
        wheel: None,
        remote: peer,
        state: (shared.new_state)(),
        shutdown: false,
        paused: false,
        gone: false,
        in_input: false,
        failed: false,
        flushed_off: None,
    };
    let s = shared.clone();
    let session = Session::new(client).on("_start", move |ctx: &mut Ctx<'_, Client<F::Record, U>>| {
        let Ok(stream) = ctx.take_arg::<TcpStream>() else {
            return;
        };
        // First, so that a failure in `on_connected` is contained too.
        if let Err(e) = ctx.sig("DIE", EV_DIE) {
            tracing::warn!(target: "rpoe::server_tcp", error = %e, "cannot watch DIE");
        }
        let mut wheel = ReadWrite::builder(stream, s.filter.clone())
            .on_input_batch("input")
            .on_error("error");
        if s.on_flushed.is_some() {
            wheel = wheel.on_flushed("flushed");
        } else {
            ctx.heap().flushed_off = Some(ctx.event_id("flushed"));
        }
        let wheel = wheel
            .on_high(s.high, "high")
            .on_low(s.low, "low")
            .max_input(s.max_input)
            .start(ctx);
        match wheel {
            Ok(w) => ctx.heap().wheel = Some(w),
            Err(e) => {
                tracing::warn!(target: "rpoe::server_tcp", error = %e, "cannot start a connection");
                return;
            }
        }
        if let Some(f) = &s.on_connected {
            f(ctx);
        }
    });
    let s = shared.clone();
    let session = session.on("input", move |ctx| {
        // The records of one read, in one event (`on_input_batch`): an
        // event per 64-byte line was a third of the server's work.
        let Ok((records, _)) = ctx.take_arg::<(Vec<F::Record>, WheelId)>() else {
            return;
        };
        for record in records {
            let c = ctx.heap();
            // An earlier record's handler failed, or the connection is
            // closed: the wheel would deliver no more records.
            if c.in_input || c.wheel.is_none() {
                return;
            }
            c.in_input = true;
            (s.on_input)(ctx, record);
            ctx.heap().in_input = false;
            s.disconnected(ctx);
        }
        // Backpressure, once the read's records are handled (pausing
        // only stops the reads to come).
        let c = ctx.heap();
        if !c.paused && c.wheel.as_ref().is_some_and(|w| w.pending() >= s.high) {
            c.paused = true;
            if let Some(w) = &c.wheel {
                w.pause_input();
            }
        }
    });
    let session = session
        .on("low", |ctx| {
            let c = ctx.heap();
            if c.paused && !c.shutdown {
                c.paused = false;
                if let Some(w) = &c.wheel {
                    w.resume_input();
                }
            }
        })
        .on("high", |ctx| {
            let c = ctx.heap();
            if !c.paused {
                c.paused = true;
                if let Some(w) = &c.wheel {
                    w.pause_input();
                }
            }
        });
    let s = shared.clone();
    let session = session.on("flushed", move |ctx| {
        if let Some(f) = &s.on_flushed {
            f(ctx);
        }
        let c = ctx.heap();
        if c.shutdown {
            c.wheel = None;
        }
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on("error", move |ctx| {
        let Ok(e) = ctx.take_arg::<WheelError>() else {
            return;
        };
        if let Some(f) = &s.on_error {
            f(ctx, &e);
        }
        // End of input (or a broken stream): close once written.
        let c = ctx.heap();
        if e.op == "write" {
            c.wheel = None;
        } else {
            c.shutdown();
        }
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on("shutdown", move |ctx| {
        ctx.heap().shutdown();
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on(EV_DIE, move |ctx| {
        let Ok(signal) = ctx.take_arg::<Signal>() else {
            return;
        };
        // DIE also reaches the descendants of a failing session
        // (and this one is the listener's): only our own failures
        // are ours to contain.
        let Some(info) = signal.arg::<DieInfo>() else {
            return;
        };
        if info.session != ctx.id() {
            return;
        }
        ctx.sig_handled();
        let c = ctx.heap();
        if std::mem::replace(&mut c.failed, true) {
            return; // one connection, one failure
        }
        s.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            target: "rpoe::server_tcp",
            peer = %c.remote,
            event = %info.event,
            error = %info.message,
            "a connection's handler failed; closing that connection"
        );
        c.shutdown = true;
        c.wheel = None;
        s.disconnected(ctx);
    });
    let s = shared.clone();
    let session = session.on("_stop", move |ctx| {
        s.counter.set(s.counter.get().saturating_sub(1));
        ctx.heap().wheel = None;
        s.disconnected(ctx);
    });
    let session = shared
        .handlers
        .iter()
        .enumerate()
        .fold(session, |session, (i, (name, _))| {
            let s = shared.clone();
            session.on(name, move |ctx| (s.handlers[i].1)(ctx))
        });
    ctx.spawn(session, stream);
}
