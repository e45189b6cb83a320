//! Calls with RSVP: the answer a caller gets ([`CallReply`]), the slot a
//! waiting call is answered through, and the path of a call — out with a
//! reply subject, back through the reply inbox to its waiting task.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use async_nats::{Message, StatusCode};
use rpoe::Ctx;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::hub::Hub;
#[cfg(doc)]
use crate::Ikc;
use crate::{Error, ERROR_HEADER, KERNEL_HEADER};

/// The answer to a call: the argument of its RSVP event.
#[derive(Debug)]
pub struct CallReply<R> {
    /// The address called.
    pub to: Rc<str>,
    /// The kernel that answered (for `*/...` calls, the one NATS picked);
    /// `None` for an answer from a non-rpoe responder, or no answer.
    pub from: Option<Rc<str>>,
    /// The answer, or why there is none.
    pub result: Result<R, Error>,
}

/// A call waiting for its answer.
#[derive(Default)]
pub(crate) struct CallSlot {
    answer: RefCell<Option<Result<Message, Error>>>,
    waker: RefCell<Option<Waker>>,
}

impl CallSlot {
    pub(crate) fn fill(&self, r: Result<Message, Error>) {
        *self.answer.borrow_mut() = Some(r);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// The deadlines of waiting calls, earliest first, for the one timer
/// that times them all out.
#[derive(Default)]
pub(crate) struct CallDeadlines {
    heap: BinaryHeap<Reverse<(tokio::time::Instant, u64, Duration)>>,
    /// The timer task is running (the IKC session started it).
    pub(crate) running: bool,
    /// What the timer task sleeps until, and how to wake it when an
    /// earlier deadline comes.
    armed: Option<tokio::time::Instant>,
    waker: Option<Waker>,
}

impl CallDeadlines {
    /// Time call `token` out after `timeout`.
    fn add(
        &mut self,
        token: u64,
        timeout: Duration,
        live: &std::collections::HashMap<u64, Rc<CallSlot>>,
    ) {
        let due = tokio::time::Instant::now() + timeout;
        self.heap.push(Reverse((due, token, timeout)));
        // Entries of answered calls wait for their time; keep them at
        // most as many as the calls waiting.
        if self.heap.len() > 2 * live.len() + 64 {
            self.heap.retain(|Reverse((_, t, _))| live.contains_key(t));
        }
        if self.armed.is_none_or(|at| due < at) {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }
}

/// The IKC session's task that times out waiting calls: one timer for
/// all of them, rather than a kernel timer and a tokio timer per call.
pub(crate) async fn timeouts(hub: Weak<Hub>) {
    let mut sleep = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    let mut expired: Vec<(Rc<CallSlot>, Duration)> = Vec::new();
    poll_fn(|cx| loop {
        let Some(hub) = hub.upgrade() else {
            return Poll::Ready(());
        };
        let next = {
            let mut st = hub.st.borrow_mut();
            let st = &mut *st;
            let now = tokio::time::Instant::now();
            while let Some(&Reverse((due, token, timeout))) = st.deadlines.heap.peek() {
                if due > now {
                    break;
                }
                st.deadlines.heap.pop();
                if let Some(slot) = st.calls.remove(&token) {
                    expired.push((slot, timeout));
                }
            }
            let next = st.deadlines.heap.peek().map(|r| r.0 .0);
            st.deadlines.armed = next;
            match &mut st.deadlines.waker {
                Some(w) => w.clone_from(cx.waker()),
                empty => *empty = Some(cx.waker().clone()),
            }
            next
        };
        for (slot, timeout) in expired.drain(..) {
            slot.fill(Err(Error::Timeout(timeout)));
        }
        match next {
            Some(at) => {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Already due: look again.
            }
            None => return Poll::Pending,
        }
    })
    .await
}

/// Removes a call's slot when its task ends (answered, timed out or
/// cancelled with its session).
struct CallGuard {
    hub: Weak<Hub>,
    token: u64,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            if let Ok(mut st) = hub.st.try_borrow_mut() {
                st.calls.remove(&self.token);
            }
        }
    }
}

/// Append `n` in decimal (without the formatting machinery, on the call
/// path).
fn push_u64(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

fn header_str(m: &Message, name: &str) -> Option<Rc<str>> {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| Rc::from(v.as_str()))
}

/// The body of [`Ikc::call_timeout`]: queue the call with a reply
/// subject naming its token, and wait (as a task of the calling
/// session) for the answer or the timeout.
pub(crate) fn call<A: Serialize + ?Sized, R: DeserializeOwned + 'static, H: 'static>(
    hub: &Rc<Hub>,
    ctx: &mut Ctx<'_, H>,
    to: &str,
    args: &A,
    rsvp: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let (subject, to) = hub.subject_of(to)?;
    let payload = hub.encode(args)?;
    let (token, reply) = {
        let mut st = hub.st.borrow_mut();
        let t = st.next_token;
        st.next_token += 1;
        // Until connected the inbox is not known: the reply subject
        // is `?TOKEN`, completed when the connection is made (before
        // anything is sent). Built in place, without copying the
        // inbox first.
        let mut reply = String::with_capacity(st.inbox.len() + 21);
        if st.inbox.is_empty() {
            reply.push('?');
        } else {
            reply.push_str(&st.inbox);
            reply.push('.');
        }
        push_u64(&mut reply, t);
        (t, reply)
    };
    if let Err(error) = hub.enqueue(subject, Some(reply), None, payload, None) {
        ctx.yield_event(
            rsvp,
            CallReply::<R> {
                to,
                from: None,
                result: Err(error),
            },
        );
        return Ok(());
    }
    let slot = Rc::new(CallSlot::default());
    let hub_timer = {
        let mut st = hub.st.borrow_mut();
        let st = &mut *st;
        st.calls.insert(token, slot.clone());
        if st.deadlines.running {
            st.deadlines.add(token, timeout, &st.calls);
        }
        st.deadlines.running
    };
    let guard = CallGuard {
        hub: Rc::downgrade(hub),
        token,
    };
    // Before the IKC session runs, the call times out on its own timer.
    let mut sleep = (!hub_timer).then(|| ctx.sleep(timeout));
    ctx.spawn_future(rsvp, async move {
        let _guard = guard;
        let answer = poll_fn(|cx| {
            if let Some(r) = slot.answer.borrow_mut().take() {
                return Poll::Ready(Some(r));
            }
            if let Some(sleep) = &mut sleep {
                if Pin::new(sleep).poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
            }
            *slot.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let (from, result) = match answer {
            None => (None, Err(Error::Timeout(timeout))),
            Some(Err(e)) => (None, Err(e)),
            Some(Ok(m)) => {
                let from = header_str(&m, KERNEL_HEADER);
                let result = if m.status == Some(StatusCode::NO_RESPONDERS) {
                    Err(Error::NoResponders(to.to_string()))
                } else if header_str(&m, ERROR_HEADER).is_some() {
                    Err(Error::Remote(
                        String::from_utf8_lossy(&m.payload).into_owned(),
                    ))
                } else {
                    serde_json::from_slice::<R>(&m.payload)
                        .map_err(|e| Error::Decode(e.to_string()))
                };
                (from, result)
            }
        };
        CallReply { to, from, result }
    });
    Ok(())
}

/// Hand an answer to the call waiting for it (its token is the last
/// token of the reply subject); an answer after the call ended is
/// dropped.
pub(crate) fn answer_call(hub: &Hub, m: Message) {
    let token = m
        .subject
        .as_str()
        .rsplit('.')
        .next()
        .and_then(|t| t.parse::<u64>().ok());
    let slot = token.and_then(|t| hub.st.borrow_mut().calls.remove(&t));
    if let Some(slot) = slot {
        slot.fill(Ok(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Ikc};

    /// Whether the slot has an answer: a timeout, with its duration.
    fn timed_out(slot: &CallSlot) -> Option<Duration> {
        match &*slot.answer.borrow() {
            Some(Err(Error::Timeout(d))) => Some(*d),
            _ => None,
        }
    }

    /// One timer serves every call: a call with a short timeout made
    /// while the timer sleeps until a long one's deadline still times out
    /// in its own time, and an answered call leaves nothing to time out.
    #[test]
    fn each_call_times_out_in_its_own_time_on_the_shared_timer() {
        let ikc = Ikc::new(Config::new("k", "nats://127.0.0.1:4222")).unwrap();
        let hub = ikc.hub.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let add = |token: u64, timeout: Duration| {
            let slot = Rc::new(CallSlot::default());
            let mut st = hub.st.borrow_mut();
            let st = &mut *st;
            st.calls.insert(token, slot.clone());
            st.deadlines.add(token, timeout, &st.calls);
            slot
        };
        rt.block_on(async {
            let timer = tokio::task::LocalSet::new();
            timer.spawn_local(timeouts(Rc::downgrade(&hub)));
            timer
                .run_until(async {
                    let long = add(1, Duration::from_secs(30));
                    // The timer is asleep until the long deadline.
                    tokio::task::yield_now().await;
                    let short = add(3, Duration::from_millis(50));
                    let answered = add(2, Duration::from_millis(20));
                    hub.st.borrow_mut().calls.remove(&2);
                    let waited = tokio::time::timeout(
                        Duration::from_secs(10),
                        poll_fn(|cx| {
                            if timed_out(&short).is_some() {
                                return Poll::Ready(());
                            }
                            *short.waker.borrow_mut() = Some(cx.waker().clone());
                            Poll::Pending
                        }),
                    )
                    .await;
                    assert!(
                        waited.is_ok(),
                        "the short call timed out before the long one"
                    );
                    assert_eq!(timed_out(&short), Some(Duration::from_millis(50)));
                    assert_eq!(timed_out(&long), None, "the long call still waits");
                    assert_eq!(
                        timed_out(&answered),
                        None,
                        "the answered call is left alone"
                    );
                    assert_eq!(hub.st.borrow().calls.len(), 1);
                })
                .await;
        });
    }
}
