//! Sessions as the kernel stores them, and how a handler is run.
//!
//! Ownership model: a session lives in the kernel's table until one of its
//! handlers runs; then it is moved onto the Rust stack, into the handler's
//! [`Ctx`]. A nested `call` into a session that is itself running (the
//! caller, or one further up the call chain) takes it out of that frame
//! through the [`Stack`] chain and puts it back when the nested handler
//! returns. So at any instant exactly one `&mut` reaches each heap, and
//! re-entrancy needs neither `RefCell` nor raw pointers. The borrow checker
//! guarantees a handler holds no heap borrow across a nested call, because
//! both go through `&mut Ctx`.

use std::any::Any;
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::caller::Caller;
use super::ctx::Ctx;
use super::error::Error;
use super::handler_table::HandlerTable;
use super::ids::{Sender, SessionId};
use super::names::{EventId, Names};
use super::options::{self, Options, SessionOption};
use super::payload::{Payload, Value};
use super::queue::SessionKey;
use super::Core;

/// A handler as stored: reference-counted so it can be cloned out of the
/// table before it runs, leaving the session free to replace it.
/// A handler as the kernel stores it: it writes what the user's handler
/// returned into the slot it is given, which the kernel created long
/// before the call. Returning the value instead moved it through the
/// stack right after it was written, and reading back a value freshly
/// stored in pieces stalls the CPU; a handler returning `()` (most do)
/// writes nothing at all.
pub(crate) type Handler<H> = Rc<dyn Fn(&mut Ctx<'_, H>, &mut Value)>;

/// Put a handler's return value into the kernel's slot (see [`Handler`]):
/// nothing for `()`, whose slot already holds the unit value.
#[inline(always)]
pub(crate) fn store_return<R: Any>(out: &mut Value, r: R) {
    if std::any::TypeId::of::<R>() != std::any::TypeId::of::<()>() {
        *out = Value::new(r);
    }
}

/// A session before it is spawned: its heap and its `(event, handler)`
/// pairs (POE's inline states).
///
/// ```
/// use rpoe::{Kernel, Session};
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(0u32)
///         .on("_start", |ctx| ctx.yield_event("count", ()))
///         .on("count", |ctx| {
///             *ctx.heap() += 1;
///             if *ctx.heap() < 3 {
///                 ctx.yield_event("count", ());
///             }
///         })
///         .on("_stop", |ctx| assert_eq!(*ctx.heap(), 3)),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
pub struct Session<H: 'static> {
    heap: H,
    states: Vec<(String, Handler<H>)>,
    options: Options,
}

