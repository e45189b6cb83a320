//! Work handed to the kernel from outside its handlers' direct reach:
//! postbacks and wheels (queued on the thread-local inbox) and posts from
//! other threads; and the public reference counts postbacks rely on.

use std::sync::atomic::Ordering;

use super::engine::Core;
use super::error::Error;
use super::ids::Dest;
use super::payload::Payload;
use super::postback::LocalOp;
use super::queue::{Kind, SessionKey};
use super::remote::RemoteDest;

impl Core {
    /// Turn postback work into queue entries and refcount releases.
    pub(crate) fn drain_local(&mut self) {
        let local = self.local.clone();
        while let Some(op) = local.take() {
            match op {
                LocalOp::Post {
                    target,
                    sender,
                    event,
                    args,
                } => {
                    let Some(tk) = self.sessions.key_of(target) else {
                        continue;
                    };
                    let sk = sender.session().and_then(|s| self.sessions.key_of(s));
                    if sk.is_some_and(|k| self.sessions.get(k).is_some_and(|e| e.stopping)) {
                        continue;
                    }
                    self.enqueue(
                        tk,
                        event,
                        Kind::Event,
                        sender,
                        sk,
                        super::caller::Caller::KERNEL,
                        Payload::new(args),
                    );
                }
                LocalOp::Wheel(task) => task(self),
                LocalOp::Release(id) => {
                    if let Some(k) = self.sessions.key_of(id) {
                        let _ = self.refcount_add(k, super::postback::POSTBACK_TAG, -1);
                    }
                }
            }
        }
    }

    /// Take posts made from other threads, oldest first, at most
    /// `remote_budget` of them (what is left of this round's share, see
    /// [`crate::KernelBuilder::events_per_round`]); the rest stay in the
    /// inbox for the next round.
    pub(crate) fn drain_remote(&mut self) {
        // A plain load first: most rounds find no cross-thread post, and it
        // spares them the locked read-modify-write of the swap.
        if self.remote_budget == 0
            || !self.remote.pending.load(Ordering::Acquire)
            || !self.remote.pending.swap(false, Ordering::AcqRel)
        {
            return;
        }
        let mut posts = std::mem::take(&mut self.remote_batch);
        self.remote.take(self.remote_budget, &mut posts);
        self.remote_budget -= posts.len();
        for p in posts.drain(..) {
            let key = match &p.dest {
                RemoteDest::Id(id) => self.sessions.key_of(*id),
                RemoteDest::Alias(a) => self.resolve(&Dest::Alias(a)),
            };
            let Some(key) = key else {
                tracing::debug!(target: "rpoe::kernel", dest = ?p.dest, event = %p.event, "cross-thread post to a session that is gone");
                continue;
            };
            let ev = self.names.intern_transient(&p.event);
            let args: Box<dyn super::payload::Arg> = p.args;
            self.post_key(key, None, ev, Payload::Boxed(args));
        }
        self.remote_batch = posts;
    }

    /// Change a public refcount tag by `delta`; returns the new value.
    pub(crate) fn refcount_add(
        &mut self,
        key: SessionKey,
        tag: &str,
        delta: i64,
    ) -> Result<i64, Error> {
        let e = self
            .sessions
            .get_mut(key)
            .ok_or_else(|| Error::NoSuchSession(format!("slot {key}")))?;
        let v = e.extrefs.entry(tag.to_string()).or_insert(0);
        let old = *v;
        *v += delta;
        let new = *v;
        if new == 0 {
            e.extrefs.remove(tag);
        }
        match (old == 0, new == 0) {
            (true, false) => {
                self.extrefs_live += 1;
                self.sessions.inc(key);
            }
            (false, true) => {
                self.extrefs_live -= 1;
                self.sessions.dec(key);
            }
            _ => {}
        }
        Ok(new)
    }
}
