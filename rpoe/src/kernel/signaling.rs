//! Signal delivery, watchers, OS signals, child reaping and POE's
//! IDLE/ZOMBIE pseudo-signals: the kernel operations behind
//! [`crate::Ctx::sig`] and friends.

use std::any::Any;
use std::rc::Rc;

use mio::Interest;

use super::dispatch::Delivery;
use super::engine::{Core, SIGNAL_TOKEN};
use super::error::Error;
use super::names::EventId;
use super::payload::Payload;
use super::queue::{SessionKey, KERNEL_KEY};
use super::signals::{
    class, kills_by_default, os_name, os_number, ChildExit, Class, SigWatch, Signal,
};

impl Core {
    /// Deliver a dequeued signal: collect the target and its descendants
    /// breadth first (DIE: also its ancestors, in front), hand it to the
    /// explicit watchers deepest first, then stop every touched session if
    /// it was non-maskable, or terminal and nobody called `sig_handled`.
    pub(crate) fn dispatch_signal(&mut self, target: SessionKey, name: Rc<str>, args: Rc<dyn Any>) {
        let mut touched: Vec<SessionKey> = if target == KERNEL_KEY {
            self.sessions.roots()
        } else if self.sessions.contains(target) {
            vec![target]
        } else {
            return;
        };
        let mut i = 0;
        while i < touched.len() {
            touched.extend_from_slice(self.sessions.children_of(touched[i]));
            i += 1;
        }
        if &*name == "DIE" && target != KERNEL_KEY {
            let mut up = self.sessions.parent_of(target);
            while let Some(p) = up {
                touched.insert(0, p);
                up = self.sessions.parent_of(p);
            }
        }
        tracing::debug!(target: "rpoe::signal", signal = %name, sessions = touched.len(), "dispatch signal");

        let is_die = &*name == "DIE";
        let outer = self
            .signals
            .begin_dispatch(is_die, self.handlers_on_stack());
        let watchers = self.signals.watchers_among(&name, &touched);
        for (key, event, extra) in watchers {
            if self.sessions.stopping_or_gone(key) {
                continue;
            }
            let payload = Payload::new(Signal {
                name: name.clone(),
                args: args.clone(),
                extra,
            });
            let _ = self.deliver(None, key, Delivery::from_kernel(event, payload));
        }
        let (handled, die_failure) = self.signals.end_dispatch(outer, is_die);

        let stop = match class(&name) {
            Class::Benign => false,
            Class::Terminal => !handled,
            Class::NonMaskable => true,
        };
        if stop {
            self.with_deferred_frees(|core| {
                for key in touched.iter().rev() {
                    if core.sessions.contains(*key) {
                        core.stop_session(None, *key);
                    }
                }
            });
        }
        let original =
            args.downcast_ref::<super::signals::DieInfo>()
                .map(|info| Error::HandlerFailed {
                    session: info.session.num,
                    event: info.event.clone(),
                    message: info.message.clone(),
                });
        if let Some((session, event, message)) = die_failure {
            // A DIE watcher failed: fatal whether or not the DIE was
            // handled (POE rethrows it from `run` either way); `run`
            // stops everything once this dispatch returns.
            tracing::warn!(target: "rpoe::signal", session, event = %event, error = %message, "DIE handler failed; stopping the kernel");
            self.keep_failure(Error::DieHandlerFailed {
                session,
                event,
                message,
                original: original.map(Box::new),
            });
        } else if is_die && !handled {
            if let Some(e) = original {
                self.keep_failure(e);
            }
        }
    }

    /// Watch (`Some`) or stop watching (`None`) a signal for a session.
    pub(crate) fn set_sig(
        &mut self,
        key: SessionKey,
        name: &str,
        watch: Option<(EventId, Option<Rc<dyn Any>>)>,
    ) -> Result<(), Error> {
        match watch {
            Some((event, extra)) => {
                if let Some(num) = os_number(name) {
                    self.ensure_os_signal(num)?;
                }
                self.signals.watch(name, key, SigWatch { event, extra });
            }
            None => self.signals.unwatch(name, key),
        }
        Ok(())
    }