impl<H: 'static> Session<H> {
    /// A session with this heap and no handlers yet.
    pub fn new(heap: H) -> Self {
        Session {
            heap,
            states: Vec::new(),
            options: Options::default(),
        }
    }

    /// Turn a session option on or off from the start (POE's
    /// `options => { ... }` in `create`); [`Ctx::set_option`] changes it
    /// at run time. All options are off unless set.
    pub fn option(mut self, option: SessionOption, on: bool) -> Self {
        self.options.set(option, on);
        self
    }

    /// A session built from a type implementing [`ObjectStates`] (POE's
    /// object states): the value is the heap, its handlers come from
    /// [`ObjectStates::states`].
    pub fn object(value: H) -> Self
    where
        H: ObjectStates,
    {
        H::states(Session::new(value))
    }

    /// Add a handler for `event`. Its return value (any `'static` type,
    /// `()` for none) is what [`Ctx::call`] returns to a caller. A later
    /// handler for the same name replaces an earlier one.
    pub fn on<R: Any>(
        mut self,
        event: &str,
        handler: impl Fn(&mut Ctx<'_, H>) -> R + 'static,
    ) -> Self {
        self.states.push((
            event.to_string(),
            Rc::new(move |ctx, out| store_return(out, handler(ctx))),
        ));
        self
    }

    /// Add a handler that can fail: an `Err` is turned into a DIE signal to
    /// this session (as a `die` in a POE handler is), carrying the error's
    /// text. A panic in any handler is treated the same way.
    pub fn on_try<R: Any, E: Display>(
        mut self,
        event: &str,
        handler: impl Fn(&mut Ctx<'_, H>) -> Result<R, E> + 'static,
    ) -> Self {
        self.states.push((
            event.to_string(),
            Rc::new(move |ctx, out| match handler(ctx) {
                Ok(v) => store_return(out, v),
                Err(e) => ctx.failed = Some(e.to_string()),
            }),
        ));
        self
    }

    pub(crate) fn build(self, names: &mut Names) -> Box<dyn AnySession> {
        let mut handlers = HandlerTable::default();
        for (name, h) in self.states {
            handlers.insert(names.intern(&name), h);
        }
        Box::new(SessionImpl {
            heap: self.heap,
            handlers,
            options: self.options,
        })
    }
}

/// A type that is its own session heap and lists its own handlers (POE's
/// `object_states`).
///
/// ```
/// use rpoe::{Ctx, Kernel, ObjectStates, Session};
///
/// struct Counter { n: u32 }
///
/// impl Counter {
///     fn start(ctx: &mut Ctx<'_, Self>) { ctx.yield_event("tick", ()); }
///     fn tick(ctx: &mut Ctx<'_, Self>) { ctx.heap().n += 1; }
/// }
///
/// impl ObjectStates for Counter {
///     fn states(session: Session<Self>) -> Session<Self> {
///         session.on("_start", Self::start).on("tick", Self::tick)
///     }
/// }
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(Session::object(Counter { n: 0 }), ());
/// kernel.run().unwrap();
/// ```
pub trait ObjectStates: Sized + 'static {
    /// Register this type's handlers on the session.
    fn states(session: Session<Self>) -> Session<Self>;
}

/// What is being delivered to a handler.
pub(crate) struct Delivery {
    pub event: EventId,
    pub sender: Sender,
    pub payload: Payload,
    /// The kernel's active event, when it is not `event`: a call into the
    /// running session keeps the outer event active, as in POE.
    pub active: Option<EventId>,
    /// Who sent it and from where (POE's `CALLER_STATE`/`FILE`/`LINE`).
    pub caller: Caller,
}

impl Delivery {
    /// An event the kernel itself delivers (lifecycle, signals): no
    /// sending session, no outer active event, the kernel as caller.
    #[inline]
    pub(crate) fn from_kernel(event: EventId, payload: Payload) -> Delivery {
        Delivery {
            event,
            sender: Sender::Kernel,
            payload,
            active: None,
            caller: Caller::KERNEL,
        }
    }
}

/// How a handler invocation can fail.
pub(crate) enum Fail {
    /// Neither the handler nor `_default` exists. Boxed, as are the other
    /// failures' payloads, so that the result every handler returns
    /// through stays small on the path where nothing failed.
    NoHandler(Box<Error>),
    /// The handler panicked; the payload, to re-raise through a call into
    /// the running session (POE does not trap those).
    Panicked(Box<dyn Any + Send>),
    /// An [`Session::on_try`] handler returned an error.
    Failed(String),
}

impl Fail {
    pub(crate) fn message(&self) -> String {
        match self {
            Fail::NoHandler(e) => e.to_string(),
            Fail::Failed(m) => m.clone(),
            Fail::Panicked(p) => {
                if let Some(s) = p.downcast_ref::<&str>() {
                    (*s).to_string()
                } else if let Some(s) = p.downcast_ref::<String>() {
                    s.clone()
                } else {
                    "handler panicked".to_string()
                }
            }
        }
    }
}

/// A session with its heap type erased, as the kernel's table holds it.
pub(crate) trait AnySession {
    /// Run the handler for `d` (or `_default`), giving the session back;
    /// the handler's value goes into `ret` (see [`Handler`]).
    fn dispatch(
        self: Box<Self>,
        core: &mut Core,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
        id: SessionId,
        d: Delivery,
        ret: &mut Value,
    ) -> (Box<dyn AnySession>, Result<(), Fail>);

