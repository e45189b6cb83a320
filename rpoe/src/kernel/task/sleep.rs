//! [`Sleep`]: a future that completes at a time on the kernel's clock,
//! through a timer of the session that made it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::super::clock::Time;
use super::super::ctx::Ctx;
use super::super::engine::Core;
use super::super::ids::{SessionId, TimerId};
use super::super::payload::Payload;
use super::super::postback::{Local, LocalOp};
use super::super::queue::SessionKey;

/// # Futures: sleeping on the kernel's clock
impl<H: 'static> Ctx<'_, H> {
    /// A future that completes `delay` from now on the kernel's clock (a
    /// timer of this session, set when the future is first polled; under
    /// a [`crate::ManualClock`] it completes when the clock is advanced
    /// past it). Dropping it removes the timer.
    pub fn sleep(&mut self, delay: Duration) -> Sleep {
        let due = self.core.refresh_now() + delay;
        self.sleep_until(due)
    }

    /// A future that completes when the kernel's clock reaches `due`.
    pub fn sleep_until(&mut self, due: Time) -> Sleep {
        Sleep {
            state: Rc::new(SleepState::default()),
            due,
            owner: self.frame.key,
            owner_id: self.frame.id,
            local: self.core.local.clone(),
        }
    }
}

#[derive(Default)]
pub(crate) struct SleepState {
    fired: Cell<bool>,
    registered: Cell<bool>,
    timer: Cell<Option<TimerId>>,
    waker: RefCell<Option<Waker>>,
}

/// A future that completes at a time on the kernel's clock: from
/// [`Ctx::sleep`] or [`Ctx::sleep_until`]. Its timer is a timer of the
/// session that made it, fired in due order with the session's other
/// timers (so it also holds the session alive while set).
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    state: Rc<SleepState>,
    due: Time,
    owner: SessionKey,
    owner_id: SessionId,
    local: Rc<Local>,
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Time {
        self.due
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let me = self.get_mut();
        if me.state.fired.get() {
            return Poll::Ready(());
        }
        {
            let mut w = me.state.waker.borrow_mut();
            match &mut *w {
                Some(old) => old.clone_from(cx.waker()),
                None => *w = Some(cx.waker().clone()),
            }
        }
        if !me.state.registered.replace(true) {
            let (state, due, owner, owner_id) = (me.state.clone(), me.due, me.owner, me.owner_id);
            me.local.ops.borrow_mut().push_back(LocalOp::Wheel(Box::new(
                move |core: &mut Core| {
                    if core.sessions.id_of(owner) != Some(owner_id) {
                        return;
                    }
                    let event = core.tasks.wake_event;
                    let id = core.set_timer(owner, event, due, Payload::new(state.clone()));
                    state.timer.set(Some(id));
                },
            )));
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if self.state.fired.get() || !self.state.registered.get() {
            return;
        }
        let (state, owner) = (self.state.clone(), self.owner);
        self.local
            .ops
            .borrow_mut()
            .push_back(LocalOp::Wheel(Box::new(move |core: &mut Core| {
                if let Some(id) = state.timer.take() {
                    let _ = core.remove_timer(owner, id);
                }
            })));
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("due", &self.due)
            .field("fired", &self.state.fired.get())
            .finish()
    }
}

impl Core {
    /// A sleep timer fired: wake its future (the timer's hold on the
    /// session was already released).
    pub(crate) fn fire_wake(&mut self, mut payload: Payload) {
        if let Some(state) = payload.take::<Rc<SleepState>>() {
            state.fired.set(true);
            state.timer.set(None);
            if let Some(w) = state.waker.take() {
                w.wake();
            }
        }
    }
}
