//! [`Spawner`]: one way to create a session, from `main` or from a
//! handler.

use std::any::Any;

use super::ctx::Ctx;
use super::dispatch::Session;
use super::ids::SessionId;
use super::Kernel;

/// Where a session can be created: the [`Kernel`] (from `main`, the new
/// session has no parent but the kernel) or a handler's [`Ctx`] (the new
/// session is a child of the running one).
///
/// Why: in POE, `POE::Session->create` works from anywhere, so a module's
/// constructor (`Daemon->new`) can be called before `POE::Kernel->run` and
/// from inside a handler alike. A constructor that takes
/// `&mut impl Spawner` does the same here, instead of coming in two
/// versions (`spawn(&mut Kernel)` and `spawn_child(&mut Ctx)`).
///
/// ```
/// use rpoe::{Kernel, Session, SessionId, Spawner};
///
/// /// A POE-style constructor: callable from main and from handlers.
/// fn daemon(on: &mut impl Spawner, name: &'static str) -> SessionId {
///     on.spawn_session(
///         Session::new(name).on("_start", |ctx| println!("{} up", ctx.heap())),
///         (),
///     )
/// }
///
/// let mut kernel = Kernel::new().unwrap();
/// let first = daemon(&mut kernel, "from main");
/// kernel.spawn(
///     Session::new(None::<SessionId>)
///         .on("_start", |ctx| {
///             let child = daemon(ctx, "from a handler");
///             *ctx.heap() = Some(child);
///         })
///         .on("_stop", |ctx| assert!(ctx.heap().is_some())),
///     (),
/// );
/// assert!(first.number() > 0);
/// kernel.run().unwrap();
/// ```
pub trait Spawner {
    /// Create `session` and run its `_start` with `args` now; returns its
    /// id. From a [`Ctx`], the new session is a child of the running one
    /// (and the running one gets `_child`), as [`Ctx::spawn`].
    fn spawn_session<H: 'static>(&mut self, session: Session<H>, args: impl Any) -> SessionId;
}

impl Spawner for Kernel {
    fn spawn_session<H: 'static>(&mut self, session: Session<H>, args: impl Any) -> SessionId {
        self.spawn(session, args)
    }
}

impl<H0: 'static> Spawner for Ctx<'_, H0> {
    fn spawn_session<H: 'static>(&mut self, session: Session<H>, args: impl Any) -> SessionId {
        self.spawn(session, args)
    }
}