    /// Run the handler for `each.event` once per payload `each.next`
    /// gives, as [`AnySession::dispatch`] would for each (see
    /// [`crate::Ctx::call_each`]), giving the session back with how many
    /// ran and how the run ended.
    fn dispatch_each(
        self: Box<Self>,
        core: &mut Core,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
        id: SessionId,
        each: &mut Each<'_>,
    ) -> (Box<dyn AnySession>, usize, Result<EachEnd, Fail>);

    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A run of deliveries of one event to one session, each with its own
/// argument (see [`crate::Ctx::call_each`]).
pub(crate) struct Each<'n> {
    pub event: EventId,
    pub sender: Sender,
    pub active: Option<EventId>,
    pub caller: Caller,
    /// The next argument, or `None` when there are no more.
    pub next: &'n mut dyn FnMut() -> Option<Payload>,
}

/// How [`AnySession::dispatch_each`] ended without a failure.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EachEnd {
    /// The arguments ran out.
    Done,
    /// A handler stopped the session (its slot no longer names it): no
    /// more arguments are taken.
    Gone,
}

/// Reborrow an optional stack for a nested call, shortening the trait
/// object's lifetime to the borrow's (which `Option` will not coerce alone).
pub(crate) fn reborrow<'s>(stack: &'s mut Option<&mut dyn Stack>) -> Option<&'s mut dyn Stack> {
    match stack {
        Some(s) => Some(&mut **s),
        None => None,
    }
}

/// The chain of sessions currently running, innermost first.
pub(crate) trait Stack {
    fn take(&mut self, key: SessionKey) -> Option<Box<dyn AnySession>>;
    fn restore(&mut self, key: SessionKey, session: Box<dyn AnySession>);
}

pub(crate) struct SessionImpl<H: 'static> {
    pub heap: H,
    pub handlers: HandlerTable<Handler<H>>,
    /// POE's session options; they travel with the session, so a handler
    /// and the dispatch both reach them without a table lookup.
    pub options: Options,
}

impl<H: 'static> SessionImpl<H> {
    fn handler(&self, ev: EventId) -> Option<&Handler<H>> {
        self.handlers.get(ev)
    }
}

/// One running session's place on the stack.
pub(crate) struct Frame<'a, H: 'static> {
    pub parent: Option<&'a mut dyn Stack>,
    pub key: SessionKey,
    pub id: SessionId,
    pub session: Option<Box<SessionImpl<H>>>,
    /// How many handlers are on the stack with this one (1: the kernel
    /// dispatched it; each nested call adds one). It travels with the
    /// frame so the handler reads it from its own dispatch.
    pub depth: u32,
}

impl<H: 'static> Stack for Frame<'_, H> {
    fn take(&mut self, key: SessionKey) -> Option<Box<dyn AnySession>> {
        if key == self.key {
            self.session.take().map(|s| s as Box<dyn AnySession>)
        } else {
            reborrow(&mut self.parent)?.take(key)
        }
    }

    fn restore(&mut self, key: SessionKey, session: Box<dyn AnySession>) {
        if key == self.key {
            match session.into_any().downcast::<SessionImpl<H>>() {
                Ok(s) => self.session = Some(s),
                Err(_) => unreachable!("a frame only gets back the session taken from it"),
            }
        } else if let Some(p) = reborrow(&mut self.parent) {
            p.restore(key, session);
        }
    }
}

