//! Calls with RSVP: the answer a caller gets ([`CallReply`]), the slot a
//! waiting call is answered through, and the path of a call — out with a
//! reply subject, back through the reply inbox to its waiting task.

use std::cell::RefCell;
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
    let payload = serde_json::to_vec(args).map_err(|e| Error::Encode(e.to_string()))?;
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
    if let Err(error) = hub.enqueue(subject, Some(reply), None, payload.into(), None) {
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
    hub.st.borrow_mut().calls.insert(token, slot.clone());
    let guard = CallGuard {
        hub: Rc::downgrade(hub),
        token,
    };
    let mut sleep = ctx.sleep(timeout);
    ctx.spawn_future(rsvp, async move {
        let _guard = guard;
        let answer = poll_fn(|cx| {
            if let Some(r) = slot.answer.borrow_mut().take() {
                return Poll::Ready(Some(r));
            }
            if Pin::new(&mut sleep).poll(cx).is_ready() {
                return Poll::Ready(None);
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
