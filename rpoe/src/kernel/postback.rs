//! Postbacks and callbacks (closures that send an event to a session and
//! keep it alive while they exist).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::ctx::Ctx;
use super::error::Error;
use super::ids::{Sender, SessionId};
use super::names::EventId;
use super::payload::Value;

/// The argument of an event sent through a [`Postback`] or [`Callback`]:
/// the context given when it was made (POE's `ARG0`) and the value it was
/// called with (POE's `ARG1`).
pub struct Postbacked {
    /// What [`Ctx::postback`] / [`Ctx::callback`] was given.
    pub context: Rc<dyn Any>,
    /// What the postback was called with.
    pub args: Value,
}

impl Postbacked {
    /// The creation-time context as a `T`.
    pub fn context<T: Any>(&self) -> Option<&T> {
        self.context.downcast_ref()
    }
}

/// The public-refcount tag under which postbacks and callbacks hold their
/// session (not a name user code would pick by accident).
pub(crate) const POSTBACK_TAG: &str = "rpoe::postback";

pub(crate) enum LocalOp {
    Post {
        target: SessionId,
        sender: Sender,
        event: EventId,
        args: Postbacked,
    },
    Release(SessionId),
    /// Work a wheel queued from user code (a `put`, a pause, its drop),
    /// run by the kernel with access to its tables.
    Wheel(Box<dyn FnOnce(&mut super::Core)>),
}

/// Work handed to the kernel by objects that cannot reach it directly
/// (postbacks and their drops). Drained by the kernel between dispatches;
/// borrowed only inside those short push/drain calls, never across user
/// code, so the `RefCell` cannot be found already borrowed.
#[derive(Default)]
pub(crate) struct Local {
    pub ops: RefCell<VecDeque<LocalOp>>,
    /// The session whose handler (or future) is running, for a
    /// postback's sender. A postback is called from user code that holds
    /// only the postback, with no frame to ask, so this is the one fact
    /// kept beside the stack; handlers read theirs from their `Ctx`.
    active: Cell<Option<SessionId>>,
}

impl Local {
    /// Session `id` starts running; returns the one it interrupts, for
    /// [`Local::leave`].
    #[inline]
    pub(crate) fn enter(&self, id: SessionId) -> Option<SessionId> {
        self.active.replace(Some(id))
    }

    /// The session [`Local::enter`] started has stopped running.
    #[inline]
    pub(crate) fn leave(&self, outer: Option<SessionId>) {
        self.active.set(outer);
    }

    /// The session a postback called now sends from.
    fn sender(&self) -> Sender {
        self.active.get().map_or(Sender::Kernel, Sender::Session)
    }

    pub(crate) fn take(&self) -> Option<LocalOp> {
        self.ops.borrow_mut().pop_front()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.borrow().is_empty()
    }
}

struct Hold {
    target: SessionId,
    event: EventId,
    context: Rc<dyn Any>,
    local: Rc<Local>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Release(self.target));
    }
}

/// Posts an event to the session that made it (POE's `postback`). Clones
/// share one hold on the session: it stays alive until the last clone is
/// dropped. Calling it from any handler (or from outside the kernel, on
/// the kernel's thread) queues the event; the sender is the session whose
/// handler is running.
///
/// ```
/// use rpoe::{Kernel, Postback, Postbacked, Session};
///
/// let mut kernel = Kernel::new().unwrap();
/// kernel.spawn(
///     Session::new(None::<Postback>)
///         .on("_start", |ctx| {
///             let pb = ctx.postback("done", "job-1");
///             pb.post(42u32);
///         })
///         .on("done", |ctx| {
///             let p = ctx.arg::<Postbacked>().unwrap();
///             assert_eq!(p.context::<&str>(), Some(&"job-1"));
///             assert_eq!(p.args.get::<u32>(), Some(&42));
///         }),
///     (),
/// );
/// kernel.run().unwrap();
/// ```
#[derive(Clone)]
pub struct Postback(Rc<Hold>);

impl Postback {
    pub(crate) fn new(
        target: SessionId,
        event: EventId,
        context: Rc<dyn Any>,
        local: Rc<Local>,
    ) -> Self {
        Postback(Rc::new(Hold {
            target,
            event,
            context,
            local,
        }))
    }

    /// Queue the event with `args`. Like POE's, it returns nothing useful:
    /// a postback to a session that has gone away is dropped.
    pub fn post(&self, args: impl Any) {
        let h = &self.0;
        let sender = h.local.sender();
        h.local.ops.borrow_mut().push_back(LocalOp::Post {
            target: h.target,
            sender,
            event: h.event,
            args: Postbacked {
                context: h.context.clone(),
                args: Value::new(args),
            },
        });
    }

    /// The session it posts to.
    pub fn session(&self) -> SessionId {
        self.0.target
    }
}

/// Runs a handler of the session that made it, synchronously, returning
/// its value (POE's `callback`). Holds the session like a [`Postback`].
#[derive(Clone)]
pub struct Callback(Rc<Hold>);

impl Callback {
    pub(crate) fn new(
        target: SessionId,
        event: EventId,
        context: Rc<dyn Any>,
        local: Rc<Local>,
    ) -> Self {
        Callback(Rc::new(Hold {
            target,
            event,
            context,
            local,
        }))
    }

    /// Run the handler now, from inside another handler.
    ///
    /// # Errors
    ///
    /// As [`Ctx::call`]; [`Error::NoSuchSession`] once the target session is
    /// gone.
    pub fn call<H: 'static>(&self, ctx: &mut Ctx<'_, H>, args: impl Any) -> Result<Value, Error> {
        let h = &self.0;
        ctx.call(
            h.target,
            h.event,
            Postbacked {
                context: h.context.clone(),
                args: Value::new(args),
            },
        )
    }

    /// The session it calls.
    pub fn session(&self) -> SessionId {
        self.0.target
    }
}