    /// Make sure the OS signal is caught and turned into an event.
    pub(crate) fn ensure_os_signal(&mut self, num: i32) -> Result<(), Error> {
        if self.signals.os_caught(num) {
            return Ok(());
        }
        let new_pipe = match self.signals.os_pipe() {
            Some(sigs) => {
                sigs.add(num)?;
                None
            }
            None => {
                let mut sigs = crate::os::SignalPipe::new(num)?;
                self.poll
                    .registry()
                    .register(sigs.source(), SIGNAL_TOKEN, Interest::READABLE)?;
                Some(sigs)
            }
        };
        self.signals.note_os_caught(num, new_pipe);
        Ok(())
    }

    /// Turn OS signals that arrived into kernel-wide signal events.
    pub(crate) fn pump_os_signals(&mut self) {
        let Some(sigs) = self.signals.os_pipe_mut() else {
            return;
        };
        let arrived = sigs.pending();
        for num in arrived {
            let name = os_name(num);
            if num == crate::os::SIGCHLD {
                self.signals.note_reap_due();
            }
            if self.signals.is_watched(name) {
                if name != "CHLD" {
                    self.queue_signal(KERNEL_KEY, None, name, Rc::new(()));
                }
            } else if kills_by_default(num) {
                // Nobody watches it any more: act as if we had never
                // caught it.
                tracing::debug!(target: "rpoe::signal", signal = name, "unwatched; default action");
                crate::os::emulate_default_signal(num);
            }
        }
    }

    /// Watch (`Some`) or stop watching (`None`) a child process.
    pub(crate) fn set_sig_child(
        &mut self,
        key: SessionKey,
        pid: i32,
        event: Option<EventId>,
    ) -> Result<(), Error> {
        let watch = event.map(|event| SigWatch { event, extra: None });
        self.set_sig_child_with(key, pid, watch)
    }

    /// [`Core::set_sig_child`] with extra arguments for the handler (POE's
    /// `sig_child($pid, $event, @args)`), handed over as
    /// [`Signal::extra`].
    pub(crate) fn set_sig_child_with(
        &mut self,
        key: SessionKey,
        pid: i32,
        watch: Option<SigWatch>,
    ) -> Result<(), Error> {
        match watch {
            Some(ev) => {
                self.ensure_os_signal(crate::os::SIGCHLD)?;
                // Each child watch holds its session.
                if self.signals.watch_child(pid, key, ev) {
                    self.sessions.inc(key);
                }
                // It may have exited before we caught SIGCHLD.
                self.signals.note_reap_due();
            }
            None => {
                if self.signals.unwatch_child(pid, key) {
                    self.sessions.dec(key);
                }
            }
        }
        Ok(())
    }

    /// Reap watched children that have exited: each watcher gets its event
    /// (a [`Signal`] named CHLD with a [`ChildExit`]), then CHLD goes to
    /// every `sig("CHLD")` watcher.
    pub(crate) fn reap_children(&mut self) {
        if !self.signals.take_reap_due() {
            return;
        }
        for pid in self.signals.child_pids() {
            let status = match crate::os::waitpid_nohang(pid) {
                Ok(Some(st)) => st,
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(target: "rpoe::signal", pid, error = %e, "waitpid failed; dropping its watchers");
                    -1
                }
            };
            let exit = ChildExit {
                pid: pid.unsigned_abs(),
                status,
            };
            for (key, SigWatch { event: ev, extra }) in self.signals.child_watchers(pid) {
                self.signals.unwatch_child(pid, key);
                let payload = Payload::new(Signal {
                    name: Rc::from("CHLD"),
                    args: Rc::new(exit),
                    extra,
                });
                self.post_key(key, Some(key), ev, payload);
                self.sessions.dec(key);
            }
            if self.signals.is_watched("CHLD") {
                self.queue_signal(KERNEL_KEY, None, "CHLD", Rc::new(exit));
            }
        }
    }

    /// At the start of a round: if only aliases keep sessions alive, send
    /// IDLE to everyone; if still idle a round later, ZOMBIE.
    pub(crate) fn idle_check(&mut self) {
        let idle = self.is_idle();
        let Some(name) = self.signals.idle_signal(idle) else {
            return;
        };
        tracing::debug!(target: "rpoe::kernel", signal = name, "only aliases keep sessions alive");
        self.queue_signal(KERNEL_KEY, None, name, Rc::new(()));
    }
}
