//! Work handed to the kernel from outside its handlers' direct reach:
//! postbacks and wheels (queued on the thread-local inbox) and posts from
//! other threads; and the public reference counts postbacks rely on.

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
                    if sk.is_some_and(|k| self.sessions.is_stopping(k)) {
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
        let Some(mut posts) = self.take_remote_batch() else {
            return;
        };
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
        self.return_remote_batch(posts);
    }

    /// Change a public refcount tag by `delta`; returns the new value.
    pub(crate) fn refcount_add(
        &mut self,
        key: SessionKey,
        tag: &str,
        delta: i64,
    ) -> Result<i64, Error> {
        self.sessions
            .add_extref(key, tag, delta)
            .ok_or_else(|| Error::NoSuchSession(format!("slot {key}")))
    }
}