impl<H: 'static> AnySession for SessionImpl<H> {
    fn dispatch(
        self: Box<Self>,
        core: &mut Core,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
        id: SessionId,
        d: Delivery,
        ret: &mut Value,
    ) -> (Box<dyn AnySession>, Result<(), Fail>) {
        let (me, result) = self.run(core, stack, key, id, d, ret);
        (me, result)
    }

    fn dispatch_each(
        mut self: Box<Self>,
        core: &mut Core,
        mut stack: Option<&mut dyn Stack>,
        key: SessionKey,
        id: SessionId,
        each: &mut Each<'_>,
    ) -> (Box<dyn AnySession>, usize, Result<EachEnd, Fail>) {
        let mut ran = 0;
        loop {
            let Some(payload) = (each.next)() else {
                return (self, ran, Ok(EachEnd::Done));
            };
            let d = Delivery {
                event: each.event,
                sender: each.sender,
                payload,
                active: each.active,
                caller: each.caller,
            };
            core.trace_dispatch(id, &d);
            // Return values are dropped, as the method says.
            let mut ret = Value::unit();
            let (me, result) = self.run(core, reborrow(&mut stack), key, id, d, &mut ret);
            self = me;
            ran += 1;
            if let Err(f) = result {
                return (self, ran, Err(f));
            }
            // What the handler left for the kernel (a postback's event, a
            // wheel's request), done now as after any handler: the next
            // item's handler sees the kernel as a call of its own would.
            if !core.local.is_empty() {
                core.drain_local();
            }
            if core.sessions.id_of(key) != Some(id) {
                return (self, ran, Ok(EachEnd::Gone));
            }
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl<H: 'static> SessionImpl<H> {
    /// [`AnySession::dispatch`] with the heap's type known: a call into
    /// the running session ([`Ctx::call`]) comes here directly, without
    /// the dynamic take and restore through the [`Stack`].
    #[inline(always)]
    pub(crate) fn run(
        self: Box<Self>,
        core: &mut Core,
        stack: Option<&mut dyn Stack>,
        key: SessionKey,
        id: SessionId,
        d: Delivery,
        ret: &mut Value,
    ) -> (Box<Self>, Result<(), Fail>) {
        if self.options.trace {
            options::report(&format!(
                "{} -> {} (from {})",
                id.number(),
                core.names.name(d.event),
                options::origin(&d.caller)
            ));
        }
        let (event, original, handler) = match self.handler(d.event) {
            Some(h) => (d.event, None, h.clone()),
            None => match self.handler(EventId::DEFAULT) {
                Some(h) => {
                    if self.options.trace {
                        options::report(&format!(
                            "{} -> {} redirected to _default",
                            id.number(),
                            core.names.name(d.event)
                        ));
                    }
                    (EventId::DEFAULT, Some(d.event), h.clone())
                }
                None => {
                    if self.options.default {
                        let me = options::loggable(core, key, id);
                        options::report(&format!(
                            "a '{}' event was sent from {} to {me} but {me} has neither \
                             a handler for it nor one for _default",
                            core.names.name(d.event),
                            options::origin(&d.caller)
                        ));
                    }
                    let err = Error::NoHandler {
                        session: id.num,
                        event: core.names.name(d.event).to_string(),
                    };
                    return (self, Err(Fail::NoHandler(Box::new(err))));
                }
            },
        };
        let depth = core.handlers_on_stack();
        let mut ctx = Ctx {
            core,
            frame: Frame {
                parent: match stack {
                    Some(s) => Some(s as &mut dyn Stack),
                    None => None,
                },
                key,
                id,
                session: Some(self),
                depth,
            },
            sender: d.sender,
            event,
            original,
            active: d.active.unwrap_or(d.event),
            payload: d.payload,
            caller: d.caller,
            failed: None,
        };
        // The handler writes its value into `ret` (see [`Handler`]), so
        // `catch_unwind` returns only a pointer-sized result and nothing
        // freshly written is moved on the way back.
        let unwound = catch_unwind(AssertUnwindSafe(|| handler(&mut ctx, ret)));
        let failed = ctx.failed.take();
        // Checked first so that an inline argument (most events) costs a
        // compare, not a move of the payload.
        if ctx.payload.is_boxed() {
            std::mem::replace(&mut ctx.payload, Payload::Empty).release();
        }
        let Some(me) = ctx.frame.session.take() else {
            unreachable!("nested dispatch always restores the session")
        };
        match (unwound, failed) {
            (Err(payload), _) => (me, Err(Fail::Panicked(payload))),
            (Ok(()), Some(msg)) => (me, Err(Fail::Failed(msg))),
            (Ok(()), None) => (me, Ok(())),
        }
    }
}
